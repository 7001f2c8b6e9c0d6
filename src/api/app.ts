/** The HTTP API: Fastify with schema-validated routes, API-key auth on /v1, and one error shape. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { BlobStore } from '../blobs/blob-store.js';
import type { UrlSigner } from '../blobs/signed-url.js';
import type { Config } from '../config.js';
import type { EngineRegistry } from '../engines/registry.js';
import type { BatchService } from '../services/batches.js';
import type { DeliveryService } from '../services/deliveries.js';
import type { EndpointService } from '../services/endpoints.js';
import type { EventService } from '../services/events.js';
import type { UploadService } from '../services/uploads.js';
import type { TaskService } from '../services/tasks.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import { requireApiKey } from './auth.js';
import { paceBodies } from './body-pace.js';
import { HookwaveError } from '../errors.js';
import { MAX_JSON_DEPTH, bodyProblem } from '../schema/json-depth.js';
import { clientErrorHandler, errorHandler, notFoundHandler } from './error-handler.js';
import { collectRoutes, registerDocs, swaggerOptions } from './openapi.js';
import { accountRoutes } from './routes/account.js';
import { batchRoutes } from './routes/batches.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { uploadRoutes } from './routes/uploads.js';
import { endpointRoutes } from './routes/endpoints.js';
import { eventRoutes } from './routes/events.js';
import { fileRoutes } from './routes/files.js';
import { healthRoutes } from './routes/health.js';
import { keyRoutes } from './routes/keys.js';
import { kindRoutes } from './routes/kinds.js';
import { metricsRoutes } from './routes/metrics.js';
import { taskRoutes } from './routes/tasks.js';
import { sharedSchemas } from './schemas.js';

export interface ApiDeps {
  config: Config;
  store: Store;
  engines: EngineRegistry;
  tasks: TaskService;
  endpoints: EndpointService;
  deliveries: DeliveryService;
  events: EventService;
  batches: BatchService;
  uploads: UploadService;
  signer: UrlSigner;
  blobs: BlobStore;
  logger: Logger;
  metrics?: Metrics;
}

export async function buildApi(d: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: d.logger as FastifyBaseLogger,
    // One log line per request only when debugging: at thousands of requests a second they drown the rest.
    // Fastify's two lines per request (received, completed) replaced by one, below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: d.config.bodyLimit,
    // Unknown fields are an error to report, not something to drop silently; "5" is not 5.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
    // A socket with nothing moving for this long is closed (SSE streams send a heartbeat every 15 s).
    connectionTimeout: 120_000,
    // Malformed or timed-out requests that never reached a route still answer in the API's shape.
    clientErrorHandler,
  });
  app.addHook('preParsing', paceBodies(d.config));
  // One line per request: method, route pattern (ids stay out of it), status, time.
  app.addHook('onResponse', async (req, reply) => {
    if (!d.logger.isLevelEnabled('info')) return;
    const route = req.routeOptions.url ?? 'unmatched';
    const ms = Math.round(reply.elapsedTime * 10) / 10;
    req.log.info({ method: req.method, route, status: reply.statusCode, ms }, `${req.method} ${route} ${reply.statusCode} ${ms} ms`);
  });
  // Before schema validation, which (like everything after it) walks the body recursively.
  app.addHook('preValidation', async (req) => {
    // Parsed JSON only: an upload's body is its stream.
    if (req.body === null || typeof req.body !== 'object' || typeof (req.body as { pipe?: unknown }).pipe === 'function') return;
    const problem = bodyProblem(req.body);
    if (!problem) return;
    const field = problem.path.length > 80 ? `${problem.path.slice(0, 77)}...` : problem.path;
    const top = field.split(/[.[]/)[0];
    if (problem.kind === 'too_deep') {
      throw new HookwaveError('VALIDATION_ERROR', `${top} nests deeper than ${MAX_JSON_DEPTH} levels; flatten it`, { field, max_depth: MAX_JSON_DEPTH });
    }
    throw new HookwaveError('VALIDATION_ERROR', `${field} holds a NUL character (\\u0000), which cannot be stored; remove it or encode the value (e.g. base64)`, { field });
  });
  // Before any route: test/openapi.test.ts checks that every route is in the document.
  app.decorate('registeredRoutes', collectRoutes(app));
  // The API speaks JSON only; any other body type is a 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  for (const s of sharedSchemas) app.addSchema(s);

  await app.register(swagger, swaggerOptions());
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await registerDocs(app);

  healthRoutes(app, d.store);
  if (d.metrics) metricsRoutes(app, d.metrics);
  dashboardRoutes(app, { dev: d.config.dev, mediaOrigins: d.signer.externalOrigins });
  fileRoutes(app, d);
  await app.register(async (v1) => {
    v1.addHook('onRequest', requireApiKey(d.store));
    taskRoutes(v1, d.tasks);
    deliveryRoutes(v1, d.deliveries);
    endpointRoutes(v1, d.endpoints);
    batchRoutes(v1, d.batches);
    uploadRoutes(v1, d.uploads);
    eventRoutes(v1, d.events);
    accountRoutes(v1);
    keyRoutes(v1, d.store);
    kindRoutes(v1, d.engines);
  });
  return app;
}
