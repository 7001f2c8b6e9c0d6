/**
 * Records delivery attempts in batches (group commit): responses that arrive together share one
 * transaction, and their endpoints' failing streaks end in one statement. One write is in flight
 * at a time and what arrives meanwhile waits for the next, so a store that pays a round trip and a
 * commit per statement (PostgreSQL) writes batches rather than an attempt or two each; a second
 * write starts only once FULL_WRITE attempts are waiting, so a slow commit cannot cap a dispatcher
 * at its slots per commit latency.
 */
import type { Logger } from '../logger.js';
import type { AttemptOutcome, Store } from '../store/store.js';
import type { EndpointHealth } from './endpoint-health.js';

/** Attempts waiting that are worth a second write in flight. */
const FULL_WRITE = 32;

export class AttemptWriter {
  private pending: AttemptOutcome[] = [];
  /** Endpoints with a delivered attempt in `pending`: their failing streak ends with that write. */
  private succeeded = new Set<string>();
  /** The batch being gathered for the next write, and who waits for it. */
  private nextFlush: { promise: Promise<void>; resolve: () => void } | null = null;
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly health: EndpointHealth,
    private readonly logger: Logger,
    /** Deliveries parked behind the ones just written are due now (ordered delivery): claim them. */
    private readonly onWoken: () => void = () => {},
  ) {}

  /**
   * Buffers one outcome for the next write, in the next turn of the event loop; `deliveredTo` is
   * the endpoint it was delivered to, if any. Resolves once it is durable (or failed to be).
   */
  record(outcome: AttemptOutcome, deliveredTo: string | null): Promise<void> {
    this.pending.push(outcome);
    if (deliveredTo) this.succeeded.add(deliveredTo);
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

  /** Resolves when everything recorded so far is written (shutdown). */
  async drained(): Promise<void> {
    while (this.nextFlush || this.writes.size > 0) await (this.nextFlush?.promise ?? Promise.race(this.writes));
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
      if ((await this.store.recordAttempts(batch)) > 0) this.onWoken();
    } catch (err) {
      // Unrecorded deliveries stay claimed until their lease runs out, then are sent again.
      this.logger.error({ err, count: batch.length }, 'recording delivery attempts failed');
    }
    if (succeeded.length > 0) {
      await this.health.succeeded(succeeded).catch((err: unknown) => this.logger.error({ err, endpoints: succeeded }, 'recording endpoint health failed'));
    }
  }
}
