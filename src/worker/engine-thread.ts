/**
 * Inside one engine thread (see engine-threads.ts): runs the built-in engines one target at a time
 * and reports progress and the outcome to the process's event loop by message.
 *
 * Everything here is per thread: a DSP loop or a model that takes seconds stalls only this thread,
 * and an exception nobody caught, or running out of memory, ends only this thread (the pool fails
 * its target and starts a fresh one).
 */
import fs from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { builtinEngines } from '../engines/registry.js';
import { useStemsModel } from '../engines/stems-model/model-file.js';
import { isHookwaveError } from '../errors.js';
import { useTools } from '../media/ffmpeg.js';
import type { ThreadReply, ThreadRequest, ThreadSetup } from './engine-thread-protocol.js';
import { throttleProgress } from './progress-throttle.js';

/**
 * Engine threads (and the ffmpeg processes they start, which inherit it) run at a lower CPU
 * priority than the process's main thread, so on a machine whose cores the engines fill the API,
 * SSE, the dispatcher and lease heartbeats still get a core when they need one. Linux applies
 * setpriority to one thread given its thread id; elsewhere (or without /proc) this is skipped.
 */
export const ENGINE_NICE = 10;

function lowerThreadPriority(): void {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, Math.max(os.getPriority(tid), ENGINE_NICE));
  } catch {
    // Not Linux, or not allowed: the threads run at the process's priority.
  }
}

lowerThreadPriority();
const setup = workerData as ThreadSetup;
useTools(setup.tools);
useStemsModel(setup.stemsModel ?? null);
const engines = builtinEngines();
const port = parentPort!;
let running: { id: number; controller: AbortController } | null = null;
/** Progress messages at most this often: the worker writes it at most every 500 ms anyway. */
const PROGRESS_EVERY_MS = 100;

function reply(message: ThreadReply): void {
  port.postMessage(message);
}

async function run(request: Extract<ThreadRequest, { type: 'run' }>): Promise<void> {
  const controller = new AbortController();
  running = { id: request.id, controller };
  const engine = engines.get(request.kind);
  const progress = throttleProgress((fraction) => reply({ type: 'progress', id: request.id, fraction }), PROGRESS_EVERY_MS);
  try {
    if (!engine) throw new Error(`no built-in engine serves kind "${request.kind}"`);
    const result = await engine.run({ ...request.ctx, signal: controller.signal, progress: progress.report });
    progress.stop();
    reply({ type: 'done', id: request.id, result });
  } catch (err) {
    if (isHookwaveError(err)) {
      const diagnostic = (err as { diagnostic?: unknown }).diagnostic;
      reply({ type: 'failed', id: request.id, error: { code: err.code, message: err.message, details: err.details, diagnostic: typeof diagnostic === 'string' ? diagnostic : undefined } });
    } else {
      // Not one of ours: its words (a path, a stack) are for the log, not for the user.
      const diagnostic = err instanceof Error ? (err.stack ?? err.message) : String(err);
      reply({ type: 'failed', id: request.id, error: { code: 'ENGINE_FAILED', message: 'the engine stopped with an internal error', diagnostic } });
    }
  } finally {
    progress.stop();
    running = null;
  }
}

port.on('message', (message: ThreadRequest) => {
  if (message.type === 'run') void run(message);
  else if (message.type === 'abort' && running?.id === message.id) running.controller.abort(message.reason);
});
