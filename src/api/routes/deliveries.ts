/** The delivery log: every event sent to every receiver, each attempt, and replay. */
import type { FastifyInstance } from 'fastify';
import { endpointUnavailable } from '../../domain/endpoint-view.js';
import { notFound } from '../../services/tasks.js';
import type { AttemptRow, DeliveryRow } from '../../domain/types.js';
import { HookwaveError } from '../../errors.js';
import { isId } from '../../ids.js';
import type { Store } from '../../store/store.js';
import { errorReplies, listReply, plainReply, resourceReply } from '../schemas.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;

export function deliveryView(d: DeliveryRow, attempts: AttemptRow[] | null, eventType: string | null) {
  return {
    id: d.id,
    event_id: d.event_id,
    event_type: eventType,
    task_id: d.task_id,
    endpoint_id: d.endpoint_id,
    url: d.url,
    status: d.status,
    attempt_count: d.attempt_count,
    next_attempt_at: d.status === 'pending' ? iso(d.next_attempt_at) : null,
    last_status_code: d.last_status_code,
    last_error: d.last_error,
    created_at: iso(d.created_at),
    delivered_at: iso(d.delivered_at),
    ...(attempts
      ? {
          attempts: attempts.map((a) => ({
            attempt_number: a.attempt_number,
            started_at: iso(a.started_at),
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            request_headers: a.request_headers,
            response_headers: a.response_headers,
            response_excerpt: a.response_excerpt,
            error: a.error,
          })),
        }
      : {}),
  };
}

export function deliveryNotFound(id: string): HookwaveError {
  return new HookwaveError('NOT_FOUND', `delivery ${id} does not exist`, { field: 'id' });
}

export function deliveryRoutes(app: FastifyInstance, store: Store): void {
  async function withEventTypes(tenantId: string, rows: DeliveryRow[], withAttempts: boolean) {
    const types = new Map<string, string | null>();
    for (const id of new Set(rows.map((d) => d.event_id))) types.set(id, (await store.getEvent(tenantId, id))?.type ?? null);
    return Promise.all(rows.map(async (d) => deliveryView(d, withAttempts ? await store.listAttempts(d.id) : null, types.get(d.event_id) ?? null)));
  }

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
    async (req) => {
      const task = await store.getTask(req.tenant.id, req.params.id);
      if (!task) throw notFound(req.params.id);
      return { success: true, data: await withEventTypes(req.tenant.id, await store.listDeliveriesForTask(req.tenant.id, task.id), true) };
    },
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
      const rows = await store.listDeliveries({
        tenantId: req.tenant.id,
        status: req.query.status,
        endpointId: req.query.endpoint_id,
        taskId: req.query.task_id,
        before: req.query.cursor,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      return { success: true, data: await withEventTypes(req.tenant.id, page, false), next_cursor: rows.length > limit ? page[page.length - 1]!.id : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/deliveries/:id',
    {
      schema: {
        tags: ['deliveries'],
        summary: 'A delivery with all its attempts (request and response headers, status, latency, body excerpt)',
        params: idParams,
        response: { 200: resourceReply('Delivery', 'The delivery, with `attempts`'), ...errorReplies },
      },
    },
    async (req) => {
      const d = await store.getDelivery(req.tenant.id, req.params.id);
      if (!d) throw deliveryNotFound(req.params.id);
      const [view] = await withEventTypes(req.tenant.id, [d], true);
      return { success: true, ...view };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/deliveries/:id/redeliver',
    {
      schema: {
        tags: ['deliveries'],
        summary: 'Send a delivery again now, with the same webhook-id',
        params: idParams,
        response: {
          202: plainReply('Queued to be sent again at once', {
            id: { type: 'string', description: 'The delivery id' },
            status: { type: 'string', enum: ['pending'], description: 'pending until the new attempt has an outcome' },
          }),
          409: { $ref: 'Error#', description: 'DELIVERY_PENDING, or ENDPOINT_UNAVAILABLE when its endpoint is disabled or deleted' },
          ...errorReplies,
        },
      },
    },
    async (req, reply) => {
      const d = await store.getDelivery(req.tenant.id, req.params.id);
      if (!d) throw deliveryNotFound(req.params.id);
      const pending = () => new HookwaveError('DELIVERY_PENDING', `delivery ${d.id} is still pending; it can be sent again once it is delivered or failed`, { status: d.status });
      if (d.status === 'pending') throw pending();
      if (d.endpoint_id !== null) {
        const ep = await store.getEndpoint(req.tenant.id, d.endpoint_id);
        if (!ep || !ep.enabled) throw endpointUnavailable(d.endpoint_id, ep ? 'disabled' : 'deleted');
      }
      // The status check above is advisory; this one is atomic (a concurrent redeliver loses here).
      if (!(await store.requeueDelivery(req.tenant.id, d.id, Date.now()))) throw pending();
      store.notify('deliveries');
      return reply.status(202).send({ success: true, id: req.params.id, status: 'pending' });
    },
  );
}
