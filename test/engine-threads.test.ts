/**
 * Built-in engines run in threads of their own, so their CPU work never holds the event loop that
 * serves the API, SSE, the dispatcher and lease heartbeats; and an engine thread that dies takes
 * only its own target with it.
 */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { EngineThreads } from '../src/worker/engine-threads.js';
import { tempDir } from './helpers/service.js';
import { until } from './helpers/until.js';

const logger = createLogger('silent');
const pools: EngineThreads[] = [];

function pool(memoryMb = 1024): EngineThreads {
  const p = new EngineThreads({ kinds: ['extract', 'stems', 'generate'], size: 2, setup: { tools: { ffmpeg: null, ffprobe: null } }, memoryMb, logger });
  pools.push(p);
  return p;
}

function generateContext(seconds: number) {
  const outDir = tempDir('hookwave-thread-out-');
  return { taskId: 'task_t', targetId: 'tgt_t', input: { path: null }, inputUrl: null, params: { prompt: 'ambient, strings', duration: seconds, seed: 7 }, target: { format: 'wav' }, targetName: 'wav', outDir };
}

/** Holds this thread's event loop, as a long synchronous DSP loop on it would. */
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

describe('engine threads', () => {
  it('keep rendering while the event loop is held: the work is not on it', async () => {
    const threads = pool();
    const reported: number[] = [];
    const run = threads.run('generate', generateContext(180), new AbortController().signal, (f) => reported.push(f));
    await until('the render to report progress', () => reported.length > 0, 60_000);
    const before = reported.at(-1)!;
    blockEventLoop(1500);
    // Progress the thread made while this loop was held arrives now, all at once.
    await until('progress sent during the hold to arrive', () => reported.at(-1)! > before);
    const result = await run;
    expect(result.outputs[0]!.duration).toBeCloseTo(180, 0);
    expect(reported.at(-1)).toBe(1);
  });

  it('run targets side by side, one thread each, and reuse a thread for the next target', async () => {
    const threads = pool();
    const runs = [0, 1].map(() => threads.run('generate', generateContext(20), new AbortController().signal, () => undefined));
    expect(threads.threads).toBe(2);
    await Promise.all(runs);
    await threads.run('generate', generateContext(5), new AbortController().signal, () => undefined);
    expect(threads.threads).toBe(2);
  });

  it('stop a render on abort and leave no file behind', async () => {
    const threads = pool();
    const controller = new AbortController();
    const ctx = generateContext(600);
    let progressed = 0;
    const run = threads.run('generate', ctx, controller.signal, (f) => (progressed = f));
    await until('the render to start', () => progressed > 0, 60_000);
    controller.abort('canceled');
    await expect(run).rejects.toMatchObject({ code: 'CANCELED' });
    expect(progressed).toBeLessThan(1);
    expect(fs.readdirSync(ctx.outDir)).toEqual([]);
  });

  it('fail only the target whose thread ran out of memory; the next target gets a fresh thread', async () => {
    // A heap too small for any engine (config refuses less than 64 MiB; the pool takes what it is
    // given): the thread dies while loading, its target fails with a sentence.
    const starved = pool(4);
    await expect(starved.run('generate', generateContext(5), new AbortController().signal, () => undefined)).rejects.toMatchObject({
      code: 'ENGINE_FAILED',
      message: expect.stringMatching(/ran out of memory \(the limit is 4 MiB/),
    });
    expect(starved.threads).toBe(0);
    // The process is fine, and so is a pool with room.
    const healthy = pool();
    const result = await healthy.run('generate', generateContext(5), new AbortController().signal, () => undefined);
    expect(result.outputs).toHaveLength(1);
  });
});
