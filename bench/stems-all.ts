/**
 * Child sides of two bench/stems.ts jobs, run in bench/engines.ts's pinned child; a file of its own because
 * engines.ts cannot import bench/stems.ts back while its child awaits at top level:
 *  - 'stems-all': the model's four stems of a file from one pass, outputs discarded (the floor of what a
 *    task asking for every stem can cost);
 *  - 'stems-task': a task with four stem targets through the engine as the worker runs them (one shared
 *    separation, then four encodes to wav).
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { EngineResult } from '../src/engines/engine.js';
import { stemsEngine } from '../src/engines/stems.js';
import { pcmFrames } from '../src/engines/dsp/pcm-pipe.js';
import { ModelSeparator } from '../src/engines/stems-model/model-separator.js';
import { stemsSession } from '../src/engines/stems-model/session.js';
import { ffmpegPath } from '../src/media/ffmpeg.js';

const STEMS = ['drums', 'bass', 'other', 'vocals'] as const;

/** Child side of a 'stems-all' job: the model's four stems of a file from one pass, outputs discarded. */
export async function separateAllStems(job: { input: string | null }): Promise<EngineResult> {
  const session = await stemsSession();
  let networkMs = 0;
  const separator = new ModelSeparator({
    spec: session.spec,
    outputs: STEMS.map((s) => [session.spec.stems.indexOf(s)]),
    masks: async (m, frames) => {
      // CPU, not wall: onnxruntime computes on its own thread, and nothing else runs while this awaits.
      const c0 = process.cpuUsage();
      const out = await session.masks(m, frames);
      const c = process.cpuUsage(c0);
      networkMs += (c.user + c.system) / 1000;
      return out;
    },
    onOutput: () => {},
  });
  const decoder = spawn(ffmpegPath(), ['-nostdin', '-v', 'error', '-i', job.input!, '-f', 'f32le', '-ar', '44100', '-ac', '2', 'pipe:1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const chunk of pcmFrames(decoder.stdout)) await separator.push(chunk);
  await separator.finish();
  return { outputs: [], duration: separator.samples / 44100, info: { networkMs } };
}


/** Child side of a 'stems-task' job: four stem targets of one task, one after another, sharing the separation. */
export async function runStemTask(job: { input: string | null; outDir: string }): Promise<EngineResult> {
  const targets = STEMS.map((stem) => ({ stem, format: 'wav' }));
  const outputs = [];
  const separated: unknown[] = [];
  for (const target of targets) {
    // The worker gives each target an empty folder of its own.
    await mkdir(path.join(job.outDir, target.stem), { recursive: true });
    const result = await stemsEngine.run({
      taskId: 'task_bench',
      targetId: `tgt_${target.stem}`,
      input: { path: job.input, sharedDir: path.join(job.outDir, 'shared') },
      inputUrl: null,
      params: {},
      target,
      taskTargets: targets,
      targetName: target.stem,
      outDir: path.join(job.outDir, target.stem),
      signal: new AbortController().signal,
      progress: () => {},
    });
    outputs.push(...result.outputs);
    separated.push(result.info?.separated);
  }
  return { outputs, duration: outputs[0]?.duration ?? null, info: { separated } };
}
