/**
 * Row retention: what the database holds stops growing with the work it has done. A pass deletes
 * deliveries (with their attempts) that ended longer than the delivery retention ago, then events
 * older than the event retention that no delivery refers to any more (a pending delivery keeps its
 * event: retries and redeliveries send its payload), then reduces tasks that ended longer than the
 * task retention ago, and whose files are all gone, to tombstones (id, tenant, kind, status, cost,
 * error and times; targets and outputs deleted, personal fields emptied).
 *
 * Off the hot path, and never a long write lock: every batch is one short transaction over at most
 * `batchSize` rows, walked in id order (ids sort by creation time, so "made before the cutoff" is
 * a primary-key range), and the pruner rests between batches as long as the batch took, so
 * requests get at least half of the database's time however large the backlog. Each batch decides
 * from what it reads inside its own transaction and deletes are idempotent, so a pass that stops
 * halfway (a crash, a deploy) leaves a consistent store and the next pass simply goes on.
 *
 * Afterwards the SQLite file gives back free pages beyond a reserve for the next inserts
 * (incremental vacuum, in bounded steps); PostgreSQL's autovacuum makes the space reusable.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';

export interface RowRetention {
  /** Events are deleted this long after they were stored, once no delivery refers to them; 0: kept. */
  eventMs: number;
  /** Deliveries (and their attempts) are deleted this long after they ended; 0: kept. */
  deliveryMs: number;
  /** Ended tasks whose files are gone are reduced to tombstones this long after they ended; 0: kept whole. */
  taskMs: number;
}

/** What a pass removed. */
export interface PruneCounts {
  events: number;
  deliveries: number;
  attempts: number;
  /** Tasks reduced to tombstones. */
  tasks: number;
}

export interface PassResult extends PruneCounts {
  /** SQLite pages given back to the filesystem after pruning (0 on PostgreSQL). */
  reclaimedPages: number;
  /** false when the pass stopped at `maxBatches` before it was done. */
  complete: boolean;
}

export interface PassOptions {
  /** Stop after this many batches (a pass cut short, as by a crash; tests and benchmarks). */
  maxBatches?: number;
}

/** Counts pruned rows (Metrics.rowsPruned). */
export interface PruneCounter {
  rowsPruned(kind: keyof PruneCounts, count: number): void;
}

const DEFAULT_BATCH = 500;
/**
 * Free pages given back per step (1 MiB of 4 KiB pages): each step is one write transaction that
 * moves pages from the end of the file into free ones, about 10 ms here (1024 pages took 41 ms).
 */
const RECLAIM_STEP_PAGES = 256;
/**
 * Free pages kept in the SQLite file for the next inserts, as a fraction of it: a day's pruning
 * of 30 days of rows frees about 3 %, which the next day's inserts reuse, so in a steady state
 * nothing is moved twice; what a shorter retention or less traffic frees beyond it goes back.
 */
const KEEP_FREE_FRACTION = 0.1;

export class RowPruner {
  private running: Promise<PassResult> | null = null;
  private stopping = false;

  constructor(
    private readonly d: {
      store: Store;
      logger: Logger;
      retention: RowRetention;
      counter?: PruneCounter;
      /** Rows examined per batch (default 500). */
      batchSize?: number;
      /** Fraction of the file kept free for reuse (default 0.1). */
      keepFreeFraction?: number;
    },
  ) {}

  /** Whether any kind of row is pruned at all. */
  get enabled(): boolean {
    const r = this.d.retention;
    return r.eventMs > 0 || r.deliveryMs > 0 || r.taskMs > 0;
  }

  /** Ends the pass under way after its current batch (the next pass, in any process, goes on from there). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
  }

  /** Starts a pass now, or answers with the one under way. */
  kick(): Promise<PassResult> {
    this.running ??= this.pass(Date.now()).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /**
   * One pass at `now`: every kind of row past its retention, then free space given back. Safe to
   * run in several processes at once (each batch takes rows no other pruner holds).
   */
  async pass(now = Date.now(), opts: PassOptions = {}): Promise<PassResult> {
    const { store, retention } = this.d;
    const batch = this.d.batchSize ?? DEFAULT_BATCH;
    const started = performance.now();
    const result: PassResult = { events: 0, deliveries: 0, attempts: 0, tasks: 0, reclaimedPages: 0, complete: false };
    let budget = opts.maxBatches ?? Infinity;
    /** Runs `step` batch after batch until it has examined everything; false when the budget ran out first. */
    const walk = async (step: (after: string | null) => Promise<string | null>): Promise<boolean> => {
      let after: string | null = null;
      do {
        if (budget-- <= 0 || this.stopping) return false;
        const t0 = performance.now();
        after = await step(after);
        if (after !== null) await rest(performance.now() - t0);
      } while (after !== null);
      return true;
    };

    // Deliveries first: an event goes only once no delivery refers to it.
    const done =
      (retention.deliveryMs <= 0 ||
        (await walk(async (after) => {
          const r = await store.tx((tx) => tx.pruneDeliveries(now - retention.deliveryMs, after, batch));
          result.deliveries += r.deliveries;
          result.attempts += r.attempts;
          return r.next;
        }))) &&
      (retention.eventMs <= 0 ||
        (await walk(async (after) => {
          const r = await store.tx((tx) => tx.pruneEvents(now - retention.eventMs, after, batch));
          result.events += r.events;
          return r.next;
        }))) &&
      (retention.taskMs <= 0 ||
        (await walk(async (after) => {
          const r = await store.tx((tx) => tx.pruneTasks(now - retention.taskMs, now, after, batch));
          result.tasks += r.tasks;
          return r.next;
        })));
    if (done && !this.stopping) {
      result.reclaimedPages = await this.reclaim();
      result.complete = true;
    }

    for (const kind of ['events', 'deliveries', 'attempts', 'tasks'] as const) this.d.counter?.rowsPruned(kind, result[kind]);
    this.d.logger.info(
      {
        events: result.events,
        deliveries: result.deliveries,
        attempts: result.attempts,
        tasks: result.tasks,
        reclaimed_pages: result.reclaimedPages,
        complete: result.complete,
        ms: Math.round(performance.now() - started),
      },
      'row retention pass',
    );
    return result;
  }

  /** Gives the file's free pages beyond the reserve back, a bounded step at a time. */
  private async reclaim(): Promise<number> {
    const keep = this.d.keepFreeFraction ?? KEEP_FREE_FRACTION;
    let total = 0;
    for (;;) {
      const t0 = performance.now();
      const released = await this.d.store.reclaimSpace(RECLAIM_STEP_PAGES, keep);
      total += released;
      if (released < RECLAIM_STEP_PAGES) return total;
      await rest(performance.now() - t0);
    }
  }
}

/** Yields the database to everything else for as long as the last batch held it (at least one turn of the event loop). */
function rest(batchMs: number): Promise<void> {
  return batchMs < 1 ? new Promise((resolve) => setImmediate(resolve)) : new Promise((resolve) => setTimeout(resolve, batchMs));
}
