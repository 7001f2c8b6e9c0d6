/**
 * The model's four stems of a file from one pass, outputs discarded: what a task asking for every stem would
 * cost if its targets shared one pass. Runs in bench/engines.ts's pinned child (job kind 'stems-all'); a file
 * of its own because engines.ts cannot import bench/stems.ts back while its child awaits at top level.
 */
import { spawn } from 'node:child_process';
import type { EngineResult } from '../src/engines/engine.js';
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

