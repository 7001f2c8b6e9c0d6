/**
 * The onnxruntime session of the stems model: created once per thread (engines run in worker threads, each
 * with its own module state) and reused by every target that thread runs. One intra-op thread, so that
 * `workerConcurrency` targets at once still means that many cores. onnxruntime-node's `run` returns a promise
 * but computes synchronously inside a setImmediate (1.31), so one chunk's network call (about 0.4 s of CPU
 * for 512 + 2·80 frames) holds this engine thread's loop: a cancel message waits for the chunk in progress.
 * The API's loop is never held, since engines run in threads of their own (worker/engine-threads.ts).
 */
import type * as Ort from 'onnxruntime-node';
import { loadStemsModel, stemsModelDir, type StemsModelSpec } from './model-file.js';
import type { MaskRunner } from './model-separator.js';

export interface StemsSession {
  spec: StemsModelSpec;
  masks: MaskRunner;
}

const sessions = new Map<string, Promise<StemsSession>>();

async function open(dir: string): Promise<StemsSession> {
  // The verified bytes go to onnxruntime, not the path: what runs is what was checked.
  const { spec, bytes } = loadStemsModel(dir);
  // Loaded here, not at import: the CLI's client commands and API-only processes never need the native runtime.
  const { InferenceSession, Tensor } = (await import('onnxruntime-node')) as typeof Ort;
  const session = await InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const channels = 2;
  return {
    spec,
    masks: async (magnitudes, frames) => {
      const input = new Tensor('float32', magnitudes, [1, channels, spec.bins, frames]);
      const out = await session.run({ [spec.inputName]: input });
      const masks = out[spec.outputName];
      if (!masks) throw new Error(`the stems model has no output "${spec.outputName}"`);
      return masks.data as Float32Array;
    },
  };
}

/** This thread's session for the configured model, loaded on first use. */
export function stemsSession(dir = stemsModelDir()): Promise<StemsSession> {
  let s = sessions.get(dir);
  if (!s) {
    s = open(dir);
    // A failed load is not cached: the files may be restored without restarting.
    s.catch(() => sessions.delete(dir));
    sessions.set(dir, s);
  }
  return s;
}
