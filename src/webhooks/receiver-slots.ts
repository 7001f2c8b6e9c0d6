/**
 * Claimed deliveries waiting for a request slot, one FIFO queue per receiver, and the accounting
 * that keeps hanging receivers from holding the slots healthy ones need: a receiver gets its full
 * share (endpointConcurrency) only while it answers fast; one that is slow, hangs or has not
 * answered yet gets slowEndpointConcurrency, and all of those together at most half of
 * dispatcherConcurrency.
 */
import type { DueDelivery } from '../store/store.js';

export interface SlotLimits {
  /** Requests in flight at most (dispatcherConcurrency). */
  total: number;
  /** Per receiver that answers fast (endpointConcurrency). */
  fast: number;
  /** Per receiver that does not (slowEndpointConcurrency). */
  slow: number;
}

interface Queued {
  delivery: DueDelivery;
  leaseUntil: number;
}

/** A receiver whose oldest request in flight has run this long counts as slow. */
export const SLOW_MS = 250;
/** A fast answer (within SLOW_MS) vouches for a receiver this long (a stall ends that at once). */
const FAST_WINDOW_MS = 30_000;
/** What is known of a receiver after this long without an answer is forgotten. */
const RECEIVER_MEMORY_MS = 60_000;

/** Concurrency is limited per registered endpoint, and per origin for tasks' own URLs. */
export function receiverKey(d: DueDelivery): string {
  if (d.endpoint_id) return d.endpoint_id;
  const scheme = d.url.indexOf('://');
  const end = d.url.indexOf('/', scheme + 3);
  return end < 0 ? d.url : d.url.slice(0, end);
}

export class ReceiverSlots {
  private readonly queues = new Map<string, Queued[]>();
  private queuedCount = 0;
  private inflightCount = 0;
  private readonly perKey = new Map<string, number>();
  /** Start times of the requests in flight, per receiver key. */
  private readonly startedByKey = new Map<string, Map<string, number>>();
  /** When each receiver last answered at all, and last answered within SLOW_MS. */
  private readonly answers = new Map<string, { at: number; fastAt: number }>();

  constructor(private readonly limits: SlotLimits) {}

  get queued(): number {
    return this.queuedCount;
  }

  get inflight(): number {
    return this.inflightCount;
  }

  enqueue(delivery: DueDelivery, leaseUntil: number): void {
    const key = receiverKey(delivery);
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = []));
    q.push({ delivery, leaseUntil });
    this.queuedCount++;
  }

  /**
   * Takes the deliveries that may start now and counts them in flight. One whose lease has less
   * than `minLeaseMs` left is dropped (the next claim takes it), so it is never sent by two
   * dispatchers at once. Returns also the ids a slow receiver has queued beyond endpointConcurrency:
   * they go back to the outbox for a moment, so it cannot hold the queue and starve the receivers
   * behind it (a fast receiver's backlog simply waits its turn, straggler or not).
   */
  take(now: number, minLeaseMs: number): { start: Array<{ delivery: DueDelivery; key: string }>; defer: string[] } {
    const start: Array<{ delivery: DueDelivery; key: string }> = [];
    const defer: string[] = [];
    const slowBudget = Math.max(1, Math.floor(this.limits.total / 2));
    let slowInflight = this.slowInflight(now);
    for (const [key, q] of this.queues) {
      const fast = this.answersFast(key, now);
      const limit = this.slotsFor(fast);
      while (q.length > 0 && this.inflightCount < this.limits.total && (this.perKey.get(key) ?? 0) < limit && (fast || slowInflight < slowBudget)) {
        const item = q.shift()!;
        this.queuedCount--;
        if (item.leaseUntil - now < minLeaseMs) continue;
        this.started(key, item.delivery.id, now);
        start.push({ delivery: item.delivery, key });
        if (!fast) slowInflight++;
      }
      if (!fast && q.length > this.limits.fast && this.isSlow(key, now)) {
        const excess = q.splice(this.limits.fast);
        this.queuedCount -= excess.length;
        for (const item of excess) defer.push(item.delivery.id);
      }
      if (q.length === 0) this.queues.delete(key);
    }
    return { start, defer };
  }

  /** The request for `id` ended after `latencyMs`, with an HTTP answer or without (`answered`). */
  ended(key: string, id: string, answered: boolean, latencyMs: number, now: number): void {
    const started = this.startedByKey.get(key);
    started?.delete(id);
    if (started?.size === 0) this.startedByKey.delete(key);
    // A timeout is no answer: it must not make a hanging receiver look alive.
    if (answered || latencyMs < SLOW_MS) {
      const known = this.answers.get(key);
      this.answers.set(key, { at: now, fastAt: latencyMs < SLOW_MS ? now : (known?.fastAt ?? -Infinity) });
    }
  }

  /** The slot is free again (the attempt is recorded). */
  release(key: string): void {
    this.inflightCount--;
    const left = (this.perKey.get(key) ?? 1) - 1;
    if (left === 0) this.perKey.delete(key);
    else this.perKey.set(key, left);
  }

  /** Queued deliveries that could start now: a saturated receiver's backlog does not count. */
  sendable(now: number): number {
    let n = 0;
    for (const [key, q] of this.queues) if ((this.perKey.get(key) ?? 0) < this.slotsFor(this.answersFast(key, now))) n += q.length;
    return n;
  }

  /** Removes and returns the ids queued for one receiver (its circuit opened). */
  drop(key: string): string[] {
    const q = this.queues.get(key);
    if (!q) return [];
    this.queues.delete(key);
    this.queuedCount -= q.length;
    return q.map((item) => item.delivery.id);
  }

  /** Removes and returns every queued id (shutdown). */
  dropAll(): string[] {
    const ids = [...this.queues.values()].flat().map((item) => item.delivery.id);
    this.queues.clear();
    this.queuedCount = 0;
    return ids;
  }

  forgetIdleReceivers(now: number): void {
    for (const [key, a] of this.answers) if (now - a.at >= RECEIVER_MEMORY_MS && !this.perKey.has(key)) this.answers.delete(key);
  }

  private started(key: string, id: string, now: number): void {
    this.inflightCount++;
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    let started = this.startedByKey.get(key);
    if (!started) this.startedByKey.set(key, (started = new Map()));
    started.set(id, now);
  }

  private slotsFor(fast: boolean): number {
    return fast ? this.limits.fast : Math.min(this.limits.slow, this.limits.fast);
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
}
