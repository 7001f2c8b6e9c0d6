/**
 * How a target ends, in one transaction: its outputs and status, its task.target.* event, and —
 * when it was the task's last open target — the task's final status and its task.* event.
 *
 * A task completes when every target completed; if any target failed it fails, with the first
 * failed target's error (outputs of targets that did complete stay downloadable).
 */
import type { UrlSigner } from '../blobs/signed-url.js';
import type { Tx } from '../store/store.js';
import { emitTaskEvent } from './outbox.js';
import type { OutputRow, StoredError, TargetRow, TaskRow } from '../domain/types.js';

export type TargetOutcome =
  | { status: 'completed'; outputs: OutputRow[]; duration: number | null; cost: number | null; info: Record<string, unknown> | null }
  | { status: 'failed'; error: StoredError };

/**
 * Records the outcome of `target`. With `owner`, only while that worker still holds the lease
 * (a canceled target or one another worker took over is left alone); returns whether it was recorded.
 */
export async function finishTarget(
  tx: Tx,
  signer: UrlSigner,
  target: TargetRow,
  owner: string | null,
  outcome: TargetOutcome,
  now: number,
): Promise<boolean> {
  const patch =
    outcome.status === 'completed'
      ? { status: 'completed' as const, progress: 1, duration: outcome.duration, cost: outcome.cost, info: outcome.info, finished_at: now }
      : { status: 'failed' as const, error: outcome.error, finished_at: now };
  const release = { lease_owner: null, lease_expires_at: null };
  if (owner) {
    if (!(await tx.updateLeasedTarget(target.id, owner, { ...patch, ...release }))) return false;
  } else {
    await tx.updateTarget(target.id, { ...patch, ...release });
  }
  if (outcome.status === 'completed' && outcome.outputs.length > 0) await tx.insertOutputs(outcome.outputs);

  // After the target's own row (the lock order claims use too): two targets of one task finishing
  // at once settle it one after the other, the second seeing the first's outcome.
  const task = await tx.lockTask(target.task_id);
  if (!task || task.status === 'canceled') return true;
  const [agg] = await tx.loadAggregates([task]);
  await emitTaskEvent(tx, signer, outcome.status === 'completed' ? 'task.target.completed' : 'task.target.failed', agg!, now);

  const settled = settle(task, agg!.targets, now);
  if (settled) {
    await tx.updateTask(task.id, { status: settled.status, cost: settled.cost, error: settled.error, updated_at: now, completed_at: now });
    const [done] = await tx.loadAggregates([settled]);
    await emitTaskEvent(tx, signer, settled.status === 'completed' ? 'task.completed' : 'task.failed', done!, now);
  } else {
    const cost = sumCost(agg!.targets);
    await tx.updateTask(task.id, { cost, updated_at: now });
  }
  return true;
}

function sumCost(targets: TargetRow[]): number | null {
  const costs = targets.map((t) => t.cost).filter((c): c is number => c !== null);
  return costs.length ? Math.round(costs.reduce((a, b) => a + b, 0) * 1e6) / 1e6 : null;
}

/** The task's final state once no target is open, or null while some still are. */
function settle(task: TaskRow, targets: TargetRow[], now: number): TaskRow | null {
  if (targets.some((t) => t.status === 'queued' || t.status === 'processing')) return null;
  const failed = targets.find((t) => t.status === 'failed');
  const error: StoredError | null = failed
    ? {
        code: failed.error?.code ?? 'ENGINE_FAILED',
        message: `target "${failed.name}" failed: ${failed.error?.message ?? 'unknown error'}`,
        details: { target_id: failed.id, failed_targets: targets.filter((t) => t.status === 'failed').map((t) => t.name) },
      }
    : null;
  return { ...task, status: failed ? 'failed' : 'completed', cost: sumCost(targets), error, updated_at: now, completed_at: now };
}
