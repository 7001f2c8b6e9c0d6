/**
 * The learned separator's files (models/stems: spec.json, the .onnx it names, and its .sha256), found
 * next to the package and checked before use. The spec is the contract with training/stems: every
 * number the TypeScript side needs (STFT, tensor names and shapes, stem order, chunking, Wiener) is read
 * from it, so a retrained model drops in by replacing the three files.
 *
 * A missing or altered model must stop a worker at startup with a message that says how to put it back,
 * not fail the first stems task of the day with an onnxruntime parse error.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** src/engines/stems-model/ and dist/engines/stems-model/ both sit three levels below the package root. */
export const BUILTIN_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models/stems');

export interface WienerSpec {
  enabled: boolean;
  iterations: number;
  eps: number;
  diagLoad: number;
  /** Per frame: the weight of the statistics so far when the next frame is added (causal exponential sums). */
  decay: number;
}

export interface StemsModelSpec {
  name: string;
  file: string;
  /** SHA-256 of the model file (as verified at load). */
  sha256: string;
  sampleRate: number;
  nFft: number;
  hop: number;
  bins: number;
  inputName: string;
  outputName: string;
  /** Stem names in the order of the output's stem axis. */
  stems: string[];
  coreFrames: number;
  contextFrames: number;
  wiener: WienerSpec;
}

export interface StemsModel {
  dir: string;
  spec: StemsModelSpec;
  /** The verified bytes of the .onnx file. */
  bytes: Buffer;
}

let configuredDir: string | null = null;

/** Where the model is read from in this thread (null: the one shipped in the package). */
export function useStemsModel(dir: string | null): void {
  configuredDir = dir;
}

export function stemsModelDir(): string {
  return configuredDir ?? BUILTIN_MODEL_DIR;
}

function restoreHint(dir: string): string {
  return dir === BUILTIN_MODEL_DIR
    ? 'restore it with `git checkout models/stems` in the repository (or reinstall the package)'
    : 'restore the model files in that directory (the shipped ones: `git checkout models/stems`), or unset HOOKWAVE_STEMS_MODEL_DIR to use the shipped model';
}

function fail(dir: string, file: string, problem: string): never {
  throw new Error(`stems model ${path.join(dir, file)} ${problem}; ${restoreHint(dir)}`);
}

function readOrFail(dir: string, file: string): Buffer {
  try {
    return readFileSync(path.join(dir, file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(dir, file, code === 'ENOENT' ? 'is missing' : `cannot be read (${code ?? String(err)})`);
  }
}

function num(v: unknown, what: string, dir: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(dir, 'spec.json', `has no valid ${what}`);
  return v;
}

/**
 * Specs before v7 described statistics per chunk, which the engine no longer implements; they never enabled
 * the step, so such a spec still loads and only asking for the step fails.
 */
function wienerDecay(w: Record<string, unknown> | undefined, dir: string): number {
  if (w?.decay === undefined && w?.enabled !== true) return 0;
  const decay = num(w?.decay, 'wiener.decay', dir);
  if (!(decay > 0 && decay < 1)) fail(dir, 'spec.json', `has wiener.decay ${decay}, outside (0, 1)`);
  return decay;
}

/** Reads and checks spec.json (the shapes the engine relies on). */
export function parseSpec(raw: unknown, dir: string): StemsModelSpec {
  const s = raw as Record<string, any>;
  const stems = s?.model_output?.stems;
  if (!Array.isArray(stems) || stems.length === 0 || !stems.every((x) => typeof x === 'string')) fail(dir, 'spec.json', 'has no model_output.stems');
  const nFft = num(s.stft?.n_fft, 'stft.n_fft', dir);
  const bins = num(s.model_input?.shape?.[2], 'model_input.shape[2]', dir);
  if (bins !== nFft / 2 + 1) fail(dir, 'spec.json', `says ${bins} bins for n_fft ${nFft}`);
  if (num(s.channels, 'channels', dir) !== 2) fail(dir, 'spec.json', 'describes a model that is not stereo');
  if (typeof s.file !== 'string' || s.file.includes('/')) fail(dir, 'spec.json', 'has no model file name');
  return {
    name: String(s.name ?? s.file),
    file: s.file,
    sha256: String(s.sha256 ?? ''),
    sampleRate: num(s.sample_rate, 'sample_rate', dir),
    nFft,
    hop: num(s.stft?.hop, 'stft.hop', dir),
    bins,
    inputName: String(s.model_input?.name ?? 'mag'),
    outputName: String(s.model_output?.name ?? 'masks'),
    stems,
    coreFrames: num(s.chunking?.core_frames, 'chunking.core_frames', dir),
    contextFrames: num(s.chunking?.context_frames, 'chunking.context_frames', dir),
    wiener: {
      enabled: s.wiener?.enabled === true,
      iterations: s.wiener?.iterations ?? 1,
      eps: s.wiener?.eps ?? 1e-10,
      diagLoad: s.wiener?.diag_load ?? 1e-3,
      decay: wienerDecay(s.wiener, dir),
    },
  };
}

/** Reads the spec and the model and verifies the model's SHA-256; throws a message naming the file. */
export function loadStemsModel(dir = stemsModelDir()): StemsModel {
  let raw: unknown;
  const specText = readOrFail(dir, 'spec.json').toString('utf8');
  try {
    raw = JSON.parse(specText);
  } catch {
    fail(dir, 'spec.json', 'is not valid JSON');
  }
  const spec = parseSpec(raw, dir);
  const shaFile = `${spec.file}.sha256`;
  const expected = /^[0-9a-f]{64}\b/i.exec(readOrFail(dir, shaFile).toString('utf8').trim())?.[0]?.toLowerCase();
  if (!expected) fail(dir, shaFile, 'holds no SHA-256');
  const bytes = readOrFail(dir, spec.file);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== expected) fail(dir, spec.file, `is corrupted (SHA-256 ${actual.slice(0, 12)}…, expected ${expected.slice(0, 12)}… from ${shaFile})`);
  return { dir, spec: { ...spec, sha256: actual }, bytes };
}
