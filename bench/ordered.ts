/**
 * What ordered delivery costs (issue 13.5): deliveries/s with HOOKWAVE_ORDERED_DELIVERY on and off,
 * in the same run, on SQLite and PostgreSQL. Each task has four events (three target events and its
 * final event) to one receiver, all due at once, which is the case ordering holds back most: every
 * task's later events wait for its earlier ones, while the tasks themselves go in parallel.
 *
 * In-process dispatcher (role dispatcher), a receiver in its own process answering 200 at once.
 * Run alone with `tsx bench/ordered.ts [--quick]`, or `npm run bench -- --only=ordered`.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startHookwave, type Hookwave } from '../src/runtime.js';
import { createLogger } from '../src/logger.js';
import { createApiKey } from '../src/services/tenants.js';
import type { DeliveryRow, EventRow, TargetRow, TaskRow } from '../src/domain/types.js';
import { newId } from '../src/ids.js';
import { freshDatabase } from '../test/helpers/database.js';
import { spawnScript } from '../test/helpers/process.js';
import { tempDir } from '../test/helpers/service.js';
import { medianBy, table } from './table.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const EVENTS_PER_TASK = 4;
const LIMIT_MS = 60_000;

async function measure(hw: Hookwave, tenantId: string, url: string, tasks: number): Promise<number> {
  const now = Date.now();
  const store = hw.store;
  const deliveries: DeliveryRow[] = [];
  await store.tx(async (tx) => {
    for (let t = 0; t < tasks; t++) {
      const task: TaskRow = {
        id: newId('task'), tenant_id: tenantId, kind: 'generate', status: 'completed', title: null, input: {}, params: {}, metadata: null, webhook_url: url,
        webhook_events: null, idempotency_key: null, request_hash: null, batch_id: null, cost: null, error: null, created_at: now, updated_at: now,
        completed_at: now, deadline_at: null, deleted_at: null, pruned_at: null,
      };
      const target: TargetRow = {
        id: newId('tgt'), task_id: task.id, position: 0, name: 'mp3', spec: { format: 'mp3' }, status: 'completed', progress: 1, attempts: 1, lease_owner: null,
        lease_expires_at: null, cost: null, duration: null, info: null, error: null, created_at: now, started_at: now, finished_at: now,
      };
      await tx.insertTask(task, [target]);
      for (let e = 0; e < EVENTS_PER_TASK; e++) {
        const type = e < EVENTS_PER_TASK - 1 ? 'task.target.completed' : 'task.completed';
        const event: EventRow = { id: newId('evt'), tenant_id: tenantId, task_id: task.id, type, payload: JSON.stringify({ type, data: { id: task.id } }), created_at: now };
        await tx.insertEvent(event);
        deliveries.push({
          id: newId('dlv'), event_id: event.id, tenant_id: tenantId, task_id: task.id, endpoint_id: null, url, status: 'pending', attempt_count: 0,
          next_attempt_at: now, last_error: null, last_status_code: null, created_at: now, updated_at: now, delivered_at: null,
        });
      }
    }
  });
  const t0 = performance.now();
  await store.tx(async (tx) => {
    await tx.insertDeliveries(deliveries);
    tx.notifyAfterCommit('deliveries');
  });
  for (;;) {
    if ((await store.listDeliveries({ tenantId, status: 'pending', limit: 1 })).length === 0) break;
    if (performance.now() - t0 > LIMIT_MS) throw new Error('deliveries did not finish in time');
    await new Promise((r) => setTimeout(r, 5));
  }
  return deliveries.length / ((performance.now() - t0) / 1000);
}

export async function benchOrdered(opts: { quick: boolean }): Promise<void> {
  const tasks = opts.quick ? 250 : 1000;
  const rounds = opts.quick ? 1 : 3;
  const receiver = await spawnScript(path.join(here, 'receiver.ts'), [], {});
  const url = `${receiver.url}/hook`;
  const rows: Array<Record<string, string | number>> = [];
  try {
    for (const kind of ['sqlite', 'postgres'] as const) {
      // A database each, so one dispatcher never takes the other's deliveries.
      const dbs = [freshDatabase(kind), freshDatabase(kind)];
      const services: Record<'on' | 'off', Hookwave> = {} as never;
      for (const [i, mode] of (['on', 'off'] as const).entries()) {
        services[mode] = await startHookwave(
          { role: 'dispatcher', dataDir: tempDir('hookwave-bench-ordered-'), dev: true, logLevel: 'warn', orderedDelivery: mode === 'on', dispatcherConcurrency: 64, endpointConcurrency: 64, pollIntervalMs: 50, databaseUrl: dbs[i]!.databaseUrl },
          { logger: createLogger('warn') },
        );
      }
      try {
        const tenants = { on: (await createApiKey(services.on.store, 'bench')).tenant.id, off: (await createApiKey(services.off.store, 'bench')).tenant.id };
        const results: Record<'on' | 'off', number[]> = { on: [], off: [] };
        // Warm up each, then alternate so machine noise hits both alike.
        for (const mode of ['on', 'off'] as const) await measure(services[mode], tenants[mode], url, 50);
        for (let r = 0; r < rounds; r++) for (const mode of ['off', 'on'] as const) results[mode].push(await measure(services[mode], tenants[mode], url, tasks));
        const off = medianBy(results.off, (x) => x);
        const on = medianBy(results.on, (x) => x);
        rows.push({ store: kind, 'unordered deliveries/s (baseline)': Math.round(off), 'ordered deliveries/s': Math.round(on), 'ordered vs unordered': `${((on / off) * 100).toFixed(0)} %` });
      } finally {
        await services.on.close();
        await services.off.close();
        for (const db of dbs) await db.drop();
      }
    }
  } finally {
    receiver.child.kill('SIGTERM');
    await receiver.exited;
  }
  table(`Ordered delivery: ${tasks} tasks × ${EVENTS_PER_TASK} events due at once to one receiver, 64 in flight; median of ${rounds} alternating round(s)`, rows);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchOrdered({ quick: process.argv.includes('--quick') });
