/**
 * Batches: up to 100 tasks in one request sharing one webhook URL (Converso's batch jobs). Each
 * item is created on its own, so one bad item is reported and does not sink the others.
 */
import { HookwaveError, isHookwaveError } from '../errors.js';
import { newId } from '../ids.js';
import type { Store } from '../store/store.js';
import { createTaskBodySchema } from '../domain/task-body.js';
import type { CreateTaskBody, TaskService } from './tasks.js';
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

export class BatchService {
  constructor(
    private readonly store: Store,
    private readonly tasks: TaskService,
  ) {}

  async create(tenantId: string, body: CreateBatchBody, idempotencyKey?: string): Promise<{ batch: BatchRow; results: BatchItemResult[] }> {
    if (body.tasks.length > MAX_BATCH) {
      throw new HookwaveError('BATCH_TOO_LARGE', `tasks has ${body.tasks.length} items; a batch holds at most ${MAX_BATCH}`, { field: 'tasks', limit: MAX_BATCH });
    }
    const batch = await this.batchRow(tenantId, body, idempotencyKey ?? null);
    const results: BatchItemResult[] = [];
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
        const { task: row } = await this.tasks.create(tenantId, task, idempotencyKey ? `${idempotencyKey}:${index}` : undefined, batch.id);
        results.push({ index, success: true, task_id: row.id, status: row.status });
      } catch (err) {
        if (!isHookwaveError(err)) throw err;
        const e = err.toJSON();
        const details = e.details as { field?: string } | undefined;
        const field = typeof details?.field === 'string' ? `tasks[${index}].${details.field}` : `tasks[${index}]`;
        results.push({ index, success: false, error: { ...e, message: `tasks[${index}]: ${e.message}`, details: { ...details, field } } });
      }
    }
    return { batch, results };
  }

  /** A new batch, or, for a retried request with the same Idempotency-Key, the one it created. */
  private async batchRow(tenantId: string, body: CreateBatchBody, idempotencyKey: string | null): Promise<BatchRow> {
    if (idempotencyKey) {
      const earlier = await this.store.findBatchByIdempotencyKey(tenantId, idempotencyKey);
      if (earlier) return earlier;
    }
    const batch: BatchRow = {
      id: newId('bat'),
      tenant_id: tenantId,
      webhook_url: body.webhook_url ?? null,
      item_count: body.tasks.length,
      idempotency_key: idempotencyKey,
      created_at: Date.now(),
    };
    try {
      await this.store.insertBatch(batch);
      return batch;
    } catch (err) {
      // Two requests with one key raced; the loser answers with the winner's batch.
      const winner = idempotencyKey ? await this.store.findBatchByIdempotencyKey(tenantId, idempotencyKey) : null;
      if (winner) return winner;
      throw err;
    }
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
