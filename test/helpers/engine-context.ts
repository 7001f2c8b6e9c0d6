/**
 * What an engine test needs to run an engine the way the worker does, without the service around
 * it: the run context (input, target, params, an empty output directory, an abort signal, a progress
 * callback), temporary directories removed after the file, and a look at the ffmpeg children left.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { Engine, EngineRunContext, TargetSpec } from '../../src/engines/engine.js';
import { isHookwaveError } from '../../src/errors.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed when the test file ends. */
export function engineTempDir(prefix = 'hookwave-engine-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export interface EngineTestContext extends EngineRunContext {
  /** Every fraction the engine reported, in order (also passed on to a `progress` given in the options). */
  readonly reported: number[];
  /** Cancels the run, as a task cancel or a worker shutdown does. */
  abort(): void;
}

export interface EngineContextOptions extends Partial<Omit<EngineRunContext, 'input'>> {
  /** Path of the input file; none for engines that make audio from nothing. */
  input?: string | null;
  /** Prefix of the output directory's name (to tell runs apart in the temp dir). */
  outDirPrefix?: string;
}

/** The context the worker would give `engine` for `target`: ids, an empty output dir, an abort signal of its own. */
export function engineContext(engine: Pick<Engine, 'targetName'>, target: TargetSpec, options: EngineContextOptions = {}): EngineTestContext {
  const { input = null, outDirPrefix = 'hookwave-engine-out-', progress, ...rest } = options;
  const controller = new AbortController();
  const reported: number[] = [];
  return {
    taskId: 'task_test',
    targetId: 'tgt_test',
    inputUrl: null,
    params: {},
    targetName: engine.targetName(target, 0),
    outDir: engineTempDir(outDirPrefix),
    signal: controller.signal,
    ...rest,
    input: { path: input },
    target,
    reported,
    progress: (fraction) => {
      reported.push(fraction);
      progress?.(fraction);
    },
    abort: () => controller.abort(),
  };
}

/** The HookwaveError a run ended with (its code and message); throws if the run succeeded or failed otherwise. */
export async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await promise.then(
    () => {
      throw new Error('expected the run to fail');
    },
    (e: unknown) => e,
  );
  if (!isHookwaveError(err)) throw err;
  return { code: err.code, message: err.message };
}

/** Linux: pids of live ffmpeg/ffprobe children of this process. */
export function childFfmpegs(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z' && /^ff(mpeg|probe)/.test(comm)) pids.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return pids;
}
