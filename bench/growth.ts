/**
 * Growth (issue 14.3): does a store with history cost the same per task as a new one? Two stores
 * of each dialect side by side in one run: "empty" (a new store with one day of traffic, 1,000
 * tasks, so pages are full) and "seeded" (`--tasks`, default 2 million, over `--days`, default
 * 60, with their events, deliveries and attempts; bench/growth/history.ts), both seeded straight
 * into the database. Each figure alternates rounds between the two, so machine noise hits both
 * alike; the ratio seeded / empty is what the goals are about:
 *
 *   POST /v1/tasks req/s, delivery drain/s                          ≥ 0.9 × empty
 *   claim latency, GET /v1/tasks (first and a deep cursor page),
 *   a task's SSE replay (10 events)                                  ≤ 1.2 × empty
 *
 * Run with `npm run bench -- --only=growth [--tasks=200000] [--days=60] [--stores=sqlite,postgres]
 * [--quick]`, or `tsx bench/growth.ts …`.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';
import type { DeliveryRow, EventRow, TargetRow, TaskRow } from '../src/domain/types.js';
import { newId } from '../src/ids.js';
import { createLogger } from '../src/logger.js';
import { UrlGuard } from '../src/net/url-guard.js';
import { Dispatcher } from '../src/webhooks/dispatcher.js';
import { freshDatabase, testDatabaseUrl } from '../test/helpers/database.js';
import { spawnScript, type ServiceProcess } from '../test/helpers/process.js';
import { loopbackOnly } from '../test/helpers/service.js';
import { BenchStore, type Kind, type SeedReport, type SizeReport } from './growth/bench-store.js';
import { DAY_MS, history, historyId } from './growth/history.js';
import { table } from './table.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface GrowthOptions {
  quick: boolean;
  tasks: number;
  days: number;
  stores: Kind[];
}

/** The new store's day of traffic: enough for full pages and a deep cursor. */
const EMPTY_TASKS = 1000;
const REPLAY_EVENTS = 10;

type Goal = { kind: 'throughput'; min: number } | { kind: 'latency'; max: number };

interface Metric {
  name: string;
  unit: string;
  goal: Goal;
  /** One round on one store: a rate (throughput) or latency samples in ms. */
  round(s: BenchStore, ctx: Context): Promise<number[]>;
}

interface Context {
  quick: boolean;
  receiverUrl: string;
  guard: UrlGuard;
  agent: Agent;
  /** Per store: the task whose stream is replayed, and a cursor deep in the tenant's history. */
  replayTask: Map<BenchStore, string>;
  deepCursor: Map<BenchStore, string>;
  payload: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function get(ctx: Context, s: BenchStore, p: string): Promise<string> {
  const res = await request(`${s.api!.url}${p}`, { headers: { 'x-api-key': s.tenants.acme.key }, dispatcher: ctx.agent });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${p} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return text;
}

// ---- the metrics ----

const createTasks: Metric = {
  name: 'POST /v1/tasks',
  unit: 'req/s',
  goal: { kind: 'throughput', min: 0.9 },
  async round(s, ctx) {
    const r = await autocannon({
      url: `${s.api!.url}/v1/tasks`,
      method: 'POST',
      connections: 64,
      duration: ctx.quick ? 2 : 4,
      headers: { 'content-type': 'application/json', 'x-api-key': s.tenants.acme.key },
      body: JSON.stringify({
        kind: 'extract',
        input: { url: 'https://media.example.com/song.wav' },
        targets: [{ format: 'mp3', bitrate: '192k' }, { format: 'flac' }],
        webhook_url: 'https://hooks.example.com/audio?token=abc',
        metadata: { user_id: 1234, plan: 'pro' },
      }),
    });
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`POST /v1/tasks: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
    return [r.requests.average];
  },
};

const drainDeliveries: Metric = {
  name: 'delivery drain',
  unit: 'deliveries/s',
  goal: { kind: 'throughput', min: 0.9 },
  async round(s, ctx) {
    const n = ctx.quick ? 1000 : 3000;
    const { store } = s;
    const tenantId = s.tenants.acme.id;
    const url = `${ctx.receiverUrl}/hook`;
    const now = Date.now();
    // A task's final event each, to its own webhook URL; all due now, stored before the clock starts.
    const events: EventRow[] = Array.from({ length: n }, () => ({ id: newId('msg'), tenant_id: tenantId, task_id: newId('task'), type: 'task.completed', payload: ctx.payload, created_at: now }));
    const deliveries: DeliveryRow[] = events.map((e) => ({
      id: newId('dlv'), event_id: e.id, tenant_id: tenantId, task_id: e.task_id, endpoint_id: null, url, status: 'pending', attempt_count: 0, next_attempt_at: now,
      last_error: null, last_status_code: null, created_at: now, updated_at: now, delivered_at: null,
    }));
    for (let i = 0; i < n; i += 1000) {
      await store.tx(async (tx) => {
        for (const e of events.slice(i, i + 1000)) await tx.insertEvent(e);
        await tx.insertDeliveries(deliveries.slice(i, i + 1000));
      });
    }
    const received = async () => (JSON.parse(await (await request(`${ctx.receiverUrl}/count`, { dispatcher: ctx.agent })).body.text()) as { count: number }).count;
    const target = (await received()) + n;
    const dispatcher = new Dispatcher({ store, guard: ctx.guard, config: s.config, logger: createLogger('warn') });
    const t0 = performance.now();
    dispatcher.start();
    const deadline = t0 + 120_000;
    while ((await received()) < target) {
      if (performance.now() > deadline) throw new Error(`the dispatcher did not deliver ${n} deliveries in 120 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    // Until every attempt is recorded: that is part of a delivery.
    await dispatcher.stop();
    return [n / ((performance.now() - t0) / 1000)];
  },
};

const claimLatency: Metric = {
  name: 'claim (a queued target)',
  unit: 'ms',
  goal: { kind: 'latency', max: 1.2 },
  async round(s, ctx) {
    const { store, config } = s;
    const tenantId = s.tenants.acme.id;
    const samples: number[] = [];
    for (let i = 0; i < (ctx.quick ? 30 : 60); i++) {
      const now = Date.now();
      const task: TaskRow = {
        id: newId('task'), tenant_id: tenantId, kind: 'extract', status: 'queued', title: null, input: { url: 'https://media.example.com/song.wav' }, params: {},
        metadata: null, webhook_url: null, webhook_events: null, idempotency_key: null, request_hash: null, batch_id: null, cost: null, error: null,
        created_at: now, updated_at: now, completed_at: null, deadline_at: null, deleted_at: null,
      };
      const target: TargetRow = {
        id: newId('tgt'), task_id: task.id, position: 0, name: 'mp3', spec: { format: 'mp3' }, status: 'queued', progress: 0, attempts: 0, lease_owner: null,
        lease_expires_at: null, cost: null, duration: null, info: null, error: null, created_at: now, started_at: null, finished_at: null,
      };
      await store.tx((tx) => tx.insertTask(task, [target]));
      let claimed = 0;
      samples.push(await timed(async () => {
        const t = Date.now();
        claimed = (await store.claimTargets('bench-worker', 1, t, t + config.leaseMs, config.tenantMaxRunning)).length;
      }));
      if (claimed !== 1) throw new Error(`the claim took ${claimed} targets, not the one queued`);
      // Ended, as a worker would end it, so the next claim finds the same queue.
      const done = Date.now();
      await store.tx(async (tx) => {
        await tx.updateTarget(target.id, { status: 'completed', progress: 1, finished_at: done, lease_owner: null, lease_expires_at: null });
        await tx.updateTask(task.id, { status: 'completed', updated_at: done, completed_at: done });
      });
    }
    return samples;
  },
};

function pageMetric(name: string, query: (s: BenchStore, ctx: Context) => string): Metric {
  return {
    name,
    unit: 'ms',
    goal: { kind: 'latency', max: 1.2 },
    async round(s, ctx) {
      const samples: number[] = [];
      for (let i = 0; i < (ctx.quick ? 20 : 40); i++) {
        let count = 0;
        samples.push(await timed(async () => {
          count = (JSON.parse(await get(ctx, s, query(s, ctx))) as { data: unknown[] }).data.length;
        }));
        if (count !== 20) throw new Error(`${name}: a page of ${count} tasks, not 20`);
      }
      return samples;
    },
  };
}

const sseReplay: Metric = {
  name: `SSE replay (${REPLAY_EVENTS} events)`,
  unit: 'ms',
  goal: { kind: 'latency', max: 1.2 },
  async round(s, ctx) {
    const samples: number[] = [];
    for (let i = 0; i < (ctx.quick ? 20 : 40); i++) {
      let text = '';
      samples.push(await timed(async () => {
        text = await get(ctx, s, `/v1/tasks/${ctx.replayTask.get(s)}/events`);
      }));
      const events = text.split('\n').filter((l) => l.startsWith('id: ')).length;
      if (events !== REPLAY_EVENTS) throw new Error(`the replay sent ${events} events, not ${REPLAY_EVENTS}`);
    }
    return samples;
  },
};

const METRICS: Metric[] = [
  claimLatency,
  pageMetric('GET /v1/tasks first page', () => '/v1/tasks?limit=20'),
  pageMetric('GET /v1/tasks deep cursor page', (s, ctx) => `/v1/tasks?limit=20&cursor=${ctx.deepCursor.get(s)}`),
  sseReplay,
  drainDeliveries,
  // Last: it leaves thousands of queued tasks behind (no worker runs).
  createTasks,
];

// ---- the run ----

interface Measured {
  metric: Metric;
  empty: number;
  seeded: number;
}

async function measureAll(pair: [BenchStore, BenchStore], ctx: Context, rounds: number): Promise<Measured[]> {
  const out: Measured[] = [];
  for (const metric of METRICS) {
    const samples = new Map<BenchStore, number[]>(pair.map((s) => [s, []]));
    for (const s of pair) await metric.round(s, ctx); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 ? [pair[1], pair[0]] : pair) samples.get(s)!.push(...(await metric.round(s, ctx)));
    }
    out.push({ metric, empty: median(samples.get(pair[0])!), seeded: median(samples.get(pair[1])!) });
    process.stdout.write(`  ${metric.name}: ${out.at(-1)!.empty.toFixed(2)} / ${out.at(-1)!.seeded.toFixed(2)} ${metric.unit}\n`);
  }
  return out;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const count = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(n % 1e6 ? 1 : 0)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : String(n));

function describeSize(s: SizeReport): string {
  if (s.pages === undefined) return mb(s.bytes);
  return `${mb(s.bytes)} (${s.pages} pages, ${s.freePages} free; WAL ${mb(s.walBytes ?? 0)})`;
}

async function growthOn(kind: Kind, opts: GrowthOptions, receiverUrl: string): Promise<void> {
  const now = Date.now();
  const overrides = { dispatcherConcurrency: 64, endpointConcurrency: 64 };
  const empty = await BenchStore.create(kind, overrides);
  const seeded = await BenchStore.create(kind, overrides);
  const guard = new UrlGuard({ allowHttp: true, allowLoopback: true, allowCidrs: [], ...loopbackOnly });
  const agent = new Agent({ connections: 4 });
  try {
    const seeds: Array<[string, SeedReport, number]> = [];
    const ctx: Context = { quick: opts.quick, receiverUrl, guard, agent, replayTask: new Map(), deepCursor: new Map(), payload: '' };
    for (const [s, tasks, days] of [[empty, EMPTY_TASKS, 1], [seeded, opts.tasks, opts.days]] as const) {
      const replay = { tenantId: s.tenants.acme.id, taskId: historyId('task', now - (days * DAY_MS) / 3), at: now - (days * DAY_MS) / 3, events: REPLAY_EVENTS };
      ctx.replayTask.set(s, replay.taskId);
      // 90 % of the way back into the tenant's history.
      ctx.deepCursor.set(s, historyId('task', now - days * DAY_MS * 0.9).replace(/.{16}$/, '0'.repeat(16)));
      process.stdout.write(`seeding ${kind} with ${count(tasks)} tasks over ${days} day(s)…\n`);
      seeds.push([`${count(tasks)} tasks, ${days} day(s)`, await s.seed({ tasks, days, now }, replay), (await s.size()).bytes]);
    }
    ctx.payload = history({ tasks: 1, days: 1, now, tenants: empty.historyTenants() }).next().value!.events.at(-1)![4] as string;
    table(`Growth, ${kind}: seeding (straight into the database)`, seeds.map(([what, r, bytes]) => ({
      store: what,
      rows: r.rows,
      'seconds': r.seconds.toFixed(1),
      'rows/s': Math.round(r.rows / r.seconds),
      ...(r.vacuumSeconds !== undefined ? { 'of which VACUUM ANALYZE s': r.vacuumSeconds.toFixed(1) } : {}),
      size: mb(bytes),
    })));
    // No queue cap: the create load leaves its tasks queued (no worker), and counting a growing
    // queue on each create would measure the queue, not the history.
    await Promise.all([empty.startApi({ HOOKWAVE_TENANT_MAX_QUEUED: '0' }), seeded.startApi({ HOOKWAVE_TENANT_MAX_QUEUED: '0' })]);
    const rounds = opts.quick ? 3 : 5;
    const t0 = performance.now();
    const results = await measureAll([empty, seeded], ctx, rounds);
    const label = `seeded (${count(opts.tasks)})`;
    table(`Growth, ${kind}: a new store (1 day, ${count(EMPTY_TASKS)} tasks) against one with ${count(opts.tasks)} tasks over ${opts.days} days; median of ${rounds} alternating rounds (${((performance.now() - t0) / 1000).toFixed(0)} s)`, [
      ...results.map(({ metric, empty: e, seeded: x }) => {
        const ratio = x / e;
        const met = metric.goal.kind === 'throughput' ? ratio >= metric.goal.min : ratio <= metric.goal.max;
        return {
          metric: `${metric.name} (${metric.unit})`,
          empty: e,
          [label]: x,
          ratio: `${ratio.toFixed(2)}×`,
          goal: metric.goal.kind === 'throughput' ? `≥ ${metric.goal.min}×` : `≤ ${metric.goal.max}×`,
          met: met ? 'yes' : 'NO',
        };
      }),
    ]);
    console.log(`\nsizes: empty ${describeSize(await empty.size())}; seeded ${describeSize(await seeded.size())}`);
    console.log('pruning rate and size after pruning: pending (the row pruner has not landed)');
  } finally {
    await agent.close();
    await guard.close();
    await empty.close();
    await seeded.close();
  }
}

export async function benchGrowth(opts: GrowthOptions): Promise<void> {
  let stores = opts.stores;
  if (stores.includes('postgres')) {
    try {
      await freshDatabase('postgres').drop();
    } catch {
      console.log(`\n(growth: no PostgreSQL at ${testDatabaseUrl}; SQLite only)`);
      stores = stores.filter((k) => k !== 'postgres');
    }
  }
  const receiver: ServiceProcess = await spawnScript(path.join(here, 'receiver.ts'), [], {});
  try {
    for (const kind of stores) await growthOn(kind, opts, receiver.url);
  } finally {
    receiver.child.kill('SIGTERM');
    await receiver.exited;
  }
}

export function growthOptions(argv: string[], quick: boolean): GrowthOptions {
  const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const tasks = Number(flag('tasks') ?? 2_000_000);
  const days = Number(flag('days') ?? 60);
  if (!Number.isInteger(tasks) || tasks < EMPTY_TASKS) throw new Error(`--tasks must be a whole number ≥ ${EMPTY_TASKS}`);
  if (!(days >= 2)) throw new Error('--days must be at least 2');
  const stores = (flag('stores') ?? 'sqlite,postgres').split(',') as Kind[];
  if (stores.some((k) => k !== 'sqlite' && k !== 'postgres')) throw new Error('--stores is a list of sqlite and postgres');
  return { quick, tasks, days, stores };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchGrowth(growthOptions(process.argv, process.argv.includes('--quick')));
}
