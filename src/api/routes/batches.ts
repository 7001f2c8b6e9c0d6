import type { FastifyInstance } from 'fastify';
import type { BatchService, CreateBatchBody } from '../../services/batches.js';
import { MAX_BATCH } from '../../services/batches.js';
import { EVENT_TYPES } from '../../domain/types.js';
import { errorReplies, resourceReply } from '../schemas.js';

export function batchRoutes(app: FastifyInstance, batches: BatchService): void {
  app.post<{ Body: CreateBatchBody; Headers: { 'idempotency-key'?: string } }>(
    '/v1/batches',
    {
      schema: {
        tags: ['batches'],
        summary: `Create up to ${MAX_BATCH} tasks at once, sharing one webhook URL`,
        description: 'Answers 202 with one result per item: a task id, or the error that item alone failed with.',
        body: {
          type: 'object',
          required: ['tasks'],
          additionalProperties: false,
          properties: {
            // Items are validated one by one by the task rules, so a bad item is reported, not fatal.
            tasks: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'object' } },
            webhook_url: { type: ['string', 'null'], maxLength: 2048 },
            webhook_events: { type: 'array', maxItems: 16, items: { type: 'string', enum: [...EVENT_TYPES] } },
          },
        },
        headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200 } } },
        response: { 202: { $ref: 'BatchCreated#', description: 'The batch was stored; `results` says what became of each item' }, ...errorReplies },
      },
    },
    async (req, reply) => {
      const { batch, results } = await batches.create(req.tenant.id, req.body, req.headers['idempotency-key']);
      return reply.status(202).send({
        success: true,
        batch_id: batch.id,
        accepted: results.filter((r) => r.success).length,
        rejected: results.filter((r) => !r.success).length,
        results,
      });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/batches/:id',
    {
      schema: {
        tags: ['batches'],
        summary: 'A batch: counts by status, cost so far, and its tasks',
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } },
        response: { 200: resourceReply('Batch', 'The batch'), ...errorReplies },
      },
    },
    async (req) => ({ success: true, ...(await batches.summary(req.tenant.id, req.params.id)) }),
  );
}
