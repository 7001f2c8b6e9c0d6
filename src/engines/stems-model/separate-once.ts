/**
 * One separation per track, however many stems a task asks for. The model computes every stem's mask in
 * the same pass, so the first stems target of a task to start separates all the stems its task wants, into
 * raw float files beside the task's input (EngineInput.sharedDir, which lives as long as the input copy);
 * the task's other targets, in other engine threads of the process, wait for those files and only encode.
 * Four stems then cost one model pass instead of four.
 *
 * The threads coordinate through the file system, so nothing needs a message protocol: whoever creates the
 * lock file separates (into a temporary folder, renamed into place when complete, so a finished folder is
 * always whole), and the others poll until the folder is there, reporting the separator's progress from the
 * file it writes. A separator that fails or is canceled removes its lock, and a waiting target takes over.
 * The lock is never stale across restarts: the shared folder is per process and removed at shutdown.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HookwaveError } from '../../errors.js';

const POLL_MS = 100;
const PROGRESS_WRITE_MS = 500;
const COMPLETE = 'complete.json';

export interface SeparateOnceOptions {
  /** The task's shared folder (EngineInput.sharedDir). */
  dir: string;
  /** What was separated with (the model's name): a different model is a different separation. */
  key: string;
  /** The outputs this target needs; the first to separate makes `planned`, which must include them. */
  needed: string[];
  /** Everything the task's targets need, separated in the one pass. */
  planned: string[];
  signal: AbortSignal;
  /** 0..1 of the separation, whoever runs it. */
  progress: (fraction: number) => void;
  /** Writes each of `outputs` to `files[name]`, reporting progress 0..1. */
  separate: (files: Record<string, string>, progress: (fraction: number) => void) => Promise<void>;
}

/** Raw stereo float files of the outputs, by name: separated here, or by another target of the task. */
export async function separateOnce(o: SeparateOnceOptions): Promise<{ files: Record<string, string>; separatedHere: boolean }> {
  await fsp.mkdir(o.dir, { recursive: true });
  const finalDir = join(o.dir, `stems-${o.key}`);
  const lock = `${finalDir}.lock`;
  const progressFile = `${finalDir}.progress`;
  for (;;) {
    if (o.signal.aborted) throw new HookwaveError('CANCELED', 'canceled');
    const done = await completeOutputs(finalDir);
    if (done) {
      if (o.needed.every((n) => done.includes(n))) return { files: filesIn(finalDir, o.needed), separatedHere: false };
      // Separated for other targets than this one's (its task's targets were not known): separate alone.
      const own = join(o.dir, `stems-${o.key}-${randomBytes(4).toString('hex')}`);
      await separateInto(own, o.needed, o, () => undefined);
      return { files: filesIn(own, o.needed), separatedHere: true };
    }
    const held = await fsp.open(lock, 'wx').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return null;
      throw err;
    });
    if (held) {
      await held.close();
      try {
        const tmp = `${finalDir}.tmp-${randomBytes(4).toString('hex')}`;
        try {
          await separateInto(tmp, o.planned, o, throttled(progressFile));
          await fsp.rename(tmp, finalDir);
        } finally {
          await fsp.rm(tmp, { recursive: true, force: true });
        }
      } finally {
        await Promise.all([fsp.rm(lock, { force: true }), fsp.rm(progressFile, { force: true })]);
      }
      return { files: filesIn(finalDir, o.needed), separatedHere: true };
    }
    // Another target of the task is separating: follow its progress until its files are complete, or its lock
    // goes away without them (it failed or was canceled) and this target takes over.
    const fraction = Number(await fsp.readFile(progressFile, 'utf8').catch(() => 'NaN'));
    if (Number.isFinite(fraction)) o.progress(fraction);
    await sleep(POLL_MS, undefined, { signal: o.signal }).catch(() => undefined);
  }

  function throttled(file: string): (fraction: number) => void {
    let last = 0;
    return (fraction) => {
      o.progress(fraction);
      const now = Date.now();
      if (now - last < PROGRESS_WRITE_MS) return;
      last = now;
      void fsp.writeFile(file, fraction.toFixed(4)).catch(() => undefined);
    };
  }
}

async function separateInto(dir: string, outputs: string[], o: SeparateOnceOptions, progress: (fraction: number) => void): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  await o.separate(filesIn(dir, outputs), progress);
  await fsp.writeFile(join(dir, COMPLETE), JSON.stringify(outputs));
}

function filesIn(dir: string, outputs: string[]): Record<string, string> {
  return Object.fromEntries(outputs.map((name) => [name, join(dir, `${name}.f32`)]));
}

async function completeOutputs(dir: string): Promise<string[] | null> {
  if (!existsSync(dir)) return null;
  return JSON.parse(await fsp.readFile(join(dir, COMPLETE), 'utf8')) as string[];
}
