/**
 * The typed client of the hookwave API.
 *
 *   const hw = new Hookwave(); // HOOKWAVE_URL and HOOKWAVE_API_KEY
 *   const task = await hw.run(
 *     { kind: 'extract', input: { url }, targets: [{ format: 'mp3' }] },
 *     { onCreated: (id) => db.save(id), onProgress: (p) => console.log(p.name, p.progress), timeoutMs: 10 * 60_000 },
 *   );
 *
 * `run` is `tasks.create` then `tasks.wait`. `create` answers with the task id before anything runs,
 * and `wait` only watches: a wait that times out or is aborted leaves the task running, and waiting
 * again with the same id picks it up — which is why `run` hands the id to `onCreated` at once.
 */
import { HookwaveApiError, HookwaveConnectionError, HookwaveTaskFailedError, HookwaveTimeoutError } from './errors.js';
import type { TaskRequest } from './kinds.js';
import { parseSse } from './sse.js';
import {
  FINAL_STATUSES,
  type Account,
  type ApiKey,
  type Batch,
  type CreateBatchRequest,
  type CreateBatchResponse,
  type CreateTaskResponse,
  type Delivery,
  type Endpoint,
  type EndpointInput,
  type EndpointWithSecret,
  type EventType,
  type Kind,
  type ListDeliveriesQuery,
  type ListTasksQuery,
  type Page,
  type StreamedEvent,
  type Task,
  type TargetStatus,
  type TaskStatus,
  type Upload,
  type StreamedEventBody,
} from './types.js';

type FetchLike = typeof fetch;

export interface HookwaveOptions {
  /** Where the API listens, e.g. http://127.0.0.1:8080. Default: the HOOKWAVE_URL environment variable. */
  baseUrl?: string;
  /** Default: the HOOKWAVE_API_KEY environment variable. */
  apiKey?: string;
  /** A fetch implementation (tests, proxies, older runtimes); the global fetch by default. */
  fetch?: FetchLike;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Makes a create safe to retry: the same key and body return the same task. */
  idempotencyKey?: string;
}

/** Where a target stands, as `tasks.wait` reports it while waiting. */
export interface TargetProgress {
  task_id: string;
  target_id: string;
  name: string;
  status: TargetStatus;
  /** 0..1 */
  progress: number;
}

export interface WaitOptions {
  /** Give up after this long with a HookwaveTimeoutError (the task keeps running). */
  timeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (update: TargetProgress) => void;
  /** Poll interval when the event stream is unavailable, ms (grows to 5 s). Default 500. */
  pollIntervalMs?: number;
}

export interface RunOptions extends WaitOptions {
  /** Called with the task id as soon as the task is stored, before any waiting: keep it to find the task again. */
  onCreated?: (taskId: string) => void;
  /** Makes the create safe to retry: the same key and body return the same task. */
  idempotencyKey?: string;
}

export type UploadSource =
  | string // a local file path (Node only)
  | Uint8Array
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

export interface UploadOptions {
  /** Sent as X-File-Name; defaults to the file's base name for a path or a File. */
  fileName?: string;
  signal?: AbortSignal;
  /** Called as bytes are handed to the connection; `total` is null when the size is unknown. */
  onProgress?: (sent: number, total: number | null) => void;
}

export interface StreamOptions {
  /** Resume after this event id (a webhook-id): events after it are sent first. */
  lastEventId?: string;
  signal?: AbortSignal;
  /** Called each time the stream is (re)connected. */
  onOpen?: () => void;
  /** Reconnect after a dropped connection, resuming from the last event seen (default true). */
  reconnect?: boolean;
}

interface CallOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

const MAX_POLL_MS = 5000;
const DEFAULT_RETRY_MS = 2000;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** An AbortSignal that fires when any of `signals` does. */
function anySignal(signals: Array<AbortSignal | undefined>): { signal: AbortSignal; abort(reason: unknown): void; dispose(): void } {
  const controller = new AbortController();
  const cleanups: Array<() => void> = [];
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      controller.abort(s.reason);
      break;
    }
    const on = () => controller.abort(s.reason);
    s.addEventListener('abort', on, { once: true });
    cleanups.push(() => s.removeEventListener('abort', on));
  }
  return { signal: controller.signal, abort: (r) => controller.abort(r), dispose: () => cleanups.forEach((c) => c()) };
}

export class Hookwave {
  readonly baseUrl: string;
  readonly tasks: Tasks;
  readonly batches: Batches;
  readonly uploads: Uploads;
  readonly endpoints: Endpoints;
  readonly deliveries: Deliveries;
  readonly events: Events;
  readonly account: AccountApi;
  readonly keys: Keys;
  readonly kinds: Kinds;
  private readonly apiKey: string;
  private readonly fetchImpl: FetchLike;
  private readonly extraHeaders: Record<string, string>;

  constructor(opts: HookwaveOptions = {}) {
    const baseUrl = opts.baseUrl ?? env('HOOKWAVE_URL');
    const apiKey = opts.apiKey ?? env('HOOKWAVE_API_KEY');
    if (!baseUrl) throw new TypeError('Hookwave: give baseUrl, or set HOOKWAVE_URL');
    if (!apiKey) throw new TypeError('Hookwave: give apiKey, or set HOOKWAVE_API_KEY');
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.apiKey = apiKey;
    this.fetchImpl = opts.fetch ?? ((...args) => globalThis.fetch(...args));
    this.extraHeaders = opts.headers ?? {};
    this.tasks = new Tasks(this);
    this.batches = new Batches(this);
    this.uploads = new Uploads(this);
    this.endpoints = new Endpoints(this);
    this.deliveries = new Deliveries(this);
    this.events = new Events(this);
    this.account = new AccountApi(this);
    this.keys = new Keys(this);
    this.kinds = new Kinds(this);
  }

  /**
   * Creates the task and resolves with it once it has completed; throws HookwaveTaskFailedError
   * (with the ended task) when it fails or is canceled. The task id reaches `onCreated` as soon as
   * the task is stored, so a timeout (HookwaveTimeoutError) or an abort loses nothing: the task
   * keeps running, and `tasks.wait(id)` picks it up again.
   */
  async run<K extends string>(request: TaskRequest<K> & { kind: K }, opts: RunOptions = {}): Promise<Task & { status: 'completed' }> {
    const { onCreated, idempotencyKey, ...wait } = opts;
    const { task_id } = await this.tasks.create(request, { signal: opts.signal, ...(idempotencyKey ? { idempotencyKey } : {}) });
    onCreated?.(task_id);
    const task = await this.tasks.wait(task_id, wait);
    if (task.status === 'completed') return task as Task & { status: 'completed' };
    throw new HookwaveTaskFailedError(task as Task & { status: 'failed' | 'canceled' });
  }

  /** One raw HTTP call with auth; resolves with the response whatever its status. */
  async fetch(method: string, path: string, init: { body?: RequestInit['body']; headers?: Record<string, string>; signal?: AbortSignal; query?: CallOptions['query'] } = {}): Promise<Response> {
    let url = this.baseUrl + path;
    const params = Object.entries(init.query ?? {}).filter((e): e is [string, string | number] => e[1] !== undefined);
    if (params.length > 0) url += '?' + new URLSearchParams(params.map(([k, v]): [string, string] => [k, String(v)])).toString();
    const requestInit: RequestInit & { duplex?: 'half' } = {
      method,
      headers: { 'x-api-key': this.apiKey, ...this.extraHeaders, ...init.headers },
      body: init.body,
      signal: init.signal,
    };
    // A streamed body must say so (fetch spec); harmless for other bodies.
    if (init.body && typeof init.body === 'object' && ('getReader' in init.body || Symbol.asyncIterator in init.body)) requestInit.duplex = 'half';
    try {
      return await this.fetchImpl(url, requestInit);
    } catch (err) {
      if (init.signal?.aborted) throw init.signal.reason;
      const cause = err as Error & { cause?: { code?: string; message?: string } };
      const why = cause.cause?.code ?? cause.cause?.message ?? cause.message;
      throw new HookwaveConnectionError(`cannot reach hookwave at ${this.baseUrl}: ${why}`, url, { cause: err });
    }
  }

  /** A JSON call: throws HookwaveApiError for any non-2xx answer. */
  async call<T>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const res = await this.fetch(method, path, { body, headers, signal: opts.signal, query: opts.query });
    return readJson<T>(res);
  }
}

/** An environment variable where there is an environment (Node, Deno, Bun); undefined in a browser. */
function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.[name] || undefined;
}

/** The body of a JSON answer, or the API error it carries. */
export async function readJson<T>(res: Response): Promise<T> {
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = undefined;
  }
  if (res.ok && parsed !== undefined) return parsed as T;
  throw toApiError(res.status, parsed, text);
}

export function toApiError(status: number, parsed: unknown, text: string): HookwaveApiError {
  const err = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null | undefined)?.error;
  if (err && typeof err.code === 'string') return new HookwaveApiError(status, err.code, typeof err.message === 'string' ? err.message : err.code, err.details);
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return new HookwaveApiError(status, status >= 200 && status < 300 ? 'INVALID_RESPONSE' : `HTTP_${status}`, `HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`);
}

const strip = <T extends { success?: unknown }>(o: T): Omit<T, 'success'> => {
  const { success: _ignored, ...rest } = o;
  return rest;
};

class Tasks {
  constructor(private readonly c: Hookwave) {}

  /** Stores the task and answers at once (202) with its id; the work runs in the background. */
  create<K extends string>(body: TaskRequest<K> & { kind: K }, opts: RequestOptions = {}): Promise<CreateTaskResponse> {
    return this.c.call('POST', '/v1/tasks', { body, signal: opts.signal, headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {} });
  }

  /** The task with fresh download URLs. */
  get(id: string, opts: RequestOptions = {}): Promise<Task> {
    return this.c.call('GET', `/v1/tasks/${encodeURIComponent(id)}`, { signal: opts.signal });
  }

  /** One page, newest first; pass `next_cursor` back as `cursor` for the next. */
  async list(query: ListTasksQuery = {}, opts: RequestOptions = {}): Promise<Page<Task>> {
    return strip(await this.c.call<Page<Task> & { success: boolean }>('GET', '/v1/tasks', { query: { ...query }, signal: opts.signal }));
  }

  /** Every task matching the query, page by page. */
  async *iterate(query: Omit<ListTasksQuery, 'cursor'> = {}, opts: RequestOptions = {}): AsyncGenerator<Task> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...query, cursor }, opts);
      yield* page.data;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  cancel(id: string, opts: RequestOptions = {}): Promise<{ success: true; task_id: string; status: TaskStatus }> {
    return this.c.call('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`, { signal: opts.signal });
  }

  /**
   * Deletes the task's output files and uploaded input now and redacts its input, metadata and
   * webhook_url (a queued or running task is canceled first); the task keeps its id, status and cost.
   */
  delete(id: string, opts: RequestOptions = {}): Promise<{ success: true; id: string; deleted: true }> {
    return this.c.call('DELETE', `/v1/tasks/${encodeURIComponent(id)}`, { signal: opts.signal });
  }

  /** The task's events as they happen (and those already stored), ending after the final one. */
  stream(id: string, opts: Omit<StreamOptions, 'reconnect'> = {}): AsyncGenerator<StreamedEvent | { type: 'progress'; progress: TargetProgress }> {
    return streamEvents(this.c, `/v1/tasks/${encodeURIComponent(id)}/events`, { ...opts, reconnect: false });
  }

  /**
   * Resolves with the task once it has ended (completed, failed or canceled — check `status`).
   * Watches the task's event stream and falls back to polling when the stream is unavailable.
   */
  async wait(id: string, opts: WaitOptions = {}): Promise<Task> {
    const timeout = opts.timeoutMs ? new HookwaveTimeoutError(id, opts.timeoutMs) : null;
    const linked = anySignal([opts.signal]);
    const timer = timeout ? setTimeout(() => linked.abort(timeout), opts.timeoutMs) : null;
    const signal = linked.signal;
    try {
      try {
        const done = await this.waitStream(id, signal, opts.onProgress);
        if (done) return done;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        // A task that does not exist, or a key that is refused, will not get better by polling.
        if (err instanceof HookwaveApiError && [401, 403, 404].includes(err.status)) throw err;
      }
      return await this.waitPoll(id, signal, opts.onProgress, opts.pollIntervalMs ?? 500);
    } catch (err) {
      throw signal.aborted ? signal.reason : err;
    } finally {
      if (timer) clearTimeout(timer);
      linked.dispose();
    }
  }

  /** The ended task, or null when the stream closed before the final event. */
  private async waitStream(id: string, signal: AbortSignal, onProgress?: WaitOptions['onProgress']): Promise<Task | null> {
    for await (const e of this.stream(id, { signal })) {
      if (e.type === 'progress') {
        onProgress?.(e.progress);
        continue;
      }
      if (e.body.type === 'endpoint.disabled') continue;
      const task = e.body.data;
      if (e.type === 'task.target.completed' || e.type === 'task.target.failed') {
        for (const t of task.targets) if (t.status === 'completed' || t.status === 'failed') onProgress?.(progressOf(task.id, t));
        continue;
      }
      if (FINAL_STATUSES.includes(task.status)) {
        // The event's download URLs were signed when it happened; a task that ended long ago needs fresh ones.
        return this.get(id, { signal }).catch((err: unknown) => {
          if (signal.aborted) throw err;
          return task;
        });
      }
    }
    return null;
  }

  private async waitPoll(id: string, signal: AbortSignal, onProgress: WaitOptions['onProgress'], firstDelay: number): Promise<Task> {
    const seen = new Map<string, string>();
    let delay = firstDelay;
    for (;;) {
      let task: Task | null = null;
      try {
        task = await this.get(id, { signal });
      } catch (err) {
        if (signal.aborted || !(err instanceof HookwaveConnectionError || (err instanceof HookwaveApiError && err.status >= 500))) throw err;
      }
      if (task) {
        for (const t of task.targets) {
          const key = `${t.status}:${t.progress}`;
          if (seen.get(t.id) !== key) {
            seen.set(t.id, key);
            onProgress?.(progressOf(task.id, t));
          }
        }
        if (FINAL_STATUSES.includes(task.status)) return task;
      }
      await sleep(delay, signal);
      delay = Math.min(MAX_POLL_MS, Math.round(delay * 1.5));
    }
  }
}

function progressOf(taskId: string, t: Task['targets'][number]): TargetProgress {
  return { task_id: taskId, target_id: t.id, name: t.name, status: t.status, progress: t.status === 'completed' ? 1 : t.progress };
}

/**
 * Reads an SSE endpoint of the API. Numbered messages are stored events; `progress` messages are
 * progress. With `reconnect`, a dropped connection is resumed with Last-Event-ID, like EventSource.
 */
async function* streamEvents(
  c: Hookwave,
  path: string,
  opts: StreamOptions,
): AsyncGenerator<StreamedEvent | { type: 'progress'; progress: TargetProgress }> {
  let lastEventId = opts.lastEventId;
  let retryMs = DEFAULT_RETRY_MS;
  for (;;) {
    let res: Response;
    try {
      res = await c.fetch('GET', path, { headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }, signal: opts.signal });
    } catch (err) {
      if (!opts.reconnect || opts.signal?.aborted) throw err;
      await sleep(retryMs, opts.signal);
      continue;
    }
    if (res.status !== 200 || !res.body) {
      const err = await readJson(res).then(
        () => toApiError(res.status, null, ''),
        (e: unknown) => e,
      );
      // Server trouble may pass; a refused key or a missing task will not.
      if (!opts.reconnect || res.status < 500) throw err;
      await sleep(retryMs, opts.signal);
      continue;
    }
    opts.onOpen?.();
    try {
      for await (const msg of parseSse(res.body)) {
        if (msg.retry !== null) retryMs = msg.retry;
        if (msg.data === '') continue;
        if (msg.event === 'progress') {
          const p = JSON.parse(msg.data) as Omit<TargetProgress, 'status'>;
          yield { type: 'progress', progress: { ...p, status: 'processing' } };
          continue;
        }
        if (msg.id) lastEventId = msg.id;
        const body = JSON.parse(msg.data) as StreamedEventBody;
        yield { id: msg.id ?? '', type: (body.type ?? msg.event) as EventType, payload: msg.data, body };
      }
    } catch (err) {
      if (!opts.reconnect || opts.signal?.aborted) throw opts.signal?.aborted ? opts.signal.reason : err;
    }
    if (!opts.reconnect) return;
    await sleep(retryMs, opts.signal);
  }
}

class Events {
  constructor(private readonly c: Hookwave) {}

  /**
   * All of the tenant's events from now on (or after `lastEventId`), reconnecting as needed; ends
   * only when `signal` aborts. What `hookwave listen` and `hookwave tail` read.
   */
  async *stream(opts: StreamOptions = {}): AsyncGenerator<StreamedEvent> {
    for await (const e of streamEvents(this.c, '/v1/events', { reconnect: true, ...opts })) {
      if (e.type !== 'progress') yield e as StreamedEvent;
    }
  }
}

class Batches {
  constructor(private readonly c: Hookwave) {}

  /** Creates each task on its own: one bad item is reported in `results`, the rest still run. */
  create<K extends string>(body: CreateBatchRequest<K>, opts: RequestOptions = {}): Promise<CreateBatchResponse> {
    return this.c.call('POST', '/v1/batches', { body, signal: opts.signal, headers: opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {} });
  }

  async get(id: string, opts: RequestOptions = {}): Promise<Batch> {
    return strip(await this.c.call<Batch & { success: boolean }>('GET', `/v1/batches/${encodeURIComponent(id)}`, { signal: opts.signal }));
  }
}

class Uploads {
  constructor(private readonly c: Hookwave) {}

  /** Streams a file to POST /v1/uploads; use the answer's `upload_id` as a task's `input.upload_id`. */
  async create(source: UploadSource, opts: UploadOptions = {}): Promise<Upload> {
    const { stream, size, name } = await openSource(source);
    const fileName = opts.fileName ?? name;
    let body: RequestInit['body'];
    if (opts.onProgress) {
      const onProgress = opts.onProgress;
      let sent = 0;
      const iterator = stream[Symbol.asyncIterator]();
      body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = await iterator.next();
          if (next.done) {
            controller.close();
            return;
          }
          sent += next.value.byteLength;
          controller.enqueue(next.value);
          onProgress(sent, size);
        },
        async cancel() {
          await iterator.return?.();
        },
      });
    } else {
      body = source instanceof Uint8Array ? source : isBlob(source) ? source : (stream as RequestInit['body']);
    }
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', accept: 'application/json' };
    if (fileName) headers['x-file-name'] = headerSafe(fileName);
    const res = await this.c.fetch('POST', '/v1/uploads', { body, headers, signal: opts.signal });
    return strip(await readJson<Upload & { success: boolean }>(res));
  }
}

function isBlob(v: unknown): v is Blob {
  return typeof Blob !== 'undefined' && v instanceof Blob;
}

/** Header values are bytes; a name with other characters is sent percent-encoded. */
function headerSafe(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  return /^[\x20-\x7e]*$/.test(base) ? base : encodeURIComponent(base);
}

async function openSource(source: UploadSource): Promise<{ stream: AsyncIterable<Uint8Array>; size: number | null; name: string | undefined }> {
  if (typeof source === 'string') {
    // Imported here so the SDK loads in runtimes without node:fs (browsers, workers) when no path is used.
    const fs = await import('node:fs');
    const path = await import('node:path');
    const stat = await fs.promises.stat(source);
    if (!stat.isFile()) throw new TypeError(`${source} is not a file`);
    return { stream: fs.createReadStream(source) as AsyncIterable<Uint8Array>, size: stat.size, name: path.basename(source) };
  }
  if (source instanceof Uint8Array) {
    const chunk = 64 * 1024;
    return {
      stream: (async function* () {
        for (let i = 0; i < source.byteLength; i += chunk) yield source.subarray(i, i + chunk);
      })(),
      size: source.byteLength,
      name: undefined,
    };
  }
  if (isBlob(source)) {
    const name = (source as Blob & { name?: unknown }).name;
    return { stream: source.stream() as unknown as AsyncIterable<Uint8Array>, size: source.size, name: typeof name === 'string' ? name : undefined };
  }
  if ('getReader' in source) {
    const reader = source.getReader();
    return {
      stream: (async function* () {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            yield value;
          }
        } finally {
          reader.releaseLock();
        }
      })(),
      size: null,
      name: undefined,
    };
  }
  return { stream: source, size: null, name: undefined };
}

class Endpoints {
  constructor(private readonly c: Hookwave) {}

  /** The answer carries the endpoint's signing secret; it is not shown again. */
  async create(input: EndpointInput & { url: string }, opts: RequestOptions = {}): Promise<EndpointWithSecret> {
    return strip(await this.c.call<EndpointWithSecret & { success: boolean }>('POST', '/v1/endpoints', { body: input, signal: opts.signal }));
  }

  async list(opts: RequestOptions = {}): Promise<Endpoint[]> {
    return (await this.c.call<{ data: Endpoint[] }>('GET', '/v1/endpoints', { signal: opts.signal })).data;
  }

  async get(id: string, opts: RequestOptions = {}): Promise<Endpoint> {
    return strip(await this.c.call<Endpoint & { success: boolean }>('GET', `/v1/endpoints/${encodeURIComponent(id)}`, { signal: opts.signal }));
  }

  async update(id: string, patch: EndpointInput, opts: RequestOptions = {}): Promise<Endpoint> {
    return strip(await this.c.call<Endpoint & { success: boolean }>('PATCH', `/v1/endpoints/${encodeURIComponent(id)}`, { body: patch, signal: opts.signal }));
  }

  async delete(id: string, opts: RequestOptions = {}): Promise<{ id: string; deleted: true }> {
    return strip(await this.c.call<{ success: boolean; id: string; deleted: true }>('DELETE', `/v1/endpoints/${encodeURIComponent(id)}`, { signal: opts.signal }));
  }

  /** New secret now; deliveries carry signatures with both for the overlap window (24 h by default). */
  async rotateSecret(id: string, opts: RequestOptions = {}): Promise<EndpointWithSecret> {
    return strip(await this.c.call<EndpointWithSecret & { success: boolean }>('POST', `/v1/endpoints/${encodeURIComponent(id)}/rotate-secret`, { signal: opts.signal }));
  }

  /** Sends the endpoint a signed `endpoint.test` event (to it alone, whatever its filter); answers its delivery's id. */
  async test(id: string, options: { message?: string } = {}, opts: RequestOptions = {}): Promise<{ id: string; event_id: string; endpoint_id: string; status: 'pending' }> {
    return strip(
      await this.c.call<{ success: boolean; id: string; event_id: string; endpoint_id: string; status: 'pending' }>('POST', `/v1/endpoints/${encodeURIComponent(id)}/test`, {
        body: options,
        signal: opts.signal,
      }),
    );
  }

  /** Replays every failed delivery to the endpoint since `since`. */
  async recover(id: string, since: Date | string, opts: RequestOptions = {}): Promise<{ requeued: number }> {
    const iso = typeof since === 'string' ? since : since.toISOString();
    return strip(await this.c.call<{ success: boolean; requeued: number }>('POST', `/v1/endpoints/${encodeURIComponent(id)}/recover`, { query: { since: iso }, signal: opts.signal }));
  }
}

class Deliveries {
  constructor(private readonly c: Hookwave) {}

  async list(query: ListDeliveriesQuery = {}, opts: RequestOptions = {}): Promise<Page<Delivery>> {
    return strip(await this.c.call<Page<Delivery> & { success: boolean }>('GET', '/v1/deliveries', { query: { ...query }, signal: opts.signal }));
  }

  /** Every delivery of one task's events, each with its attempts. */
  async listForTask(taskId: string, opts: RequestOptions = {}): Promise<Delivery[]> {
    return (await this.c.call<{ data: Delivery[] }>('GET', `/v1/tasks/${encodeURIComponent(taskId)}/deliveries`, { signal: opts.signal })).data;
  }

  /** A delivery with every attempt: request and response headers, status, latency, body excerpt. */
  async get(id: string, opts: RequestOptions = {}): Promise<Delivery> {
    return strip(await this.c.call<Delivery & { success: boolean }>('GET', `/v1/deliveries/${encodeURIComponent(id)}`, { signal: opts.signal }));
  }

  /**
   * Sends it now, with the same webhook-id. One that ended gets one more attempt (its failure is
   * final: `final_attempt` true); a pending one waiting for its next attempt goes out at once and
   * keeps its retry schedule (retry now). One being sent right now: DELIVERY_PENDING.
   */
  async redeliver(id: string, opts: RequestOptions = {}): Promise<{ id: string; status: 'pending'; final_attempt: boolean }> {
    return strip(
      await this.c.call<{ success: boolean; id: string; status: 'pending'; final_attempt: boolean }>('POST', `/v1/deliveries/${encodeURIComponent(id)}/redeliver`, { signal: opts.signal }),
    );
  }

  /** "Retry now", as dashboards name it: the same as `redeliver`. */
  retry(id: string, opts: RequestOptions = {}): Promise<{ id: string; status: 'pending'; final_attempt: boolean }> {
    return this.redeliver(id, opts);
  }
}

class AccountApi {
  constructor(private readonly c: Hookwave) {}

  /** The tenant this key belongs to, with its webhook signing secret. */
  async get(opts: RequestOptions = {}): Promise<Account> {
    return strip(await this.c.call<Account & { success: boolean }>('GET', '/v1/account', { signal: opts.signal }));
  }
}

/** Reading only: keys are created and revoked with `hookwave keys` on the server, so a leaked key cannot mint more. */
class Keys {
  constructor(private readonly c: Hookwave) {}

  /** The tenant's keys by id and prefix, revoked ones included; `current` marks the one this client uses. */
  async list(opts: RequestOptions = {}): Promise<ApiKey[]> {
    return (await this.c.call<{ data: ApiKey[] }>('GET', '/v1/keys', { signal: opts.signal })).data;
  }
}

/** The kinds of work the server runs, so a client builds requests from what the server says. */
class Kinds {
  constructor(private readonly c: Hookwave) {}

  /** Every kind, built-in engines and configured model servers alike, with its target and params JSON schemas. */
  async list(opts: RequestOptions = {}): Promise<Kind[]> {
    return (await this.c.call<{ data: Kind[] }>('GET', '/v1/kinds', { signal: opts.signal })).data;
  }
}
