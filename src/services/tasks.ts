/**
 * What a client can do with tasks: create (validated, stored with its targets in one transaction),
 * read, list, cancel. The HTTP layer is a thin shell around these.
 */
import { createHash } from 'node:crypto';
import type { UrlSigner } from '../blobs/signed-url.js';
import type { Engine } from '../engines/engine.js';
import type { EngineRegistry } from '../engines/registry.js';
import { HookwaveError } from '../errors.js';
import { newId } from '../ids.js';
import type { Store, Tx } from '../store/store.js';
import type { UrlGuard } from '../net/url-guard.js';
import { emitTaskEvent } from './outbox.js';
import { taskView, type TaskView } from '../domain/task-view.js';
import { EVENT_TYPES, type EventType, type TargetRow, type TaskRow, type TaskStatus } from '../domain/types.js';
import { validateSchema } from '../schema/validation.js';
import { checkEstimate, type OutputLimits } from '../engines/output-limits.js';
import { resolveDeadline } from '../domain/deadline.js';
import { queuePosition } from '../domain/fair-share.js';

export interface CreateTaskBody {
  kind: string;
  input?: { url?: string; upload_id?: string };
  targets: Array<Record<string, unknown>>;
  params?: Record<string, unknown>;
  webhook_url?: string | null;
  webhook_events?: string[];
  metadata?: Record<string, unknown> | null;
  title?: string | null;
  /** ISO 8601 time; see domain/deadline.ts. */
  deadline?: string;
}

/** A validated task ready to store, or the task an earlier request with the same key created. */
export type PreparedTask =
  | { task: TaskRow; targets: TargetRow[]; idempotencyKey: string | null; requestHash: string | null }
  | { replayed: TaskRow };

/** Stores a prepared task and its targets inside the caller's transaction. */
export async function insertPrepared(tx: Tx, prepared: Extract<PreparedTask, { task: TaskRow }>): Promise<void> {
  await tx.insertTask(prepared.task, prepared.targets);
}

/** Another request stored the same Idempotency-Key first. */
export function isUniqueViolation(err: unknown): boolean {
  return /UNIQUE|duplicate key/i.test(String((err as Error | null)?.message));
}

export interface CreateTaskResult {
  task: TaskRow;
  /** True when an earlier request with the same Idempotency-Key created this task. */
  replayed: boolean;
}

export interface TaskServiceDeps {
  store: Store;
  engines: EngineRegistry;
  guard: UrlGuard;
  signer: UrlSigner;
  metadataLimit: number;
  /** Queued tasks of one tenant at most; 0: no cap. */
  tenantMaxQueued: number;
  /** Called after a deletion is recorded: starts removing its files now (services/retention.ts). */
  onDeleted?: () => void;
  outputLimits: OutputLimits;
}

/**
 * What a client whose queue is full is told to wait: roughly how long a busy service takes to
 * start a few of its queued tasks. A hint, not a promise; the next create may still find it full.
 */
export const QUEUE_FULL_RETRY_AFTER_SECONDS = 30;

const ENDED: TaskStatus[] = ['completed', 'failed', 'canceled'];

/**
 * Everything else a task echoes in every webhook (params, targets, title) together: with the
 * metadata limit it keeps webhook bodies small enough that no receiver answers 413.
 */
export const PARAMS_LIMIT = 32 * 1024;

/** JSON with object keys sorted, so the same request hashes alike whatever its key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export class TaskService {
  constructor(private readonly d: TaskServiceDeps) {}

  /** Checks everything about a create request that a schema cannot; throws a HookwaveError naming the field. */
  private validate(body: CreateTaskBody): { engine: Engine; names: string[] } {
    const engine = this.d.engines.get(body.kind);
    if (!engine) {
      throw new HookwaveError('UNKNOWN_KIND', `kind "${body.kind}" is not one of: ${this.d.engines.kinds().join(', ')}`, {
        field: 'kind',
        allowed: this.d.engines.kinds(),
      });
    }
    if (engine.needsInput) {
      const { url, upload_id } = body.input ?? {};
      if (!url && !upload_id) throw new HookwaveError('VALIDATION_ERROR', `input.url or input.upload_id is required for kind "${engine.kind}"`, { field: 'input.url' });
      if (url && upload_id) throw new HookwaveError('VALIDATION_ERROR', 'give input.url or input.upload_id, not both', { field: 'input' });
      if (url) this.d.guard.assertUrl(url, 'input.url');
    } else if (body.input?.url || body.input?.upload_id) {
      throw new HookwaveError('VALIDATION_ERROR', `kind "${engine.kind}" takes no input`, { field: 'input' });
    }
    validateSchema(engine.paramsSchema, body.params ?? {}, 'params');
    const names: string[] = [];
    body.targets.forEach((target, i) => {
      validateSchema(engine.targetSchema, target, `targets[${i}]`, 'INVALID_TARGET');
      const problem = engine.checkTarget?.(target);
      if (problem) throw new HookwaveError('INVALID_TARGET', `targets[${i}].${problem.field}: ${problem.message}`, { field: `targets[${i}].${problem.field}` });
      const name = engine.targetName(target, i);
      const dup = names.indexOf(name);
      if (dup >= 0) {
        throw new HookwaveError('INVALID_TARGET', `targets[${i}] has the same name "${name}" as targets[${dup}]; give one of them a distinct "name"`, {
          field: `targets[${i}].name`,
        });
      }
      names.push(name);
    });
    if (body.webhook_url) this.d.guard.assertUrl(body.webhook_url, 'webhook_url');
    body.webhook_events?.forEach((type, i) => {
      if (!EVENT_TYPES.includes(type as EventType)) {
        throw new HookwaveError('VALIDATION_ERROR', `webhook_events[${i}] "${type}" is not one of: ${EVENT_TYPES.join(', ')}`, { field: `webhook_events[${i}]` });
      }
    });
    if (body.metadata) {
      const size = Buffer.byteLength(JSON.stringify(body.metadata));
      if (size > this.d.metadataLimit) {
        throw new HookwaveError('METADATA_TOO_LARGE', `metadata is ${size} bytes as JSON; the limit is ${this.d.metadataLimit}`, {
          field: 'metadata',
          limit: this.d.metadataLimit,
        });
      }
    }
    const echoed = Buffer.byteLength(JSON.stringify([body.params ?? {}, body.targets, body.title ?? null]));
    if (echoed > PARAMS_LIMIT) {
      throw new HookwaveError('PARAMS_TOO_LARGE', `params, targets and title are ${echoed} bytes as JSON together; the limit is ${PARAMS_LIMIT}`, {
        field: 'params',
        limit: PARAMS_LIMIT,
      });
    }
    return { engine, names };
  }

  /**
   * Everything about a create request short of storing it: validation, the upload, output caps,
   * and the answer to a retried Idempotency-Key. Writes nothing, so a batch can prepare all its
   * items before it stores any.
   */
  async prepare(tenantId: string, body: CreateTaskBody, idempotencyKey?: string, batchId: string | null = null, cancelAfter?: string): Promise<PreparedTask> {
    const { engine, names } = this.validate(body);
    const deadline = resolveDeadline(cancelAfter, body.deadline, Date.now());
    if (deadline && 'problem' in deadline) throw new HookwaveError('VALIDATION_ERROR', deadline.problem, { field: deadline.field });
    let inputDuration: number | null = null;
    if (body.input?.upload_id) {
      const upload = await this.d.store.getUpload(tenantId, body.input.upload_id);
      if (!upload || upload.expires_at <= Date.now()) {
        throw new HookwaveError('UPLOAD_NOT_FOUND', `input.upload_id "${body.input.upload_id}" is not an upload of yours that is still kept`, { field: 'input.upload_id' });
      }
      inputDuration = upload.duration;
    }
    // What is known now (an upload's length, a generated length) already decides some outputs' size.
    if (engine.estimateOutput) {
      body.targets.forEach((target, i) => checkEstimate(engine.estimateOutput!(target, body.params ?? {}, { duration: inputDuration }), this.d.outputLimits, `targets[${i}]`));
    }
    const requestHash = idempotencyKey ? createHash('sha256').update(canonicalJson(body)).digest('hex') : null;
    if (idempotencyKey) {
      const earlier = await this.replay(tenantId, idempotencyKey, requestHash!);
      if (earlier) return { replayed: earlier };
    }

    const now = Date.now();
    const task: TaskRow = {
      id: newId('task'),
      tenant_id: tenantId,
      kind: body.kind,
      status: 'queued',
      title: body.title ?? null,
      input: body.input ?? {},
      params: body.params ?? {},
      metadata: body.metadata ?? null,
      webhook_url: body.webhook_url ?? null,
      webhook_events: (body.webhook_events as EventType[] | undefined) ?? null,
      idempotency_key: idempotencyKey ?? null,
      request_hash: requestHash,
      batch_id: batchId,
      cost: null,
      error: null,
      created_at: now,
      updated_at: now,
      completed_at: null,
      deadline_at: deadline?.at ?? null,
      deleted_at: null,
      pruned_at: null,
    };
    const targets: TargetRow[] = body.targets.map((spec, position) => ({
      id: newId('tgt'),
      task_id: task.id,
      position,
      name: names[position]!,
      spec,
      status: 'queued',
      progress: 0,
      attempts: 0,
      lease_owner: null,
      lease_expires_at: null,
      cost: null,
      duration: null,
      info: null,
      error: null,
      created_at: now,
      started_at: null,
      finished_at: null,
    }));
    return { task, targets, idempotencyKey: idempotencyKey ?? null, requestHash };
  }

  /**
   * Refuses `adding` more tasks when the tenant's queue would pass its cap: a tenant that queues
   * faster than its work runs is slowed down at the door instead of filling the database. Checked
   * before the insert, not in its transaction, so requests racing at the cap may pass it by a few.
   */
  async assertQueueRoom(tenantId: string, adding: number): Promise<void> {
    const cap = this.d.tenantMaxQueued;
    if (cap <= 0 || adding === 0) return;
    const queued = await this.d.store.countQueuedTasks(tenantId, cap);
    if (queued + adding <= cap) return;
    const what = adding === 1 ? 'one more task' : `${adding} more tasks`;
    throw new HookwaveError(
      'RATE_LIMITED',
      `you have ${queued >= cap ? `${cap} or more` : queued} tasks queued and may have at most ${cap} (HOOKWAVE_TENANT_MAX_QUEUED); ${what} would pass it. Retry after ${QUEUE_FULL_RETRY_AFTER_SECONDS} s, or cancel queued tasks you no longer need`,
      { limit: cap, queued, retry_after: QUEUE_FULL_RETRY_AFTER_SECONDS },
    );
  }

  async create(tenantId: string, body: CreateTaskBody, idempotencyKey?: string, batchId: string | null = null, cancelAfter?: string): Promise<CreateTaskResult> {
    const prepared = await this.prepare(tenantId, body, idempotencyKey, batchId, cancelAfter);
    if ('replayed' in prepared) return { task: prepared.replayed, replayed: true };
    await this.assertQueueRoom(tenantId, 1);
    try {
      await this.d.store.tx(async (tx) => {
        await insertPrepared(tx, prepared);
        tx.notifyAfterCommit('targets');
      });
    } catch (err) {
      // Two requests with one Idempotency-Key raced; the loser answers with the winner's task.
      const earlier = isUniqueViolation(err) && idempotencyKey ? await this.replay(tenantId, idempotencyKey, prepared.requestHash!) : null;
      if (earlier) return { task: earlier, replayed: true };
      throw err;
    }
    return { task: prepared.task, replayed: false };
  }

  private async replay(tenantId: string, key: string, requestHash: string): Promise<TaskRow | null> {
    const earlier = await this.d.store.findTaskByIdempotencyKey(tenantId, key);
    if (earlier && earlier.request_hash !== requestHash) {
      throw new HookwaveError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key "${key}" was already used for a different request (task ${earlier.id})`, {
        field: 'Idempotency-Key',
        task_id: earlier.id,
      });
    }
    return earlier;
  }

  /**
   * Waits until the task has ended or `ms` have passed (or `signal` aborts): woken by the task's
   * events (every process's, through the store's wake channel), with a slow re-read as a safety
   * net. Resolves with the task's view, ended or not.
   */
  async waitForEnd(tenantId: string, id: string, ms: number, signal?: AbortSignal): Promise<TaskView> {
    const deadline = Date.now() + ms;
    let wake: (() => void) | null = null;
    const unsubscribe = this.d.store.subscribe('events', (taskId) => {
      if (taskId === id) wake?.();
    });
    try {
      for (;;) {
        const view = await this.get(tenantId, id);
        const left = deadline - Date.now();
        if (ENDED.includes(view.status) || left <= 0 || signal?.aborted) return view;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 1000));
          const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            resolve();
          };
          wake = done;
          signal?.addEventListener('abort', done, { once: true });
        });
        wake = null;
      }
    } finally {
      unsubscribe();
    }
  }

  async get(tenantId: string, id: string): Promise<TaskView> {
    const task = await this.d.store.getTask(tenantId, id);
    if (!task) throw notFound(id);
    const [agg] = await this.d.store.loadAggregates([task]);
    const view = taskView(agg!, this.d.signer);
    if (task.status === 'queued') {
      const standing = await this.d.store.queueStanding(task.id);
      if (standing) view.queue_position = queuePosition(standing.ownAhead, standing.others);
    }
    return view;
  }

  async list(q: { tenantId: string; status?: TaskStatus; kind?: string; cursor?: string; limit: number }): Promise<{ data: TaskView[]; next_cursor: string | null }> {
    const rows = await this.d.store.listTasks({ tenantId: q.tenantId, status: q.status, kind: q.kind, before: q.cursor, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    const aggs = await this.d.store.loadAggregates(page);
    const now = Date.now();
    return {
      data: aggs.map((a) => taskView(a, this.d.signer, now)),
      next_cursor: rows.length > q.limit ? page[page.length - 1]!.id : null,
    };
  }

  /** Cancels a queued or running task; running engines are told through the 'cancel' wake-up. */
  async cancel(tenantId: string, id: string): Promise<TaskRow> {
    return this.end(id, { code: 'CANCELED', message: 'canceled by the client' }, tenantId);
  }

  /**
   * Cancels open tasks whose deadline has passed, with DEADLINE_EXCEEDED: their running targets
   * are stopped by the workers that hold them (the 'cancel' wake-up), as for a client's cancel.
   * Any number of processes may sweep at once: a task ends once, the others find it ended.
   */
  async cancelPastDeadline(now: number, limit = 100): Promise<number> {
    let ended = 0;
    for (const id of await this.d.store.listTasksPastDeadline(now, limit)) {
      try {
        const task = await this.end(id, { code: 'DEADLINE_EXCEEDED', message: 'the task had not ended by its deadline' });
        if (task.error?.code === 'DEADLINE_EXCEEDED') ended++;
      } catch (err) {
        // It ended on its own between the read and the cancel.
        if (!(err instanceof HookwaveError && err.code === 'TASK_NOT_CANCELABLE')) throw err;
      }
    }
    return ended;
  }

  /**
   * Deletes a task for its tenant: cancels it if it is still open, then records the deletion
   * (redaction, outputs due for removal) in one transaction; `onDeleted` starts the file removal.
   */
  async delete(tenantId: string, id: string): Promise<void> {
    const task = await this.d.store.getTask(tenantId, id);
    if (!task) throw notFound(id);
    if (!ENDED.includes(task.status)) {
      try {
        await this.end(id, { code: 'CANCELED', message: 'canceled: the client deleted the task' }, tenantId);
      } catch (err) {
        // It ended on its own meanwhile; delete it as it is.
        if (!(err instanceof HookwaveError && err.code === 'TASK_NOT_CANCELABLE')) throw err;
      }
    }
    await this.d.store.tx((tx) => tx.deleteTask(id, Date.now()));
    this.d.onDeleted?.();
  }

  /** Ends an open task as canceled with `error`; `tenantId` scopes a client's request to its own tasks. */
  private async end(id: string, error: { code: string; message: string }, tenantId?: string): Promise<TaskRow> {
    return this.d.store.tx(async (tx) => {
      if (tenantId !== undefined && !(await tx.getTask(tenantId, id))) throw notFound(id);
      const now = Date.now();
      // Targets first, then the task: the lock order of finishTarget, so a target finishing at this
      // moment either ends before (and may have settled the task) or finds itself canceled.
      await tx.cancelOpenTargets(id, now);
      const task = await tx.lockTask(id);
      if (!task) throw notFound(id);
      if (task.status === 'canceled') return task;
      if (ENDED.includes(task.status)) {
        throw new HookwaveError('TASK_NOT_CANCELABLE', `task ${id} is already ${task.status} and cannot be canceled`, { status: task.status });
      }
      await tx.updateTask(id, { status: 'canceled', error, updated_at: now, completed_at: now });
      const canceled: TaskRow = { ...task, status: 'canceled', error, updated_at: now, completed_at: now };
      const [agg] = await tx.loadAggregates([canceled]);
      await emitTaskEvent(tx, this.d.signer, 'task.canceled', agg!, now);
      tx.notifyAfterCommit('cancel', id);
      return canceled;
    });
  }
}

export function notFound(id: string): HookwaveError {
  return new HookwaveError('NOT_FOUND', `task ${id} does not exist`, { field: 'id' });
}
