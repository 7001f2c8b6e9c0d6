/**
 * Running hookwave in production: Prometheus metrics that tell how much work there is and how
 * webhooks fare, a readiness check that knows about migrations, and a SIGTERM that hands running
 * targets back at once instead of leaving them to a lease timeout.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { TaskRow } from '../src/domain/types.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics.js';
import { openStore } from '../src/store/open-store.js';
import { freshDatabase, testDatabaseUrl, usePostgres, type TestDatabase } from './helpers/database.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { runCli, spawnService } from './helpers/process.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { callApi, startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { readSse } from './helpers/sse.js';
import { until } from './helpers/until.js';

let files: FileServer;
let short: string;
let long: string;
const services: TestService[] = [];
const receivers: Receiver[] = [];
const databases: TestDatabase[] = [];

beforeAll(async () => {
  const dir = tempDir('hookwave-media-');
  short = path.basename(await makeTone(dir, { seconds: 1, format: 'wav' }));
  long = path.basename(await makeTone(dir, { seconds: 240, format: 'flac' }));
  files = await startFileServer(dir);
});
afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
  await Promise.all(receivers.map((r) => r.close()));
  for (const db of databases) await db.drop();
  await files.close();
});

async function service(overrides: Parameters<typeof startService>[0] = {}): Promise<TestService> {
  const s = await startService(overrides);
  services.push(s);
  return s;
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

async function scrape(svc: TestService): Promise<Sample[]> {
  const res = await fetch(`${svc.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples: Sample[] = [];
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample with this name whose labels include `labels` (0 when there is none). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value ?? 0;
}


describe('GET /metrics', () => {
  it('counts tasks, target runs, delivery attempts and outcomes, and delivery latency', async () => {
    const svc = await service({ retryScheduleMs: [100], retryJitter: 0 });
    const happy = await receiver();
    const broken = await receiver();
    broken.respond(() => ({ status: 500, body: 'nope' }));
    const ok = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'mp3' }, { format: 'wav' }], webhook_url: happy.url });
    const bad = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'ogg' }], webhook_url: broken.url });
    const failed = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url('status/404') }, targets: [{ format: 'ogg' }] });
    for (const t of [ok, bad, failed]) await waitForTask(svc, t.body.task_id);

    const m = await until('both deliveries to reach a final state', async () => {
      const s = await scrape(svc);
      return value(s, 'hookwave_deliveries_total', { outcome: 'delivered' }) === 1 && value(s, 'hookwave_deliveries_total', { outcome: 'failed' }) === 1 && s;
    });
    expect(value(m, 'hookwave_delivery_attempts_total', { outcome: 'success' })).toBe(1);
    expect(value(m, 'hookwave_delivery_attempts_total', { outcome: 'http_error' })).toBe(2);
    expect(value(m, 'hookwave_delivery_attempt_duration_seconds_count', { outcome: 'http_error' })).toBe(2);
    expect(value(m, 'hookwave_delivery_latency_seconds_count')).toBe(1);
    expect(value(m, 'hookwave_delivery_latency_seconds_sum')).toBeGreaterThan(0);
    expect(value(m, 'hookwave_target_duration_seconds_count', { kind: 'extract', outcome: 'completed' })).toBe(3);
    expect(value(m, 'hookwave_target_duration_seconds_count', { kind: 'extract', outcome: 'failed' })).toBe(1);
    expect(value(m, 'hookwave_info', { role: 'all', database: svc.hw.store.dialect })).toBe(1);
    expect(value(m, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(value(m, 'hookwave_tasks', { status: 'completed', kind: 'extract' })).toBe(2);
    expect(value(m, 'hookwave_tasks', { status: 'failed', kind: 'extract' })).toBe(1);
    expect(value(m, 'hookwave_targets', { status: 'queued' })).toBe(0);
    expect(value(m, 'hookwave_deliveries_due')).toBe(0);
    expect(value(m, 'hookwave_oldest_due_delivery_age_seconds')).toBe(0);
  });

  it('shows the work waiting: queued targets, due deliveries and how long the oldest has waited', async () => {
    // An API-only process: nothing runs targets or sends webhooks, so everything waits.
    const svc = await service({ role: 'api' });
    const rx = await receiver();
    const waiting = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'mp3' }, { format: 'wav' }], webhook_url: rx.url });
    const canceled = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'mp3' }], webhook_url: rx.url });
    expect(waiting.status).toBe(202);
    expect((await svc.api('POST', `/v1/tasks/${canceled.body.task_id}/cancel`)).status).toBe(200);

    const m = await until(
      'the task.canceled webhook to have waited a second',
      async () => {
        const m = await scrape(svc);
        return value(m, 'hookwave_oldest_due_delivery_age_seconds') >= 1 && m;
      },
      20_000,
      100,
    );
    expect(value(m, 'hookwave_tasks', { status: 'queued', kind: 'extract' })).toBe(1);
    expect(value(m, 'hookwave_tasks', { status: 'canceled', kind: 'extract' })).toBe(1);
    expect(value(m, 'hookwave_targets', { status: 'queued' })).toBe(2);
    expect(value(m, 'hookwave_targets', { status: 'processing' })).toBe(0);
    expect(value(m, 'hookwave_deliveries_due')).toBe(1); // the task.canceled webhook
    expect(value(m, 'hookwave_oldest_due_delivery_age_seconds')).toBeGreaterThanOrEqual(1);
    expect(value(m, 'hookwave_info', { role: 'api' })).toBe(1);
    expect(rx.received).toHaveLength(0);
  });
});

describe('metrics on a long history', () => {
  it('a process counts the ended tasks of months slice by slice, each once, and new ones as they end', async () => {
    const svc = await service({ role: 'api' });
    const store = svc.hw.store;
    const now = Date.now();
    const DAY = 86_400_000;
    await store.insertTenant({ id: 'ten_history', name: 'history', webhook_secret: 'whsec_history', created_at: now - 100 * DAY });
    const ended = (n: number, kind: string, status: 'completed' | 'failed' | 'canceled', completedAt: number): TaskRow => ({
      id: `tsk_hist_${kind}_${status}_${n}`, tenant_id: 'ten_history', kind, status, title: null, input: {}, params: {}, metadata: null, webhook_url: null,
      webhook_events: null, idempotency_key: null, request_hash: null, batch_id: null, cost: null, error: null,
      created_at: completedAt - 1000, updated_at: completedAt, completed_at: completedAt, deadline_at: null, deleted_at: null, pruned_at: null,
    });
    // 90 days of extracts, a burst of stems failures, and 40 generate tasks canceled in the same millisecond.
    for (let i = 0; i < 300; i++) await store.insertTask(ended(i, 'extract', 'completed', now - 90 * DAY + i * 7 * 3_600_000), []);
    for (let i = 0; i < 60; i++) await store.insertTask(ended(i, 'stems', 'failed', now - 3 * DAY + i * 1000), []);
    for (let i = 0; i < 40; i++) await store.insertTask(ended(i, 'generate', 'canceled', now - 2 * DAY), []);
    // Just ended: still counted afresh at each scrape.
    await store.insertTask(ended(0, 'extract', 'failed', now - 1000), []);

    // Slices of about 7 tasks: dozens of them, with spans from hours down to the one millisecond that holds 40.
    const metrics = new Metrics(store, createLogger('silent'), { version: 'test', role: 'api' }, { endedSliceRows: 7 });
    const count = async (status: string, kind: string) => {
      await metrics.refresh();
      const gauge = (await metrics.registry.getSingleMetric('hookwave_tasks')!.get()).values;
      return gauge.find((v) => v.labels.status === status && v.labels.kind === kind)?.value ?? 0;
    };
    expect(await count('completed', 'extract')).toBe(300);
    expect(await count('failed', 'stems')).toBe(60);
    expect(await count('canceled', 'generate')).toBe(40);
    expect(await count('failed', 'extract')).toBe(1);

    // The next scrape adds what ended since, and counts nothing twice.
    await store.insertTask(ended(60, 'stems', 'failed', Date.now()), []);
    expect(await count('failed', 'stems')).toBe(61);
    expect(await count('completed', 'extract')).toBe(300);
  });
});

describe('metrics of processes without the API', () => {
  it('a worker process serves its own /metrics on HOOKWAVE_METRICS_PORT', async () => {
    const api = await service({ role: 'api' });
    const worker = await spawnService(['--role', 'worker'], {
      ...(api.hw.config.databaseUrl ? { DATABASE_URL: api.hw.config.databaseUrl } : { DATABASE_URL: '', HOOKWAVE_DATABASE_URL: '' }),
      HOOKWAVE_DATA_DIR: api.dataDir,
      HOOKWAVE_DEV: '1',
      HOOKWAVE_POLL_INTERVAL_MS: '200',
      HOOKWAVE_METRICS_PORT: '0',
    });
    try {
      const started = worker.logs.map((l) => (l.startsWith('{') ? (JSON.parse(l) as { msg?: string; metrics_url?: string }) : {})).find((r) => r.msg === 'hookwave started')!;
      expect(started.metrics_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const created = await api.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'mp3' }] });
      expect((await waitForTask(api, created.body.task_id)).status).toBe('completed');

      const text = await (await fetch(started.metrics_url!)).text();
      expect(text).toMatch(/^hookwave_target_duration_seconds_count\{kind="extract",outcome="completed"\} 1$/m);
      expect(text).toMatch(/^hookwave_info\{version="[^"]+",role="worker",database="\w+"\} 1$/m);
      expect((await fetch(started.metrics_url!.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    }
  });
});

describe('GET /readyz', () => {
  it('is ready when the database answers and every migration is applied, and says so when one is not', async () => {
    const svc = await service();
    const ready = await fetch(`${svc.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ok: true, database: svc.hw.store.dialect, migrations: { applied: true, pending: 0 } });

    // As if this process ran newer code than the database has seen.
    await forgetLastMigration(svc);
    const behind = await fetch(`${svc.url}/readyz`);
    expect(behind.status).toBe(503);
    expect(await behind.json()).toMatchObject({ ok: false, migrations: { applied: false, pending: 1 }, error: { code: 'MIGRATIONS_PENDING' } });
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
  });
});

async function forgetLastMigration(svc: TestService): Promise<void> {
  const sql = 'DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)';
  if (!usePostgres) {
    const db = new Database(path.join(svc.dataDir, 'hookwave.db'));
    db.pragma('busy_timeout = 5000');
    db.prepare(sql).run();
    db.close();
    return;
  }
  const schema = new URL(svc.hw.config.databaseUrl!).searchParams.get('schema')!;
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${schema}`);
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('graceful shutdown', () => {
  it('on SIGTERM hands running targets back at once and exits 0; the next process finishes them without waiting for a lease', async () => {
    const db = freshDatabase();
    databases.push(db);
    const dataDir = tempDir();
    // A lease far longer than the test: only an explicit release can get the targets run again in time.
    const env = { ...db.env, HOOKWAVE_DATA_DIR: dataDir, HOOKWAVE_DEV: '1', HOOKWAVE_LEASE_MS: '300000', HOOKWAVE_HEARTBEAT_MS: '1000', HOOKWAVE_POLL_INTERVAL_MS: '200' };
    const { key } = JSON.parse(runCli(['keys', 'create', '--tenant', 'acme', '--json'], env).stdout) as { key: string };

    const first = await spawnService([], env);
    const created = await callApi(first.url, key, 'POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(long) }, targets: [{ format: 'mp3' }, { format: 'ogg' }] });
    const id = created.body.task_id as string;
    await until('a target to be running', async () => {
      const t = await callApi(first.url, key, 'GET', `/v1/tasks/${id}`);
      return t.body.targets.some((x: { status: string; progress: number }) => x.status === 'processing' && x.progress > 0);
    });
    // A client following the task over SSE must not hold the shutdown up: its stream is ended.
    let open = false;
    const following = readSse(`${first.url}/v1/tasks/${id}/events`, { 'x-api-key': key }, { timeoutMs: 60_000, onOpen: () => (open = true) });
    await until('the stream to open', () => open);
    const t0 = Date.now();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
    await following;
    expect(first.logs.join('\n')).toContain('target released at shutdown');

    const store = await openStore(loadConfig({ dataDir, databaseUrl: db.databaseUrl }));
    try {
      const targets = await store.getTargets(id);
      expect(targets.map((t) => ({ status: t.status, lease_owner: t.lease_owner, lease_expires_at: t.lease_expires_at }))).toEqual([
        { status: 'queued', lease_owner: null, lease_expires_at: null },
        { status: 'queued', lease_owner: null, lease_expires_at: null },
      ]);
      expect(targets.some((t) => t.attempts === 1)).toBe(true);
    } finally {
      await store.close();
    }

    const second = await spawnService([], env);
    try {
      const done = await waitForTask({ api: (m, p, b) => callApi(second.url, key, m, p, b) }, id, 60_000);
      expect(done.status).toBe('completed');
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 120_000);
});
