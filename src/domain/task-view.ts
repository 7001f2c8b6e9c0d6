/**
 * The task as the API shows it: GET /v1/tasks/:id returns it, and every webhook carries it as `data`.
 * One function builds it, so the two can never differ.
 */
import type { EventType, OutputLoudness, OutputRow, StoredError, TargetRow, TaskAggregate, TaskInput } from './types.js';

/** Signs download URLs for outputs (blobs/signed-url.ts implements it). */
export interface OutputUrlSigner {
  sign(outputId: string, fileName: string, now?: number, blobKey?: string): { url: string; expiresAt: Date };
}

export interface OutputView {
  name: string;
  /** The name its download gets, after the task's input: "song-vocals.wav". */
  file_name: string;
  format: string;
  size: number;
  duration: number | null;
  bitrate: number | null;
  sample_rate: number | null;
  channels: number | null;
  loudness: OutputLoudness | null;
  /** Waveform peaks: the loudest sample of each of 256 equal slices of the file, 0..1; null if not measured. */
  peaks: number[] | null;
  url: string;
  url_expires_at: string;
  /** When the file is deleted (retention, or its task deleted); null: kept until the task is deleted. */
  expires_at: string | null;
}

export interface TargetView {
  id: string;
  name: string;
  status: TargetRow['status'];
  progress: number;
  params: Record<string, unknown>;
  outputs: OutputView[];
  duration: number | null;
  cost: number | null;
  error: StoredError | null;
  info: Record<string, unknown> | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface TaskView {
  id: string;
  kind: string;
  status: TaskAggregate['task']['status'];
  title: string | null;
  input: TaskInput;
  params: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  webhook_url: string | null;
  /** The event types its webhook_url gets; null for the task-level default (TASK_EVENT_TYPES). */
  webhook_events: EventType[] | null;
  batch_id: string | null;
  targets: TargetView[];
  cost: number | null;
  error: StoredError | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  /** When the task is canceled if it has not ended (Cancel-After, deadline). */
  deadline: string | null;
  /** When the client deleted it; null otherwise. */
  deleted_at: string | null;
  /** When row retention reduced it to a tombstone (no targets, input, params or metadata any more); null otherwise. */
  pruned_at: string | null;
  /**
   * Queued targets that start before this task's first (0: next in line), under fair claiming;
   * an estimate, on GET /v1/tasks/:id of a queued task only, else null.
   */
  queue_position: number | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The name its download gets: decided when it was stored; outputs stored before that keep `<name>.<format>`. */
export function fileNameOf(o: Pick<OutputRow, 'name' | 'format' | 'file_name'>): string {
  return o.file_name ?? `${o.name}.${o.format}`;
}

function outputView(o: OutputRow, signer: OutputUrlSigner, now: number): OutputView {
  // With the blob key a bucket presigner can hand out a URL straight to the bucket.
  const signed = signer.sign(o.id, fileNameOf(o), now, o.path);
  return {
    name: o.name,
    file_name: fileNameOf(o),
    format: o.format,
    size: o.size,
    duration: o.duration,
    bitrate: o.bitrate,
    sample_rate: o.sample_rate,
    channels: o.channels,
    loudness: o.loudness ?? null,
    peaks: o.peaks ?? null,
    expires_at: iso(o.expires_at ?? null),
    url: signed.url,
    url_expires_at: signed.expiresAt.toISOString(),
  };
}

export function taskView(agg: TaskAggregate, signer: OutputUrlSigner, now = Date.now()): TaskView {
  const { task } = agg;
  return {
    id: task.id,
    kind: task.kind,
    status: task.status,
    title: task.title,
    input: task.input,
    params: task.params,
    metadata: task.metadata,
    webhook_url: task.webhook_url,
    webhook_events: task.webhook_events,
    batch_id: task.batch_id,
    targets: agg.targets.map((t) => ({
      id: t.id,
      name: t.name,
      status: t.status,
      progress: t.progress,
      params: t.spec,
      outputs: agg.outputs.filter((o) => o.target_id === t.id).map((o) => outputView(o, signer, now)),
      duration: t.duration,
      cost: t.cost,
      error: t.error,
      info: t.info,
      started_at: iso(t.started_at),
      finished_at: iso(t.finished_at),
    })),
    cost: task.cost,
    error: task.error,
    created_at: iso(task.created_at)!,
    updated_at: iso(task.updated_at)!,
    completed_at: iso(task.completed_at),
    deadline: iso(task.deadline_at),
    deleted_at: iso(task.deleted_at ?? null),
    pruned_at: iso(task.pruned_at ?? null),
    queue_position: null,
  };
}
