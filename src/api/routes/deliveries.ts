/** The delivery log: every event sent to every receiver, each attempt, and replay (services/deliveries.ts). */
import type { FastifyInstance } from 'fastify';
import { HookwaveError } from '../../errors.js';
import { isId } from '../../ids.js';
import type { DeliveryService } from '../../services/deliveries.js';
import { errorReplies, listReply, plainReply, resourceReply } from '../schemas.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;

export function deliveryRoutes(app: FastifyInstance, deliveries: DeliveryService): void {
  app.get<{ Params: { id: string } }>(
    '/v1/tasks/:id/deliveries',
    {
      schema: {
        tags: ['deliveries'],
        summary: "Every webhook delivery of a task's events, with each attempt",
        params: idParams,
        response: { 200: listReply('Delivery', 'The task’s deliveries, oldest first, each with `attempts`'), ...errorReplies },
      },
    },
    async (req) => ({ success: true, data: await deliveries.forTask(req.tenant.id, req.params.id) }),
  );

  app.get<{ Querystring: { status?: 'pending' | 'delivered' | 'failed'; endpoint_id?: string; task_id?: string; cursor?: string; limit?: string } }>(
    '/v1/deliveries',
    {
      schema: {
        tags: ['deliveries'],
        summary: 'List deliveries, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
            endpoint_id: { type: 'string', maxLength: 64 },
            task_id: { type: 'string', maxLength: 64 },
            cursor: { type: 'string', maxLength: 64 },
            limit: { type: 'string', pattern: '^[0-9]{1,3}$' },
          },
        },
        response: { 200: listReply('Delivery', 'Deliveries, newest first (without `attempts`)', true), ...errorReplies },
      },
    },
    async (req) => {
      const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
      if (limit < 1 || limit > 200) throw new HookwaveError('VALIDATION_ERROR', 'limit must be between 1 and 200', { field: 'limit' });
      if (req.query.cursor !== undefined && !isId('dlv', req.query.cursor)) throw new HookwaveError('INVALID_CURSOR', 'cursor is not a next_cursor this API returned', { field: 'cursor' });
      const page = await deliveries.list({
        tenantId: req.tenant.id,
        status: req.query.status,
        endpointId: req.query.endpoint_id,
        taskId: req.query.task_id,
        cursor: req.query.cursor,
        limit,
      });
      return { success: true, ...page };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/deliveries/:id',
    {
      schema: {
        tags: ['deliveries'],
        summary: 'A delivery with all its attempts (request and response headers, status, latency, body excerpt) and the request body it sends',
        params: idParams,
        response: { 200: resourceReply('Delivery', 'The delivery, with `attempts` and `request_body`'), ...errorReplies },
      },
    },
    async (req) => ({ success: true, ...(await deliveries.get(req.tenant.id, req.params.id)) }),
  );

  app.post<{ Params: { id: string } }>(
    '/v1/deliveries/:id/redeliver',
    {
      schema: {
        tags: ['deliveries'],
        summary: 'Send a delivery now (resend, or retry now), with the same webhook-id',
        description:
          'One action whatever the state, as Svix and Stripe resend. A delivery that has ended (delivered or failed) gets one more attempt now; ' +
          'its failure is final. A pending delivery waiting for its next attempt is sent at once (retry now) and keeps its place in the retry ' +
          'schedule: if it fails again, the next attempt is due as the schedule says after this one. If its endpoint’s circuit is open, the ' +
          'cooldown ends now and this delivery is its probe. A delivery being sent right now cannot be (409 DELIVERY_PENDING).',
        params: idParams,
        response: {
          202: plainReply('Queued to be sent at once', {
            id: { type: 'string', description: 'The delivery id' },
            status: { type: 'string', enum: ['pending'], description: 'pending until the new attempt has an outcome' },
            final_attempt: { type: 'boolean', description: 'true: it had ended, and a failure of this attempt is final; false: retry now, a failure goes on with the retry schedule' },
          }),
          409: { $ref: 'Error#', description: 'DELIVERY_PENDING while it is being sent, or ENDPOINT_UNAVAILABLE when its endpoint is disabled or deleted' },
          ...errorReplies,
        },
      },
    },
    async (req, reply) => {
      const how = await deliveries.redeliver(req.tenant.id, req.params.id);
      return reply.status(202).send({ success: true, id: req.params.id, status: 'pending', final_attempt: how === 'requeued' });
    },
  );
}
