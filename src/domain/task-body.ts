/**
 * The JSON shape of a task create request. The API validates POST /v1/tasks bodies with it (and
 * documents it); batches validate each of their items with it, one by one.
 */
import { EVENT_TYPES } from './types.js';

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
    deadline: {
      type: 'string',
      maxLength: 64,
      description: 'ISO 8601 time with a zone: a task not ended by then is canceled with DEADLINE_EXCEEDED (same as the Cancel-After header; give one of them)',
    },
  },
} as const;
