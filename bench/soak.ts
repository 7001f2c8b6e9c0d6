/**
 * Soak (issue 14.4): an hour of steady traffic against one hookwave process (`serve --dev`: API,
 * worker and dispatcher), to see that nothing creeps up. A bench mode, not a test: it prints what
 * it saw and judges the trend, it does not fail.
 *
 * The traffic: `--rate` tasks a second (default 1), a mix of extract (a 1 s tone from a loopback
 * file server to mp3) and generate (1 s), each with a webhook_url, plus an endpoint subscribed to
 * every event; the receiver answers 503 to 20 % of attempts, so retries run all along (schedule
 * 2 s, 10 s, 30 s). SSE clients come and go: four at a time, each following a recent task's
 * stream to its end or the tenant's stream for 5–30 s.
 *
 * Each minute: RSS and open descriptors of the hookwave process (/proc), its event-loop delay
 * (p99 and max over the minute, from its /metrics, which reset them at each scrape) and the
 * database's size. The verdict looks at the last half of the run (the last 30 minutes of an
 * hour): a least-squares slope across it larger than the noise (twice the residuals' spread) and
 * than 5 % of the level is an upward trend. The database grows with what it keeps (nothing is old
 * enough to prune within an hour); what it adds per task is compared between the two quarters.
 *
 * `npm run bench -- --only=soak [--minutes=60] [--rate=1] [--store=sqlite|postgres]`, or
 * `tsx bench/soak.ts …`; `--minutes=3` checks that it works.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Agent, request } from 'undici';
import pg from 'pg';
import { freshDatabase, testDatabaseUrl } from '../test/helpers/database.js';
import { startFileServer } from '../test/helpers/file-server.js';
import { makeTone } from '../test/helpers/media.js';
import { runCli, spawnScript, spawnService, type ServiceProcess } from '../test/helpers/process.js';
import { tempDir } from '../test/helpers/service.js';
import { table } from './table.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface SoakOptions {
  minutes: number;
  rate: number;
  store: 'sqlite' | 'postgres';
  /** Seconds between samples (60; shorter only to try the bench itself). */
  sampleSeconds: number;
}

interface Sample {
  minute: number;
  created: number;
  webhooks: number;
  failedAttempts: number;
  sseOpened: number;
  sseEvents: number;
  rssMb: number;
  fds: number;
  loopP99Ms: number;
  loopMaxMs: number;
  dbMb: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

const openFds = (pid: number): number => fs.readdirSync(`/proc/${pid}/fd`).length;

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Least-squares slope of ys over xs, and the spread of the residuals around the line. */
export function fit(xs: number[], ys: number[]): { slope: number; residualSd: number; mean: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const res = ys.map((y, i) => y - (my + slope * (xs[i]! - mx)));
  const residualSd = Math.sqrt(res.reduce((a, r) => a + r * r, 0) / Math.max(1, n - 2));
  return { slope, residualSd, mean: my };
}

export async function benchSoak(opts: SoakOptions): Promise<void> {
  const db = freshDatabase(opts.store);
  const dataDir = tempDir('hookwave-bench-soak-');
  const mediaDir = tempDir('hookwave-bench-soak-media-');
  const tone = path.basename(await makeTone(mediaDir, { seconds: 1, format: 'wav' }));
  const files = await startFileServer(mediaDir);
  const receiver = await spawnScript(path.join(here, 'receiver.ts'), ['--fail=0.2'], {});
  const env = {
    ...db.env,
    HOOKWAVE_DATA_DIR: dataDir,
    HOOKWAVE_RETRY_SCHEDULE_MS: '2000,10000,30000',
    HOOKWAVE_TENANT_MAX_QUEUED: '0',
  };
  const created = runCli(['keys', 'create', '--tenant', 'soak', '--json'], env);
  if (created.status !== 0) throw new Error(`keys create failed: ${created.stderr}`);
  const { key } = JSON.parse(created.stdout) as { key: string };
  let svc: ServiceProcess | null = await spawnService(['--dev'], env);
  const pid = svc.child.pid!;
  const agent = new Agent({ connections: 16 });
  const pgClient = opts.store === 'postgres' ? new pg.Client({ connectionString: testDatabaseUrl, options: `-c search_path=${db.schema}` }) : null;
  await pgClient?.connect();

  const call = async (method: string, p: string, body?: unknown): Promise<any> => {
    const res = await request(`${svc!.url}${p}`, {
      method: method as 'GET',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: agent,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${method} ${p} answered ${res.statusCode}: ${text.slice(0, 200)}`);
    return JSON.parse(text);
  };
  const dbBytes = async (): Promise<number> => {
    if (pgClient) {
      const r = await pgClient.query<{ bytes: string }>(
        `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = current_schema() AND c.relkind = 'r'`,
      );
      return Number(r.rows[0]!.bytes);
    }
    const file = path.join(dataDir, 'hookwave.db');
    return fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
  };

  const counts = { created: 0, createErrors: 0, sseOpened: 0, sseEvents: 0, sseErrors: 0 };
  const streams = new Set<AbortController>();
  const recent: string[] = [];
  let running = true;
  const stopAt = Date.now() + opts.minutes * 60_000;

  try {
    await call('POST', '/v1/endpoints', { url: `${receiver.url}/endpoint`, description: 'soak receiver' });

    // Tasks at a steady rate, whatever the answers take.
    const producer = (async () => {
      const every = 1000 / opts.rate;
      let next = Date.now();
      let n = 0;
      while (running && Date.now() < stopAt) {
        n++;
        const body =
          n % 5 < 3
            ? { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'mp3', bitrate: '128k' }], webhook_url: `${receiver.url}/hook`, metadata: { n } }
            : { kind: 'generate', params: { prompt: 'lofi, warm piano', duration: 1 }, targets: [{ format: 'wav' }], webhook_url: `${receiver.url}/hook`, metadata: { n } };
        void call('POST', '/v1/tasks', body).then(
          (r: { task_id: string }) => {
            counts.created++;
            recent.push(r.task_id);
            if (recent.length > 50) recent.shift();
          },
          () => counts.createErrors++,
        );
        next += every;
        await sleep(Math.max(0, next - Date.now()));
      }
    })();

    // SSE clients coming and going, four at a time.
    const sseClient = async () => {
      while (running && Date.now() < stopAt) {
        const taskId = recent[Math.floor(Math.random() * recent.length)];
        const onTask = taskId !== undefined && Math.random() < 0.6;
        const controller = new AbortController();
        streams.add(controller);
        const timer = setTimeout(() => controller.abort(), onTask ? 60_000 : 5000 + Math.random() * 25_000);
        try {
          const res = await request(`${svc!.url}${onTask ? `/v1/tasks/${taskId}/events` : '/v1/events'}`, { headers: { 'x-api-key': key }, dispatcher: agent, signal: controller.signal });
          counts.sseOpened++;
          for await (const chunk of res.body) counts.sseEvents += (String(chunk).match(/^id: /gm) ?? []).length;
        } catch (err) {
          if (!controller.signal.aborted) counts.sseErrors++;
        } finally {
          clearTimeout(timer);
          streams.delete(controller);
        }
        await sleep(200 + Math.random() * 1000);
      }
    };
    const clients = Array.from({ length: 4 }, () => sseClient());

    // One sample a minute.
    const samples: Sample[] = [];
    await call('GET', '/healthz');
    await request(`${svc.url}/metrics`, { dispatcher: agent }).then((r) => r.body.text()); // resets the loop-delay histogram
    const t0 = Date.now();
    let last = { created: 0, webhooks: 0, failed: 0, sseOpened: 0, sseEvents: 0 };
    process.stdout.write(`soak: ${opts.minutes} min on ${opts.store}, ${opts.rate} task/s; a row every ${opts.sampleSeconds} s\n`);
    while (Date.now() < stopAt) {
      await sleep(Math.min(opts.sampleSeconds * 1000, Math.max(0, stopAt - Date.now())));
      const metrics = await (await request(`${svc.url}/metrics`, { dispatcher: agent })).body.text();
      const rx = JSON.parse(await (await request(`${receiver.url}/count`, { dispatcher: agent })).body.text()) as { count: number; failed: number };
      const s: Sample = {
        minute: Math.round(((Date.now() - t0) / 60_000) * 10) / 10,
        created: counts.created - last.created,
        webhooks: rx.count - last.webhooks,
        failedAttempts: rx.failed - last.failed,
        sseOpened: counts.sseOpened - last.sseOpened,
        sseEvents: counts.sseEvents - last.sseEvents,
        rssMb: rssMb(pid),
        fds: openFds(pid),
        loopP99Ms: metric(metrics, 'nodejs_eventloop_lag_p99_seconds') * 1000,
        loopMaxMs: metric(metrics, 'nodejs_eventloop_lag_max_seconds') * 1000,
        dbMb: (await dbBytes()) / 1e6,
      };
      last = { created: counts.created, webhooks: rx.count, failed: rx.failed, sseOpened: counts.sseOpened, sseEvents: counts.sseEvents };
      samples.push(s);
      process.stdout.write(`  ${JSON.stringify(s)}\n`);
    }
    running = false;
    for (const c of streams) c.abort();
    await producer;
    await Promise.all(clients);

    table(`Soak: ${opts.minutes} min on ${opts.store}, ${opts.rate} task/s (60 % extract, 40 % generate), receiver failing 20 % of attempts, 4 SSE clients coming and going`, samples.map((s) => ({
      minute: s.minute,
      'tasks created': s.created,
      'webhook attempts': s.webhooks,
      'of which 503': s.failedAttempts,
      'SSE streams opened': s.sseOpened,
      'SSE events read': s.sseEvents,
      'RSS MB': s.rssMb.toFixed(1),
      'open fds': s.fds,
      'loop delay p99 ms': s.loopP99Ms.toFixed(1),
      'loop delay max ms': s.loopMaxMs.toFixed(1),
      'database MB': s.dbMb.toFixed(1),
    })));
    console.log(`create errors: ${counts.createErrors}; SSE errors: ${counts.sseErrors}`);

    // The trend over the last half of the run (the last 30 minutes of an hour).
    const tail = samples.slice(Math.floor(samples.length / 2));
    if (tail.length < 3) {
      console.log('trend: too few samples to judge (run longer than 5 sample intervals)');
      return;
    }
    const windowMin = tail.at(-1)!.minute - tail[0]!.minute;
    const series: Array<[string, (s: Sample) => number]> = [
      ['RSS MB', (s) => s.rssMb],
      ['open fds', (s) => s.fds],
      ['loop delay p99 ms', (s) => s.loopP99Ms],
    ];
    table(`Trend over the last ${windowMin.toFixed(0)} minutes (${tail.length} samples): upward when the rise along the fitted line exceeds both twice the residuals' spread and 5 % of the level`, series.map(([name, get]) => {
      const f = fit(tail.map((s) => s.minute), tail.map(get));
      const rise = f.slope * windowMin;
      const noise = Math.max(2 * f.residualSd, 0.05 * Math.abs(f.mean));
      return { series: name, mean: f.mean.toFixed(1), 'rise over the window': rise.toFixed(2), 'noise bound': noise.toFixed(2), trend: rise > noise ? 'UPWARD' : 'flat' };
    }));
    // Nothing is old enough to prune within an hour (retentions are a day or more, and an hour at
    // least): the database grows by what it keeps of each task, which should stay the same per task.
    const tasksInWindow = tail.slice(1).reduce((a, s) => a + s.created, 0);
    const grown = tail.at(-1)!.dbMb - tail[0]!.dbMb;
    const half = Math.floor(tail.length / 2);
    const perTask = (from: number, to: number) => {
      const created = tail.slice(from + 1, to + 1).reduce((a, s) => a + s.created, 0);
      return created > 0 ? ((tail[to]!.dbMb - tail[from]!.dbMb) * 1000) / created : NaN;
    };
    console.log(
      `database: +${grown.toFixed(1)} MB for ${tasksInWindow} tasks over the window, ${((grown * 1000) / Math.max(1, tasksInWindow)).toFixed(1)} KB a task ` +
        `(first half of the window ${perTask(0, half).toFixed(1)} KB, second ${perTask(half, tail.length - 1).toFixed(1)} KB); it grows with what is kept, nothing being old enough to prune within the run`,
    );
  } finally {
    running = false;
    await agent.close();
    await pgClient?.end();
    if (svc) {
      svc.child.kill('SIGTERM');
      await svc.exited;
      svc = null;
    }
    receiver.child.kill('SIGTERM');
    await receiver.exited;
    await files.close();
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(mediaDir, { recursive: true, force: true });
  }
}

export function soakOptions(argv: string[]): SoakOptions {
  const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const minutes = Number(flag('minutes') ?? 60);
  const rate = Number(flag('rate') ?? 1);
  const store = (flag('store') ?? 'sqlite') as SoakOptions['store'];
  const sampleSeconds = Number(flag('sample-seconds') ?? 60);
  if (!(minutes > 0)) throw new Error('--minutes must be a positive number');
  if (!(rate > 0 && rate <= 50)) throw new Error('--rate must be between 0 and 50 tasks a second');
  if (store !== 'sqlite' && store !== 'postgres') throw new Error('--store is sqlite or postgres');
  if (!(sampleSeconds >= 5)) throw new Error('--sample-seconds must be at least 5');
  return { minutes, rate, store, sampleSeconds };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await benchSoak(soakOptions(process.argv));
