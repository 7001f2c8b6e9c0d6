/**
 * The shapes the hookwave API sends and accepts, for SDK users. Written by hand so they read well
 * in an editor; test/sdk-types.test.ts compares every type that has a schema in the OpenAPI document
 * a running server publishes (Task, Endpoint, Delivery, Batch, ApiKey…) with that schema, so a field
 * added to the server without being added here fails a test; test/client-kinds.test.ts does the same
 * for the per-kind request types (kinds.ts) against the schemas GET /v1/kinds publishes.
 *
 * This package imports nothing from the server: applications install it without better-sqlite3,
 * ffmpeg or the AWS SDK.
 */
import type { TaskRequest } from './kinds.js';

export type TaskStatus = 'queued' | 'processing' | 'completed' | 'failed' | 'canceled';
export type TargetStatus = TaskStatus;
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export const TASK_EVENT_TYPES = ['task.completed', 'task.failed', 'task.canceled'] as const;
export const TARGET_EVENT_TYPES = ['task.target.completed', 'task.target.failed'] as const;
export const ENDPOINT_EVENT_TYPES = ['endpoint.disabled'] as const;
export const EVENT_TYPES = [...TASK_EVENT_TYPES, ...TARGET_EVENT_TYPES, ...ENDPOINT_EVENT_TYPES] as const;
export type TaskEventType = (typeof TASK_EVENT_TYPES)[number] | (typeof TARGET_EVENT_TYPES)[number];
export type EventType = (typeof EVENT_TYPES)[number];

/** Statuses after which a task never changes again. */
export const FINAL_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'canceled'];

export interface StoredError {
  code: string;
  message: string;
  details?: unknown;
}

/** An output's loudness (EBU R128 / ITU-R BS.1770). */
export interface Loudness {
  /** Integrated loudness, LUFS (-70 for silence). */
  integrated_lufs: number;
  /** Highest true peak of any channel, dBTP; null for digital silence. */
  true_peak_dbtp: number | null;
  /** Loudness range, LU. */
  range_lu: number;
  /**
   * Only when the target asked for a `loudness`: 'linear' (one gain), 'dynamic' (loudnorm's dynamic
   * mode, when one gain would have put true peaks over the ceiling) or 'none' (silent audio).
   */
  normalization?: 'linear' | 'dynamic' | 'none';
}

/** A target's `loudness` option (every built-in kind): normalise the output to this loudness. */
export interface LoudnessTarget {
  /** LUFS, -70..-5: the output lands within ±0.5 LU. */
  integrated: number;
  /** dBTP ceiling, -9..0 (default -1): the output never measures above it. */
  true_peak?: number;
}

export interface Output {
  name: string;
  /** The name its download gets, after the task's input: "song.mp3", "song-vocals.wav". */
  file_name: string;
  format: string;
  /** Bytes. */
  size: number;
  /** Seconds. */
  duration: number | null;
  /** Bits per second. */
  bitrate: number | null;
  sample_rate: number | null;
  channels: number | null;
  /** EBU R128 loudness as ffmpeg's ebur128 measured the file; null for outputs made before it was measured. */
  loudness: Loudness | null;
  /**
   * Waveform peaks: the loudest sample (0..1 of full scale) of each of 256 equal slices of the file,
   * to draw a waveform without downloading the audio; null for outputs made before they were measured.
   */
  peaks: number[] | null;
  /** Signed download URL; fetch the task again for a fresh one once it expires. */
  url: string;
  url_expires_at: string;
  /** When the file is deleted (retention, or its task deleted); null: kept until the task is deleted. */
  expires_at: string | null;
}

export interface Target {
  id: string;
  name: string;
  status: TargetStatus;
  /** 0..1 */
  progress: number;
  params: Record<string, unknown>;
  outputs: Output[];
  duration: number | null;
  cost: number | null;
  error: StoredError | null;
  info: Record<string, unknown> | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface Task {
  id: string;
  kind: string;
  status: TaskStatus;
  title: string | null;
  input: TaskInput;
  params: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  webhook_url: string | null;
  /** The event types its webhook_url gets; null for the default (task.completed, task.failed, task.canceled). */
  webhook_events: EventType[] | null;
  batch_id: string | null;
  targets: Target[];
  cost: number | null;
  error: StoredError | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  /** When it is canceled with DEADLINE_EXCEEDED if it has not ended. */
  deadline: string | null;
  /** When it was deleted (DELETE /v1/tasks/:id); its files are gone and input, metadata, webhook_url redacted. */
  deleted_at: string | null;
  /** When row retention reduced it to a tombstone: id, kind, status, cost, error and times remain; targets, input, params, metadata are gone. */
  pruned_at: string | null;
  /** Queued targets ahead of it (0 = next), on `tasks.get` of a queued task; else null. */
  queue_position: number | null;
}

export interface TaskInput {
  /** https URL of the input audio or video. */
  url?: string;
  /** An upload made with `uploads.create` (POST /v1/uploads). */
  upload_id?: string;
}

/** One output to produce, for a kind whose targets the client does not know (kinds.ts types the built-in ones). */
export type TargetSpec = Record<string, unknown>;

/**
 * Any task request: a built-in kind's (kinds.ts) or a configured model server's. TypeScript has no
 * "string but not 'extract'", so on this union a request of kind 'extract' also fits the open
 * model-server shape: `create`, `run` and `batches.create` check built-in kinds strictly because
 * they see the literal kind. For variables, write `TaskRequest<'stems'>` (one kind) or `TaskRequest`
 * (the built-in kinds, narrowing on `kind`).
 */
export type CreateTaskRequest = TaskRequest<string> | TaskRequest<'extract'> | TaskRequest<'stems'> | TaskRequest<'generate'>;

export interface CreateTaskResponse {
  success: true;
  task_id: string;
  status: TaskStatus;
}

export interface Page<T> {
  data: T[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  next_cursor: string | null;
}

export interface ListTasksQuery {
  status?: TaskStatus;
  kind?: string;
  cursor?: string;
  /** 1..100, default 20. */
  limit?: number;
}

/** The task's status when each final event is sent. */
interface FinalStatusOf {
  'task.completed': 'completed';
  'task.failed': 'failed';
  'task.canceled': 'canceled';
}

/**
 * A webhook (and SSE) body: `data` is the task as GET /v1/tasks/:id shows it, at the time of the
 * event. On the final events `data.status` is the one the event names.
 */
export interface TaskEvent<T extends TaskEventType = TaskEventType> {
  type: T;
  timestamp: string;
  data: T extends keyof FinalStatusOf ? Task & { status: FinalStatusOf[T] } : Task;
}

export interface EndpointDisabledEvent {
  type: 'endpoint.disabled';
  timestamp: string;
  data: Endpoint;
}

/**
 * Sent only when asked for (`endpoints.test`), to that one endpoint whatever its filter; not a
 * type a filter names, and not on the event streams.
 */
export interface EndpointTestEvent {
  type: 'endpoint.test';
  timestamp: string;
  data: { endpoint_id: string; message: string };
}

/** What the event streams carry; `switch (event.type)` narrows it to one event and its `data`. */
export type StreamedEventBody = { [T in TaskEventType]: TaskEvent<T> }[TaskEventType] | EndpointDisabledEvent;
/** Every event a receiver may get; `switch (event.type)` narrows it to one event and its `data`. */
export type WebhookEvent = StreamedEventBody | EndpointTestEvent;

/** Sent on a task's SSE stream while its targets run (not a webhook). */
export interface ProgressUpdate {
  task_id: string;
  target_id: string;
  name: string;
  progress: number;
}

export interface Endpoint {
  id: string;
  url: string;
  description: string | null;
  /** Event types it receives; null = all. */
  events: EventType[] | null;
  enabled: boolean;
  disabled_reason: string | null;
  consecutive_failures: number;
  failing_since: string | null;
  circuit_open_until: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

/** Create and rotate-secret answers carry the signing secret, once. */
export interface EndpointWithSecret extends Endpoint {
  secret: string;
}

export interface EndpointInput {
  url?: string;
  description?: string | null;
  events?: EventType[] | null;
  enabled?: boolean;
}

export interface Attempt {
  attempt_number: number;
  started_at: string;
  status_code: number | null;
  latency_ms: number;
  request_headers: Record<string, string> | null;
  response_headers: Record<string, string> | null;
  response_excerpt: string | null;
  error: string | null;
}

export interface Delivery {
  id: string;
  /** The webhook-id receivers deduplicate on. */
  event_id: string;
  event_type: EventType | 'endpoint.test' | null;
  task_id: string | null;
  endpoint_id: string | null;
  url: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  /** Present on single-delivery answers and on a task's delivery list. */
  attempts?: Attempt[];
  /** Present on single-delivery answers: the exact JSON every attempt sent (and signed); null if the event is no longer stored. */
  request_body?: string | null;
}

export interface ListDeliveriesQuery {
  status?: DeliveryStatus;
  endpoint_id?: string;
  task_id?: string;
  cursor?: string;
  /** 1..200, default 50. */
  limit?: number;
}

export interface CreateBatchRequest<K extends string = string> {
  tasks: Array<TaskRequest<K>>;
  webhook_url?: string | null;
  webhook_events?: EventType[];
}

export type BatchItemResult =
  | { index: number; success: true; task_id: string; status: TaskStatus }
  | { index: number; success: false; error: StoredError };

export interface CreateBatchResponse {
  success: true;
  batch_id: string;
  accepted: number;
  rejected: number;
  results: BatchItemResult[];
}

export interface Batch {
  id: string;
  /** `processing` while any task is queued or processing, then `ended`. */
  status: 'processing' | 'ended';
  webhook_url: string | null;
  item_count: number;
  task_count: number;
  counts: Record<TaskStatus, number>;
  cost: number;
  tasks: Array<{ id: string; kind: string; status: TaskStatus; title: string | null; error: StoredError | null }>;
  created_at: string;
}

export interface Upload {
  upload_id: string;
  file_name: string | null;
  size: number;
  format: string | null;
  duration: number | null;
  expires_at: string;
}

export interface Account {
  tenant_id: string;
  name: string;
  /** Signs the webhooks of tasks' own webhook_url (registered endpoints have their own secrets). */
  webhook_secret: string;
}

/** One of the tenant's API keys, as GET /v1/keys lists it: the key itself is never shown again. */
export interface ApiKey {
  id: string;
  /** "hw_" and the next 8 characters of the key, as `hookwave keys list` shows it. */
  prefix: string;
  created_at: string;
  /** Null while the key works. */
  revoked_at: string | null;
  /** True for the key the request was made with. */
  current: boolean;
}

/** A JSON Schema (draft-07) object, as GET /v1/kinds publishes it. */
export type JsonSchema = { [key: string]: unknown };

/** A kind of work the server runs (GET /v1/kinds): what `kind`, `targets` and `params` of a task may be. */
export interface Kind {
  /** The `kind` of a task, e.g. "extract". */
  kind: string;
  description: string;
  /** Whether a task of this kind needs an `input` (false for generators). */
  needs_input: boolean;
  /** False for a model server the operator configured. */
  built_in: boolean;
  /** Validates each entry of `targets`. */
  target_schema: JsonSchema;
  /** Validates the task-level `params`. */
  params_schema: JsonSchema;
}

/** An event as the SSE streams send it: `id` is the webhook-id, `body` exactly the webhook body. */
export interface StreamedEvent {
  id: string;
  type: EventType;
  /** The raw JSON text, byte for byte what a webhook would carry (what signatures cover). */
  payload: string;
  body: StreamedEventBody;
}
