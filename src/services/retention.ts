/**
 * Deleting output files, durably: what is due for deletion is a fact in the database (an output's
 * `expires_at` has passed, by retention or because its task was deleted), and this sweep turns
 * those facts into removed files, then marks them removed. A process that dies halfway leaves the
 * facts in place and the next sweep (in any process) finishes the job; removing a file twice is
 * harmless. So a deletion never depends on the request that asked for it surviving.
 */
import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Store } from '../store/store.js';
import type { UploadService } from './uploads.js';

export class OutputSweeper {
  private running: Promise<number> | null = null;
  private again = false;

  constructor(private readonly d: { store: Store; blobs: BlobStore; uploads: UploadService; logger: Logger }) {}

  /** Starts a pass now, or one more after the pass under way; resolves with what the pass removed. */
  kick(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    // Uploads a deleted task was made from are expired with it; their sweep removes them.
    this.running = Promise.all([this.sweep(Date.now()), this.d.uploads.sweep(Date.now(), this.d.logger)]).then(([outputs]) => outputs).finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        void this.kick();
      }
    });
    return this.running;
  }

  /** Removes every output file due by `now`, a batch at a time; returns how many. */
  async sweep(now: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const due = await this.d.store.listOutputsToRemove(now, 100);
      if (due.length === 0) return removed;
      const done: string[] = [];
      for (const o of due) {
        try {
          await this.d.blobs.remove(o.path);
          done.push(o.id);
        } catch (err) {
          // Left due: the next pass tries again.
          this.d.logger.warn({ err, output_id: o.id }, 'removing an output file failed; it stays due');
        }
      }
      if (done.length > 0) await this.d.store.markOutputsRemoved(done, Date.now());
      removed += done.length;
      if (done.length < due.length) return removed;
    }
  }
}
