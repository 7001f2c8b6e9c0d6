/**
 * The learned stems separator (models/stems) as it runs in the engine: on a held-out clip whose stems are
 * known (test/fixtures/stems, rendered with timbres, a groove and a voice that training never saw), against
 * the Python reference that defines it (training/stems/separate.py), across chunk boundaries, and with a
 * broken model file.
 */
import { copyFileSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TargetSpec } from '../src/engines/engine.js';
import { stemsEngine } from '../src/engines/stems.js';
import { BUILTIN_MODEL_DIR, loadStemsModel, parseSpec } from '../src/engines/stems-model/model-file.js';
import { ModelSeparator } from '../src/engines/stems-model/model-separator.js';
import { stemsSession, type StemsSession } from '../src/engines/stems-model/session.js';
import { engineContext, engineTempDir } from './helpers/engine-context.js';
import { decodeF32, makeTone, readWav, sdr, stereoCollector } from './helpers/media.js';
import { startService } from './helpers/service.js';

const FIXTURE = join(import.meta.dirname, 'fixtures/stems');
const STEMS = ['drums', 'bass', 'other', 'vocals'] as const;

const tempDir = engineTempDir;

const context = (input: string, target: TargetSpec, params: Record<string, unknown> = {}) =>
  engineContext(stemsEngine, target, { input, params, outDirPrefix: 'hookwave-stems-model-' });

/** Runs the separator in-process on interleaved stereo, one output per entry of `outputs`. */
async function separate(session: StemsSession, mix: Float32Array, outputs: number[][], options: { coreFrames?: number; wiener?: boolean; piece?: number } = {}): Promise<Float32Array[]> {
  const { outs, filled, onOutput } = stereoCollector(outputs.length, mix.length);
  const separator = new ModelSeparator({ spec: session.spec, outputs, masks: session.masks, coreFrames: options.coreFrames, wiener: options.wiener, onOutput });
  const piece = options.piece ?? 2 * 12_345;
  for (let i = 0; i < mix.length; i += piece) await separator.push(mix.subarray(i, Math.min(mix.length, i + piece)));
  await separator.finish();
  expect(filled).toEqual(outputs.map(() => mix.length));
  return outs;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

let session: StemsSession;
let mix: Float32Array;
const truth: Record<string, Float32Array> = {};
beforeAll(async () => {
  session = await stemsSession();
  mix = await decodeF32(join(FIXTURE, 'mix.flac'));
  for (const s of STEMS) truth[s] = await decodeF32(join(FIXTURE, `${s}.flac`));
});

describe('stems model: separating a clip it never saw', () => {
  /**
   * Per-stem SDR floors on the 7 s fixture, a few tenths of a dB under what hookwave-stems-v19 with its Wiener
   * step measures (drums 0.97, bass 1.61, other 7.12, vocals 8.18 dB; v9 0.96, 1.66, 7.12, 8.51; mix as is: -18.3, -7.9, 2.5, -6.0).
   * The fixture is 7 s of heldout0004, whose drums are quiet: no model so far separates them much above 1 dB
   * (v8 0.97, 1.70, 6.91, 7.17; v7 1.11, 1.43, 6.45, 6.58; v6, masks only, 1.02, 2.11, 7.51, 6.73;
   * docs/stems-model.md).
   * v5 measured 0.70, 1.95, 6.15, 3.60, v4 0.59, 1.47, 5.13, 1.73, v3 0.46, 1.55, 5.25, 2.23, v2 0.07, 1.31,
   * 3.50, -0.05.
   * Raise them with a better model; a change that drops below one made that stem worse.
   */
  const FLOORS = { drums: 0.7, bass: 1.3, other: 6.8, vocals: 7.9 };
  const stems: Record<string, Float32Array> = {};
  const files: Record<string, string> = {};

  beforeAll(async () => {
    // The four stems from one pass, as the engine computes each of them.
    const outs = await separate(session, mix, STEMS.map((s) => [session.spec.stems.indexOf(s)]));
    STEMS.forEach((s, k) => (stems[s] = outs[k]!));
    // And what a user gets: a file per target through ffmpeg.
    for (const stem of ['vocals', 'instrumental']) {
      const result = await stemsEngine.run(context(join(FIXTURE, 'mix.flac'), { stem, format: 'wav', name: stem }));
      expect(result.info).toEqual({ method: 'model', model: session.spec.name, separated: 'here' });
      expect(result.outputs[0]).toMatchObject({ channels: 2, sample_rate: 44100 });
      files[stem] = result.outputs[0]!.path;
    }
  }, 120_000);

  it('keeps every stem above its SDR floor, far above handing back the mix', () => {
    for (const stem of STEMS) {
      const ours = sdr(stems[stem]!, truth[stem]!);
      expect(ours, `${stem}: SDR ${ours.toFixed(2)} dB, floor ${FLOORS[stem]} dB`).toBeGreaterThan(FLOORS[stem]);
    }
    // The margins over the mix as is that the model card names for this clip.
    expect(sdr(stems.drums!, truth.drums!) - sdr(mix, truth.drums!)).toBeGreaterThan(10);
    expect(sdr(stems.bass!, truth.bass!) - sdr(mix, truth.bass!)).toBeGreaterThan(8);
    expect(sdr(stems.vocals!, truth.vocals!) - sdr(mix, truth.vocals!)).toBeGreaterThan(12);
  });

  it('gives stems that add back up to the input, and files where instrumental = mix - vocals', () => {
    const sum = new Float32Array(mix.length);
    for (const s of STEMS) for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + stems[s]![i]!;
    expect(maxAbsDiff(sum, mix)).toBeLessThan(1e-6);
    const vocals = readWav(files.vocals!).samples;
    const instrumental = readWav(files.instrumental!).samples;
    // The engine's file is the separator's stem, rounded to 16 bits (half a step each way).
    expect(maxAbsDiff(vocals, stems.vocals!)).toBeLessThan(2 ** -16 + 1e-6);
    // 16-bit wav rounds each stem by at most half a step.
    expect(maxAbsDiff(vocals.map((v, i) => v + instrumental[i]!), mix)).toBeLessThan(2 * 2 ** -16 + 1e-6);
  });

  it('gives byte-identical files for the same input', async () => {
    const again = await stemsEngine.run(context(join(FIXTURE, 'mix.flac'), { stem: 'vocals', format: 'wav' }));
    expect(readFileSync(again.outputs[0]!.path).equals(readFileSync(files.vocals!))).toBe(true);
  });

  it("separates once for all of a task's stem targets: the others reuse it, byte for byte", async () => {
    const shared = tempDir('hookwave-stems-shared-');
    const all = ['vocals', 'instrumental', 'drums', 'bass', 'other'].map((stem) => ({ stem, format: 'wav' }));
    const inTask = (target: TargetSpec) => ({
      ...context(join(FIXTURE, 'mix.flac'), target),
      input: { path: join(FIXTURE, 'mix.flac'), sharedDir: shared },
      taskTargets: all,
    });
    // Started together, as a worker's engine threads start them: one runs the model, the others wait for it.
    const first = await Promise.all(all.slice(0, 3).map((t) => stemsEngine.run(inTask(t))));
    // And one that starts after they ended (the input copy, and the separation beside it, linger).
    const later = await Promise.all(all.slice(3).map((t) => stemsEngine.run(inTask(t))));
    const results = [...first, ...later];
    expect(results.map((r) => r.info!.separated).sort()).toEqual(['here', 'shared', 'shared', 'shared', 'shared']);
    // The same bytes as a task that asked for one stem alone.
    expect(readFileSync(results[0]!.outputs[0]!.path).equals(readFileSync(files.vocals!))).toBe(true);
    expect(readFileSync(results[1]!.outputs[0]!.path).equals(readFileSync(files.instrumental!))).toBe(true);
    const parts = results.slice(2).map((r) => readWav(r.outputs[0]!.path).samples);
    const vocals = readWav(results[0]!.outputs[0]!.path).samples;
    expect(maxAbsDiff(mix.map((_, i) => parts[0]![i]! + parts[1]![i]! + parts[2]![i]! + vocals[i]!), mix)).toBeLessThan(4 * 2 ** -16 + 1e-6);
  }, 120_000);

  it('separates mono input into mono stems that add up', async () => {
    const mono = await makeTone(tempDir('hookwave-stems-mono-'), { seconds: 1, channels: 1, frequency: 220 });
    const tone = readWav(mono).samples;
    const parts = await Promise.all(['vocals', 'instrumental'].map(async (stem) => {
      const result = await stemsEngine.run(context(mono, { stem, format: 'wav' }));
      expect(result.outputs[0]).toMatchObject({ channels: 1 });
      return readWav(result.outputs[0]!.path).samples;
    }));
    expect(parts[0]!.length).toBe(tone.length);
    expect(maxAbsDiff(parts[0]!.map((v, i) => v + parts[1]![i]!), tone)).toBeLessThan(3 * 2 ** -16);
  });
});

describe('stems model: the TypeScript port equals the Python reference', () => {
  // test/fixtures/stems/reference: training/stems/reference_fixture.py ran separate.py on the first 2 s
  // of the mix with 32-frame chunks (three chunk boundaries), 24-bit FLAC.
  const meta = JSON.parse(readFileSync(join(FIXTURE, 'reference/meta.json'), 'utf8')) as { samples: number; core_frames: number; model_sha256: string };

  it('gives the same stems as separate.py, with and without the Wiener step', async () => {
    // A retrained model needs its reference re-made (the script's docstring says how).
    expect(meta.model_sha256).toBe(session.spec.sha256);
    const clip = mix.subarray(0, 2 * meta.samples);
    const vi = session.spec.stems.indexOf('vocals');
    const di = session.spec.stems.indexOf('drums');
    const [vocals, drums] = await separate(session, clip, [[vi], [di]], { coreFrames: meta.core_frames, wiener: false });
    const [wienerVocals] = await separate(session, clip, [[vi]], { coreFrames: meta.core_frames, wiener: true });
    const tolerance = 2e-5;
    expect(maxAbsDiff(vocals!, await decodeF32(join(FIXTURE, 'reference/vocals.flac')))).toBeLessThan(tolerance);
    expect(maxAbsDiff(drums!, await decodeF32(join(FIXTURE, 'reference/drums.flac')))).toBeLessThan(tolerance);
    expect(maxAbsDiff(wienerVocals!, await decodeF32(join(FIXTURE, 'reference/vocals-wiener.flac')))).toBeLessThan(tolerance);
  });

  it('gives the input back from an all-ones mask (perfect reconstruction, edges included)', async () => {
    const all = session.spec.stems.map((_, i) => i);
    const [whole] = await separate(session, mix.subarray(0, 2 * 100_003), [all]);
    expect(maxAbsDiff(whole!, mix.subarray(0, 2 * 100_003))).toBeLessThan(1e-6);
  });
});

describe('stems model: chunks', () => {
  it.each([false, true])('are seamless: small chunks give what one chunk gives (Wiener step: %s)', async (wiener) => {
    const clip = mix.subarray(0, 2 * 44100 * 3);
    const vi = session.spec.stems.indexOf('vocals');
    const [one] = await separate(session, clip, [[vi]], { wiener });
    const [many] = await separate(session, clip, [[vi]], { coreFrames: 40, piece: 2 * 777, wiener });
    expect(maxAbsDiff(one!, many!)).toBeLessThan(1e-5);
  });

  it.each([false, true])('leave no click at a boundary on a steady tone (Wiener step: %s)', async (wiener) => {
    const tone = readWav(await makeTone(tempDir('hookwave-stems-tone-'), { seconds: 2.5, frequency: 330 })).samples;
    const core = 24;
    const [bass] = await separate(session, tone, [[session.spec.stems.indexOf('bass')]], { coreFrames: core, wiener });
    // Second differences of a smooth stem stay small; a seam would spike them at a chunk edge.
    const hop = session.spec.hop;
    const lead = session.spec.nFft / 2;
    const curvature = (i: number) => Math.abs(bass![2 * (i + 1)]! - 2 * bass![2 * i]! + bass![2 * (i - 1)]!);
    let inside = 0;
    let atEdges = 0;
    const frames = tone.length / 2;
    const edges: number[] = [];
    for (let t = core; t * hop - lead < frames - hop; t += core) edges.push(t * hop - lead);
    expect(edges.length).toBeGreaterThanOrEqual(4);
    for (let i = 44100 / 4; i < frames - 44100 / 4; i++) {
      const nearEdge = edges.some((e) => Math.abs(i - e) < 64);
      if (nearEdge) atEdges = Math.max(atEdges, curvature(i));
      else inside = Math.max(inside, curvature(i));
    }
    expect(atEdges).toBeLessThanOrEqual(inside * 1.05);
  });

  it('stream: output follows input at most one chunk behind, so a long track is never held whole', async () => {
    const { spec } = session;
    let emitted = 0;
    const separator = new ModelSeparator({ spec, outputs: [[0]], masks: session.masks, onOutput: (_o, _d, frames) => { emitted += frames; } });
    const piece = mix.subarray(0, 2 * 44100);
    const lag = (spec.coreFrames + spec.contextFrames + 2) * spec.hop;
    let pushed = 0;
    for (let second = 0; second < 20; second++) {
      await separator.push(piece);
      pushed += 44100;
      expect(pushed - emitted).toBeLessThan(lag);
    }
    await separator.finish();
    expect(emitted).toBe(pushed);
  });
});

describe('stems model: a broken model file', () => {
  function copyModel(): string {
    const dir = tempDir('hookwave-stems-broken-');
    for (const f of readdirSync(BUILTIN_MODEL_DIR)) copyFileSync(join(BUILTIN_MODEL_DIR, f), join(dir, f));
    return dir;
  }

  it('stops a worker at startup, naming the file and how to restore it', async () => {
    const dir = copyModel();
    const onnx = join(dir, loadStemsModel(dir).spec.file);
    const bytes = readFileSync(onnx);
    const at = bytes.length >> 1;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x40, at);
    writeFileSync(onnx, bytes);
    const err = await startService({ stemsModelDir: dir }).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).toContain(onnx);
    expect(err?.message).toContain('corrupted');
    expect(err?.message).toContain('git checkout models/stems');
  });

  it('stops it too when the model is missing; an API-only process does not need it', async () => {
    const dir = copyModel();
    const onnx = join(dir, loadStemsModel(dir).spec.file);
    unlinkSync(onnx);
    const err = await startService({ stemsModelDir: dir }).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).toContain(`${onnx} is missing`);
    const api = await startService({ stemsModelDir: dir, role: 'api' });
    await api.close();
  });
});

describe('stems model: a spec that enables the Wiener step', () => {
  it('needs its decay, and names spec.json when the value is missing or out of range', () => {
    const spec = JSON.parse(readFileSync(join(BUILTIN_MODEL_DIR, 'spec.json'), 'utf8')) as { wiener: Record<string, unknown> };
    const dir = '/models/custom';
    const withWiener = (wiener: Record<string, unknown>) => parseSpec({ ...spec, wiener }, dir);
    expect(withWiener({ ...spec.wiener, enabled: true }).wiener).toMatchObject({ enabled: true, decay: spec.wiener.decay });
    const { decay: _dropped, ...noDecay } = spec.wiener;
    expect(() => withWiener({ ...noDecay, enabled: true })).toThrow(`${join(dir, 'spec.json')} has no valid wiener.decay`);
    expect(() => withWiener({ ...spec.wiener, enabled: true, decay: 1 })).toThrow('outside (0, 1)');
    // An older spec with the step off still loads; only running the step with it is refused.
    expect(withWiener({ ...noDecay, enabled: false }).wiener.decay).toBe(0);
  });
});
