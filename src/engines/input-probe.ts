/**
 * The task's input, probed once for the targets that come after the first: a target that probes leaves the
 * answer in the input's shared folder, and later targets (in other threads) read it there instead of starting
 * ffprobe again (~0.15 s of CPU each, mostly the process's own start). Targets that start at the same moment
 * each probe the same file and write the same answer. An input that fails to probe leaves nothing behind:
 * each target then fails with its own error.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { probe, type ProbeResult } from '../media/ffmpeg.js';
import type { EngineInput } from './engine.js';

const FILE = 'probe.json';

export async function probeInput(input: EngineInput & { path: string }, signal: AbortSignal): Promise<ProbeResult> {
  if (!input.sharedDir) return probe(input.path, { signal });
  const file = join(input.sharedDir, FILE);
  const known = await readFile(file, 'utf8').then((text) => JSON.parse(text) as ProbeResult, () => null);
  if (known) return known;
  const probed = await probe(input.path, { signal });
  await mkdir(input.sharedDir, { recursive: true });
  // Written whole under a name of its own, then renamed: a reader never sees half of it.
  const temp = `${file}.${randomBytes(4).toString('hex')}.part`;
  await writeFile(temp, JSON.stringify(probed));
  await rename(temp, file);
  return probed;
}
