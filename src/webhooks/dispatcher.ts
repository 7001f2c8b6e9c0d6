/**
 * The dispatcher's claim loop: claims due deliveries from the outbox into per-receiver queues
 * (receiver-slots.ts), starts each attempt when its receiver has a slot (delivery-attempt.ts),
 * and has the attempt writer record the outcomes in batches (attempt-writer.ts).
 *
 * Hot path: a committed outbox row wakes the dispatcher at once (store.subscribe('deliveries')).
 * Otherwise it sleeps until the earliest retry is due, with a slow safety poll for rows another
 * process committed.
 *
 * Crash safety: claiming pushes a delivery's next_attempt_at past the request timeout. If this
 * process dies between the POST and the record, the delivery becomes due again and is re-sent with
 * the same webhook-id, which is what receivers deduplicate on. An endpoint whose circuit opens
 * loses its queued deliveries to the outbox, held there until the circuit's probe.
 */
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { UrlGuard } from '../net/url-guard.js';
import type { DueDelivery, Store } from '../store/store.js';
import { AttemptWriter } from './attempt-writer.js';
import { sendAttempt, settle, unsent, type Settled } from './delivery-attempt.js';
import { EndpointHealth } from './endpoint-health.js';
import { ReceiverSlots } from './receiver-slots.js';

export interface DispatcherDeps {
  store: Store;
  guard: UrlGuard;
  config: Config;
  logger: Logger;
  metrics?: Metrics;
}

const CLAIM_BATCH = 256;
/** Claimed deliveries held in memory at most. */
const MAX_QUEUED = 4 * CLAIM_BATCH;
/** How long a delivery to a slow, saturated receiver waits before it is claimed again. */
const DEFER_MS = 1000;

export class Dispatcher {
  private claiming = false;
  private stopped = true;
  private mayHaveMore = false;
  private dueTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private idleWaiters: Array<() => void> = [];
  private readonly slots: ReceiverSlots;
  private readonly health: EndpointHealth;
  private readonly writer: AttemptWriter;

  constructor(private readonly d: DispatcherDeps) {
    const { dispatcherConcurrency: total, endpointConcurrency: fast, slowEndpointConcurrency: slow } = d.config;
    this.slots = new ReceiverSlots({ total, fast, slow });
    this.health = new EndpointHealth(d.store, d.config, d.logger);
    this.writer = new AttemptWriter(d.store, this.health, d.logger, () => this.wake());
  }

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.d.store.subscribe('deliveries', () => this.wake());
    this.pollTimer = setInterval(() => {
      this.slots.forgetIdleReceivers(Date.now());
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
   * Starts sends from the local queues while there is room, and refills them from the outbox (one
   * claim for up to CLAIM_BATCH deliveries) when they run low and more may be due.
   */
  private pump(): void {
    if (this.stopped) return;
    this.startSends();
    // Refill below half a batch of deliveries that could go out now (a saturated receiver's
    // backlog does not count, so it cannot stop the claims for everyone else), within a hard cap,
    // and only with room for a whole batch: a claim costs a transaction whatever its size, and
    // topping the queue up by the few rows a saturated receiver just sent made claims of ~17 rows.
    const { queued, inflight } = this.slots;
    if (!this.mayHaveMore || MAX_QUEUED - queued < CLAIM_BATCH || this.slots.sendable(Date.now()) >= CLAIM_BATCH / 2) {
      if (queued === 0 && inflight === 0) void this.armDueTimer();
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
    const now = Date.now();
    // Past the request timeout, so a crash mid-request leaves the delivery due again.
    const leaseUntil = now + this.d.config.webhookTimeoutMs * 3 + 5000;
    try {
      const { deliveries, taken } = await this.d.store.claimDueDeliveries(now, CLAIM_BATCH, leaseUntil, this.d.config.orderedDelivery);
      this.mayHaveMore = taken === CLAIM_BATCH;
      for (const delivery of deliveries) {
        if (delivery.unavailable || delivery.secrets.length === 0) {
          this.d.metrics?.deliveryEnded('failed', null);
          void this.writer.record(unsent(delivery, delivery.unavailable ?? 'endpoint deleted', now), null);
        } else {
          this.slots.enqueue(delivery, leaseUntil);
        }
      }
    } catch (err) {
      this.mayHaveMore = false;
      this.d.logger.error({ err }, 'claiming deliveries failed');
    }
  }

  private startSends(): void {
    const now = Date.now();
    // One that waited in its queue until its lease nearly ran out is left for the next claim.
    const { start, defer } = this.slots.take(now, this.d.config.webhookTimeoutMs + 1000);
    for (const { delivery, key } of start) void this.send(delivery, key);
    if (defer.length > 0) {
      this.mayHaveMore = true;
      void this.d.store.releaseDeliveries(defer, now + DEFER_MS).catch((err: unknown) => this.d.logger.error({ err }, 'deferring deliveries failed'));
    }
  }

  private async send(d: DueDelivery, key: string): Promise<void> {
    const sent = await sendAttempt(d, this.d.guard, this.d.config.webhookTimeoutMs);
    const now = Date.now();
    this.slots.ended(key, d.id, sent.statusCode !== null, sent.latencyMs, now);
    const settled = settle(d, sent, now, this.d.config);
    this.report(d, settled, sent.latencyMs, now);
    await this.writer.record(settled.outcome, settled.ok ? d.endpoint_id : null);
    if (d.endpoint_id && !settled.ok) {
      const openUntil = await this.health.failed(d.endpoint_id, { gone: settled.gone, probe: d.probe }).catch((err: unknown) => {
        this.d.logger.error({ err, endpoint_id: d.endpoint_id }, 'recording endpoint health failed');
        return null;
      });
      // The circuit is open: what is queued here for the endpoint waits in the outbox until the probe.
      if (openUntil !== null) this.release(this.slots.drop(d.endpoint_id), openUntil, d.endpoint_id);
    }
    this.slots.release(key);
    this.pump();
    if (this.slots.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private report(d: DueDelivery, s: Settled, latencyMs: number, now: number): void {
    const { delivery } = s.outcome;
    this.d.metrics?.deliveryAttempt(s.metric, latencyMs / 1000);
    if (s.ok) this.d.metrics?.deliveryEnded('delivered', (now - d.event_created_at) / 1000);
    else if (s.retryInMs === null) this.d.metrics?.deliveryEnded('failed', null);
    const logged = { delivery_id: d.id, event_id: d.event_id, tenant_id: d.tenant_id, endpoint_id: d.endpoint_id, attempt: delivery.attempt_count, status_code: delivery.last_status_code };
    // Every success at debug only: at thousands a second they would drown everything else.
    if (s.ok) this.d.logger.debug(logged, 'delivered');
    else if (s.retryInMs === null) this.d.logger.warn({ ...logged, error: delivery.last_error }, 'delivery failed for good');
    else this.d.logger.info({ ...logged, error: delivery.last_error, retry_in_ms: s.retryInMs }, 'delivery attempt failed');
  }

  private release(ids: string[], dueAt: number, endpointId: string): void {
    if (ids.length === 0) return;
    void this.d.store.releaseDeliveries(ids, dueAt).catch((err: unknown) => this.d.logger.error({ err, endpoint_id: endpointId }, 'holding deliveries failed'));
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

  /** Resolves when no request is in flight (tests, benchmarks, graceful shutdown). */
  idle(): Promise<void> {
    if (this.slots.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.dueTimer) clearTimeout(this.dueTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    // Claimed but unsent deliveries are handed back at once rather than after their lease.
    const unsentIds = this.slots.dropAll();
    if (unsentIds.length > 0) await this.d.store.releaseDeliveries(unsentIds, Date.now()).catch(() => undefined);
    // In-flight requests finish (bounded by the webhook timeout) and are recorded.
    await this.idle();
    await this.writer.drained();
  }
}
