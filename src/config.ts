/**
 * Every setting in one place: defaults, then environment (HOOKWAVE_*), then explicit overrides
 * (CLI flags, tests). Nothing else in the code reads process.env.
 */
import path from 'node:path';
import os from 'node:os';
import { HookwaveError } from './errors.js';

/** An hour of 96 kHz stereo wav is 1.4 GB; what a tenant asks beyond this is almost surely a mistake or an attack. */
export const DEFAULT_MAX_OUTPUT_BYTES = 2 * 1024 * 1024 * 1024;
export const DEFAULT_MAX_OUTPUT_SECONDS = 4 * 3600;

export type Role = 'all' | 'api' | 'worker' | 'dispatcher';

export interface ExternalEngineConfig {
  /** The task kind clients use, e.g. "demucs". */
  kind: string;
  /** Where hookwave POSTs each target's work. Operator-configured, so it may be on a private network. */
  url: string;
  description?: string;
  /** Whether tasks of this kind take an input file (default true). */
  needs_input?: boolean;
  /** Answer window for one call, ms (default 10 minutes). */
  timeout_ms?: number;
  /** Further calls after a connection error or 5xx (default 2). */
  retries?: number;
  /** JSON schema of one target beyond `name`/`format` (default: any object). */
  target_schema?: Record<string, unknown>;
  /** JSON schema of task params (default: any object). */
  params_schema?: Record<string, unknown>;
  /** Sent as Authorization: Bearer to the model server. */
  token?: string;
}
export type SqliteSync = 'normal' | 'full';
export type StorageKind = 'local' | 's3';

export interface Config {
  host: string;
  port: number;
  /** Base URL clients reach this server at; used to build signed download URLs. Defaults to http://host:port. */
  publicUrl: string | null;
  dataDir: string;
  /** postgres://… selects the PostgreSQL store; null keeps the embedded SQLite default. A `?schema=name` parameter puts the tables in that schema. */
  databaseUrl: string | null;
  /** PostgreSQL connections per process (plus one for LISTEN). */
  databasePoolSize: number;
  role: Role;
  /** Development switch: webhook and input URLs may be http:// and may point at loopback. */
  dev: boolean;
  /** Operator allow-list of CIDRs that outbound requests may reach even though they are not public. */
  allowCidrs: string[];
  logLevel: string;
  /** pretty (readable lines) or json; default: pretty when stdout is a terminal. */
  logFormat: 'pretty' | 'json' | null;
  sqliteSync: SqliteSync;
  /** Largest JSON request body, bytes. */
  bodyLimit: number;
  /** A JSON request body must arrive whole within this (ms). */
  bodyTimeoutMs: number;
  /** An upload may pause at most this long (ms), and after uploadGraceMs must average uploadMinBytesPerSecond. */
  uploadIdleMs: number;
  uploadGraceMs: number;
  uploadMinBytesPerSecond: number;
  /** Largest `metadata` object, bytes of its JSON. */
  metadataLimit: number;
  /** Signed download URLs live this long, seconds. */
  fileUrlTtl: number;
  /** Secret that signs download URLs; when not given, generated once into the database's settings table, so every process signs alike. */
  fileSigningKey: string | null;
  maxInputBytes: number;
  /** Caps of one output: bytes on disk and seconds of audio (engines/output-limits.ts). */
  maxOutputBytes: number;
  maxOutputSeconds: number;
  downloadTimeoutMs: number;
  workerConcurrency: number;
  /** Running targets of one tenant at most, across every worker (0: no cap); claims skip a tenant at its cap. */
  tenantMaxRunning: number;
  /** Queued tasks of one tenant at most (0: no cap); a create beyond it is 429 RATE_LIMITED with Retry-After. */
  tenantMaxQueued: number;
  /** Heap limit of each engine thread (one per running target), MiB: an engine that exceeds it fails alone. */
  engineMemoryMb: number;
  leaseMs: number;
  heartbeatMs: number;
  /** Runs of one target (each lost lease counts) before it fails with WORKER_LOST. */
  maxTargetAttempts: number;
  /** A target running longer than this fails with TARGET_TIMEOUT. */
  targetTimeoutMs: number;
  webhookTimeoutMs: number;
  /** Delay before each retry of a webhook delivery, ms; its length is the number of retries. */
  retryScheduleMs: number[];
  /** ± fraction applied to each retry delay. */
  retryJitter: number;
  dispatcherConcurrency: number;
  /** A receiver gets each task's events in the order they happened (docs/webhooks.md); false: every due delivery goes at once. */
  orderedDelivery: boolean;
  /** Requests in flight to one endpoint (or one origin, for a task's own URL) at most, so one slow receiver cannot take every slot. */
  endpointConcurrency: number;
  /** Requests in flight at most to a receiver that has not answered fast lately (slow, hanging, or new); all such receivers together get at most half of dispatcherConcurrency. */
  slowEndpointConcurrency: number;
  /** Consecutive failures that open an endpoint's circuit breaker. */
  circuitBreakerThreshold: number;
  /** How long an open circuit pauses an endpoint before it is probed again (doubles while it keeps failing, up to 1 h). */
  circuitCooldownMs: number;
  /** An endpoint failing for this long without a success is disabled. */
  endpointDisableAfterMs: number;
  /** After a secret rotation, deliveries are signed with both secrets for this long. */
  secretRotationOverlapMs: number;
  /** Upper bound on a Retry-After a receiver can ask for. */
  retryAfterMaxMs: number;
  /** Safety poll for work another process committed (SQLite multi-process, missed notifications). */
  pollIntervalMs: number;
  /** Processes without the API (worker or dispatcher role) serve GET /metrics on this port; null: they do not. */
  metricsPort: number | null;
  /** Uploaded inputs are deleted this long after upload. */
  uploadTtlMs: number;
  /** Outputs are deleted this long after they are made (ms; 0: kept until their task is deleted). */
  outputRetentionMs: number;
  /** How often processes look for outputs to delete (retention, deleted tasks); a delete also starts a pass at once. */
  outputSweepMs: number;
  /** Events are deleted this long after they were stored, once no delivery needs them (ms; 0: kept). */
  eventRetentionMs: number;
  /** Deliveries and their attempts are deleted this long after they ended, delivered or failed (ms; 0: kept); pending ones never. */
  deliveryRetentionMs: number;
  /** An ended task is reduced to a tombstone this long after it ended, once its files are gone (ms; 0: kept whole). */
  taskRetentionMs: number;
  /** How often processes prune rows past their retention (services/row-pruner.ts). */
  rowPruneMs: number;
  /** Model servers reached over HTTP, each served as its own task kind (see docs/external-engines.md). */
  externalEngines: ExternalEngineConfig[];
  /** Cost per second of audio, per kind (default rate applies to kinds not listed). */
  costPerSecond: Record<string, number>;
  /** Where output and upload files live: data/files under dataDir, or an S3-compatible bucket (see docs/storage.md). */
  storage: StorageKind;
  s3Bucket: string | null;
  /** An S3-compatible server (MinIO, Ceph, R2, …); null: AWS S3 for the region. */
  s3Endpoint: string | null;
  /** null: the SDK's own (AWS_REGION, profile), else us-east-1 for a custom endpoint. */
  s3Region: string | null;
  /** Prepended to every object key; empty or ending in '/'. */
  s3Prefix: string;
  s3ForcePathStyle: boolean;
  /** Output URLs point at the bucket (presigned) instead of hookwave's /v1/files route. */
  s3Presign: boolean;
  /** Files larger than this go up as a multipart upload in parts of this size, bytes. */
  s3PartSize: number;
  /** ffmpeg and ffprobe binaries; null: the ones on PATH, else the bundled @ffmpeg-installer builds. */
  ffmpegPath: string | null;
  ffprobePath: string | null;
  /** Directory of the stems model (spec.json, the .onnx it names, its .sha256); null: models/stems of the package. */
  stemsModelDir: string | null;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const POSTGRES_POLL_INTERVAL_MS = 2 * SECOND;

export const DEFAULT_RETRY_SCHEDULE_MS = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];
/** How often a row retention pass runs (config.rowPruneMs; set by overrides, no environment variable). */
export const DEFAULT_ROW_PRUNE_MS = 5 * MINUTE;

export function defaultConfig(): Config {
  return {
    host: '127.0.0.1',
    port: 8080,
    publicUrl: null,
    dataDir: path.resolve('data'),
    databaseUrl: null,
    databasePoolSize: 10,
    role: 'all',
    dev: false,
    allowCidrs: [],
    logLevel: 'info',
    logFormat: null,
    sqliteSync: 'normal',
    bodyLimit: 1024 * 1024,
    bodyTimeoutMs: 30 * SECOND,
    uploadIdleMs: 30 * SECOND,
    uploadGraceMs: 10 * SECOND,
    uploadMinBytesPerSecond: 16 * 1024,
    metadataLimit: 16 * 1024,
    fileUrlTtl: 3600,
    fileSigningKey: null,
    maxInputBytes: 512 * 1024 * 1024,
    maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES,
    maxOutputSeconds: DEFAULT_MAX_OUTPUT_SECONDS,
    downloadTimeoutMs: 120 * SECOND,
    workerConcurrency: Math.max(1, os.availableParallelism()),
    tenantMaxRunning: 32,
    tenantMaxQueued: 10_000,
    engineMemoryMb: 2048,
    leaseMs: 30 * SECOND,
    heartbeatMs: 10 * SECOND,
    maxTargetAttempts: 3,
    targetTimeoutMs: 30 * MINUTE,
    webhookTimeoutMs: 10 * SECOND,
    retryScheduleMs: DEFAULT_RETRY_SCHEDULE_MS,
    retryJitter: 0.2,
    dispatcherConcurrency: 64,
    orderedDelivery: true,
    endpointConcurrency: 32,
    slowEndpointConcurrency: 4,
    circuitBreakerThreshold: 5,
    circuitCooldownMs: 30 * SECOND,
    endpointDisableAfterMs: 5 * 24 * HOUR,
    secretRotationOverlapMs: 24 * HOUR,
    retryAfterMaxMs: HOUR,
    pollIntervalMs: 1000,
    metricsPort: null,
    uploadTtlMs: 24 * HOUR,
    outputRetentionMs: 7 * 24 * HOUR,
    outputSweepMs: 60 * SECOND,
    // Stripe keeps events 30 days; a month of delivery log answers "did my webhook arrive?" for
    // any invoice cycle, and the retry schedule (about a day) ends long before.
    eventRetentionMs: 30 * DAY,
    deliveryRetentionMs: 30 * DAY,
    // As HOOKWAVE_OUTPUT_RETENTION: a task's rows are reduced the day its files go, and a task
    // without files (failed, canceled) keeps its whole record just as long.
    taskRetentionMs: 7 * DAY,
    rowPruneMs: DEFAULT_ROW_PRUNE_MS,
    externalEngines: [],
    costPerSecond: { default: 0.001 },
    storage: 'local',
    s3Bucket: null,
    s3Endpoint: null,
    s3Region: null,
    s3Prefix: '',
    s3ForcePathStyle: false,
    s3Presign: false,
    s3PartSize: 16 * 1024 * 1024,
    ffmpegPath: null,
    ffprobePath: null,
    stemsModelDir: null,
  };
}

type Env = Record<string, string | undefined>;

function num(env: Env, key: string): number | undefined {
  const v = env[key];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${key} must be a number, got "${v}"`);
  return n;
}

function bool(env: Env, key: string): boolean | undefined {
  const v = env[key];
  if (v === undefined || v === '') return undefined;
  return ['1', 'true', 'yes', 'on'].includes(v.toLowerCase());
}

function list(env: Env, key: string): string[] | undefined {
  const v = env[key];
  if (v === undefined || v === '') return undefined;
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function parseJson<T>(key: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${key} must be JSON: ${(err as Error).message}`);
  }
}

/** Reads HOOKWAVE_* variables (and DATABASE_URL, PORT). Unset variables leave the default. */
export function configFromEnv(env: Env = process.env): Partial<Config> {
  const out: Partial<Config> = {};
  const set = <K extends keyof Config>(k: K, v: Config[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('host', env.HOOKWAVE_HOST);
  set('port', num(env, 'HOOKWAVE_PORT') ?? num(env, 'PORT'));
  set('publicUrl', env.HOOKWAVE_PUBLIC_URL);
  set('dataDir', env.HOOKWAVE_DATA_DIR ? path.resolve(env.HOOKWAVE_DATA_DIR) : undefined);
  set('databaseUrl', env.DATABASE_URL || env.HOOKWAVE_DATABASE_URL);
  set('databasePoolSize', num(env, 'HOOKWAVE_DATABASE_POOL_SIZE'));
  set('role', env.HOOKWAVE_ROLE as Role | undefined);
  set('dev', bool(env, 'HOOKWAVE_DEV'));
  set('allowCidrs', list(env, 'HOOKWAVE_ALLOW_CIDRS'));
  set('logLevel', env.HOOKWAVE_LOG_LEVEL);
  if (env.HOOKWAVE_LOG_FORMAT !== undefined && env.HOOKWAVE_LOG_FORMAT !== 'pretty' && env.HOOKWAVE_LOG_FORMAT !== 'json') {
    throw new Error(`HOOKWAVE_LOG_FORMAT must be pretty|json, got "${env.HOOKWAVE_LOG_FORMAT}"`);
  }
  set('logFormat', env.HOOKWAVE_LOG_FORMAT as 'pretty' | 'json' | undefined);
  set('sqliteSync', env.HOOKWAVE_SQLITE_SYNC as SqliteSync | undefined);
  set('bodyLimit', num(env, 'HOOKWAVE_BODY_LIMIT'));
  set('bodyTimeoutMs', num(env, 'HOOKWAVE_BODY_TIMEOUT_MS'));
  set('uploadIdleMs', num(env, 'HOOKWAVE_UPLOAD_IDLE_MS'));
  set('uploadMinBytesPerSecond', num(env, 'HOOKWAVE_UPLOAD_MIN_RATE'));
  set('metadataLimit', num(env, 'HOOKWAVE_METADATA_LIMIT'));
  set('fileUrlTtl', num(env, 'HOOKWAVE_FILE_URL_TTL'));
  set('fileSigningKey', env.HOOKWAVE_FILE_SIGNING_KEY);
  set('maxInputBytes', num(env, 'HOOKWAVE_MAX_INPUT_BYTES'));
  set('maxOutputBytes', num(env, 'HOOKWAVE_MAX_OUTPUT_BYTES'));
  set('maxOutputSeconds', num(env, 'HOOKWAVE_MAX_OUTPUT_SECONDS'));
  set('downloadTimeoutMs', num(env, 'HOOKWAVE_DOWNLOAD_TIMEOUT_MS'));
  set('workerConcurrency', num(env, 'HOOKWAVE_WORKER_CONCURRENCY'));
  set('tenantMaxRunning', num(env, 'HOOKWAVE_TENANT_MAX_RUNNING'));
  set('tenantMaxQueued', num(env, 'HOOKWAVE_TENANT_MAX_QUEUED'));
  set('engineMemoryMb', num(env, 'HOOKWAVE_ENGINE_MEMORY_MB'));
  set('leaseMs', num(env, 'HOOKWAVE_LEASE_MS'));
  set('heartbeatMs', num(env, 'HOOKWAVE_HEARTBEAT_MS'));
  set('maxTargetAttempts', num(env, 'HOOKWAVE_MAX_TARGET_ATTEMPTS'));
  set('targetTimeoutMs', num(env, 'HOOKWAVE_TARGET_TIMEOUT_MS'));
  set('webhookTimeoutMs', num(env, 'HOOKWAVE_WEBHOOK_TIMEOUT_MS'));
  set('retryScheduleMs', list(env, 'HOOKWAVE_RETRY_SCHEDULE_MS')?.map(Number));
  set('retryJitter', num(env, 'HOOKWAVE_RETRY_JITTER'));
  set('dispatcherConcurrency', num(env, 'HOOKWAVE_DISPATCHER_CONCURRENCY'));
  set('orderedDelivery', bool(env, 'HOOKWAVE_ORDERED_DELIVERY'));
  set('endpointConcurrency', num(env, 'HOOKWAVE_ENDPOINT_CONCURRENCY'));
  set('slowEndpointConcurrency', num(env, 'HOOKWAVE_SLOW_ENDPOINT_CONCURRENCY'));
  set('circuitBreakerThreshold', num(env, 'HOOKWAVE_CIRCUIT_BREAKER_THRESHOLD'));
  set('circuitCooldownMs', num(env, 'HOOKWAVE_CIRCUIT_COOLDOWN_MS'));
  set('endpointDisableAfterMs', num(env, 'HOOKWAVE_ENDPOINT_DISABLE_AFTER_MS'));
  set('secretRotationOverlapMs', num(env, 'HOOKWAVE_SECRET_ROTATION_OVERLAP_MS'));
  set('retryAfterMaxMs', num(env, 'HOOKWAVE_RETRY_AFTER_MAX_MS'));
  set('pollIntervalMs', num(env, 'HOOKWAVE_POLL_INTERVAL_MS'));
  set('metricsPort', num(env, 'HOOKWAVE_METRICS_PORT'));
  set('uploadTtlMs', num(env, 'HOOKWAVE_UPLOAD_TTL_MS'));
  set('outputRetentionMs', duration(env, 'HOOKWAVE_OUTPUT_RETENTION'));
  set('eventRetentionMs', duration(env, 'HOOKWAVE_EVENT_RETENTION'));
  set('deliveryRetentionMs', duration(env, 'HOOKWAVE_DELIVERY_RETENTION'));
  set('taskRetentionMs', duration(env, 'HOOKWAVE_TASK_RETENTION'));
  set('externalEngines', env.HOOKWAVE_EXTERNAL_ENGINES ? parseJson<ExternalEngineConfig[]>('HOOKWAVE_EXTERNAL_ENGINES', env.HOOKWAVE_EXTERNAL_ENGINES) : undefined);
  set('costPerSecond', env.HOOKWAVE_COST_PER_SECOND ? parseJson<Record<string, number>>('HOOKWAVE_COST_PER_SECOND', env.HOOKWAVE_COST_PER_SECOND) : undefined);
  set('storage', (env.HOOKWAVE_STORAGE || undefined) as StorageKind | undefined);
  set('s3Bucket', env.HOOKWAVE_S3_BUCKET || undefined);
  set('s3Endpoint', env.HOOKWAVE_S3_ENDPOINT || undefined);
  set('s3Region', env.HOOKWAVE_S3_REGION || undefined);
  set('s3Prefix', env.HOOKWAVE_S3_PREFIX);
  set('s3ForcePathStyle', bool(env, 'HOOKWAVE_S3_FORCE_PATH_STYLE'));
  set('s3Presign', bool(env, 'HOOKWAVE_S3_PRESIGN'));
  set('s3PartSize', num(env, 'HOOKWAVE_S3_PART_SIZE'));
  set('ffmpegPath', env.HOOKWAVE_FFMPEG || undefined);
  set('ffprobePath', env.HOOKWAVE_FFPROBE || undefined);
  set('stemsModelDir', env.HOOKWAVE_STEMS_MODEL_DIR || undefined);
  return out;
}

/** A duration setting: "7d", "12h", "90m", "3600s", or a bare number of seconds; "0", "off" or "forever" is 0. */
function duration(env: Env, name: string): number | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return undefined;
  if (raw === 'forever' || raw === 'off' || raw === '0') return 0;
  const m = /^(\d+(?:\.\d+)?)(d|h|m|s)?$/.exec(raw);
  if (!m) throw new Error(`${name} must be a duration like 7d, 12h, 90m or 3600 (seconds), or "forever"/"off"; got "${env[name]}"`);
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[(m[2] ?? 's') as 'd' | 'h' | 'm' | 's'];
}

export function loadConfig(overrides: Partial<Config> = {}, env: Env = process.env): Config {
  const fromEnv = configFromEnv(env);
  const explicit = stripUndefined(overrides);
  const cfg: Config = { ...defaultConfig(), ...fromEnv, ...explicit };
  // On PostgreSQL, LISTEN/NOTIFY wakes every process at once; the poll only catches expired leases and missed wake-ups.
  if (cfg.databaseUrl && fromEnv.pollIntervalMs === undefined && explicit.pollIntervalMs === undefined) cfg.pollIntervalMs = POSTGRES_POLL_INTERVAL_MS;
  validateConfig(cfg);
  return cfg;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validateConfig(cfg: Config): void {
  if (!['all', 'api', 'worker', 'dispatcher'].includes(cfg.role)) throw new Error(`role must be all|api|worker|dispatcher, got "${cfg.role}"`);
  if (!['normal', 'full'].includes(cfg.sqliteSync)) throw new Error(`HOOKWAVE_SQLITE_SYNC must be normal|full, got "${cfg.sqliteSync}"`);
  if (cfg.heartbeatMs >= cfg.leaseMs) throw new Error('heartbeat interval must be shorter than the lease');
  // Below this a thread cannot even start its heap, and V8 ends the whole process instead.
  if (!(cfg.engineMemoryMb >= 64)) throw new Error(`HOOKWAVE_ENGINE_MEMORY_MB must be at least 64, got ${cfg.engineMemoryMb}`);
  if (!Number.isInteger(cfg.workerConcurrency) || cfg.workerConcurrency < 1) throw new Error(`HOOKWAVE_WORKER_CONCURRENCY must be a whole number of at least 1, got ${cfg.workerConcurrency}`);
  for (const [name, v] of [['HOOKWAVE_TENANT_MAX_RUNNING', cfg.tenantMaxRunning], ['HOOKWAVE_TENANT_MAX_QUEUED', cfg.tenantMaxQueued]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number (0: no cap), got ${v}`);
  }
  if (cfg.retryScheduleMs.some((n) => !Number.isFinite(n) || n < 0)) throw new Error('retry schedule must be non-negative numbers of ms');
  validateRowRetention(cfg);
  validateStorage(cfg);
}

/**
 * Row retention deletes what users may still look for, so a value that is surely a slip is refused
 * at startup: a bare number is seconds, and "HOOKWAVE_DELIVERY_RETENTION=30" meaning 30 days would
 * empty the delivery log every half minute.
 */
const ROW_RETENTION_MIN_MS = HOUR;

function validateRowRetention(cfg: Config): void {
  for (const [name, v] of [
    ['HOOKWAVE_EVENT_RETENTION', cfg.eventRetentionMs],
    ['HOOKWAVE_DELIVERY_RETENTION', cfg.deliveryRetentionMs],
    ['HOOKWAVE_TASK_RETENTION', cfg.taskRetentionMs],
  ] as const) {
    if (!Number.isFinite(v) || v < 0 || (v > 0 && v < ROW_RETENTION_MIN_MS)) {
      throw new Error(`${name} must be at least 1h (e.g. 30d, 12h), or "off" to keep these rows; got ${v / 1000} seconds (a bare number is seconds)`);
    }
  }
  if (!(cfg.rowPruneMs >= 1)) throw new Error(`the row pruning interval must be a positive number of ms, got ${cfg.rowPruneMs}`);
}

const MIB = 1024 * 1024;
/** SigV4 presigned URLs live at most 7 days. */
const PRESIGN_MAX_SECONDS = 7 * 24 * 3600;

function storageError(setting: string, message: string): HookwaveError {
  return new HookwaveError('VALIDATION_ERROR', message, { setting });
}

function validateStorage(cfg: Config): void {
  if (cfg.storage !== 'local' && cfg.storage !== 's3') throw storageError('HOOKWAVE_STORAGE', `HOOKWAVE_STORAGE must be local|s3, got "${cfg.storage as string}"`);
  if (cfg.storage === 'local') {
    // A bucket configured but not selected would silently keep files on this machine's disk.
    const stray = ([['HOOKWAVE_S3_BUCKET', cfg.s3Bucket], ['HOOKWAVE_S3_ENDPOINT', cfg.s3Endpoint], ['HOOKWAVE_S3_PREFIX', cfg.s3Prefix || null], ['HOOKWAVE_S3_PRESIGN', cfg.s3Presign || null]] as const).find(([, v]) => v !== null);
    if (stray) throw storageError(stray[0], `${stray[0]} is set but HOOKWAVE_STORAGE is local; set HOOKWAVE_STORAGE=s3 to store files in the bucket, or unset ${stray[0]}`);
    return;
  }
  if (!cfg.s3Bucket) throw storageError('HOOKWAVE_S3_BUCKET', 'HOOKWAVE_STORAGE=s3 needs HOOKWAVE_S3_BUCKET');
  if (/[/\\\s]/.test(cfg.s3Bucket)) throw storageError('HOOKWAVE_S3_BUCKET', `HOOKWAVE_S3_BUCKET must be a bucket name (no slashes or spaces; use HOOKWAVE_S3_PREFIX for a folder), got "${cfg.s3Bucket}"`);
  if (cfg.s3Endpoint !== null) {
    let u: URL | null = null;
    try {
      u = new URL(cfg.s3Endpoint);
    } catch {
      /* reported below */
    }
    if (!u || !['http:', 'https:'].includes(u.protocol) || u.search || u.hash) throw storageError('HOOKWAVE_S3_ENDPOINT', `HOOKWAVE_S3_ENDPOINT must be an http(s) URL such as https://minio.internal:9000, got "${cfg.s3Endpoint}"`);
  }
  if (cfg.s3Prefix.startsWith('/') || cfg.s3Prefix.split('/').some((seg) => seg === '.' || seg === '..')) throw storageError('HOOKWAVE_S3_PREFIX', `HOOKWAVE_S3_PREFIX must be a relative key prefix such as "hookwave/", got "${cfg.s3Prefix}"`);
  if (cfg.s3Prefix !== '' && !cfg.s3Prefix.endsWith('/')) cfg.s3Prefix += '/';
  if (!Number.isInteger(cfg.s3PartSize) || cfg.s3PartSize < 5 * MIB || cfg.s3PartSize > 5 * 1024 * MIB) throw storageError('HOOKWAVE_S3_PART_SIZE', `HOOKWAVE_S3_PART_SIZE must be whole bytes between 5 MiB and 5 GiB (S3's part limits), got ${cfg.s3PartSize}`);
  if (cfg.s3Presign && cfg.fileUrlTtl > PRESIGN_MAX_SECONDS) throw storageError('HOOKWAVE_FILE_URL_TTL', `HOOKWAVE_S3_PRESIGN=true signs URLs the bucket checks, and S3 accepts at most ${PRESIGN_MAX_SECONDS} s (7 days); HOOKWAVE_FILE_URL_TTL is ${cfg.fileUrlTtl}`);
}
