/**
 * Scale-out: tasks/s with 1, 2 and 4 worker processes on one PostgreSQL database, and deliveries/s
 * with 1, 2 and 4 dispatcher processes, each next to SQLite in one process measured in the same run.
 *
 * Every process is the real CLI (`hookwave serve --role …`), started once. A row runs some of them
 * and pauses the rest with SIGSTOP (they are idle then, holding no lease), so rows can alternate
 * round after round and machine noise hits them alike, without paying process start-up each time.
 * Work arrives after the processes run, so the cross-process wake-up (NOTIFY on PostgreSQL, the
 * poll on SQLite) is part of what is measured.
 *
 * CPU is read from /proc: seconds used by the hookwave processes (with the ffmpeg runs they reaped),
 * by PostgreSQL, and by the helpers (input server or webhook receiver), per task or delivery. On a
 * small machine that is where the ceiling shows. Loopback only; every measurement is bounded.
 *
 * Run alone with `tsx bench/scale-out.ts [--quick] [--only=workers|deliveries]`, or from bench/run.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { loadConfig } from '../src/config.js';
import { createApiKey } from '../src/services/tenants.js';
import type { DeliveryRow, EventRow } from '../src/domain/types.js';
import { newId } from '../src/ids.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';
import { freshDatabase, testDatabaseUrl, type TestDatabase } from '../test/helpers/database.js';
import { startFileServer } from '../test/helpers/file-server.js';
import { makeTone } from '../test/helpers/media.js';
import { runCli, spawnScript, spawnService, type ServiceProcess } from '../test/helpers/process.js';
import { callApi, tempDir } from '../test/helpers/service.js';
import { medianBy, table } from './table.js';

type Kind = 'sqlite' | 'postgres';
type Section = 'workers' | 'deliveries';

const here = path.dirname(fileURLToPath(import.meta.url));
/** No measurement waits longer than this for its work to finish. */
const MEASURE_LIMIT_MS = 30_000;
const CLK_TCK = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- CPU accounting ----

/** CPU seconds a process used, with the children it reaped (ffmpeg runs count for their worker). */
function processCpu(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return ((f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0)) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** CPU seconds of the PostgreSQL backends serving one group (found by their application_name). */
async function postgresCpu(g: Group): Promise<number> {
  if (g.kind !== 'postgres') return 0;
  const rows = await g.db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [g.appName]);
  return rows.reduce((sum, r) => sum + processCpu(r.pid), 0);
}

/** Busy and total jiffies of the whole machine (everyone's work, not only ours). */
function machineCpu(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

interface CpuSample {
  machine: { busy: number; total: number };
  hookwave: number;
  postgres: number;
  helpers: number;
}

/** `helpers`: processes outside hookwave (the webhook receiver); this process counts there too (input server). */
async function sampleCpu(g: Group, helpers: ServiceProcess[] = []): Promise<CpuSample> {
  const postgres = await postgresCpu(g);
  const self = process.cpuUsage();
  return {
    machine: machineCpu(),
    hookwave: g.processes.reduce((sum, p) => sum + processCpu(p.child.pid), 0),
    postgres,
    helpers: (self.user + self.system) / 1e6 + helpers.reduce((sum, p) => sum + processCpu(p.child.pid), 0),
  };
}

interface Measured {
  rate: number;
  seconds: number;
  /** Machine CPU busy (0..1, everyone's), and CPU seconds this setup used, by part. */
  cpu: { busy: number; hookwave: number; postgres: number; helpers: number };
}

function measured(units: number, seconds: number, a: CpuSample, b: CpuSample): Measured {
  return {
    rate: units / seconds,
    seconds,
    cpu: {
      busy: (b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total),
      hookwave: b.hookwave - a.hookwave,
      postgres: b.postgres - a.postgres,
      helpers: b.helpers - a.helpers,
    },
  };
}

// ---- process groups ----

/** Processes on one fresh database (a PostgreSQL schema, or a SQLite data directory). */
class Group {
  readonly db: TestDatabase;
  readonly dataDir = tempDir('hookwave-bench-');
  readonly env: Record<string, string>;
  readonly processes: ServiceProcess[] = [];
  /** Tags this group's PostgreSQL connections, so their server processes' CPU can be read. */
  readonly appName = `hwbench_${Math.random().toString(36).slice(2, 10)}`;
  readonly databaseUrl: string | null;
  private sqlite: Database.Database | null = null;

  constructor(
    readonly kind: Kind,
    extraEnv: Record<string, string>,
  ) {
    this.db = freshDatabase(kind);
    this.databaseUrl = this.db.databaseUrl && `${this.db.databaseUrl}&application_name=${this.appName}`;
    const dbEnv = this.databaseUrl ? { DATABASE_URL: this.databaseUrl } : this.db.env;
    this.env = { ...dbEnv, HOOKWAVE_DATA_DIR: this.dataDir, HOOKWAVE_DEV: '1', HOOKWAVE_DATABASE_POOL_SIZE: '4', ...extraEnv };
  }

  async spawn(role: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
    const p = await spawnService(['--role', role], { ...this.env, ...env });
    this.processes.push(p);
    return p;
  }

  apiKey(): string {
    const created = runCli(['keys', 'create', '--tenant', 'bench', '--json'], this.env);
    if (created.status !== 0) throw new Error(`keys create failed: ${created.stderr}`);
    return (JSON.parse(created.stdout) as { key: string }).key;
  }

  openStore(): Promise<Store> {
    return openStore(loadConfig({ dataDir: this.dataDir, databaseUrl: this.databaseUrl, logLevel: 'warn' }, {}));
  }

  async count(sql: string): Promise<number> {
    if (this.kind === 'postgres') return (await this.db.query<{ n: number }>(`SELECT (${sql})::int AS n`))[0]!.n;
    this.sqlite ??= new Database(path.join(this.dataDir, 'hookwave.db'), { readonly: true, fileMustExist: true });
    return (this.sqlite.prepare(`SELECT (${sql}) AS n`).get() as { n: number }).n;
  }

  async waitForCount(sql: string, n: number): Promise<void> {
    const deadline = Date.now() + MEASURE_LIMIT_MS;
    for (;;) {
      const done = await this.count(sql);
      if (done >= n) return;
      if (Date.now() > deadline) {
        const tail = this.processes.flatMap((p) => p.logs.slice(-3)).join('\n');
        throw new Error(`only ${done} of ${n} done after ${MEASURE_LIMIT_MS} ms (${this.kind}); last log lines:\n${tail}`);
      }
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map((p) => {
        p.child.kill('SIGCONT');
        p.child.kill('SIGTERM');
        return p.exited;
      }),
    );
    this.sqlite?.close();
    await this.db.drop();
  }
}

/** Runs exactly `active` of `all`: the rest are paused (idle, so they hold nothing). */
async function runOnly(all: ServiceProcess[], active: ServiceProcess[]): Promise<void> {
  for (const p of all) p.child.kill(active.includes(p) ? 'SIGCONT' : 'SIGSTOP');
  await sleep(200);
}

interface Row<G> {
  label: string;
  group: G;
  active: ServiceProcess[];
}

async function alternate<G>(rows: Array<Row<G>>, rounds: number, all: ServiceProcess[], measure: (row: Row<G>) => Promise<Measured>): Promise<Measured[]> {
  const runs: Measured[][] = rows.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, row] of rows.entries()) {
      await runOnly(all, row.active);
      runs[i]!.push(await measure(row));
    }
  }
  return runs.map((r) => medianBy(r, (m) => m.rate));
}

const pctOf = (x: number) => `${Math.round(x * 100)} %`;
const cores = (m: Measured) => ((m.cpu.hookwave + m.cpu.postgres + m.cpu.helpers) / m.seconds).toFixed(2);

// ---- workers ----

async function benchWorkers(quick: boolean): Promise<void> {
  const n = quick ? 12 : 24;
  const rounds = quick ? 1 : 3;
  const mediaDir = tempDir('hookwave-bench-media-');
  const tone = path.basename(await makeTone(mediaDir, { seconds: 0.5, format: 'wav' }));
  const files = await startFileServer(mediaDir);
  const body = { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'wav' }] };

  const sqlite1 = new Group('sqlite', { HOOKWAVE_WORKER_CONCURRENCY: '1' });
  const sqlite2 = new Group('sqlite', { HOOKWAVE_WORKER_CONCURRENCY: '2' });
  const pg = new Group('postgres', { HOOKWAVE_WORKER_CONCURRENCY: '1' });
  const groups = [sqlite1, sqlite2, pg];
  try {
    const keys = new Map(groups.map((g) => [g, g.apiKey()]));
    // SQLite: the embedded layout, API and worker in one process. PostgreSQL: one API process and
    // up to four worker processes, plus one that runs two targets at once.
    const [s1, s2, api, w1, w2, w3, w4, w2x] = await Promise.all([
      sqlite1.spawn('all'),
      sqlite2.spawn('all'),
      pg.spawn('api'),
      ...[1, 2, 3, 4].map(() => pg.spawn('worker')),
      pg.spawn('worker', { HOOKWAVE_WORKER_CONCURRENCY: '2' }),
    ]);
    const all = groups.flatMap((g) => g.processes);
    const rows: Array<Row<Group>> = [
      { label: 'SQLite, 1 process (API + worker)', group: sqlite1, active: [s1!] },
      { label: 'PostgreSQL, 1 worker process', group: pg, active: [api!, w1!] },
      { label: 'PostgreSQL, 2 worker processes', group: pg, active: [api!, w1!, w2!] },
      { label: 'PostgreSQL, 4 worker processes', group: pg, active: [api!, w1!, w2!, w3!, w4!] },
      { label: 'SQLite, 1 process, 2 targets at once', group: sqlite2, active: [s2!] },
      { label: 'PostgreSQL, 1 worker process, 2 targets at once', group: pg, active: [api!, w2x!] },
    ];
    const completed = "SELECT count(*) FROM tasks WHERE status = 'completed'";
    const submit = async (g: Group, apiProcess: ServiceProcess, count: number) => {
      let left = count;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (left > 0) {
            left--;
            const res = await callApi(apiProcess.url, keys.get(g)!, 'POST', '/v1/tasks', body);
            if (res.status !== 202) throw new Error(`POST /v1/tasks answered ${res.status}: ${JSON.stringify(res.body)}`);
          }
        }),
      );
    };
    const run = async (row: Row<Group>, count: number): Promise<Measured> => {
      const base = await row.group.count(completed);
      const before = await sampleCpu(row.group);
      const t0 = performance.now();
      await submit(row.group, row.active[0]!, count);
      await row.group.waitForCount(completed, base + count);
      const seconds = (performance.now() - t0) / 1000;
      return measured(count, seconds, before, await sampleCpu(row.group));
    };
    // Warm-up: every worker process runs ffmpeg a few times before the clock starts.
    for (const row of rows) {
      await runOnly(all, row.active);
      await run(row, 2 * row.active.length);
    }
    const results = await alternate(rows, rounds, all, (row) => run(row, n));
    const one = results[1]!.rate;
    table(`Extract tasks/s, 0.5 s wav → wav, ${n} tasks per row, median of ${rounds} alternating round(s); one target at a time per process unless noted`, [
      ...rows.map((row, i) => {
        const m = results[i]!;
        return {
          setup: row.label,
          'tasks/s': m.rate,
          'vs 1 PG worker': `${(m.rate / one).toFixed(2)}×`,
          'cores used': cores(m),
          'machine busy': pctOf(m.cpu.busy),
          'CPU ms/task hookwave+ffmpeg': (m.cpu.hookwave * 1000) / n,
          'CPU ms/task PostgreSQL': (m.cpu.postgres * 1000) / n,
          'CPU ms/task input server': (m.cpu.helpers * 1000) / n,
        };
      }),
    ]);
    console.log(`goal: 2 worker processes ≥ 1.7× one — measured ${(results[2]!.rate / one).toFixed(2)}× on ${os.availableParallelism()} cores`);
  } finally {
    await Promise.all(groups.map((g) => g.stop()));
    await files.close();
  }
}

// ---- dispatchers ----

function samplePayload(): string {
  const output = (f: string) => ({
    name: f,
    format: f,
    size: 123456,
    duration: 3.01,
    bitrate: 192000,
    sample_rate: 44100,
    channels: 2,
    url: `http://127.0.0.1:8080/v1/files/${newId('out')}/${f}.${f}?expires=1790000000&signature=${'x'.repeat(43)}`,
  });
  return JSON.stringify({
    type: 'task.completed',
    timestamp: new Date().toISOString(),
    data: { id: newId('task'), kind: 'extract', status: 'completed', targets: ['mp3', 'flac'].map((f) => ({ id: newId('tgt'), name: f, status: 'completed', outputs: [output(f)] })) },
  });
}

async function benchDispatchers(quick: boolean): Promise<void> {
  const n = quick ? 2000 : 5000;
  const rounds = quick ? 1 : 3;
  const receiver = await spawnScript(path.join(here, 'receiver.ts'), [], {});
  const hookUrl = `${receiver.url}/hook`;
  const common = {
    HOOKWAVE_DISPATCHER_CONCURRENCY: '64',
    // The per-receiver cap (default 8) would measure politeness, not throughput: one receiver here.
    HOOKWAVE_ENDPOINT_CONCURRENCY: '64',
  };
  // SQLite has no cross-process wake-up; its process finds the rows this one commits by polling.
  const sqlite = new Group('sqlite', { ...common, HOOKWAVE_POLL_INTERVAL_MS: '50' });
  const pg = new Group('postgres', common);
  const groups = [sqlite, pg];
  const stores = new Map<Group, Store>();
  try {
    for (const g of groups) stores.set(g, await g.openStore());
    const tenants = new Map<Group, string>();
    for (const g of groups) tenants.set(g, (await createApiKey(stores.get(g)!, 'bench')).tenant.id);
    // SQLite: one process in the embedded layout ("all"), like the tasks baseline.
    const [s, d1, d2, d3, d4] = await Promise.all([sqlite.spawn('all'), ...[1, 2, 3, 4].map(() => pg.spawn('dispatcher'))]);
    const all = groups.flatMap((g) => g.processes);
    const rows: Array<Row<Group>> = [
      { label: 'SQLite, 1 process', group: sqlite, active: [s!] },
      { label: 'PostgreSQL, 1 dispatcher process', group: pg, active: [d1!] },
      { label: 'PostgreSQL, 2 dispatcher processes', group: pg, active: [d1!, d2!] },
      { label: 'PostgreSQL, 4 dispatcher processes', group: pg, active: [d1!, d2!, d3!, d4!] },
    ];
    const body = samplePayload();
    const delivered = "SELECT count(*) FROM deliveries WHERE status = 'delivered'";
    const run = async (row: Row<Group>, count: number): Promise<Measured> => {
      const store = stores.get(row.group)!;
      const tenantId = tenants.get(row.group)!;
      const now = Date.now();
      const events: EventRow[] = Array.from({ length: count }, () => ({ id: newId('msg'), tenant_id: tenantId, task_id: null, type: 'task.completed', payload: body, created_at: now }));
      const deliveries: DeliveryRow[] = events.map((e) => ({
        id: newId('dlv'), event_id: e.id, tenant_id: tenantId, task_id: null, endpoint_id: null, url: hookUrl, status: 'pending',
        attempt_count: 0, next_attempt_at: now, last_error: null, last_status_code: null, created_at: now, updated_at: now, delivered_at: null,
      }));
      // Events first, untimed; the deliveries appear in one commit, which is when the clock starts.
      for (let i = 0; i < count; i += 1000) {
        await store.tx(async (tx) => {
          for (const e of events.slice(i, i + 1000)) await tx.insertEvent(e);
        });
      }
      const base = await row.group.count(delivered);
      const before = await sampleCpu(row.group, [receiver]);
      await store.tx(async (tx) => {
        await tx.insertDeliveries(deliveries);
        tx.notifyAfterCommit('deliveries');
      });
      const t0 = performance.now();
      await row.group.waitForCount(delivered, base + count);
      const seconds = (performance.now() - t0) / 1000;
      return measured(count, seconds, before, await sampleCpu(row.group, [receiver]));
    };
    for (const row of rows) {
      await runOnly(all, row.active);
      await run(row, 200);
    }
    const results = await alternate(rows, rounds, all, (row) => run(row, n));
    const base = results[0]!.rate;
    table(`Webhook deliveries/s, ${n} due deliveries committed at once, one receiver process, 64 in flight per dispatcher; median of ${rounds} alternating round(s)`, [
      ...rows.map((row, i) => {
        const m = results[i]!;
        return {
          setup: row.label,
          'deliveries/s': m.rate,
          'vs SQLite': `${(m.rate / base).toFixed(2)}×`,
          'cores used': cores(m),
          'machine busy': pctOf(m.cpu.busy),
          'CPU µs/delivery hookwave': (m.cpu.hookwave * 1e6) / n,
          'CPU µs/delivery PostgreSQL': (m.cpu.postgres * 1e6) / n,
          'CPU µs/delivery receiver': (m.cpu.helpers * 1e6) / n,
        };
      }),
    ]);
  } finally {
    for (const store of stores.values()) await store.close();
    await Promise.all(groups.map((g) => g.stop()));
    receiver.child.kill('SIGTERM');
    await receiver.exited;
  }
}

export async function benchScaleOut(opts: { quick: boolean; sections?: Section[] }): Promise<void> {
  try {
    await freshDatabase('postgres').drop();
  } catch {
    console.log(`\n### Scale-out\n\nskipped: no PostgreSQL at ${testDatabaseUrl} (set HOOKWAVE_TEST_DATABASE_URL)`);
    return;
  }
  const sections = opts.sections ?? ['workers', 'deliveries'];
  if (sections.includes('workers')) await benchWorkers(opts.quick);
  if (sections.includes('deliveries')) await benchDispatchers(opts.quick);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',') as Section[] | undefined;
  await benchScaleOut({ quick: process.argv.includes('--quick'), sections: only });
}
