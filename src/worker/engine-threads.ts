/**
 * Engine threads: the built-in engines' CPU work (music synthesis, STFT, separation, model
 * inference) runs in worker threads, never on the event loop that serves the API, SSE streams, the
 * dispatcher and lease heartbeats. A stalled heartbeat can lose a lease under load; a stalled API
 * stalls every tenant.
 *
 * One thread per running target, at most `size` (the worker's concurrency), kept for the next
 * target once started (engines and models load once per thread). A thread that throws where no
 * one catches, or runs out of memory (`memoryMb` per thread), dies alone: its target fails with
 * ENGINE_FAILED, and the next target gets a fresh thread.
 *
 * Cancel is cooperative first (the engine kills its ffmpeg processes and removes partial files);
 * a thread that has not stopped within `abortGraceMs` (its JavaScript stuck in a loop) is
 * terminated.
 *
 * Written here rather than taken from a pool library: claiming is already bounded by free slots
 * (there is no queue to manage), and piscina's abort terminates the thread, which is the wrong
 * first step for an engine that owns child processes and temp files.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EngineResult } from '../engines/engine.js';
import { HookwaveError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ThreadReply, ThreadRequest, ThreadRunContext, ThreadSetup } from './engine-thread-protocol.js';

export interface EngineThreadsOptions {
  /** The kinds a thread can run: the built-in engines (a model server's engine only moves bytes, and stays here). */
  kinds: readonly string[];
  /** Threads at most: targets that run at once in this process. */
  size: number;
  setup: ThreadSetup;
  /** Heap limit of each thread (V8 old generation), in MiB. */
  memoryMb: number;
  logger: Logger;
  abortGraceMs?: number;
}

interface Job {
  id: number;
  kind: string;
  ctx: ThreadRunContext;
  progress: (fraction: number) => void;
  resolve: (result: EngineResult) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
  slot: Slot | null;
  graceTimer: NodeJS.Timeout | null;
}

interface Slot {
  thread: Worker;
  job: Job | null;
  /** Set when we terminate it: its exit is expected, and its job was aborted. */
  terminating: boolean;
}

// Plain JavaScript, so a thread can start from the compiled files and from the TypeScript sources
// alike (tests and `npm run dev` run the sources: the thread then registers tsx first).
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) {
    const tsx = await import(workerData.tsx);
    (tsx.register ?? tsx.default.register)();
  }
  await import(workerData.entry);
})().catch((err) => process.nextTick(() => { throw err; }));
`;

function threadEntry(): { entry: string; tsx: string | null } {
  const here = fileURLToPath(import.meta.url);
  const ext = path.extname(here);
  const entry = pathToFileURL(path.join(path.dirname(here), `engine-thread${ext}`)).href;
  const tsx = ext === '.ts' ? pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href : null;
  return { entry, tsx };
}

export class EngineThreads {
  private readonly slots = new Set<Slot>();
  private readonly waiting: Job[] = [];
  private readonly entry = threadEntry();
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: EngineThreadsOptions) {}

  /** Runs one target's engine in a thread; rejects with what the engine threw (as a HookwaveError). */
  run(kind: string, ctx: ThreadRunContext, signal: AbortSignal, progress: (fraction: number) => void): Promise<EngineResult> {
    if (this.closed) return Promise.reject(new HookwaveError('CANCELED', 'the worker is shutting down'));
    if (signal.aborted) return Promise.reject(new HookwaveError('CANCELED', 'canceled'));
    return new Promise<EngineResult>((resolve, reject) => {
      const job: Job = { id: this.nextId++, kind, ctx, progress, resolve, reject, signal, onAbort: () => this.abort(job), slot: null, graceTimer: null };
      signal.addEventListener('abort', job.onAbort, { once: true });
      this.waiting.push(job);
      this.schedule();
    });
  }

  serves(kind: string): boolean {
    return this.opts.kinds.includes(kind);
  }

  /** Threads started and alive (busy or idle). */
  get threads(): number {
    return this.slots.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) this.settle(job, () => job.reject(new HookwaveError('CANCELED', 'the worker is shutting down')));
    await Promise.all([...this.slots].map((slot) => this.terminate(slot)));
  }

  private schedule(): void {
    while (this.waiting.length > 0 && !this.closed) {
      let slot = [...this.slots].find((s) => !s.job && !s.terminating);
      if (!slot) {
        if (this.slots.size >= this.opts.size) return;
        slot = this.spawn();
      }
      const job = this.waiting.shift()!;
      slot.job = job;
      job.slot = slot;
      // A busy thread keeps the process alive, an idle one does not.
      slot.thread.ref();
      slot.thread.postMessage({ type: 'run', id: job.id, kind: job.kind, ctx: job.ctx } satisfies ThreadRequest);
    }
  }

  private spawn(): Slot {
    const thread = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: { ...this.opts.setup, ...this.entry },
      resourceLimits: { maxOldGenerationSizeMb: this.opts.memoryMb },
      // Not the parent's --import/--loader flags: the thread registers what it needs itself.
      execArgv: [],
    });
    const slot: Slot = { thread, job: null, terminating: false };
    thread.unref();
    thread.on('message', (m: ThreadReply) => this.onReply(slot, m));
    thread.on('error', (err) => this.onDeath(slot, err));
    thread.on('exit', (code) => this.onDeath(slot, null, code));
    this.slots.add(slot);
    return slot;
  }

  private onReply(slot: Slot, m: ThreadReply): void {
    const job = slot.job;
    if (!job || job.id !== m.id) return;
    if (m.type === 'progress') {
      job.progress(m.fraction);
    } else if (m.type === 'done') {
      this.settle(job, () => job.resolve(m.result));
    } else {
      const err = new HookwaveError(m.error.code, m.error.message, m.error.details);
      if (m.error.diagnostic) Object.assign(err, { diagnostic: m.error.diagnostic });
      this.settle(job, () => job.reject(err));
    }
  }

  /** The thread is gone ('error' is followed by 'exit'; whichever comes first settles its job). */
  private onDeath(slot: Slot, err: Error | null, code?: number): void {
    if (!this.slots.delete(slot) && !err) return;
    const job = slot.job;
    if (job) {
      const outOfMemory = (err as NodeJS.ErrnoException | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
      const failure = slot.terminating
        ? new HookwaveError('CANCELED', 'the engine was stopped')
        : outOfMemory
          ? new HookwaveError('ENGINE_FAILED', `the engine ran out of memory (the limit is ${this.opts.memoryMb} MiB per running target)`)
          : new HookwaveError('ENGINE_FAILED', 'the engine stopped with an internal error');
      if (!slot.terminating) this.opts.logger.error({ err, exit_code: code, kind: job.kind, target_id: job.ctx.targetId }, 'an engine thread died; its target fails, the next target gets a new thread');
      this.settle(job, () => job.reject(failure));
    }
    slot.job = null;
    this.schedule();
  }

  private abort(job: Job): void {
    const slot = job.slot;
    if (!slot) {
      const at = this.waiting.indexOf(job);
      if (at >= 0) this.waiting.splice(at, 1);
      this.settle(job, () => job.reject(new HookwaveError('CANCELED', 'canceled')));
      return;
    }
    const reason = typeof job.signal.reason === 'string' ? job.signal.reason : 'aborted';
    slot.thread.postMessage({ type: 'abort', id: job.id, reason } satisfies ThreadRequest);
    // Stuck in a loop that never yields: the message cannot be read, so the thread goes.
    job.graceTimer = setTimeout(() => {
      if (slot.job === job) void this.terminate(slot);
    }, this.opts.abortGraceMs ?? 10_000);
    job.graceTimer.unref();
  }

  private async terminate(slot: Slot): Promise<void> {
    slot.terminating = true;
    await slot.thread.terminate();
  }

  private settle(job: Job, finish: () => void): void {
    job.signal.removeEventListener('abort', job.onAbort);
    if (job.graceTimer) clearTimeout(job.graceTimer);
    const slot = job.slot;
    if (slot && slot.job === job) {
      slot.job = null;
      slot.thread.unref();
    }
    job.slot = null;
    finish();
    queueMicrotask(() => this.schedule());
  }
}
