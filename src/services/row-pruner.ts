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
import { DEFAULT_ROW_PRUNE_MS } from '../config.js';
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
 * Free pages given back by the first step (1 MiB of 4 KiB pages): each step is one write
 * transaction that moves pages from the end of the file into free ones, about 10 ms here on a file
 * the page cache holds. On a file larger than memory a page can cost 27 ms (every page moved
 * updates its parent through the pointer map: random reads), so later steps are sized by time.
 */
const RECLAIM_FIRST_STEP_PAGES = 256;
const RECLAIM_MAX_STEP_PAGES = 4096;
/** How long one reclaim step may hold SQLite's write lock. */
const RECLAIM_STEP_TARGET_MS = 50;
/**
 * Write-lock time one pass spends giving space back (passes come every 5 minutes, and each step is
 * followed by a rest as long as itself). A steady state needs a fraction of this; a first prune of
 * a large backlog goes on over the following passes.
 */
const RECLAIM_PASS_BUDGET_MS = 30_000;
/** Above this many hours of passes to give the space back, the log suggests `hookwave vacuum`. */
const ADVISE_VACUUM_AFTER_HOURS = 24;
/**
 * Free pages kept in the SQLite file for the next inserts, as a fraction of it: a day's pruning
 * of 30 days of rows frees about 3 %, which the next day's inserts reuse, so in a steady state
 * nothing is moved twice; what a shorter retention or less traffic frees beyond it goes back.
 */
const KEEP_FREE_FRACTION = 0.1;

export class RowPruner {
  private running: Promise<PassResult> | null = null;
  private stopping = false;
  /** Pages the next reclaim step asks for, learnt from the last step's speed. */
  private stepPages = RECLAIM_FIRST_STEP_PAGES;
  private vacuumAdvised = false;

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
      /** Write-lock time a pass spends giving space back (default 30 s). */
      reclaimBudgetMs?: number;
      /** How often passes run (config.rowPruneMs), for the estimate of how long giving space back will take. */
      passIntervalMs?: number;
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

  /**
   * Gives the file's free pages beyond the reserve back, in steps of about RECLAIM_STEP_TARGET_MS
   * each, for at most the pass's budget of write-lock time; the next pass goes on from there.
   */
  private async reclaim(): Promise<number> {
    const keep = this.d.keepFreeFraction ?? KEEP_FREE_FRACTION;
    const budgetMs = this.d.reclaimBudgetMs ?? RECLAIM_PASS_BUDGET_MS;
    let total = 0;
    let spentMs = 0;
    for (;;) {
      const t0 = performance.now();
      const step = await this.d.store.reclaimSpace(this.stepPages, keep);
      const ms = performance.now() - t0;
      total += step.released;
      spentMs += ms;
      if (step.released === 0 || step.left === 0 || this.stopping) return total;
      this.stepPages = nextStepPages(this.stepPages, step.released, ms);
      if (spentMs >= budgetMs) {
        this.adviseVacuum(step.left, step.pageBytes, total / spentMs, budgetMs);
        return total;
      }
      await rest(ms);
    }
  }

  /** Once per process: when giving the rest back pass by pass would take days, say what is faster. */
  private adviseVacuum(leftPages: number, pageBytes: number, pagesPerMs: number, budgetMs: number): void {
    const passesPerHour = 3_600_000 / (this.d.passIntervalMs ?? DEFAULT_ROW_PRUNE_MS);
    const hours = leftPages / (pagesPerMs * budgetMs) / passesPerHour;
    if (this.vacuumAdvised || !(hours > ADVISE_VACUUM_AFTER_HOURS)) return;
    this.vacuumAdvised = true;
    this.d.logger.warn(
      { free_mib: Math.round((leftPages * pageBytes) / 2 ** 20), pages_per_s: Math.round(pagesPerMs * 1000), hours: Math.round(hours) },
      'the database file gives its free space back slowly (a file larger than memory); `hookwave vacuum`, run once while hookwave is stopped, gives it all back in one rewrite',
    );
  }
}

/**
 * Pages for the next reclaim step: as many as the last step's speed fits in RECLAIM_STEP_TARGET_MS,
 * at least one, growing at most twofold a step (one fast step on a cached corner of the file
 * proves little).
 */
export function nextStepPages(lastPages: number, released: number, ms: number): number {
  const fits = Math.floor((released / Math.max(ms, 0.01)) * RECLAIM_STEP_TARGET_MS);
  return Math.max(1, Math.min(fits, lastPages * 2, RECLAIM_MAX_STEP_PAGES));
}

/** Yields the database to everything else for as long as the last batch held it (at least one turn of the event loop). */
function rest(batchMs: number): Promise<void> {
  return batchMs < 1 ? new Promise((resolve) => setImmediate(resolve)) : new Promise((resolve) => setTimeout(resolve, batchMs));
}
