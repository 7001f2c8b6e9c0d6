/**
 * The worker: leases due targets, runs their engine, stores outputs, and records the outcome.
 *
 * A lease expires unless renewed by the heartbeat, so a worker that dies (kill -9, power loss)
 * gives its targets back after `leaseMs`; a run that keeps its lease is never run twice. The
 * heartbeat is also how a worker in another process learns that a task was canceled.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import os from 'node:os';
import path from 'node:path';
import type { BlobStore } from '../blobs/blob-store.js';
import type { UrlSigner } from '../blobs/signed-url.js';
import type { Config } from '../config.js';
import { finishTarget, type TargetOutcome } from '../services/target-results.js';
import { outputBaseName, outputFileName } from '../domain/output-file-name.js';
import type { ClaimedTarget, OutputRow, StoredError } from '../domain/types.js';
import type { EngineRegistry } from '../engines/registry.js';
import { HookwaveError, isHookwaveError } from '../errors.js';
import { withinFaultScope } from '../fault-scope.js';
import { newId } from '../ids.js';
import { downloadInput } from '../inputs/download.js';
import { InputCache } from '../inputs/input-cache.js';
import type { Logger } from '../logger.js';
import type { Metrics, TargetOutcome as TargetRunOutcome } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { ThreadRunContext } from './engine-thread-protocol.js';
import type { EngineThreads } from './engine-threads.js';
import { throttleProgress } from './progress-throttle.js';
import type { UrlGuard } from '../net/url-guard.js';

export interface WorkerDeps {
  store: Store;
  engines: EngineRegistry;
  /** Where CPU-heavy engines run, off this event loop (null: on it, as engine tests do). */
  threads: EngineThreads | null;
  guard: UrlGuard;
  signer: UrlSigner;
  blobs: BlobStore;
  config: Config;
  logger: Logger;
  metrics?: Metrics;
}

interface Running {
  taskId: string;
  controller: AbortController;
  done: Promise<void>;
  startedAt: number;
  /** What the run is doing, so a fault in its callbacks is reported with the right code. */
  phase: 'input' | 'engine';
}

const PROGRESS_WRITE_INTERVAL_MS = 500;

export class Worker {
  readonly id = `wrk_${os.hostname()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  private readonly running = new Map<string, Running>();
  private readonly inputs: InputCache;
  private readonly workDir: string;
  private stopped = true;
  private claiming = false;
  private again = false;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: Array<() => void> = [];

  constructor(private readonly d: WorkerDeps) {
    this.workDir = path.join(d.config.dataDir, 'work');
    // Per process: workers of several processes may share one data directory (and run targets of
    // the same task), and each one's copies must be its own.
    this.inputs = new InputCache(path.join(this.workDir, 'inputs', this.id));
  }

  start(): void {
    this.stopped = false;
    this.unsubscribe.push(
      this.d.store.subscribe('targets', () => this.kick()),
      this.d.store.subscribe('cancel', (taskId) => this.abortTask(taskId, 'canceled')),
    );
    // Safety net for work committed by another process, and for expired leases of dead workers.
    this.timers.push(setInterval(() => this.kick(), this.d.config.pollIntervalMs).unref());
    this.timers.push(setInterval(() => void this.heartbeat(), this.d.config.heartbeatMs).unref());
    this.kick();
  }

  /** Claims as many targets as there are free slots; coalesces calls that arrive while claiming. */
  kick(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = true;
    void this.claim().finally(() => {
      this.claiming = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async claim(): Promise<void> {
    const free = this.d.config.workerConcurrency - this.running.size;
    if (free <= 0) return;
    const now = Date.now();
    let claimed: ClaimedTarget[];
    try {
      claimed = await this.d.store.claimTargets(this.id, free, now, now + this.d.config.leaseMs, this.d.config.tenantMaxRunning);
    } catch (err) {
      this.d.logger.error({ err }, 'claiming targets failed');
      return;
    }
    for (const c of claimed) this.launch(c);
  }

  private launch(c: ClaimedTarget): void {
    const controller = new AbortController();
    const entry: Running = { taskId: c.task.id, controller, done: Promise.resolve(), startedAt: performance.now(), phase: 'input' };
    this.running.set(c.target.id, entry);
    // A fault thrown from any callback this run scheduled (a download's socket, an engine's child
    // process) fails this target alone; see fault-scope.ts.
    const scope = { label: `target ${c.target.id}`, fail: () => controller.abort(faultError(entry.phase)) };
    entry.done = withinFaultScope(scope, () => this.run(c, entry)).finally(() => {
      this.running.delete(c.target.id);
      this.kick();
    });
  }

  private async run(c: ClaimedTarget, entry: Running): Promise<void> {
    const { target, task } = c;
    const { controller } = entry;
    const log = this.d.logger.child({ task_id: task.id, target_id: target.id, kind: task.kind, attempt: target.attempts });
    if (target.attempts > this.d.config.maxTargetAttempts) {
      log.warn('target lost its worker too many times; failing it');
      const error = { code: 'WORKER_LOST', message: `the target was started ${target.attempts - 1} times and its worker stopped each time` };
      await this.record(c, { status: 'failed', error }, log);
      return;
    }
    const engine = this.d.engines.get(task.kind);
    if (!engine) {
      await this.record(c, { status: 'failed', error: { code: 'UNKNOWN_KIND', message: `this worker has no engine for kind "${task.kind}"` } }, log);
      return;
    }

    const timeout = setTimeout(() => controller.abort('timeout'), this.d.config.targetTimeoutMs);
    const outDir = path.join(this.workDir, 'runs', `${target.id}-${target.attempts}`);
    let usedInput = false;
    const progress = throttleProgress((fraction) => {
      void this.d.store
        .updateLeasedTarget(target.id, this.id, { progress: fraction })
        .then((held) => held && this.d.store.notify('progress', task.id))
        .catch(() => undefined);
    }, PROGRESS_WRITE_INTERVAL_MS);
    try {
      log.info('target started');
      await fsp.mkdir(outDir, { recursive: true });
      let inputPath: string | null = null;
      if (engine.needsInput && (engine.inputAccess ?? 'file') === 'file') {
        inputPath = await this.inputs.acquire(task.id, (dest) => this.fetchInput(task, dest, controller.signal));
        // Only a successful acquire is released: a failed one has already let go.
        usedInput = true;
      }
      entry.phase = 'engine';
      const ctx: ThreadRunContext = {
        taskId: task.id,
        targetId: target.id,
        input: { path: inputPath, sharedDir: inputPath ? path.join(path.dirname(inputPath), 'shared') : null },
        taskTargets: engine.plansAcrossTargets ? (await this.d.store.getTargets(task.id)).map((t) => t.spec) : undefined,
        inputUrl: await this.inputUrl(task),
        params: task.params,
        target: target.spec,
        targetName: target.name,
        outDir,
        limits: { outputBytes: this.d.config.maxOutputBytes, outputSeconds: this.d.config.maxOutputSeconds },
      };
      const threads = this.d.threads;
      const result = threads?.serves(task.kind)
        ? await threads.run(task.kind, ctx, controller.signal, progress.report)
        : await engine.run({ ...ctx, signal: controller.signal, progress: progress.report });
      progress.stop();
      const now = Date.now();
      const outputs: OutputRow[] = [];
      const base = await this.outputBase(task);
      for (const o of result.outputs) {
        const id = newId('out');
        const key = `${task.tenant_id}/${task.id}/${target.id}/${id}.${o.format}`;
        const size = await this.d.blobs.put(o.path, key);
        outputs.push({
          id,
          target_id: target.id,
          task_id: task.id,
          tenant_id: task.tenant_id,
          name: o.name,
          format: o.format,
          path: key,
          size,
          duration: o.duration,
          bitrate: o.bitrate,
          sample_rate: o.sample_rate,
          channels: o.channels,
          loudness: o.loudness,
          file_name: outputFileName(base, o),
          peaks: o.peaks,
          created_at: now,
          expires_at: this.d.config.outputRetentionMs > 0 ? now + this.d.config.outputRetentionMs : null,
          removed_at: null,
        });
      }
      const rate = this.d.config.costPerSecond[task.kind] ?? this.d.config.costPerSecond.default ?? 0;
      const cost = result.duration === null ? null : Math.round(rate * result.duration * 1e6) / 1e6;
      const recorded = await this.record(c, { status: 'completed', outputs, duration: result.duration, cost, info: result.info ?? null }, log);
      if (!recorded) await Promise.all(outputs.map((o) => this.d.blobs.remove(o.path)));
      else log.info({ outputs: outputs.length, duration: result.duration }, 'target completed');
    } catch (err) {
      const reason = typeof controller.signal.reason === 'string' ? controller.signal.reason : undefined;
      if (controller.signal.aborted && reason === 'shutdown') {
        // Hand the target back at once instead of waiting for the lease to expire.
        await this.d.store.updateLeasedTarget(target.id, this.id, { status: 'queued', lease_owner: null, lease_expires_at: null }).catch(() => undefined);
        log.info('target released at shutdown');
        this.observe(c, 'released');
        return;
      }
      if (controller.signal.aborted && (reason === 'canceled' || reason === 'lease lost')) {
        log.info({ reason }, 'target stopped');
        this.observe(c, reason === 'canceled' ? 'canceled' : 'lost');
        return;
      }
      const fault = controller.signal.aborted && isHookwaveError(controller.signal.reason) ? controller.signal.reason : null;
      const error = toStoredError(fault ?? err, reason === 'timeout' ? this.d.config.targetTimeoutMs : null);
      const diagnostic = (err as { diagnostic?: unknown } | null)?.diagnostic;
      if (error.code === 'ENGINE_FAILED' || error.code === 'INTERNAL_ERROR') log.error({ err, diagnostic }, 'target failed');
      else log.info({ code: error.code, message: error.message, diagnostic }, 'target failed');
      await this.record(c, { status: 'failed', error }, log);
    } finally {
      progress.stop();
      clearTimeout(timeout);
      if (usedInput) await this.inputs.release(task.id).catch(() => undefined);
      await fsp.rm(outDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** What the task's output files are named after (domain/output-file-name.ts). */
  private async outputBase(task: ClaimedTarget['task']): Promise<string> {
    const upload = task.input.upload_id ? await this.d.store.getUpload(task.tenant_id, task.input.upload_id) : null;
    return outputBaseName({ uploadFileName: upload?.file_name, inputUrl: task.input.url, title: task.title, taskId: task.id });
  }

  private async inputUrl(task: ClaimedTarget['task']): Promise<string | null> {
    if (task.input.url) return task.input.url;
    if (!task.input.upload_id) return null;
    const upload = await this.d.store.getUpload(task.tenant_id, task.input.upload_id);
    return upload ? this.d.signer.sign(upload.id, upload.file_name ?? 'input').url : null;
  }

  /** The task's input as a local file: downloaded from its URL, or copied from its upload. */
  private async fetchInput(task: ClaimedTarget['task'], dest: string, signal: AbortSignal): Promise<void> {
    if (task.input.url) {
      await downloadInput(task.input.url, dest, { guard: this.d.guard, maxBytes: this.d.config.maxInputBytes, timeoutMs: this.d.config.downloadTimeoutMs, signal });
      return;
    }
    const upload = task.input.upload_id ? await this.d.store.getUpload(task.tenant_id, task.input.upload_id) : null;
    if (!upload) throw new HookwaveError('DOWNLOAD_FAILED', `upload ${task.input.upload_id ?? '(none)'} no longer exists (uploads expire ${Math.round(this.d.config.uploadTtlMs / 3600_000)} h after upload)`);
    await pipeline(await this.d.blobs.open(upload.path), fs.createWriteStream(dest), { signal });
  }

  private observe(c: ClaimedTarget, outcome: TargetRunOutcome): void {
    const r = this.running.get(c.target.id);
    if (r) this.d.metrics?.targetFinished(c.task.kind, outcome, (performance.now() - r.startedAt) / 1000);
  }

  private async record(c: ClaimedTarget, outcome: TargetOutcome, log: Logger): Promise<boolean> {
    try {
      const recorded = await this.d.store.tx((tx) => finishTarget(tx, this.d.signer, c.target, this.id, outcome, Date.now()));
      this.observe(c, recorded ? outcome.status : 'lost');
      return recorded;
    } catch (err) {
      // The lease will expire and another run will record it; nothing is lost.
      log.error({ err }, 'recording the target outcome failed');
      return false;
    }
  }

  private async heartbeat(): Promise<void> {
    const ids = [...this.running.keys()];
    if (ids.length === 0) return;
    try {
      const held = new Set(await this.d.store.renewLeases(this.id, ids, Date.now() + this.d.config.leaseMs));
      for (const id of ids) {
        if (!held.has(id)) this.running.get(id)?.controller.abort('lease lost');
      }
    } catch (err) {
      this.d.logger.error({ err }, 'heartbeat failed');
    }
  }

  private abortTask(taskId: string | undefined, reason: string): void {
    for (const r of this.running.values()) {
      if (r.taskId === taskId) r.controller.abort(reason);
    }
  }

  /** Stops claiming, stops running engines and hands their targets back; resolves when all have. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const u of this.unsubscribe) u();
    this.timers = [];
    this.unsubscribe = [];
    for (const r of this.running.values()) r.controller.abort('shutdown');
    await Promise.all([...this.running.values()].map((r) => r.done));
    await this.d.threads?.close();
    await this.inputs.close();
    await fsp.rm(path.join(this.workDir, 'inputs', this.id), { recursive: true, force: true }).catch(() => undefined);
  }

  get activeTargets(): number {
    return this.running.size;
  }
}

function faultError(phase: Running['phase']): HookwaveError {
  return phase === 'input'
    ? new HookwaveError('DOWNLOAD_FAILED', 'the input download broke off with an internal error; the task can be submitted again')
    : new HookwaveError('ENGINE_FAILED', 'the engine stopped with an internal error; the task can be submitted again');
}

function toStoredError(err: unknown, timeoutMs: number | null): StoredError {
  if (timeoutMs !== null) return { code: 'TARGET_TIMEOUT', message: `the target ran longer than ${timeoutMs} ms` };
  if (isHookwaveError(err)) return err.details === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, details: err.details };
  // Not one of ours: its words (a path, a stack) went to the log, not to the user.
  return { code: 'ENGINE_FAILED', message: 'the engine stopped with an internal error' };
}

