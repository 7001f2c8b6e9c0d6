/**
 * The OpenAPI 3.1 document (GET /openapi.json) and its browsable form (GET /docs, Swagger UI served
 * from the installed package, so it works offline). Routes describe themselves through their
 * schemas; what no route can say is added here: error codes (from the catalogue in src/errors.ts),
 * webhook events and their bodies.
 */
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { EVENT_TYPES, TEST_EVENT_TYPE, type LoggedEventType } from '../domain/types.js';
import { ERROR_CATALOGUE, ERROR_CODES, type ErrorCode } from '../errors.js';
import { VERSION } from '../version.js';

/** One line per code, as the document lists them: `CODE` (HTTP status; also a target error): meaning. */
export function errorCodeLine(code: ErrorCode, statusPrefix = ''): string {
  const e = ERROR_CATALOGUE[code];
  const where = [e.status === null ? null : `${statusPrefix}${e.status}`, e.target ? (e.status === null ? 'target error' : 'also a target error') : null].filter(Boolean).join('; ');
  return `- \`${code}\` (${where}): ${e.description} ${e.action}`;
}

const EVENT_DOCS: Record<LoggedEventType, string> = {
  'task.completed': 'Every target of the task completed. `data` is the task with its outputs and signed download URLs.',
  'task.failed': 'The task ended and at least one target failed. `data.targets[].error` says why.',
  'task.canceled': 'The task was canceled.',
  'task.target.completed': 'One target completed (only sent to receivers that ask for it, or to endpoints with no filter).',
  'task.target.failed': 'One target failed.',
  'endpoint.disabled': "One of the tenant's endpoints was disabled after failing for days or answering 410; `data` is that endpoint. Sent to the tenant's other endpoints.",
  'endpoint.test':
    'Sent only when asked for with POST /v1/endpoints/{id}/test, to that endpoint alone whatever its filter (never to a task’s `webhook_url`); `data` is `endpoint_id` and `message`. Not a type a filter can name.',
};
/** Every type a receiver may get: the subscribable ones and the test event. */
const SENT_TYPES: LoggedEventType[] = [...EVENT_TYPES, TEST_EVENT_TYPE];
const testData = {
  type: 'object',
  required: ['endpoint_id', 'message'],
  properties: { endpoint_id: { type: 'string', description: 'The endpoint the test was sent to' }, message: { type: 'string', description: 'The message given, or a default one' } },
};

const TAGS = [
  { name: 'tasks', description: 'Create work, read it, cancel it.' },
  { name: 'batches', description: 'Many tasks in one request.' },
  { name: 'uploads', description: 'Send an input file instead of a URL.' },
  { name: 'events', description: 'Server-sent event streams (for clients without a public webhook URL).' },
  { name: 'endpoints', description: 'Standing webhook receivers with their own secrets and filters.' },
  { name: 'deliveries', description: 'The webhook delivery log, attempts and replay.' },
  { name: 'files', description: 'Downloads through signed URLs.' },
  { name: 'account', description: 'The tenant an API key belongs to.' },
  { name: 'keys', description: 'The tenant’s API keys (read only: they are created and revoked with the CLI on the server).' },
  { name: 'operations', description: 'Health, readiness and metrics (no API key).' },
];

const signatureHeaders = [
  { name: 'webhook-id', in: 'header', required: true, description: 'The event id (msg_…); the same on every retry — deduplicate on it.', schema: { type: 'string' } },
  { name: 'webhook-timestamp', in: 'header', required: true, description: 'Unix seconds when this attempt was signed; refuse ones more than 5 minutes old.', schema: { type: 'string' } },
  {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description:
      'Space-separated `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`, one per valid secret (two during a secret rotation). Standard Webhooks; verify with `verifyWebhook` from `hookwave/client`.',
    schema: { type: 'string' },
  },
];

function eventSchemaName(type: LoggedEventType): string {
  return `Event_${type.replace(/\./g, '_')}`;
}

function webhooks(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const type of SENT_TYPES) {
    const to = type === TEST_EVENT_TYPE ? 'POSTed to the one endpoint it was asked for' : "POSTed to the task's `webhook_url` and to every enabled endpoint whose filter matches";
    out[type] = {
      post: {
        summary: type,
        description: `${EVENT_DOCS[type]}\n\n${to}, signed (Standard Webhooks). Retried with backoff until a 2xx answer; 410 disables a registered endpoint.`,
        tags: ['webhooks'],
        parameters: signatureHeaders,
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${eventSchemaName(type)}` } } } },
        responses: {
          '2XX': { description: 'Received; not sent again.' },
          '410': { description: 'Gone: a registered endpoint is disabled; a task URL is not retried.' },
          default: { description: 'Any other answer (or none within the timeout) is retried later; 429/503 may set Retry-After.' },
        },
      },
    };
  }
  return out;
}

function extraSchemas(): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    ErrorCode: {
      type: 'string',
      title: 'ErrorCode',
      enum: ERROR_CODES,
      description: ERROR_CODES.map((c) => errorCodeLine(c)).join('\n'),
    },
    EventType: { type: 'string', title: 'EventType', enum: [...EVENT_TYPES] },
  };
  for (const type of SENT_TYPES) {
    schemas[eventSchemaName(type)] = {
      type: 'object',
      title: `${type} event`,
      description: EVENT_DOCS[type],
      required: ['type', 'timestamp', 'data'],
      properties: {
        type: { type: 'string', const: type },
        timestamp: { type: 'string', format: 'date-time' },
        data: type === TEST_EVENT_TYPE ? testData : { $ref: type === 'endpoint.disabled' ? '#/components/schemas/Endpoint' : '#/components/schemas/Task' },
      },
    };
  }
  return schemas;
}

export function swaggerOptions(): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'hookwave',
        version: VERSION,
        description: [
          'Asynchronous audio work with signed, durable webhooks.',
          '',
          'Authenticate with `X-API-Key: <key>` or `Authorization: Bearer <key>`. Every error is `{"success": false, "error": {"code", "message", "details"}}`; `code` is one of the ErrorCode values below. Webhook event bodies are under **webhooks**.',
          '',
          '## Error codes',
          'Every code, with what a client should do about it, is also in docs/errors.md.',
          '',
          ...ERROR_CODES.map((c) => errorCodeLine(c, 'HTTP ')),
        ].join('\n'),
      },
      tags: [...TAGS, { name: 'webhooks', description: 'What hookwave POSTs to your URLs.' }],
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' }, bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }, { bearer: [] }],
      webhooks: webhooks() as never,
    },
    // Shared schemas keep their $id as their component name (Task, not def-3), so $refs read well.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transformObject: (doc) => {
      const spec = ('openapiObject' in doc ? doc.openapiObject : doc.swaggerObject) as { components?: { schemas?: Record<string, unknown> } };
      spec.components ??= {};
      spec.components.schemas = { ...spec.components.schemas, ...extraSchemas() };
      const error = spec.components.schemas.Error as { properties?: { error?: { properties?: Record<string, unknown> } } } | undefined;
      const fields = error?.properties?.error?.properties;
      if (fields) fields.code = { $ref: '#/components/schemas/ErrorCode' };
      return spec as never;
    },
  };
}

/** Swagger UI at /docs; its scripts and styles come from @fastify/swagger-ui itself, never a CDN. */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true, docExpansion: 'list', defaultModelsExpandDepth: 1 },
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route added to the app, hidden ones included (see collectRoutes). */
    registeredRoutes: RouteInfo[];
  }
}

export interface RouteInfo {
  method: HTTPMethods;
  url: string;
  hidden: boolean;
}

/** Records every route as it is added (call before registering any), for the spec coverage test. */
export function collectRoutes(app: FastifyInstance): RouteInfo[] {
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const method of methods) routes.push({ method, url: r.url, hidden: Boolean((r.schema as { hide?: boolean } | undefined)?.hide) });
  });
  return routes;
}
