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
 * Then row retention: one pass of the pruner (services/row-pruner.ts) at its defaults over the
 * seeded store, timed (rows/s), with the database's size before and after, against the steady
 * state: a store seeded with only the last 30 days (what retention keeps) and pruned alike, so
 * both hold tombstones of tasks older than 7 days. Goal: after pruning within 10 % of it. SQLite
 * sizes are the file after a WAL checkpoint; PostgreSQL's are the schema's tables with indexes and
 * TOAST after a VACUUM (ANALYZE), autovacuum's part.
 *
 * Run with `npm run bench -- --only=growth [--tasks=200000] [--days=60] [--stores=sqlite,postgres]
 * [--rounds=10] [--metrics=claim,first-page,deep-page,sse,drain,metrics,create] [--no-prune] [--quick]`, or
 * `tsx bench/growth.ts …`.
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
import { DAY_MS, history, historyCursor, historyId } from './growth/history.js';
import { RowPruner, type PruneCounts } from '../src/services/row-pruner.js';
import { medianRound, table } from './table.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface GrowthOptions {
  quick: boolean;
  tasks: number;
  days: number;
  stores: Kind[];
  /** Rounds per figure, an even number (default 10, 6 with --quick). */
  rounds: number;
  /** Which figures (Metric.key); all by default. */
  metrics: string[] | null;
  /** Row retention and the steady state too (default; `--no-prune` skips them). */
  prune: boolean;
}

/** The new store's day of traffic: enough for full pages and a deep cursor. */
const EMPTY_TASKS = 1000;
const REPLAY_EVENTS = 10;

type Goal = { kind: 'throughput'; min: number } | { kind: 'latency'; max: number };

interface Metric {
  /** For --metrics=… */
  key: string;
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
  key: 'create',
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
  key: 'drain',
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
  key: 'claim',
  name: 'claim (a queued target)',
  unit: 'ms',
  goal: { kind: 'latency', max: 1.2 },
  async round(s, ctx) {
    const { store, config } = s;
    // globex's, so acme's first page (listed below) stays its history, not these.
    const tenantId = s.tenants.globex.id;
    const samples: number[] = [];
    for (let i = 0; i < (ctx.quick ? 30 : 60); i++) {
      const now = Date.now();
      const task: TaskRow = {
        id: newId('task'), tenant_id: tenantId, kind: 'extract', status: 'queued', title: null, input: { url: 'https://media.example.com/song.wav' }, params: {},
        metadata: null, webhook_url: null, webhook_events: null, idempotency_key: null, request_hash: null, batch_id: null, cost: null, error: null,
        created_at: now, updated_at: now, completed_at: null, deadline_at: null, deleted_at: null, pruned_at: null,
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

/** Size of the last page each store answered (pages of old tasks differ from new ones: files gone, tombstones). */
const pageBytes = new Map<string, number>();

function pageMetric(key: string, name: string, query: (s: BenchStore, ctx: Context) => string): Metric {
  return {
    key,
    name,
    unit: 'ms',
    goal: { kind: 'latency', max: 1.2 },
    async round(s, ctx) {
      const samples: number[] = [];
      for (let i = 0; i < (ctx.quick ? 20 : 40); i++) {
        let count = 0;
        let bytes = 0;
        samples.push(await timed(async () => {
          const text = await get(ctx, s, query(s, ctx));
          bytes = text.length;
          count = (JSON.parse(text) as { data: unknown[] }).data.length;
        }));
        if (count !== 20) throw new Error(`${name}: a page of ${count} tasks, not 20`);
        pageBytes.set(`${name} ${s.kind} ${s === [...ctx.replayTask.keys()][0] ? 'empty' : 'seeded'}`, bytes);
      }
      return samples;
    },
  };
}

const sseReplay: Metric = {
  key: 'sse',
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

/** A Prometheus scrape: its gauges count tasks by status and kind. */
const scrapeMetrics: Metric = {
  key: 'metrics',
  name: 'GET /metrics',
  unit: 'ms',
  goal: { kind: 'latency', max: 1.2 },
  async round(s, ctx) {
    const samples: number[] = [];
    for (let i = 0; i < (ctx.quick ? 5 : 10); i++) {
      samples.push(await timed(async () => {
        const res = await request(`${s.api!.url}/metrics`, { dispatcher: ctx.agent });
        await res.body.text();
        if (res.statusCode !== 200) throw new Error(`GET /metrics answered ${res.statusCode}`);
      }));
    }
    return samples;
  },
};

const METRICS: Metric[] = [
  claimLatency,
  pageMetric('first-page', 'GET /v1/tasks first page', () => '/v1/tasks?limit=20'),
  pageMetric('deep-page', 'GET /v1/tasks deep cursor page', (s, ctx) => `/v1/tasks?limit=20&cursor=${ctx.deepCursor.get(s)}`),
  sseReplay,
  drainDeliveries,
  scrapeMetrics,
];

// ---- the run ----

interface Measured {
  metric: Metric;
  empty: number;
  seeded: number;
  /** seeded / empty in each pair of rounds, in the order run. */
  ratios: number[];
}

/**
 * Rounds alternate the two stores, and which goes first alternates too: on this machine the one
 * that goes second in a round is often faster (by up to 2× for the drain), so rounds are taken in
 * pairs, one of each order, and a pair's figure for a store is the geometric mean of its two. The
 * ratio is taken within each pair, since the machine's noise (CPU steal from neighbours) comes in
 * spells that hit both sides of a pair alike far more than pairs a minute apart; the pair with the
 * median ratio is the one shown.
 */
async function measureAll(pair: [BenchStore, BenchStore], ctx: Context, rounds: number, metrics: Metric[]): Promise<Measured[]> {
  const out: Measured[] = [];
  for (const metric of metrics) {
    for (const s of pair) await metric.round(s, ctx); // warm-up
    const values: Array<[number, number]> = [];
    for (let r = 0; r < rounds; r++) {
      const got = new Map<BenchStore, number>();
      for (const s of r % 2 ? [pair[1], pair[0]] : pair) got.set(s, median(await metric.round(s, ctx)));
      values.push([got.get(pair[0])!, got.get(pair[1])!]);
    }
    const pairs: Array<[number, number]> = [];
    for (let r = 0; r + 1 < rounds; r += 2) pairs.push([Math.sqrt(values[r]![0] * values[r + 1]![0]), Math.sqrt(values[r]![1] * values[r + 1]![1])]);
    const ratios = pairs.map(([e, x]) => x / e);
    const [e, x] = pairs[medianRound(ratios)]!;
    out.push({ metric, empty: e, seeded: x, ratios });
    process.stdout.write(
      `  ${metric.name}: ${e.toFixed(2)} / ${x.toFixed(2)} ${metric.unit}; ratio per round ${values.map(([a, b]) => (b / a).toFixed(2)).join(' ')}, per pair ${ratios.map((q) => q.toFixed(2)).join(' ')}\n`,
    );
  }
  return out;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const count = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(n % 1e6 ? 1 : 0)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : String(n));

function describeSize(s: SizeReport): string {
  if (s.pages === undefined) return mb(s.bytes);
  return `${mb(s.bytes)} (${s.pages} pages, ${s.freePages} free)`;
}

/** Batches the pruning rate is sampled over: the pass as the service runs it (500 rows a batch, rests between). */
const SAMPLE_BATCHES = 200;
/** The rest of the pass, for the sizes afterwards: bigger batches, no rests (a benchmark, not a live service). */
const FAST_BATCH = 5000;
/** The pruner's reserve of free pages (row-pruner.ts KEEP_FREE_FRACTION). */
const KEEP_FREE = 0.1;
const RECLAIM_STEP = 8192;
/**
 * SQLite gives pages back at about 10 MB/s here (every page moved to fill a hole updates its
 * pointer map), so after a first prune of millions of tasks that takes tens of minutes; the
 * benchmark gives it this long and computes the size it ends at from the page counts.
 */
const RECLAIM_LIMIT_MS = 120_000;

interface Pruned {
  /** The sample: rows the service's own pass removed in SAMPLE_BATCHES batches, and its seconds. */
  sampleRows: number;
  sampleSeconds: number;
  /** The whole pass (sample included) by kind. */
  counts: PruneCounts;
  restSeconds: number;
  /** SQLite: pages given back (free pages beyond a tenth of the file, as the pruner leaves it), and seconds. */
  reclaimedPages: number;
  reclaimSeconds: number;
  /** false: stopped at RECLAIM_LIMIT_MS, the size after is computed (sizeOnceReclaimed). */
  reclaimDone: boolean;
}

/**
 * Row retention at its defaults (30 d events and deliveries, tasks to tombstones after 7 d) at
 * `now`: a sample of RowPruner's own pass for the rate, then the rest of the pass with the same
 * store operations in big batches without rests, then (SQLite) the free pages beyond a tenth of
 * the file given back, as the pruner does after a pass, in big steps.
 */
async function prune(s: BenchStore, now: number, sample: boolean): Promise<Pruned> {
  const { config, store } = s;
  const retention = { eventMs: config.eventRetentionMs, deliveryMs: config.deliveryRetentionMs, taskMs: config.taskRetentionMs };
  const counts: PruneCounts = { events: 0, deliveries: 0, attempts: 0, tasks: 0 };
  let sampleRows = 0;
  let sampleSeconds = 0;
  if (sample) {
    // keepFreeFraction 1: no space given back in the sample (it is done below, once).
    const pruner = new RowPruner({ store, logger: createLogger('warn'), retention, keepFreeFraction: 1 });
    const t0 = performance.now();
    const r = await pruner.pass(now, { maxBatches: SAMPLE_BATCHES });
    sampleSeconds = (performance.now() - t0) / 1000;
    for (const k of ['events', 'deliveries', 'attempts', 'tasks'] as const) counts[k] += r[k];
    sampleRows = r.events + r.deliveries + r.attempts + r.tasks;
  }
  const t1 = performance.now();
  // In the pruner's order: deliveries, then the events no delivery refers to, then tasks.
  const walk = async (step: (after: string | null) => Promise<string | null>) => {
    let after: string | null = null;
    do after = await step(after);
    while (after !== null);
  };
  await walk(async (after) => {
    const r = await store.tx((tx) => tx.pruneDeliveries(now - retention.deliveryMs, after, FAST_BATCH));
    counts.deliveries += r.deliveries;
    counts.attempts += r.attempts;
    return r.next;
  });
  await walk(async (after) => {
    const r = await store.tx((tx) => tx.pruneEvents(now - retention.eventMs, after, FAST_BATCH));
    counts.events += r.events;
    return r.next;
  });
  await walk(async (after) => {
    const r = await store.tx((tx) => tx.pruneTasks(now - retention.taskMs, now, after, FAST_BATCH));
    counts.tasks += r.tasks;
    return r.next;
  });
  const restSeconds = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  let reclaimedPages = 0;
  let reclaimDone = false;
  while (performance.now() - t2 < RECLAIM_LIMIT_MS) {
    const step = await store.reclaimSpace(RECLAIM_STEP, KEEP_FREE);
    reclaimedPages += step.released;
    if (step.released === 0 || step.left === 0) {
      reclaimDone = true;
      break;
    }
  }
  return { sampleRows, sampleSeconds, counts, restSeconds, reclaimedPages, reclaimSeconds: (performance.now() - t2) / 1000, reclaimDone };
}

/**
 * SQLite: the file's size once every free page beyond the reserve is given back, from its page
 * counts (what reclaimSpace does, step after step, until free ≤ KEEP_FREE of the file).
 */
function sizeOnceReclaimed(s: SizeReport): SizeReport {
  if (s.pages === undefined || s.freePages === undefined) return s;
  const give = Math.max(0, Math.ceil((s.freePages - s.pages * KEEP_FREE) / (1 - KEEP_FREE)));
  const pageSize = (s.bytes - (s.walBytes ?? 0)) / s.pages;
  return { ...s, bytes: (s.pages - give) * pageSize + (s.walBytes ?? 0), pages: s.pages - give, freePages: s.freePages - give };
}

/** API processes keep every row: their own pruner would start on the history in the middle of a measurement. */
const API_ENV = {
  // No queue cap: the create load leaves its tasks queued (no worker), and counting a growing
  // queue on each create would measure the queue, not the history.
  HOOKWAVE_TENANT_MAX_QUEUED: '0',
  HOOKWAVE_EVENT_RETENTION: 'off',
  HOOKWAVE_DELIVERY_RETENTION: 'off',
  HOOKWAVE_TASK_RETENTION: 'off',
};

async function growthOn(kind: Kind, opts: GrowthOptions, receiverUrl: string): Promise<void> {
  const now = Date.now();
  const overrides = { dispatcherConcurrency: 64, endpointConcurrency: 64 };
  const guard = new UrlGuard({ allowHttp: true, allowLoopback: true, allowCidrs: [], ...loopbackOnly });
  const agent = new Agent({ connections: 4 });
  const label = `seeded (${count(opts.tasks)})`;
  const stores: BenchStore[] = [];
  const seedRow = (what: string, r: SeedReport, size: SizeReport) => ({
    store: what,
    rows: r.rows,
    seconds: r.seconds.toFixed(1),
    'rows/s': Math.round(r.rows / r.seconds),
    ...(r.vacuumSeconds !== undefined ? { 'of which VACUUM ANALYZE s': r.vacuumSeconds.toFixed(1) } : {}),
    size: mb(size.bytes),
  });
  try {
    const empty = await BenchStore.create(kind, overrides);
    stores.push(empty);
    const seeded = await BenchStore.create(kind, overrides);
    stores.push(seeded);
    const ctx: Context = { quick: opts.quick, receiverUrl, guard, agent, replayTask: new Map(), deepCursor: new Map(), payload: '' };
    const seeds: Array<ReturnType<typeof seedRow>> = [];
    for (const [s, tasks, days] of [[empty, EMPTY_TASKS, 1], [seeded, opts.tasks, opts.days]] as const) {
      // The replayed task sits a third of the way back. The deep cursor: 90 % of the way back in
      // the new store, 5 days back (thousands of pages) in the seeded one, where tasks are still
      // whole (their files are kept 7 days) and their shapes the same as the new store's page.
      const replay = { tenantId: s.tenants.acme.id, taskId: historyId('task', now - (days * DAY_MS) / 3), at: now - (days * DAY_MS) / 3, events: REPLAY_EVENTS };
      ctx.replayTask.set(s, replay.taskId);
      ctx.deepCursor.set(s, historyCursor({ tasks, days, now }, s === empty ? 0.9 * DAY_MS : Math.min(5, 0.9 * days) * DAY_MS, 900));
      process.stdout.write(`seeding ${kind} with ${count(tasks)} tasks over ${days} day(s)…\n`);
      const r = await s.seed({ tasks, days, now }, replay);
      seeds.push(seedRow(`${count(tasks)} tasks over ${days} day(s)`, r, await s.size()));
    }
    ctx.payload = history({ tasks: 1, days: 1, now, tenants: empty.historyTenants() }).next().value!.events.at(-1)![4] as string;
    table(`Growth, ${kind}: seeding, straight into the database`, seeds);

    await Promise.all([empty.startApi(API_ENV), seeded.startApi(API_ENV)]);
    const { rounds } = opts;
    const wanted = (m: Metric) => !opts.metrics || opts.metrics.includes(m.key);
    const t0 = performance.now();
    const measuresStart = Date.now();
    const results = await measureAll([empty, seeded], ctx, rounds, METRICS.filter(wanted));
    console.log(`page sizes: ${[...pageBytes].map(([k, v]) => `${k} ${(v / 1024).toFixed(1)} KB`).join('; ')}`);
    // Last: the create load leaves thousands of queued tasks (no worker runs). Like every row the
    // measurements made, they are deleted again below, so the sizes compare history with history.
    results.push(...(await measureAll([empty, seeded], ctx, rounds, [createTasks].filter(wanted))));
    table(`Growth, ${kind}: a new store (1 day, ${count(EMPTY_TASKS)} tasks) against one with ${count(opts.tasks)} tasks over ${opts.days} days; median of ${rounds / 2} pairs of rounds (${((performance.now() - t0) / 1000).toFixed(0)} s)`, [
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

    if (!opts.prune) return;
    // Pruning: the seeded store, then a store of only the last 30 days pruned alike (what retention keeps).
    await empty.close();
    stores.splice(stores.indexOf(empty), 1);
    await seeded.stopApi();
    const removed = await seeded.deleteRowsFrom(measuresStart);
    const before = await seeded.size();
    process.stdout.write(`pruning the ${kind} store of ${count(opts.tasks)} tasks (${mb(before.bytes)})…\n`);
    const pruned = await prune(seeded, now, true);
    const vacuumSeconds = await seeded.vacuumLikeAutovacuum();
    const afterMeasured = await seeded.size();
    const after = pruned.reclaimDone ? afterMeasured : sizeOnceReclaimed(afterMeasured);
    // PostgreSQL keeps its files (the space is reused by the next inserts): what the kept rows
    // take, which is what retention bounds, is the size once rewritten by VACUUM FULL.
    const compactSeconds = await seeded.compact();
    const afterCompacted = kind === 'postgres' ? await seeded.size() : null;
    // The seeded store goes before the steady one is made: disk.
    await seeded.close();
    stores.splice(stores.indexOf(seeded), 1);

    const retainedDays = Math.round(seeded.config.deliveryRetentionMs / DAY_MS);
    const steadyTasks = Math.round((opts.tasks * retainedDays) / opts.days);
    const steady = await BenchStore.create(kind, overrides);
    stores.push(steady);
    process.stdout.write(`seeding ${kind} with the last ${retainedDays} days only (${count(steadyTasks)} tasks)…\n`);
    const steadySeed = await steady.seed({ tasks: steadyTasks, days: retainedDays, now });
    const steadyBefore = await steady.size();
    const steadyPruned = await prune(steady, now, false);
    await steady.vacuumLikeAutovacuum();
    const steadyAfterMeasured = await steady.size();
    const steadyAfter = steadyPruned.reclaimDone ? steadyAfterMeasured : sizeOnceReclaimed(steadyAfterMeasured);
    table(`Growth, ${kind}: seeding the steady state`, [seedRow(`${count(steadyTasks)} tasks over ${retainedDays} days`, steadySeed, steadyBefore)]);

    const fmtPass = (p: Pruned) =>
      `${p.counts.deliveries} deliveries, ${p.counts.attempts} attempts, ${p.counts.events} events, ${p.counts.tasks} tasks to tombstones` +
      `${p.sampleSeconds ? ` (${p.sampleRows} rows in the sample, ${p.sampleSeconds.toFixed(1)} s)` : ''}; the rest in ${p.restSeconds.toFixed(1)} s` +
      `${p.reclaimedPages ? `; ${p.reclaimedPages} pages given back in ${p.reclaimSeconds.toFixed(1)} s${p.reclaimDone ? '' : ` (stopped there: ${Math.round(p.reclaimedPages / p.reclaimSeconds)} pages/s; the size after is where the rest would end, from the page counts)`}` : ''}`;
    const prunedRows = (p: Pruned) => p.counts.deliveries + p.counts.attempts + p.counts.events + p.counts.tasks;
    const steadyLabel = `steady state (${retainedDays} d)`;
    const sizeRow = (metric: string, a: SizeReport, b: SizeReport, goal: boolean | string) => {
      const ratio = b.bytes / a.bytes;
      return {
        metric,
        [steadyLabel]: (a.bytes / 1e6).toFixed(1),
        [label]: (b.bytes / 1e6).toFixed(1),
        ratio: `${ratio.toFixed(2)}×`,
        goal: goal === true ? '≤ 1.1×' : '',
        met: goal === true ? (ratio <= 1.1 ? 'yes' : 'NO') : goal === false ? '' : goal,
      };
    };
    const rows = [
      { metric: `pruning, as the service runs it (rows/s; ${SAMPLE_BATCHES} batches of 500, rests included)`, [steadyLabel]: '', [label]: Math.round(pruned.sampleRows / pruned.sampleSeconds), ratio: '', goal: '', met: '' },
      { metric: `pruning, the rest without rests (rows/s; batches of ${FAST_BATCH})`, [steadyLabel]: Math.round(prunedRows(steadyPruned) / steadyPruned.restSeconds), [label]: prunedRows(pruned) > pruned.sampleRows ? Math.round((prunedRows(pruned) - pruned.sampleRows) / pruned.restSeconds) : 'none left', ratio: '', goal: '', met: '' },
      sizeRow('database size before pruning (MB)', steadyBefore, before, false),
      sizeRow(`database size after pruning (MB${pruned.reclaimDone && steadyPruned.reclaimDone ? '' : ', free pages beyond 10 % given back: part computed'})`, steadyAfter, after, kind === 'sqlite' ? true : 'n/a: files kept for reuse'),
    ];
    let compacted = '';
    if (afterCompacted) {
      const seconds = compactSeconds + (await steady.compact());
      rows.push(sizeRow('after pruning, compacted by VACUUM FULL (MB)', await steady.size(), afterCompacted, true));
      compacted = ` (VACUUM FULL of both: ${seconds.toFixed(0)} s)`;
    }
    table(`Growth, ${kind}: row retention (one pass at the defaults: deliveries and events 30 d, tasks 7 d)${compacted}`, rows);
    console.log(`\nseeded: ${fmtPass(pruned)}${vacuumSeconds ? `; VACUUM (ANALYZE) afterwards ${vacuumSeconds.toFixed(1)} s` : ''}`);
    console.log(`steady state: ${fmtPass(steadyPruned)}`);
    console.log(`sizes: seeded ${describeSize(before)} → ${describeSize(after)}; steady state ${describeSize(steadyBefore)} → ${describeSize(steadyAfter)}`);
    console.log(`(what the measurements added was deleted before: ${removed}; tombstones of every task older than 7 days stay in both)`);
    if (kind === 'postgres') console.log('(PostgreSQL keeps its files: pruned rows leave space that VACUUM makes reusable for the next inserts, not a smaller file, so the goal is judged on the compacted size; see docs/retention.md)');
  } finally {
    await agent.close();
    await guard.close();
    for (const s of stores) await s.close();
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
  // An odd number of pairs, so the median pair is one of them.
  const rounds = Number(flag('rounds') ?? (quick ? 6 : 10));
  if (!(Number.isInteger(rounds) && rounds >= 2 && rounds % 2 === 0)) throw new Error('--rounds must be an even number ≥ 2 (rounds go in pairs, one of each order)');
  const metrics = flag('metrics')?.split(',') ?? null;
  const keys = [...METRICS, createTasks].map((m) => m.key);
  if (metrics?.some((m) => !keys.includes(m))) throw new Error(`--metrics is a list of ${keys.join(', ')}`);
  return { quick, tasks, days, stores, rounds, metrics, prune: !argv.includes('--no-prune') };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchGrowth(growthOptions(process.argv, process.argv.includes('--quick')));
}
