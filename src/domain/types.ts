/** The nouns of hookwave as stored rows. API shapes (views) live in task-view.ts. */

export type TaskStatus = 'queued' | 'processing' | 'completed' | 'failed' | 'canceled';
export type TargetStatus = 'queued' | 'processing' | 'completed' | 'failed' | 'canceled';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export const TASK_EVENT_TYPES = ['task.completed', 'task.failed', 'task.canceled'] as const;
export const TARGET_EVENT_TYPES = ['task.target.completed', 'task.target.failed'] as const;
export const ENDPOINT_EVENT_TYPES = ['endpoint.disabled'] as const;
export const EVENT_TYPES = [...TASK_EVENT_TYPES, ...TARGET_EVENT_TYPES, ...ENDPOINT_EVENT_TYPES] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/**
 * Sent only when the tenant asks for it (POST /v1/endpoints/{id}/test), to that one endpoint
 * whatever its filter: not a type to subscribe to, so no filter or webhook_events may name it.
 */
export const TEST_EVENT_TYPE = 'endpoint.test';
/** Every type an event in the log may have. */
export type LoggedEventType = EventType | typeof TEST_EVENT_TYPE;

export interface StoredError {
  code: string;
  message: string;
  details?: unknown;
}

export interface Tenant {
  id: string;
  name: string;
  webhook_secret: string;
  created_at: number;
}

export interface ApiKey {
  id: string;
  tenant_id: string;
  hash: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
}

export interface TaskInput {
  url?: string;
  /** An upload made with POST /v1/uploads. */
  upload_id?: string;
}

export interface TaskRow {
  id: string;
  tenant_id: string;
  kind: string;
  status: TaskStatus;
  title: string | null;
  input: TaskInput;
  params: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  webhook_url: string | null;
  webhook_events: EventType[] | null;
  idempotency_key: string | null;
  request_hash: string | null;
  batch_id: string | null;
  cost: number | null;
  error: StoredError | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
  /** Canceled with DEADLINE_EXCEEDED if not ended by then (Cancel-After, deadline); null: none. */
  deadline_at: number | null;
  /** When the client deleted it (its files removed, input, metadata and webhook_url redacted). */
  deleted_at: number | null;
  /**
   * When row retention reduced it to a tombstone (services/row-pruner.ts): it keeps id, kind,
   * status, cost, error and times; its targets and outputs are gone, title, input, params,
   * metadata and webhook fields emptied.
   */
  pruned_at: number | null;
}

export interface TargetRow {
  id: string;
  task_id: string;
  position: number;
  name: string;
  spec: Record<string, unknown>;
  status: TargetStatus;
  progress: number;
  attempts: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  cost: number | null;
  duration: number | null;
  info: Record<string, unknown> | null;
  error: StoredError | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface OutputRow {
  id: string;
  target_id: string;
  task_id: string;
  tenant_id: string;
  name: string;
  format: string;
  path: string;
  size: number;
  duration: number | null;
  bitrate: number | null;
  sample_rate: number | null;
  channels: number | null;
  /** EBU R128 loudness as measured when it was made (null for outputs stored before it was measured). */
  loudness: OutputLoudness | null;
  /** The name a download gets, after the task's input ("song-vocals.wav"); null for outputs stored before names were decided. */
  file_name?: string | null;
  /** Waveform peaks (media/peaks.ts); null for outputs stored before they were measured. */
  peaks?: number[] | null;
  created_at: number;
  /** Its file is deleted once this has passed (retention, or its task deleted); null: kept. */
  expires_at: number | null;
  /** When its file was deleted; null while it exists. */
  removed_at: number | null;
}

/** An output's loudness (media/loudness.ts measures it; the same shape, kept here so rows need no I/O module). */
export interface OutputLoudness {
  integrated_lufs: number;
  true_peak_dbtp: number | null;
  range_lu: number;
  normalization?: 'linear' | 'dynamic' | 'none';
}

export interface EventRow {
  id: string;
  tenant_id: string;
  task_id: string | null;
  type: string;
  payload: string;
  created_at: number;
}

export interface DeliveryRow {
  id: string;
  event_id: string;
  tenant_id: string;
  task_id: string | null;
  /** The registered endpoint, or null for the task's own webhook_url. */
  endpoint_id: string | null;
  url: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: number | null;
  last_error: string | null;
  last_status_code: number | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

export interface AttemptRow {
  id: string;
  delivery_id: string;
  attempt_number: number;
  started_at: number;
  status_code: number | null;
  latency_ms: number;
  response_excerpt: string | null;
  error: string | null;
  request_headers: Record<string, string> | null;
  response_headers: Record<string, string> | null;
}

export interface EndpointRow {
  id: string;
  tenant_id: string;
  url: string;
  description: string | null;
  /** Event types it receives; null = all. */
  events: EventType[] | null;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: number | null;
  enabled: boolean;
  disabled_reason: string | null;
  consecutive_failures: number;
  failing_since: number | null;
  circuit_open_until: number | null;
  created_at: number;
  updated_at: number;
}

export interface BatchRow {
  id: string;
  tenant_id: string;
  webhook_url: string | null;
  item_count: number;
  idempotency_key: string | null;
  created_at: number;
}

export interface UploadRow {
  id: string;
  tenant_id: string;
  file_name: string | null;
  path: string;
  size: number;
  format: string | null;
  duration: number | null;
  created_at: number;
  expires_at: number;
}

/** A task with everything its view needs. */
export interface TaskAggregate {
  task: TaskRow;
  targets: TargetRow[];
  outputs: OutputRow[];
}

/** A delivery the dispatcher has claimed, with what it needs to sign and send it. */
export interface ClaimedDelivery {
  id: string;
  event_id: string;
  tenant_id: string;
  endpoint_id: string | null;
  url: string;
  attempt_count: number;
  payload: string;
  event_created_at: number;
  /** Secrets to sign with: one, or two while an endpoint's rotated-out secret is still honoured. */
  secrets: string[];
}

/** A target the worker has leased, with its task. */
export interface ClaimedTarget {
  target: TargetRow;
  task: TaskRow;
}
