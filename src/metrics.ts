/**
 * Prometheus metrics of one process, in its own registry (several services in one process — tests —
 * must not share counters). Counters and histograms are fed by the worker and the dispatcher as
 * things happen; the gauges of tasks and queues are counted in the store at each scrape, so the
 * scrape interval is their period and nothing is counted while nobody looks.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './logger.js';
import type { Store, TaskCount } from './store/store.js';

export type TargetOutcome = 'completed' | 'failed' | 'canceled' | 'released' | 'lost';
/** success: 2xx; http_error: another status; gone: 410 (not retried); timeout; network_error; blocked: refused by the URL guard. */
export type AttemptOutcome = 'success' | 'http_error' | 'gone' | 'timeout' | 'network_error' | 'blocked';
export type DeliveryOutcome = 'delivered' | 'failed';
/** What row retention removes (a task is reduced to a tombstone, not removed). */
export type PrunedKind = 'events' | 'deliveries' | 'attempts' | 'tasks';

/** How long after its completion time an ended task is still counted afresh at each scrape. */
const ENDED_SETTLE_MS = 5 * 60_000;
/**
 * Ended tasks counted per slice when a process first counts the history: on SQLite a count runs
 * on the event loop, and 2 million tasks in one count held it for seconds. The slices' time spans
 * adapt to the history's density; the event loop turns between slices.
 */
const ENDED_SLICE_ROWS = 20_000;
const FIRST_SLICE_MS = 60 * 60_000;

export class Metrics {
  readonly registry = new Registry();
  private readonly targetDuration: Histogram<'kind' | 'outcome'>;
  private readonly attempts: Counter<'outcome'>;
  private readonly attemptDuration: Histogram<'outcome'>;
  private readonly deliveries: Counter<'outcome'>;
  private readonly deliveryLatency: Histogram;
  private readonly pruned: Counter<'kind'>;
  private readonly gauges: { tasks: Gauge<'status' | 'kind'>; targets: Gauge<'status'>; due: Gauge; oldest: Gauge };
  private refreshing: Promise<void> | null = null;
  /** Ended tasks per "status\u0000kind" that ended at or before `endedSettledUpTo` (see count). */
  private readonly endedSettled = new Map<string, number>();
  private endedSettledUpTo: number | null = null;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    info: { version: string; role: string },
    private readonly opts: { endedSliceRows?: number } = {},
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'hookwave_info', help: 'Version and role of this process (always 1)', labelNames: ['version', 'role', 'database'], registers })
      .labels(info.version, info.role, store.dialect)
      .set(1);

    this.targetDuration = new Histogram({
      name: 'hookwave_target_duration_seconds',
      help: 'Time one run of a target took in this process, from lease to recorded outcome',
      labelNames: ['kind', 'outcome'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.attempts = new Counter({ name: 'hookwave_delivery_attempts_total', help: 'Webhook delivery attempts by outcome', labelNames: ['outcome'], registers });
    this.attemptDuration = new Histogram({
      name: 'hookwave_delivery_attempt_duration_seconds',
      help: 'Time one webhook POST took, until the receiver answered or failed',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.deliveries = new Counter({
      name: 'hookwave_deliveries_total',
      help: 'Deliveries that reached a final state: delivered, or failed after the last retry (or 410 Gone)',
      labelNames: ['outcome'],
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: 'hookwave_delivery_latency_seconds',
      help: 'From the event being stored to its webhook being accepted by the receiver, retries included',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600],
      registers,
    });

    this.pruned = new Counter({
      name: 'hookwave_pruned_rows_total',
      help: 'Rows row retention removed in this process, by kind: events, deliveries, attempts, and tasks reduced to tombstones',
      labelNames: ['kind'],
      registers,
    });

    // Counted from the store at scrape time. The registry reads metrics concurrently, so each of
    // these waits for the same count rather than only the first one.
    const collect = () => this.refresh();
    this.gauges = {
      tasks: new Gauge({ name: 'hookwave_tasks', help: 'Tasks by status and kind (all tenants)', labelNames: ['status', 'kind'], registers, collect }),
      targets: new Gauge({ name: 'hookwave_targets', help: 'Targets waiting for a worker (queued) or running (processing)', labelNames: ['status'], registers, collect }),
      due: new Gauge({ name: 'hookwave_deliveries_due', help: 'Pending webhook deliveries whose time has come and that no dispatcher has taken yet', registers, collect }),
      oldest: new Gauge({ name: 'hookwave_oldest_due_delivery_age_seconds', help: 'How long the longest-waiting due delivery has been due (0 when none is)', registers, collect }),
    };
  }

  /** Concurrent scrapes share one count. */
  refresh(): Promise<void> {
    this.refreshing ??= this.count().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async count(): Promise<void> {
    const now = Date.now();
    // Ended tasks never change status: those that ended before `settled` are counted once and kept
    // (the first scrape reads them all, slice by slice), later scrapes add only the ones that ended
    // since. The last few minutes are counted afresh at every scrape, so a task whose transaction
    // committed a little after its completion time (another process, a slow commit) is never missed.
    const settleUpTo = Math.max(this.endedSettledUpTo ?? Number.MIN_SAFE_INTEGER, now - ENDED_SETTLE_MS);
    try {
      const newlySettled = this.endedSettledUpTo === null ? await this.countHistory(settleUpTo) : await this.store.countEndedTasks(this.endedSettledUpTo, settleUpTo);
      const [open, recent, depth] = await Promise.all([this.store.countOpenTasks(), this.store.countEndedTasks(settleUpTo, null), this.store.queueDepth(now)]);
      for (const c of newlySettled) this.endedSettled.set(`${c.status}\u0000${c.kind}`, (this.endedSettled.get(`${c.status}\u0000${c.kind}`) ?? 0) + c.count);
      this.endedSettledUpTo = settleUpTo;
      const counts = new Map<string, number>(this.endedSettled);
      for (const c of [...open, ...recent]) counts.set(`${c.status}\u0000${c.kind}`, (counts.get(`${c.status}\u0000${c.kind}`) ?? 0) + c.count);
      this.gauges.tasks.reset();
      for (const [key, count] of counts) {
        const [status, kind] = key.split('\u0000') as [string, string];
        this.gauges.tasks.labels(status, kind).set(count);
      }
      this.gauges.targets.labels('queued').set(depth.queued_targets);
      this.gauges.targets.labels('processing').set(depth.processing_targets);
      this.gauges.due.set(depth.due_deliveries);
      this.gauges.oldest.set(depth.oldest_due_at === null ? 0 : Math.max(0, (now - depth.oldest_due_at) / 1000));
    } catch (err) {
      // A scrape must still answer (with the last values) when the database hiccups.
      this.logger.warn({ err }, 'counting tasks and queues for /metrics failed');
    }
  }

  /** Every task that ended at or before `upTo`, counted in slices of about ENDED_SLICE_ROWS tasks. */
  private async countHistory(upTo: number): Promise<TaskCount[]> {
    const sliceRows = this.opts.endedSliceRows ?? ENDED_SLICE_ROWS;
    const first = await this.store.firstEndedAt();
    const all: TaskCount[] = [];
    let span = FIRST_SLICE_MS;
    for (let after = first === null ? upTo : first - 1; after < upTo; ) {
      const until = Math.min(upTo, after + span);
      const slice = await this.store.countEndedTasks(after, until);
      all.push(...slice);
      const rows = slice.reduce((n, c) => n + c.count, 0);
      // The next slice's span: as many tasks as this one's density puts in sliceRows, growing at most fourfold.
      span = Math.max(1, Math.min(span * 4, rows > 0 ? Math.floor((span * sliceRows) / rows) : span * 4));
      after = until;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return all;
  }

  targetFinished(kind: string, outcome: TargetOutcome, seconds: number): void {
    this.targetDuration.labels(kind, outcome).observe(seconds);
  }

  deliveryAttempt(outcome: AttemptOutcome, seconds: number): void {
    this.attempts.labels(outcome).inc();
    this.attemptDuration.labels(outcome).observe(seconds);
  }

  rowsPruned(kind: PrunedKind, count: number): void {
    if (count > 0) this.pruned.labels(kind).inc(count);
  }

  /** `latencySeconds`: from the event being stored to its delivery, for delivered ones. */
  deliveryEnded(outcome: DeliveryOutcome, latencySeconds: number | null): void {
    this.deliveries.labels(outcome).inc();
    if (latencySeconds !== null) this.deliveryLatency.observe(latencySeconds);
  }
}

/**
 * GET /metrics on its own port, for worker and dispatcher processes that run no API: their target
 * and delivery counters exist only in them.
 */
export async function serveMetrics(metrics: Metrics, host: string, port: number): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/metrics`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
