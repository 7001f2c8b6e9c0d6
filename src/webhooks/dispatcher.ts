/**
 * The dispatcher: claims due deliveries from the outbox, POSTs each one signed through the URL
 * guard, and records every attempt.
 *
 * Hot path: a committed outbox row wakes the dispatcher at once (store.subscribe('deliveries')).
 * Otherwise it sleeps until the earliest retry is due, with a slow safety poll for rows another
 * process committed. Attempts are recorded in batches (one transaction per batch), so durability
 * costs one commit per batch, not one per delivery.
 *
 * Crash safety: claiming pushes a delivery's next_attempt_at past the request timeout. If this
 * process dies between the POST and the record, the delivery becomes due again and is re-sent with
 * the same webhook-id, which is what receivers deduplicate on.
 *
 * Isolation: a receiver gets its full share of slots (endpointConcurrency) only while it answers
 * fast; one that is slow, hangs or has not answered yet gets slowEndpointConcurrency, and all of
 * those together at most half of dispatcherConcurrency, so hanging receivers can never hold the
 * slots healthy ones need. An endpoint whose circuit opens loses its queued deliveries to the
 * outbox, held there until the circuit's probe.
 */
import type { Config } from '../config.js';
import { withinFaultScope } from '../fault-scope.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { AttemptOutcome as AttemptMetric, Metrics } from '../metrics.js';
import type { AttemptOutcome, DueDelivery, Store } from '../store/store.js';
import { USER_AGENT } from '../version.js';
import { EndpointHealth } from './endpoint-health.js';
import { nextRetryDelay } from './retry-schedule.js';
import { signatureHeaders } from '../net/webhook-signature.js';
import { postCapped } from '../net/post.js';
import { isGuardRefusal, type UrlGuard } from '../net/url-guard.js';

export interface DispatcherDeps {
  store: Store;
  guard: UrlGuard;
  config: Config;
  logger: Logger;
  metrics?: Metrics;
}

interface Queued {
  delivery: DueDelivery;
  leaseUntil: number;
}

const RESPONSE_EXCERPT_BYTES = 16 * 1024;
const CLAIM_BATCH = 256;
/** Claimed deliveries held in memory at most. */
const MAX_QUEUED = 4 * CLAIM_BATCH;
/** How long a delivery to a slow, saturated receiver waits before it is claimed again. */
const DEFER_MS = 1000;
/** Attempts waiting that are worth a second write in flight (see flush). */
const FULL_WRITE = 32;
/** A receiver whose oldest request in flight has run this long counts as slow. */
const SLOW_MS = 250;
/** A fast answer (within SLOW_MS) vouches for a receiver this long (a stall ends that at once). */
const FAST_WINDOW_MS = 30_000;
/** What is known of a receiver after this long without an answer is forgotten. */
const RECEIVER_MEMORY_MS = 60_000;

/** Concurrency is limited per registered endpoint, and per origin for tasks' own URLs. */
function receiverKey(d: DueDelivery): string {
  if (d.endpoint_id) return d.endpoint_id;
  const scheme = d.url.indexOf('://');
  const end = d.url.indexOf('/', scheme + 3);
  return end < 0 ? d.url : d.url.slice(0, end);
}

/** Retry-After as delay-seconds or an HTTP date; null when unparseable. */
export function parseRetryAfter(value: string, now: number): number | null {
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export class Dispatcher {
  private inflight = 0;
  private claiming = false;
  private stopped = true;
  /** Claimed deliveries waiting for a slot, one FIFO per receiver key. */
  private readonly queues = new Map<string, Queued[]>();
  private queued = 0;
  private mayHaveMore = false;
  private pending: AttemptOutcome[] = [];
  /** Endpoints with a delivered attempt in `pending`: their failing streak ends with that flush. */
  private succeeded = new Set<string>();
  /** The batch being gathered for the next write, and who waits for it. */
  private nextFlush: { promise: Promise<void>; resolve: () => void } | null = null;
  private readonly writes = new Set<Promise<void>>();
  private dueTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private idleWaiters: Array<() => void> = [];
  private readonly perKey = new Map<string, number>();
  /** Start times of the requests in flight, per receiver key. */
  private readonly startedByKey = new Map<string, Map<string, number>>();
  /** When each receiver last answered at all, and last answered within SLOW_MS. */
  private readonly answers = new Map<string, { at: number; fastAt: number }>();
  private readonly health: EndpointHealth;

  constructor(private readonly d: DispatcherDeps) {
    this.health = new EndpointHealth(d.store, d.config, d.logger);
  }

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.d.store.subscribe('deliveries', () => this.wake());
    this.pollTimer = setInterval(() => {
      this.forgetIdleReceivers();
      this.wake();
    }, this.d.config.pollIntervalMs).unref();
    this.wake();
  }

  /** Something may be due: new outbox rows, a retry time reached, or the safety poll. */
  wake(): void {
    this.mayHaveMore = true;
    this.pump();
  }

  /**
   * Starts sends from the local queue while there is room, and refills the queue from the outbox
   * (one claim for up to CLAIM_BATCH deliveries) when it runs low and more may be due.
   */
  private pump(): void {
    if (this.stopped) return;
    this.startSends();
    // Refill below half a batch of deliveries that could go out now (a saturated receiver's
    // backlog does not count, so it cannot stop the claims for everyone else), within a hard cap,
    // and only with room for a whole batch: a claim costs a transaction whatever its size, and
    // topping the queue up by the few rows a saturated receiver just sent made claims of ~17 rows.
    if (!this.mayHaveMore || MAX_QUEUED - this.queued < CLAIM_BATCH || this.sendableQueued() >= CLAIM_BATCH / 2) {
      if (this.queued === 0 && this.inflight === 0) void this.armDueTimer();
      return;
    }
    if (this.claiming) return;
    this.claiming = true;
    void this.claim().finally(() => {
      this.claiming = false;
      this.pump();
    });
  }

  private async claim(): Promise<void> {
    const want = CLAIM_BATCH;
    const now = Date.now();
    const leaseUntil = now + this.leaseMs();
    try {
      const { deliveries, taken } = await this.d.store.claimDueDeliveries(now, want, leaseUntil);
      this.mayHaveMore = taken === want;
      for (const delivery of deliveries) {
        if (delivery.unavailable || delivery.secrets.length === 0) {
          this.endUnsent(delivery, delivery.unavailable ?? 'endpoint deleted', now);
          continue;
        }
        const key = receiverKey(delivery);
        let q = this.queues.get(key);
        if (!q) this.queues.set(key, (q = []));
        q.push({ delivery, leaseUntil });
        this.queued++;
      }
    } catch (err) {
      this.mayHaveMore = false;
      this.d.logger.error({ err }, 'claiming deliveries failed');
    }
  }

  /** A delivery whose endpoint is gone fails without a request (there is no secret to sign it with). */
  private endUnsent(d: DueDelivery, reason: string, now: number): void {
    this.d.metrics?.deliveryEnded('failed', null);
    this.pending.push({
      attempt: null,
      delivery: { id: d.id, status: 'failed', attempt_count: d.attempt_count, next_attempt_at: null, last_error: reason, last_status_code: null, updated_at: now, delivered_at: null },
    });
    void this.flush();
  }

  private startSends(): void {
    const now = Date.now();
    const total = this.d.config.dispatcherConcurrency;
    const slowBudget = Math.max(1, Math.floor(total / 2));
    let slowInflight = this.slowInflight(now);
    const deferred: string[] = [];
    for (const [key, q] of this.queues) {
      const fast = this.answersFast(key, now);
      const limit = this.slotsFor(fast);
      while (q.length > 0 && this.inflight < total && (this.perKey.get(key) ?? 0) < limit && (fast || slowInflight < slowBudget)) {
        const item = q.shift()!;
        this.queued--;
        // One that waited here until its lease nearly ran out is left for the next claim, so it
        // is never sent by two dispatchers at once.
        if (item.leaseUntil - now < this.d.config.webhookTimeoutMs + 1000) continue;
        void this.send(item.delivery, key);
        if (!fast) slowInflight++;
      }
      // A slow receiver (one that has not earned full slots, with a request running for a while)
      // keeps at most endpointConcurrency more waiting here; the rest go back to the outbox for a
      // moment, so it cannot hold the queue and starve the receivers behind it. A fast receiver's
      // backlog simply waits its turn, straggler or not.
      const keep = this.d.config.endpointConcurrency;
      if (!fast && q.length > keep && this.isSlow(key, now)) {
        const excess = q.splice(keep);
        this.queued -= excess.length;
        for (const item of excess) deferred.push(item.delivery.id);
      }
      if (q.length === 0) this.queues.delete(key);
    }
    if (deferred.length > 0) {
      this.mayHaveMore = true;
      void this.d.store.releaseDeliveries(deferred, now + DEFER_MS).catch((err: unknown) => this.d.logger.error({ err }, 'deferring deliveries failed'));
    }
  }

  private sendableQueued(): number {
    const now = Date.now();
    let n = 0;
    for (const [key, q] of this.queues) if ((this.perKey.get(key) ?? 0) < this.slotsFor(this.answersFast(key, now))) n += q.length;
    return n;
  }

  private slotsFor(fast: boolean): number {
    const { endpointConcurrency, slowEndpointConcurrency } = this.d.config;
    return fast ? endpointConcurrency : Math.min(slowEndpointConcurrency, endpointConcurrency);
  }

  private isSlow(key: string, now: number): boolean {
    const started = this.startedByKey.get(key);
    if (!started) return false;
    for (const t of started.values()) if (now - t >= SLOW_MS) return true;
    return false;
  }

  /**
   * Whether a receiver has earned its full share of slots: it answered within SLOW_MS lately and
   * has not stalled (a request running for SLOW_MS with no answer at all meanwhile). A new receiver
   * has not, so receivers that hang from their first request never take more than a few slots
   * each. Judged on any fast answer rather than on the slowest request in flight: a busy receiver
   * (or a busy dispatcher) always has a straggler, and must not drop to a few slots for it.
   */
  private answersFast(key: string, now: number): boolean {
    const a = this.answers.get(key);
    return a !== undefined && now - a.fastAt < FAST_WINDOW_MS && (now - a.at < SLOW_MS || !this.isSlow(key, now));
  }

  /** Requests in flight to receivers that have not earned full slots (they share half the total). */
  private slowInflight(now: number): number {
    let n = 0;
    for (const [key, count] of this.perKey) if (!this.answersFast(key, now)) n += count;
    return n;
  }

  private forgetIdleReceivers(): void {
    const now = Date.now();
    for (const [key, a] of this.answers) if (now - a.at >= RECEIVER_MEMORY_MS && !this.perKey.has(key)) this.answers.delete(key);
  }

  /** The endpoint's circuit opened: what is queued here for it waits in the outbox until the probe. */
  private holdQueued(endpointId: string, until: number): void {
    const q = this.queues.get(endpointId);
    if (!q) return;
    this.queues.delete(endpointId);
    this.queued -= q.length;
    const ids = q.map((item) => item.delivery.id);
    void this.d.store.releaseDeliveries(ids, until).catch((err: unknown) => this.d.logger.error({ err, endpoint_id: endpointId }, 'holding deliveries failed'));
  }

  private leaseMs(): number {
    return this.d.config.webhookTimeoutMs * 3 + 5000;
  }

  /** Wakes up when the earliest scheduled retry is due. */
  private async armDueTimer(): Promise<void> {
    if (this.stopped) return;
    let due: number | null;
    try {
      due = await this.d.store.nextDeliveryDueAt();
    } catch {
      return;
    }
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    if (due === null) return;
    const delay = Math.max(0, Math.min(due - Date.now(), 2 ** 31 - 1));
    this.dueTimer = setTimeout(() => this.wake(), delay + 1).unref();
  }

  private async send(d: DueDelivery, key: string): Promise<void> {
    this.inflight++;
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    const attemptNumber = d.attempt_count + 1;
    const startedAt = Date.now();
    let started = this.startedByKey.get(key);
    if (!started) this.startedByKey.set(key, (started = new Map()));
    started.set(d.id, startedAt);
    const t0 = performance.now();
    const requestHeaders: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      ...signatureHeaders(d.secrets, d.event_id, Math.floor(startedAt / 1000), d.payload),
    };
    let statusCode: number | null = null;
    let excerpt: string | null = null;
    let error: string | null = null;
    let responseHeaders: Record<string, string> | null = null;
    let failure: AttemptMetric = 'network_error';
    try {
      // A fault thrown from this request's callbacks fails this attempt alone (fault-scope.ts).
      const fault = new AbortController();
      const scope = { label: `delivery ${d.id}`, fail: (err: unknown) => fault.abort(err) };
      const res = await withinFaultScope(scope, () =>
        postCapped(this.d.guard.dispatcher, d.url, {
          body: d.payload,
          headers: requestHeaders,
          timeoutMs: this.d.config.webhookTimeoutMs,
          cap: RESPONSE_EXCERPT_BYTES,
          signal: fault.signal,
        }),
      );
      statusCode = res.statusCode;
      responseHeaders = res.headers;
      excerpt = res.excerpt;
      if (statusCode >= 300 && statusCode < 400) {
        error = `redirect to ${responseHeaders.location ?? '(no Location)'} not followed`;
      }
    } catch (err) {
      error = describeSendError(err, this.d.config.webhookTimeoutMs);
      failure = sendFailure(err);
    }
    const latency = performance.now() - t0;
    const now = Date.now();
    started.delete(d.id);
    if (started.size === 0) this.startedByKey.delete(key);
    // A timeout is no answer: it must not make a hanging receiver look alive.
    if (statusCode !== null || latency < SLOW_MS) {
      const known = this.answers.get(key);
      this.answers.set(key, { at: now, fastAt: latency < SLOW_MS ? now : (known?.fastAt ?? -Infinity) });
    }
    const ok = statusCode !== null && statusCode >= 200 && statusCode < 300;
    const gone = statusCode === 410;
    // A redelivery is one manual try: its failure is final, whatever the schedule would say.
    const final = d.final_attempt !== null && attemptNumber >= d.final_attempt;
    const delay = ok || gone || final ? null : this.retryDelay(attemptNumber, statusCode, responseHeaders, now);
    const lastError = ok ? null : (error ?? (gone ? 'HTTP 410 Gone: not retried' : `HTTP ${statusCode}`));
    this.d.metrics?.deliveryAttempt(ok ? 'success' : gone ? 'gone' : statusCode !== null ? 'http_error' : failure, latency / 1000);
    if (ok) this.d.metrics?.deliveryEnded('delivered', (now - d.event_created_at) / 1000);
    else if (delay === null) this.d.metrics?.deliveryEnded('failed', null);
    this.pending.push({
      attempt: {
        id: newId('att'),
        delivery_id: d.id,
        attempt_number: attemptNumber,
        started_at: startedAt,
        status_code: statusCode,
        latency_ms: Math.round(latency * 100) / 100,
        response_excerpt: excerpt,
        error,
        request_headers: requestHeaders,
        response_headers: responseHeaders,
      },
      delivery: {
        id: d.id,
        status: ok ? 'delivered' : delay === null ? 'failed' : 'pending',
        attempt_count: attemptNumber,
        next_attempt_at: delay === null ? null : now + delay,
        last_error: lastError,
        last_status_code: statusCode,
        updated_at: now,
        delivered_at: ok ? now : null,
      },
    });
    const logged = { delivery_id: d.id, event_id: d.event_id, tenant_id: d.tenant_id, endpoint_id: d.endpoint_id, attempt: attemptNumber, status_code: statusCode };
    // Every success at debug only: at thousands a second they would drown everything else.
    if (ok) this.d.logger.debug(logged, 'delivered');
    else if (delay === null) this.d.logger.warn({ ...logged, error: lastError }, 'delivery failed for good');
    else this.d.logger.info({ ...logged, error: lastError, retry_in_ms: delay }, 'delivery attempt failed');
    if (ok && d.endpoint_id) this.succeeded.add(d.endpoint_id);
    await this.flush();
    if (d.endpoint_id && !ok) {
      const openUntil = await this.health.failed(d.endpoint_id, { gone, probe: d.probe }).catch((err: unknown) => {
        this.d.logger.error({ err, endpoint_id: d.endpoint_id }, 'recording endpoint health failed');
        return null;
      });
      if (openUntil !== null) this.holdQueued(d.endpoint_id, openUntil);
    }
    this.inflight--;
    const left = (this.perKey.get(key) ?? 1) - 1;
    if (left === 0) this.perKey.delete(key);
    else this.perKey.set(key, left);
    this.pump();
    if (this.inflight === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** The wait before the next try: the schedule, or what a 429/503 asked for (within bounds). */
  private retryDelay(attemptNumber: number, statusCode: number | null, headers: Record<string, string> | null, now: number): number | null {
    const scheduled = nextRetryDelay({ scheduleMs: this.d.config.retryScheduleMs, jitter: this.d.config.retryJitter }, attemptNumber);
    if (scheduled === null) return null;
    if ((statusCode === 429 || statusCode === 503) && headers?.['retry-after']) {
      const asked = parseRetryAfter(headers['retry-after'], now);
      if (asked !== null) return Math.min(Math.max(asked, 1000), this.d.config.retryAfterMaxMs);
    }
    return scheduled;
  }

  /**
   * Records buffered attempts in one transaction per turn of the event loop: responses that arrive
   * together share one commit, and their endpoints' failing streaks end in one statement. One
   * write is in flight at a time and what arrives meanwhile waits for the next (group commit), so a
   * store that pays a round trip and a commit per statement (PostgreSQL) writes batches rather than
   * an attempt or two each; a second write starts only once FULL_WRITE attempts are waiting, so a
   * slow commit cannot cap a dispatcher at its slots per commit latency. Resolves once this
   * caller's attempt is durable (or failed to be).
   */
  private flush(): Promise<void> {
    if (!this.nextFlush) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.nextFlush = { promise, resolve };
      setImmediate(() => this.startWrite());
    } else if (this.pending.length === FULL_WRITE) {
      setImmediate(() => this.startWrite());
    }
    return this.nextFlush.promise;
  }

  private startWrite(): void {
    const next = this.nextFlush;
    if (!next || this.writes.size >= 2 || (this.writes.size === 1 && this.pending.length < FULL_WRITE)) return;
    const batch = this.pending;
    const succeeded = [...this.succeeded];
    this.pending = [];
    this.succeeded = new Set();
    this.nextFlush = null;
    const written: Promise<void> = this.write(batch, succeeded).then(() => {
      this.writes.delete(written);
      next.resolve();
      this.startWrite();
    });
    this.writes.add(written);
  }

  private async write(batch: AttemptOutcome[], succeeded: string[]): Promise<void> {
    try {
      await this.d.store.recordAttempts(batch);
    } catch (err) {
      // Unrecorded deliveries stay claimed until their lease runs out, then are sent again.
      this.d.logger.error({ err, count: batch.length }, 'recording delivery attempts failed');
    }
    if (succeeded.length > 0) {
      await this.health.succeeded(succeeded).catch((err: unknown) => this.d.logger.error({ err, endpoints: succeeded }, 'recording endpoint health failed'));
    }
  }

  /** Resolves when no request is in flight (tests, benchmarks, graceful shutdown). */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.dueTimer) clearTimeout(this.dueTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    // Claimed but unsent deliveries are handed back at once rather than after their lease.
    const unsent = [...this.queues.values()].flat().map((q) => q.delivery.id);
    this.queues.clear();
    this.queued = 0;
    if (unsent.length > 0) await this.d.store.releaseDeliveries(unsent, Date.now()).catch(() => undefined);
    // In-flight requests finish (bounded by the webhook timeout) and are recorded.
    await this.idle();
    while (this.nextFlush || this.writes.size > 0) await (this.nextFlush?.promise ?? Promise.race(this.writes));
  }
}

function sendFailure(err: unknown): AttemptMetric {
  if (isGuardRefusal(err)) return 'blocked';
  const e = err as { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : 'network_error';
}

function describeSendError(err: unknown, timeoutMs: number): string {
  if (isGuardRefusal(err)) return `refused by the URL guard: ${(err as Error).message}`;
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return `timeout: no answer within ${timeoutMs} ms`;
  if (code === 'ECONNREFUSED') return `connection refused: ${e.message ?? ''}`.trim();
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `DNS lookup failed: ${e.message ?? ''}`.trim();
  return `${code ? code + ': ' : ''}${e.message ?? String(err)}`;
}
