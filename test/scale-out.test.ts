/**
 * Scale-out on PostgreSQL: two API processes and three worker+dispatcher processes share one
 * database. Tasks go in through both APIs, one worker is killed with SIGKILL while it holds leases,
 * and still every task completes exactly once, every task.completed webhook arrives (a repeat only
 * with the same webhook-id), and only the targets the dead worker held run again.
 *
 * PostgreSQL only: SQLite is one file on one machine, which is what every other test covers.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UrlSigner } from '../src/blobs/signed-url.js';
import { finishTarget } from '../src/services/target-results.js';
import type { TargetRow, TaskRow } from '../src/domain/types.js';
import { newId } from '../src/ids.js';
import { PostgresStore, parseDatabaseUrl } from '../src/store/postgres/postgres-store.js';
import { freshDatabase, usePostgres, type TestDatabase } from './helpers/database.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { runCli, spawnService, type ServiceProcess } from './helpers/process.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { callApi, tempDir } from './helpers/service.js';
import { until } from './helpers/until.js';

// Enough that a third of them is well under way when a worker is killed; each target is an
// extract with its loudness measured (three ffmpeg runs), a few per second on two cores.
const TASKS = 150;
const LEASE_MS = 2000;

interface LogLine {
  msg?: string;
  pid?: number;
  target_id?: string;
  attempt?: number;
}

function parseLogs(p: ServiceProcess): LogLine[] {
  const out: LogLine[] = [];
  for (const line of p.logs) {
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      /* stderr chunk */
    }
  }
  return out;
}

describe.skipIf(!usePostgres)('scale-out on one PostgreSQL database', () => {
  let db: TestDatabase;
  let files: FileServer;
  let receiver: Receiver;
  let tone: string;
  let env: Record<string, string>;
  let key: string;
  const apis: ServiceProcess[] = [];
  const workers: ServiceProcess[] = [];

  beforeAll(async () => {
    const mediaDir = tempDir('hookwave-media-');
    tone = path.basename(await makeTone(mediaDir, { seconds: 1, format: 'wav' }));
    files = await startFileServer(mediaDir);
    receiver = await startReceiver();
    db = freshDatabase();
    env = {
      ...db.env,
      // One shared data directory stands in for shared storage: workers write outputs, APIs serve them.
      HOOKWAVE_DATA_DIR: tempDir(),
      HOOKWAVE_DEV: '1',
      HOOKWAVE_LEASE_MS: String(LEASE_MS),
      HOOKWAVE_HEARTBEAT_MS: '500',
      HOOKWAVE_WORKER_CONCURRENCY: '2',
      HOOKWAVE_DATABASE_POOL_SIZE: '4',
      HOOKWAVE_RETRY_SCHEDULE_MS: '200,400,800,1600',
      HOOKWAVE_RETRY_JITTER: '0',
      HOOKWAVE_WEBHOOK_TIMEOUT_MS: '2000',
    };
    const created = runCli(['keys', 'create', '--tenant', 'acme', '--json'], env);
    expect(created.status, created.stderr).toBe(0);
    key = (JSON.parse(created.stdout) as { key: string }).key;
    // Started together, so the migrations race on the advisory lock too.
    const started = await Promise.all([
      ...[0, 1].map(() => spawnService(['--role', 'api'], env)),
      // "all" is the worker and the dispatcher in one process; tasks never go through its API.
      ...[0, 1, 2].map(() => spawnService(['--role', 'all'], env)),
    ]);
    apis.push(...started.slice(0, 2));
    workers.push(...started.slice(2));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(
      [...apis, ...workers].map(async (p) => {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
        await p.exited;
      }),
    );
    await files?.close();
    await receiver?.close();
    await db?.drop();
  });

  /**
   * Submits a one-target task through an API process to idle workers; resolves, once it has ended,
   * with the ms from its creation to a worker's claim.
   */
  async function claimDelay(api: ServiceProcess): Promise<number> {
    const res = await callApi(api.url, key, 'POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'wav' }] });
    expect(res.status).toBe(202);
    const row = await until(
      `task ${res.body.task_id} to run`,
      async () => {
        const [row] = await db.query<{ waited: number | null; status: string }>(
          'SELECT (started_at - created_at)::float8 AS waited, status FROM targets WHERE task_id = $1',
          [res.body.task_id],
        );
        return row && row.waited !== null && row.status !== 'processing' && row;
      },
      20_000,
      20,
    );
    return row.waited!;
  }

  it('wakes a worker in another process through NOTIFY, not the poll', async () => {
    // The safety poll is 2 s on PostgreSQL; claims within a fraction of that were woken.
    for (let i = 0; i < 5; i++) expect(await claimDelay(apis[i % 2]!)).toBeLessThan(1000);
  }, 60_000);

  it('keeps waking workers after their LISTEN connections are cut', async () => {
    const listeners = () =>
      db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN ' || quote_ident($1 || '.targets') || '%'", [db.schema]);
    const before = await listeners();
    expect(before).toHaveLength(apis.length + workers.length);
    await db.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [before.map((r) => r.pid)]);
    const after = await until(
      'every process to LISTEN again on a new connection',
      async () => {
        const after = await listeners();
        return after.length >= before.length && !after.some((r) => before.some((b) => b.pid === r.pid)) && after;
      },
      10_000,
      50,
    );
    expect(after).toHaveLength(before.length);
    for (let i = 0; i < 3; i++) expect(await claimDelay(apis[i % 2]!)).toBeLessThan(1000);
  }, 60_000);

  it('completes a task exactly once when its targets finish at the same moment in different processes', async () => {
    // Three stores are three processes' pools. Without the task's row lock each finishing
    // transaction would still see the task's other targets open, and no one would settle it.
    const own = freshDatabase();
    const { connectionString, schema } = parseDatabaseUrl(own.databaseUrl!);
    const stores = [0, 1, 2].map(() => new PostgresStore({ connectionString, schema }));
    const signer = new UrlSigner('k'.repeat(32), 'http://127.0.0.1:1', 3600);
    try {
      await stores[0]!.migrate();
      const tenant = { id: newId('ten'), name: 'acme', webhook_secret: 'whsec_x', created_at: Date.now() };
      await stores[0]!.insertTenant(tenant);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const now = Date.now();
        const task: TaskRow = {
          id: newId('task'), tenant_id: tenant.id, kind: 'extract', status: 'queued', title: null, input: {}, params: {}, metadata: null,
          webhook_url: 'http://127.0.0.1:1/hook', webhook_events: null, idempotency_key: null, request_hash: null, batch_id: null, cost: null,
          error: null, created_at: now, updated_at: now, completed_at: null, deadline_at: null, deleted_at: null, pruned_at: null,
        };
        const targets: TargetRow[] = [0, 1, 2].map((position) => ({
          id: newId('tgt'), task_id: task.id, position, name: `t${position}`, spec: { format: 'wav' }, status: 'queued', progress: 0, attempts: 0,
          lease_owner: null, lease_expires_at: null, cost: null, duration: null, info: null, error: null, created_at: now, started_at: null, finished_at: null,
        }));
        await stores[0]!.insertTask(task, targets);
        const claimed = await Promise.all(stores.map((s, w) => s.claimTargets(`w${w}`, 1, now, now + 60_000, 0)));
        await Promise.all(
          claimed.map(([c], w) =>
            stores[w]!.tx((tx) => finishTarget(tx, signer, c!.target, `w${w}`, { status: 'completed', outputs: [], duration: 1, cost: 0.001, info: null }, Date.now())),
          ),
        );
        ids.push(task.id);
      }
      const tasks = await own.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM tasks GROUP BY status');
      expect(tasks).toEqual([{ status: 'completed', n: 20 }]);
      const events = await own.query<{ type: string; n: number }>('SELECT type, count(*)::int AS n FROM events GROUP BY type ORDER BY type');
      expect(events).toEqual([
        { type: 'task.completed', n: 20 },
        { type: 'task.target.completed', n: 60 },
      ]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await own.drop();
    }
  }, 60_000);

  it('completes every task once through two APIs and three workers, one of them killed', async () => {
    const receivedBefore = receiver.received.length;
    const ids: string[] = [];
    let next = 0;
    const submit = async (api: ServiceProcess) => {
      while (next < TASKS) {
        next++;
        const res = await callApi(api.url, key, 'POST', '/v1/tasks', {
          kind: 'extract',
          input: { url: files.url(tone) },
          targets: [{ format: 'wav' }],
          webhook_url: receiver.url,
        });
        expect(res.status).toBe(202);
        ids.push(res.body.task_id as string);
      }
    };
    const submitting = Promise.all(Array.from({ length: 8 }, (_, i) => submit(apis[i % 2]!)));

    // Kill, with SIGKILL, a worker that holds leases while about a third of the work is done.
    let heldAtKill: string[] = [];
    let seen = '';
    const victim = await until(
      () => `a worker holding leases once a third of the tasks are done (targets by status and worker: ${seen})`,
      async () => {
        const done = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM targets WHERE status = 'completed'"))[0]!.n;
        seen = JSON.stringify(await db.query("SELECT status, count(*)::int AS n FROM targets GROUP BY status"));
        if (done < TASKS / 3) return null;
        const held = await db.query<{ lease_owner: string; ids: string[] }>(
          "SELECT lease_owner, array_agg(id) AS ids FROM targets WHERE status = 'processing' GROUP BY lease_owner",
        );
        for (const h of held) {
          const p = workers.find((w) => h.lease_owner.includes(`_${w.child.pid}_`));
          if (p) {
            heldAtKill = h.ids;
            p.child.kill('SIGKILL');
            return p;
          }
        }
        return null;
      },
      120_000,
      25,
    );
    await victim.exited;
    await submitting;
    expect(ids).toHaveLength(TASKS);

    // Every task.completed webhook arrives.
    const completions = () => receiver.received.slice(receivedBefore).filter((r) => r.body?.type === 'task.completed');
    await until(() => `a task.completed webhook for every task (${new Set(completions().map((r) => r.body.data.id)).size} of ${TASKS})`, () => new Set(completions().map((r) => r.body.data.id)).size >= TASKS, 180_000, 100);
    const byTask = new Map<string, Set<string>>();
    for (const r of completions()) {
      const set = byTask.get(r.body.data.id) ?? new Set<string>();
      set.add(r.headers['webhook-id'] as string);
      byTask.set(r.body.data.id, set);
    }
    expect([...byTask.keys()].sort()).toEqual([...ids].sort());
    // A repeat (a dispatcher died after sending, before recording) carries the same webhook-id.
    for (const [, webhookIds] of byTask) expect(webhookIds.size).toBe(1);

    // Every task completed, with exactly one output per target: no target was recorded twice.
    const statuses = await db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM tasks WHERE id = ANY($1) GROUP BY status', [ids]);
    expect(statuses).toEqual([{ status: 'completed', n: TASKS }]);
    const outputs = await db.query<{ target_id: string; n: number }>(
      'SELECT t.id AS target_id, count(o.id)::int AS n FROM targets t LEFT JOIN outputs o ON o.target_id = t.id WHERE t.task_id = ANY($1) GROUP BY t.id',
      [ids],
    );
    expect(outputs).toHaveLength(TASKS);
    expect(outputs.filter((o) => o.n !== 1)).toEqual([]);

    // Runs: a target ran more than once only if the killed worker had claimed it and not finished it.
    const logs = new Map(workers.map((w) => [w, parseLogs(w)]));
    const logged = (msg: string, from: (w: ServiceProcess) => boolean) => {
      const count = new Map<string, number>();
      for (const [w, lines] of logs) {
        if (!from(w)) continue;
        for (const l of lines) if (l.msg === msg) count.set(l.target_id!, (count.get(l.target_id!) ?? 0) + 1);
      }
      return count;
    };
    const victimStarted = logged('target started', (w) => w === victim);
    const victimCompleted = logged('target completed', (w) => w === victim);
    // The killed worker's own log may lack its last lines (a COMMIT landed, the reply or the log
    // line did not), so the live workers' logs are the witness: a live worker that lost a lease
    // while running would show a second start among them.
    const liveStarted = logged('target started', (w) => w !== victim);
    const liveCompleted = logged('target completed', (w) => w !== victim);
    const targets = await db.query<{ id: string; attempts: number }>('SELECT id, attempts FROM targets WHERE task_id = ANY($1)', [ids]);
    const rerun = targets.filter((t) => t.attempts > 1);
    expect(rerun.length, 'the killed worker held leases, so someone must have taken them over').toBeGreaterThan(0);
    for (const t of rerun) {
      expect(t.attempts).toBe(2);
      expect(liveStarted.get(t.id), `target ${t.id} ran twice on live workers`).toBe(1);
      expect(liveCompleted.get(t.id), `target ${t.id} was re-run but no live worker completed it`).toBe(1);
      expect(victimCompleted.has(t.id), `target ${t.id} completed on the killed worker and ran again`).toBe(false);
    }
    // Most of what was re-run the killed worker had logged as started.
    expect(rerun.filter((t) => victimStarted.has(t.id)).length).toBeGreaterThan(0);
    // What it held when it died ran again, or ran once: on the killed worker, which recorded the
    // outcome in the instant before the kill, so no live worker ever started it.
    const attempts = new Map(targets.map((t) => [t.id, t.attempts]));
    for (const id of heldAtKill) {
      if (attempts.get(id) === 1) expect(liveStarted.has(id), `target ${id} held by the killed worker ran once, on a live worker`).toBe(false);
      else expect(attempts.get(id), `target ${id} held by the killed worker`).toBe(2);
    }
    // Every target completed exactly once across the live workers' logs (the killed one's may miss lines).
    expect([...liveCompleted.values()].filter((n) => n > 1)).toEqual([]);
    for (const [id] of victimCompleted) expect(liveCompleted.has(id), `target ${id} completed on the killed worker and on a live one`).toBe(false);

    // Outputs a worker wrote are served by either API (shared data directory, shared signing key).
    const task = await callApi(apis[1]!.url, key, 'GET', `/v1/tasks/${ids[0]}`);
    const file = await fetch(task.body.targets[0].outputs[0].url as string);
    expect(file.status).toBe(200);
    expect((await file.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  }, 240_000);
});
