/**
 * The OpenAPI 3.1 document (GET /openapi.json) and its browsable form (GET /docs, Swagger UI served
 * from the installed package, so it works offline). Routes describe themselves through their
 * schemas; what no route can say is added here: error codes, webhook events and their bodies.
 */
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { EVENT_TYPES, type EventType } from '../domain/types.js';
import { HookwaveError, type ErrorCode } from '../errors.js';
import { VERSION } from '../version.js';

/**
 * What each error code means. A Record over the ErrorCode union: a code added to src/errors.ts
 * without a description here does not compile. HTTP statuses come from HookwaveError itself.
 */
const ERROR_CODE_DESCRIPTIONS: Record<ErrorCode, string> = {
  UNAUTHORIZED: 'No API key, or a key that is unknown or revoked.',
  FORBIDDEN: 'The key may not do this.',
  NOT_FOUND: 'No such route, or no such task/endpoint/delivery/batch for this tenant.',
  VALIDATION_ERROR: 'A field is missing, mistyped or out of range; `details.field` names it.',
  INVALID_JSON: 'The body is not valid JSON.',
  UNSUPPORTED_MEDIA_TYPE: 'The body is not application/json (or, for uploads, not a file type).',
  PAYLOAD_TOO_LARGE: 'The body is larger than the limit.',
  UNKNOWN_KIND: '`kind` is not one this server runs; `details.allowed` lists them.',
  INVALID_TARGET: 'A target does not fit its kind, or two targets share a name.',
  INVALID_URL: 'A URL cannot be parsed or uses a scheme that is not allowed.',
  URL_NOT_ALLOWED: 'A URL points at a private, loopback or otherwise non-public address.',
  METADATA_TOO_LARGE: '`metadata` is larger than the limit as JSON.',
  PARAMS_TOO_LARGE: 'params, targets and title of a task are larger than 32 KiB as JSON together (webhook bodies stay small)',
  IDEMPOTENCY_KEY_REUSED: 'The Idempotency-Key was used before with a different body.',
  INVALID_CURSOR: '`cursor` is not a `next_cursor` this API returned.',
  UPLOAD_NOT_FOUND: '`input.upload_id` is not an upload of this tenant that is still kept.',
  BATCH_TOO_LARGE: 'A batch has more tasks than allowed.',
  TASK_NOT_CANCELABLE: 'The task has already ended.',
  DELIVERY_PENDING: 'The delivery is still pending (attempts remain); it can be sent again once it is delivered or failed.',
  ENDPOINT_UNAVAILABLE: 'The endpoint is disabled (enable it first) or deleted; nothing can be sent to it again. `details.reason` says which.',
  SIGNATURE_INVALID: 'A signed download URL was altered.',
  URL_EXPIRED: 'A signed download URL has expired; GET the task for a fresh one.',
  RATE_LIMITED: 'Too many requests; retry after the Retry-After header.',
  REQUEST_TIMEOUT: 'The request body did not arrive in time (HOOKWAVE_BODY_TIMEOUT_MS), an upload paused too long or crawled below the minimum rate (HOOKWAVE_UPLOAD_IDLE_MS, HOOKWAVE_UPLOAD_MIN_RATE), or the headers did not arrive; the connection is closed.',
  INTERNAL_ERROR: 'Our fault; the request id in the logs tells more.',
  DOWNLOAD_FAILED: 'Target error: the input could not be downloaded (or its upload expired).',
  INPUT_TOO_LARGE: 'Target error: the input is larger than the limit.',
  OUTPUT_TOO_LARGE: 'The output would exceed, or reached, the per-output cap on bytes (HOOKWAVE_MAX_OUTPUT_BYTES) or seconds (HOOKWAVE_MAX_OUTPUT_SECONDS): refused at submit when known in advance, else a target error.',
  NO_AUDIO_STREAM: 'Target error: the input has no audio stream.',
  UNSUPPORTED_MEDIA: 'Target error: the input is not a media file ffmpeg can read.',
  ENGINE_FAILED: 'Target error: the engine failed; `message` says how.',
  WORKER_LOST: 'Target error: its worker stopped mid-run too many times.',
  TARGET_TIMEOUT: 'Target error: it ran longer than the limit.',
  CANCELED: 'Task/target error: canceled by the client.',
};

/** Codes only ever reported in a task's or target's `error`, never as an HTTP answer. */
const TARGET_ONLY = new Set<ErrorCode>(['DOWNLOAD_FAILED', 'INPUT_TOO_LARGE', 'NO_AUDIO_STREAM', 'UNSUPPORTED_MEDIA', 'ENGINE_FAILED', 'WORKER_LOST', 'TARGET_TIMEOUT', 'CANCELED']);

export const ERROR_CODE_DOCS = Object.fromEntries(
  (Object.entries(ERROR_CODE_DESCRIPTIONS) as Array<[ErrorCode, string]>).map(([code, description]) => [
    code,
    { status: TARGET_ONLY.has(code) ? null : new HookwaveError(code, description).status, description },
  ]),
) as Record<ErrorCode, { status: number | null; description: string }>;

const EVENT_DOCS: Record<EventType, string> = {
  'task.completed': 'Every target of the task completed. `data` is the task with its outputs and signed download URLs.',
  'task.failed': 'The task ended and at least one target failed. `data.targets[].error` says why.',
  'task.canceled': 'The task was canceled.',
  'task.target.completed': 'One target completed (only sent to receivers that ask for it, or to endpoints with no filter).',
  'task.target.failed': 'One target failed.',
  'endpoint.disabled': "One of the tenant's endpoints was disabled after failing for days or answering 410; `data` is that endpoint. Sent to the tenant's other endpoints.",
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

function eventSchemaName(type: EventType): string {
  return `Event_${type.replace(/\./g, '_')}`;
}

function webhooks(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const type of EVENT_TYPES) {
    out[type] = {
      post: {
        summary: type,
        description: `${EVENT_DOCS[type]}\n\nPOSTed to the task's \`webhook_url\` and to every enabled endpoint whose filter matches, signed (Standard Webhooks). Retried with backoff until a 2xx answer; 410 disables a registered endpoint.`,
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
  const codes = Object.keys(ERROR_CODE_DOCS) as ErrorCode[];
  const schemas: Record<string, unknown> = {
    ErrorCode: {
      type: 'string',
      title: 'ErrorCode',
      enum: codes,
      description: codes.map((c) => `- \`${c}\`${ERROR_CODE_DOCS[c].status ? ` (${ERROR_CODE_DOCS[c].status})` : ''}: ${ERROR_CODE_DOCS[c].description}`).join('\n'),
    },
    EventType: { type: 'string', title: 'EventType', enum: [...EVENT_TYPES] },
  };
  for (const type of EVENT_TYPES) {
    schemas[eventSchemaName(type)] = {
      type: 'object',
      title: `${type} event`,
      description: EVENT_DOCS[type],
      required: ['type', 'timestamp', 'data'],
      properties: {
        type: { type: 'string', const: type },
        timestamp: { type: 'string', format: 'date-time' },
        data: { $ref: type === 'endpoint.disabled' ? '#/components/schemas/Endpoint' : '#/components/schemas/Task' },
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
          ...(Object.keys(ERROR_CODE_DOCS) as ErrorCode[]).map((c) => `- \`${c}\`${ERROR_CODE_DOCS[c].status ? ` (HTTP ${ERROR_CODE_DOCS[c].status})` : ''}: ${ERROR_CODE_DOCS[c].description}`),
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
