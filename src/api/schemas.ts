/**
 * JSON schemas of the API's bodies and answers. Fastify validates requests and serialises answers
 * with them, and @fastify/swagger publishes them as the OpenAPI document: one source for all three.
 */

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

export { createTaskBodySchema } from '../domain/task-body.js';

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
