/**
 * Assembles a hookwave process from its configuration: the store, and the roles it runs — the API,
 * the worker, the dispatcher, or all three (the embedded default).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from './api/app.js';
import { LocalBlobStore, type BlobStore } from './blobs/blob-store.js';
import { openS3BlobStore } from './blobs/s3-blob-store.js';
import { UrlSigner } from './blobs/signed-url.js';
import { loadConfig, type Config } from './config.js';
import { BatchService } from './services/batches.js';
import { DeliveryService } from './services/deliveries.js';
import { EndpointService } from './services/endpoints.js';
import { EventService } from './services/events.js';
import { UploadService, defaultUploadTmp } from './services/uploads.js';
import { TaskService } from './services/tasks.js';
import { createExternalEngine } from './engines/external.js';
import { toolInfo, useTools } from './media/ffmpeg.js';
import { builtinEngines, EngineRegistry } from './engines/registry.js';
import { loadStemsModel, useStemsModel } from './engines/stems-model/model-file.js';
import { installFaultHandlers } from './fault-scope.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics, serveMetrics } from './metrics.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';
import { Dispatcher } from './webhooks/dispatcher.js';
import { UrlGuard, type Resolver } from './net/url-guard.js';
import { VERSION } from './version.js';
import { EngineThreads } from './worker/engine-threads.js';
import { Worker } from './worker/worker.js';
import { OutputSweeper } from './services/retention.js';
import { RowPruner } from './services/row-pruner.js';

export interface Hookwave {
  config: Config;
  store: Store;
  logger: Logger;
  engines: EngineRegistry;
  tasks: TaskService;
  endpoints: EndpointService;
  uploads: UploadService;
  guard: UrlGuard;
  signer: UrlSigner;
  blobs: BlobStore;
  api: FastifyInstance | null;
  worker: Worker | null;
  dispatcher: Dispatcher | null;
  /** Row retention; its passes run periodically in API and worker processes (`pass(now)` runs one at once). */
  rowPruner: RowPruner;
  metrics: Metrics;
  /** Base URL the API listens on (null for worker/dispatcher-only processes). */
  url: string | null;
  close(): Promise<void>;
}

export interface StartOptions {
  /** DNS resolver for outbound connections (tests answer with addresses they control). */
  resolver?: Resolver;
  /** Called with every address the guard admits, right before it is dialed (tests: a safety net). */
  connectHook?: (address: string, hostname: string) => void;
  logger?: Logger;
}

/** How long requests in flight (downloads above all) may take to finish at shutdown. */
const SHUTDOWN_GRACE_MS = 10_000;

async function closeApi(api: FastifyInstance): Promise<void> {
  const force = setTimeout(() => api.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  try {
    await api.close();
  } finally {
    clearTimeout(force);
  }
}

/** How often worker processes look for tasks past their deadline: a deadline is kept to about this. */
const DEADLINE_SWEEP_MS = 1000;

export async function startHookwave(overrides: Partial<Config> = {}, opts: StartOptions = {}): Promise<Hookwave> {
  const config = loadConfig(overrides);
  const logger = opts.logger ?? createLogger(config.logLevel, config.logFormat ?? undefined);
  if (config.dev) logger.warn('development mode: webhook and input URLs may use http:// and reach loopback addresses; never use it in production');

  // Engines first: a mistake in their configuration stops startup before anything is opened.
  const guard = new UrlGuard({ allowHttp: config.dev, allowLoopback: config.dev, allowCidrs: config.allowCidrs, resolver: opts.resolver, connectHook: opts.connectHook });
  useTools({ ffmpeg: config.ffmpegPath, ffprobe: config.ffprobePath });
  // A worker runs the stems model: a missing or altered model file stops it here, with how to restore it.
  useStemsModel(config.stemsModelDir);
  const runsApi = config.role === 'all' || config.role === 'api';
  const runsWorker = config.role === 'all' || config.role === 'worker';
  const runsDispatcher = config.role === 'all' || config.role === 'dispatcher';
  if (runsWorker) loadStemsModel();
  // The registry refuses a kind served twice, built-in or not.
  const engines = new EngineRegistry([...builtinEngines().all(), ...config.externalEngines.map((ext) => createExternalEngine(ext, guard))]);

  const store = await openStore(config);

  const signingKey = config.fileSigningKey ?? (await store.setSettingIfAbsent('file_signing_key', randomBytes(32).toString('base64url')));
  // Processes on several machines share files through a bucket (or a shared data directory): docs/storage.md.
  const s3 = config.storage === 's3' ? await openS3BlobStore(config, { connect: runsApi || runsWorker }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  }) : null;
  const blobs: BlobStore = s3 ?? new LocalBlobStore(path.join(config.dataDir, 'files'));
  // The API may listen on an ephemeral port; URLs are signed for the address it really got.
  const signer = new UrlSigner(signingKey, config.publicUrl ?? `http://${config.host}:${config.port}`, config.fileUrlTtl, s3?.presigner ?? null);
  const uploads = new UploadService({ store, blobs, maxBytes: config.maxInputBytes, ttlMs: config.uploadTtlMs, tmpDir: defaultUploadTmp(config.dataDir) });
  // Output files due for removal (retention, deleted tasks) are removed by any process with storage.
  const outputSweeper = new OutputSweeper({ store, blobs, uploads, logger });
  const tasks = new TaskService({ store, engines, guard, signer, metadataLimit: config.metadataLimit, tenantMaxQueued: config.tenantMaxQueued, onDeleted: () => void outputSweeper.kick().catch((err: unknown) => logger.error({ err }, 'removing deleted files failed')), outputLimits: { outputBytes: config.maxOutputBytes, outputSeconds: config.maxOutputSeconds } });
  const endpoints = new EndpointService(store, guard, config.secretRotationOverlapMs);
  const batches = new BatchService(store, tasks);
  const deliveries = new DeliveryService(store);
  const events = new EventService(store);

  const metrics = new Metrics(store, logger, { version: VERSION, role: config.role });
  const rowPruner = new RowPruner({
    store,
    logger,
    counter: metrics,
    retention: { eventMs: config.eventRetentionMs, deliveryMs: config.deliveryRetentionMs, taskMs: config.taskRetentionMs },
    passIntervalMs: config.rowPruneMs,
  });

  let api: FastifyInstance | null = null;
  let url: string | null = null;
  if (runsApi) {
    api = await buildApi({ config, store, engines, tasks, endpoints, deliveries, events, batches, uploads, signer, blobs, logger, metrics });
    await api.listen({ host: config.host, port: config.port });
    const addr = api.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    signer.baseUrl = config.publicUrl ?? url;
  }
  // From here on, a fault in one piece of work fails that work, not the process (fault-scope.ts).
  const releaseFaultHandlers = installFaultHandlers(logger);
  const threads = runsWorker
    ? new EngineThreads({ kinds: builtinEngines().kinds(), size: config.workerConcurrency, setup: { tools: { ffmpeg: config.ffmpegPath, ffprobe: config.ffprobePath }, stemsModel: config.stemsModelDir }, memoryMb: config.engineMemoryMb, logger })
    : null;
  const worker = runsWorker ? new Worker({ store, engines, threads, guard, signer, blobs, config, logger, metrics }) : null;
  const dispatcher = runsDispatcher ? new Dispatcher({ store, guard, config, logger, metrics }) : null;
  worker?.start();
  dispatcher?.start();
  // Expired uploads are swept by worker processes (any one of them may do it).
  const sweeper = runsWorker ? setInterval(() => void uploads.sweep(Date.now(), logger).catch((err: unknown) => logger.error({ err }, 'upload sweep failed')), 10 * 60_000).unref() : null;
  // Tasks past their deadline are canceled by worker processes, every second (an index probe when none are).
  let sweepingDeadlines = false;
  const deadlines = runsWorker
    ? setInterval(() => {
        if (sweepingDeadlines) return;
        sweepingDeadlines = true;
        tasks
          .cancelPastDeadline(Date.now())
          .then((n) => n > 0 && logger.info({ canceled: n }, 'canceled tasks past their deadline'))
          .catch((err: unknown) => logger.error({ err }, 'deadline sweep failed'))
          .finally(() => (sweepingDeadlines = false));
      }, DEADLINE_SWEEP_MS).unref()
    : null;
  const outputSweeps = config.role !== 'dispatcher' ? setInterval(() => void outputSweeper.kick().catch((err: unknown) => logger.error({ err }, 'output sweep failed')), config.outputSweepMs).unref() : null;
  // Rows past their retention are pruned where files are swept (API and worker processes); a pass
  // stopped halfway by a failure or a shutdown is finished by the next one, here or elsewhere.
  const rowPrunes =
    config.role !== 'dispatcher' && rowPruner.enabled
      ? setInterval(() => void rowPruner.kick().catch((err: unknown) => logger.error({ err }, 'row retention pass failed')), config.rowPruneMs).unref()
      : null;
  const metricsServer = !api && config.metricsPort !== null ? await serveMetrics(metrics, config.host, config.metricsPort) : null;
  // A worker or dispatcher without an HTTP server has only unref'd timers (and, on SQLite, no
  // socket at all): this keeps the process running until close().
  const keepAlive = api || metricsServer ? null : setInterval(() => undefined, 2 ** 30);
  logger.info({ role: config.role, url, metrics_url: metricsServer?.url ?? null, data_dir: config.dataDir, database: store.dialect, storage: config.storage, ffmpeg: toolInfo().ffmpeg }, 'hookwave started');

  let closing: Promise<void> | null = null;
  return {
    config,
    store,
    logger,
    engines,
    tasks,
    endpoints,
    uploads,
    guard,
    signer,
    blobs,
    api,
    worker,
    dispatcher,
    rowPruner,
    metrics,
    url,
    close() {
      closing ??= (async () => {
        if (sweeper) clearInterval(sweeper);
        if (deadlines) clearInterval(deadlines);
        if (outputSweeps) clearInterval(outputSweeps);
        if (rowPrunes) clearInterval(rowPrunes);
        if (keepAlive) clearInterval(keepAlive);
        await metricsServer?.close();
        // Together: handing running targets back must not wait for the last download to finish.
        await Promise.all([api ? closeApi(api) : undefined, worker?.stop(), dispatcher?.stop(), rowPruner.stop()]);
        await guard.close();
        await blobs.close?.();
        await store.close();
        releaseFaultHandlers();
      })();
      return closing;
    },
  };
}
