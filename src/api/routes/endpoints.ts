import type { FastifyInstance } from 'fastify';
import { endpointView } from '../../domain/endpoint-view.js';
import type { EndpointInput, EndpointService } from '../../services/endpoints.js';
import { EVENT_TYPES } from '../../domain/types.js';
import { HookwaveError } from '../../errors.js';
import { errorReplies, listReply, plainReply, resourceReply } from '../schemas.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;
const endpointBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    url: { type: 'string', minLength: 1, maxLength: 2048, description: 'https URL that receives signed events' },
    description: { type: ['string', 'null'], maxLength: 500 },
    events: { type: ['array', 'null'], maxItems: 32, items: { type: 'string', enum: [...EVENT_TYPES] }, description: 'Event types to receive; null or absent = all' },
    enabled: { type: 'boolean' },
  },
} as const;
const deletedReply = plainReply('Deleted', { id: { type: 'string', description: 'The endpoint id' }, deleted: { type: 'boolean', const: true, description: 'Always true' } });

export function endpointRoutes(app: FastifyInstance, endpoints: EndpointService): void {
  app.post<{ Body: EndpointInput & { url: string } }>(
    '/v1/endpoints',
    {
      schema: {
        tags: ['endpoints'],
        summary: 'Register an endpoint; the answer shows its signing secret once',
        body: { ...endpointBody, required: ['url'] },
        response: { 201: resourceReply('EndpointWithSecret', 'Registered; store `secret` now'), ...errorReplies },
      },
    },
    async (req, reply) => {
      const e = await endpoints.create(req.tenant.id, req.body);
      return reply.status(201).send({ success: true, ...endpointView(e), secret: e.secret });
    },
  );

  app.get('/v1/endpoints', { schema: { tags: ['endpoints'], summary: "List the tenant's endpoints", response: { 200: listReply('Endpoint', 'Every endpoint of the tenant'), ...errorReplies } } }, async (req) => ({
    success: true,
    data: (await endpoints.list(req.tenant.id)).map((e) => endpointView(e)),
  }));

  app.get<{ Params: { id: string } }>('/v1/endpoints/:id', { schema: { tags: ['endpoints'], summary: 'Get an endpoint', params: idParams, response: { 200: resourceReply('Endpoint', 'The endpoint'), ...errorReplies } } }, async (req) => ({
    success: true,
    ...endpointView(await endpoints.get(req.tenant.id, req.params.id)),
  }));

  app.patch<{ Params: { id: string }; Body: EndpointInput }>(
    '/v1/endpoints/:id',
    { schema: { tags: ['endpoints'], summary: 'Change url, description, event filter, or enable/disable', params: idParams, body: endpointBody, response: { 200: resourceReply('Endpoint', 'The endpoint as it is now'), ...errorReplies } } },
    async (req) => ({ success: true, ...endpointView(await endpoints.update(req.tenant.id, req.params.id, req.body)) }),
  );

  app.delete<{ Params: { id: string } }>('/v1/endpoints/:id', { schema: { tags: ['endpoints'], summary: 'Delete an endpoint', params: idParams, response: { 200: deletedReply, ...errorReplies } } }, async (req) => {
    await endpoints.remove(req.tenant.id, req.params.id);
    return { success: true, id: req.params.id, deleted: true };
  });

  app.post<{ Params: { id: string } }>(
    '/v1/endpoints/:id/rotate-secret',
    {
      schema: {
        tags: ['endpoints'],
        summary: 'Rotate the signing secret without downtime',
        description: 'Deliveries carry signatures with the new and the previous secret for the overlap window (24 h by default).',
        params: idParams,
        response: { 200: resourceReply('EndpointWithSecret', 'The endpoint with its new secret; store it now'), ...errorReplies },
      },
    },
    async (req) => {
      const e = await endpoints.rotateSecret(req.tenant.id, req.params.id);
      return { success: true, ...endpointView(e), secret: e.secret };
    },
  );

  app.post<{ Params: { id: string }; Body: { message?: string } | undefined }>(
    '/v1/endpoints/:id/test',
    {
      schema: {
        tags: ['endpoints'],
        summary: 'Send the endpoint a signed test event',
        description:
          'An `endpoint.test` event (`data`: `endpoint_id` and `message`), signed with the endpoint’s secret and sent to this endpoint alone, whatever its ' +
          'event filter; it is in the delivery log like any other (GET /v1/deliveries/{id} with the id answered here).',
        params: idParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: { message: { type: 'string', maxLength: 1000, description: 'Sent as data.message' } } },
        response: {
          202: plainReply('Queued to be sent at once', {
            id: { type: 'string', description: 'The delivery id (dlv_…)' },
            event_id: { type: 'string', description: 'The event id (msg_…), sent as webhook-id' },
            endpoint_id: { type: 'string', description: 'The endpoint' },
            status: { type: 'string', enum: ['pending'], description: 'pending until its attempt has an outcome' },
          }),
          409: { $ref: 'Error#', description: 'ENDPOINT_UNAVAILABLE: the endpoint is disabled' },
          ...errorReplies,
        },
      },
    },
    async (req, reply) => {
      const d = await endpoints.sendTest(req.tenant.id, req.params.id, req.body?.message ?? 'A test event sent from hookwave');
      return reply.status(202).send({ success: true, id: d.id, event_id: d.event_id, endpoint_id: d.endpoint_id, status: 'pending' });
    },
  );

  app.post<{ Params: { id: string }; Querystring: { since?: string } }>(
    '/v1/endpoints/:id/recover',
    {
      schema: {
        tags: ['endpoints'],
        summary: 'Replay every failed delivery to this endpoint since a time',
        params: idParams,
        querystring: { type: 'object', required: ['since'], properties: { since: { type: 'string', description: 'ISO 8601 time' } } },
        response: {
          200: plainReply('Queued to be sent again', { requeued: { type: 'integer', description: 'Failed deliveries queued again' } }),
          409: { $ref: 'Error#', description: 'ENDPOINT_UNAVAILABLE: the endpoint is disabled or deleted' },
          ...errorReplies,
        },
      },
    },
    async (req) => {
      const since = Date.parse(req.query.since ?? '');
      if (Number.isNaN(since)) throw new HookwaveError('VALIDATION_ERROR', 'since must be an ISO 8601 time, e.g. 2026-01-31T00:00:00Z', { field: 'since' });
      const requeued = await endpoints.recover(req.tenant.id, req.params.id, since);
      return { success: true, requeued };
    },
  );
}
