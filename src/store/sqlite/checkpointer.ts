/**
 * Moves WAL checkpoints off the request path. The main connection's automatic checkpoint (copying
 * the WAL back into the database file, with fsyncs) would otherwise run inside whichever COMMIT
 * crosses the threshold, stalling that request. A worker thread with its own connection runs a
 * PASSIVE checkpoint every second instead; it never blocks writers or readers.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const source = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 100');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
}, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); process.exit(0); });
`;

export class Checkpointer {
  private readonly worker: Worker;

  constructor(file: string, intervalMs = 1000) {
    this.worker = new Worker(source, {
      eval: true,
      workerData: { file, intervalMs, module: createRequire(import.meta.url).resolve('better-sqlite3') },
    });
    this.worker.unref();
  }

  private stopped = false;

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    // Unref'd so it never keeps a process alive on its own; while we wait for it to close, it must,
    // or a process whose last work is this close() ends mid-way (exit 0, error unreported).
    this.worker.ref();
    this.worker.postMessage('stop');
    await exited;
  }
}
