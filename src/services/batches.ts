/**
 * Batches: up to 100 tasks in one request sharing one webhook URL (Converso's batch jobs). One bad
 * item is reported and does not sink the others; the valid ones are stored together, at once.
 */
import { HookwaveError, isHookwaveError } from '../errors.js';
import { newId } from '../ids.js';
import type { Store } from '../store/store.js';
import { createTaskBodySchema } from '../domain/task-body.js';
import { insertPrepared, isUniqueViolation, type CreateTaskBody, type PreparedTask, type TaskService } from './tasks.js';
import { validateSchema } from '../schema/validation.js';
import type { BatchRow, TaskStatus } from '../domain/types.js';

export const MAX_BATCH = 100;

export interface CreateBatchBody {
  tasks: CreateTaskBody[];
  webhook_url?: string | null;
  webhook_events?: string[];
}

export type BatchItemResult =
  | { index: number; success: true; task_id: string; status: TaskStatus }
  | { index: number; success: false; error: { code: string; message: string; details?: unknown } };

function keyReused(key: string, batch: BatchRow): HookwaveError {
  return new HookwaveError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key "${key}" was already used for a different batch request (batch ${batch.id})`, {
    field: 'Idempotency-Key',
    batch_id: batch.id,
  });
}

export class BatchService {
  constructor(
    private readonly store: Store,
    private readonly tasks: TaskService,
  ) {}

  /**
   * Validates every item before storing any, then stores the batch and every valid item in one
   * transaction: a batch is never half stored, whatever fails. A bad item is reported in its
   * result and the others go ahead (Converso's batches work so); a retried request with the same
   * Idempotency-Key answers with the same batch and tasks, and a different request under that key
   * is refused whole.
   */
  async create(tenantId: string, body: CreateBatchBody, idempotencyKey?: string): Promise<{ batch: BatchRow; results: BatchItemResult[] }> {
    if (body.tasks.length > MAX_BATCH) {
      throw new HookwaveError('BATCH_TOO_LARGE', `tasks has ${body.tasks.length} items; a batch holds at most ${MAX_BATCH}`, { field: 'tasks', limit: MAX_BATCH });
    }
    const earlier = idempotencyKey ? await this.store.findBatchByIdempotencyKey(tenantId, idempotencyKey) : null;
    if (earlier && earlier.item_count !== body.tasks.length) throw keyReused(idempotencyKey!, earlier);
    const batch: BatchRow = earlier ?? {
      id: newId('bat'),
      tenant_id: tenantId,
      webhook_url: body.webhook_url ?? null,
      item_count: body.tasks.length,
      idempotency_key: idempotencyKey ?? null,
      created_at: Date.now(),
    };

    const prepared: Array<{ index: number; item: PreparedTask } | { index: number; error: BatchItemResult }> = [];
    for (const [index, item] of body.tasks.entries()) {
      try {
        // The route checks only that each item is an object, so a bad item is this item's error.
        validateSchema(createTaskBodySchema, item, '');
        const task: CreateTaskBody = {
          ...item,
          webhook_url: item.webhook_url ?? body.webhook_url ?? null,
          ...(item.webhook_events || body.webhook_events ? { webhook_events: item.webhook_events ?? body.webhook_events } : {}),
        };
        // A retried batch with the same key returns the same tasks, item by item.
        prepared.push({ index, item: await this.tasks.prepare(tenantId, task, idempotencyKey ? `${idempotencyKey}:${index}` : undefined, batch.id) });
      } catch (err) {
        if (!isHookwaveError(err)) throw err;
        // The same key over a different request is the whole batch's error, not an item's.
        if (err.code === 'IDEMPOTENCY_KEY_REUSED' && idempotencyKey) throw keyReused(idempotencyKey, batch);
        const e = err.toJSON();
        const details = e.details as { field?: string } | undefined;
        const field = typeof details?.field === 'string' ? `tasks[${index}].${details.field}` : `tasks[${index}]`;
        prepared.push({ index, error: { index, success: false, error: { ...e, message: `tasks[${index}]: ${e.message}`, details: { ...details, field } } } });
      }
    }

    const fresh = prepared.flatMap((p) => ('item' in p && 'task' in p.item ? [p.item] : []));
    await this.tasks.assertQueueRoom(tenantId, fresh.length);
    try {
      await this.store.tx(async (tx) => {
        if (!earlier) await tx.insertBatch(batch);
        for (const item of fresh) await insertPrepared(tx, item);
        if (fresh.length > 0) tx.notifyAfterCommit('targets');
      });
    } catch (err) {
      // The same batch retried at the same moment: the loser answers with the winner's.
      if (idempotencyKey && isUniqueViolation(err)) return this.create(tenantId, body, idempotencyKey);
      throw err;
    }
    const results = prepared.map((p): BatchItemResult => {
      if ('error' in p) return p.error;
      const task = 'task' in p.item ? p.item.task : p.item.replayed;
      return { index: p.index, success: true, task_id: task.id, status: task.status };
    });
    return { batch, results };
  }

  async summary(tenantId: string, id: string) {
    const batch = await this.store.getBatch(tenantId, id);
    if (!batch) throw new HookwaveError('NOT_FOUND', `batch ${id} does not exist`, { field: 'id' });
    const tasks = await this.store.listTasksOfBatch(tenantId, id);
    const counts: Record<TaskStatus, number> = { queued: 0, processing: 0, completed: 0, failed: 0, canceled: 0 };
    for (const t of tasks) counts[t.status]++;
    const open = counts.queued + counts.processing;
    return {
      id: batch.id,
      status: open > 0 ? 'processing' : 'ended',
      webhook_url: batch.webhook_url,
      item_count: batch.item_count,
      task_count: tasks.length,
      counts,
      cost: Math.round(tasks.reduce((sum, t) => sum + (t.cost ?? 0), 0) * 1e6) / 1e6,
      tasks: tasks.map((t) => ({ id: t.id, kind: t.kind, status: t.status, title: t.title, error: t.error })),
      created_at: new Date(batch.created_at).toISOString(),
    };
  }
}
