/**
 * Batches: up to 100 tasks in one request sharing one webhook URL (Converso's batch jobs). Each
 * item is created on its own, so one bad item is reported and does not sink the others.
 */
import { HookwaveError, isHookwaveError } from '../errors.js';
import { newId } from '../ids.js';
import type { Store } from '../store/store.js';
import type { CreateTaskBody, TaskService } from './tasks.js';
import type { BatchRow, TaskStatus } from './types.js';

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
    const batch: BatchRow = { id: newId('bat'), tenant_id: tenantId, webhook_url: body.webhook_url ?? null, item_count: body.tasks.length, created_at: Date.now() };
    const results: BatchItemResult[] = [];
    await this.store.insertBatch(batch);
    for (const [index, item] of body.tasks.entries()) {
      try {
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
        results.push({ index, success: false, error: { ...e, message: `tasks[${index}]: ${e.message}` } });
      }
    }
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
