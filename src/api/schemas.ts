/**
 * JSON schemas of the API's bodies and answers. Fastify validates requests and serialises answers
 * with them, and @fastify/swagger publishes them as the OpenAPI document: one source for all three.
 */
import { EVENT_TYPES } from '../domain/types.js';

const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: [type, 'null'], ...extra });
const freeObject = { type: 'object', additionalProperties: true };

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['success', 'error'],
  properties: {
    success: { type: 'boolean', const: false },
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'Stable machine-readable code, e.g. VALIDATION_ERROR' },
        message: { type: 'string', description: 'What went wrong, naming the field at fault' },
        details: {},
      },
    },
  },
} as const;

export const storedErrorSchema = nullable('object', {
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
});

export const outputSchema = {
  $id: 'Output',
  type: 'object',
  properties: {
    name: { type: 'string' },
    format: { type: 'string' },
    size: { type: 'integer', description: 'bytes' },
    duration: nullable('number', { description: 'seconds' }),
    bitrate: nullable('integer', { description: 'bits per second' }),
    sample_rate: nullable('integer'),
    channels: nullable('integer'),
    url: { type: 'string', description: 'Signed download URL; GET the task again for a fresh one' },
    url_expires_at: { type: 'string', format: 'date-time' },
  },
} as const;

export const targetSchema = {
  $id: 'Target',
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'processing', 'completed', 'failed', 'canceled'] },
    progress: { type: 'number', minimum: 0, maximum: 1 },
    params: freeObject,
    outputs: { type: 'array', items: { $ref: 'Output#' } },
    duration: nullable('number'),
    cost: nullable('number'),
    error: storedErrorSchema,
    info: nullable('object', { additionalProperties: true }),
    started_at: nullable('string', { format: 'date-time' }),
    finished_at: nullable('string', { format: 'date-time' }),
  },
} as const;

export const taskSchema = {
  $id: 'Task',
  type: 'object',
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'processing', 'completed', 'failed', 'canceled'] },
    title: nullable('string'),
    input: freeObject,
    params: freeObject,
    metadata: nullable('object', { additionalProperties: true }),
    webhook_url: nullable('string'),
    batch_id: nullable('string'),
    targets: { type: 'array', items: { $ref: 'Target#' } },
    cost: nullable('number'),
    error: storedErrorSchema,
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
    completed_at: nullable('string', { format: 'date-time' }),
  },
} as const;

export const createTaskBodySchema = {
  type: 'object',
  required: ['kind', 'targets'],
  additionalProperties: false,
  properties: {
    kind: { type: 'string', minLength: 1, maxLength: 64, description: 'Kind of work, e.g. extract' },
    input: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { type: 'string', minLength: 1, maxLength: 2048, description: 'https URL of the input audio or video' },
        upload_id: { type: 'string', maxLength: 64, description: 'An upload made with POST /v1/uploads' },
      },
    },
    targets: { type: 'array', minItems: 1, maxItems: 32, items: { type: 'object' }, description: 'Outputs to produce; shape depends on kind' },
    params: { type: 'object', description: 'Task-level parameters; shape depends on kind' },
    webhook_url: { type: ['string', 'null'], maxLength: 2048, description: 'https URL that receives signed events' },
    webhook_events: { type: 'array', maxItems: 16, items: { type: 'string', enum: [...EVENT_TYPES] } },
    metadata: { type: ['object', 'null'], description: 'Echoed back in the task and every webhook' },
    title: { type: ['string', 'null'], maxLength: 256 },
  },
} as const;

export const createTaskReplySchema = {
  type: 'object',
  properties: {
    success: { type: 'boolean' },
    task_id: { type: 'string' },
    status: { type: 'string' },
  },
} as const;

export const sharedSchemas = [errorSchema, outputSchema, targetSchema, taskSchema];

export const errorReplies = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
} as const;
