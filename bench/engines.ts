/**
 * Benchmarks of the audio engines, each next to a baseline measured in the same run:
 *  - stems: bench/stems.ts (its own section, `--only=stems`), which runs its jobs through this file's child;
 *  - generate: realtime factor on one core, against ffmpeg encoding the same length of a test tone;
 *  - extract: wall time against the plain ffmpeg command it wraps.
 * "One core": the engine runs in a child process pinned with taskset (its ffmpeg children inherit the pinning).
 *
 * Run alone with `tsx bench/engines.ts [--quick]`; bench/run.ts calls benchEngines.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Engine, EngineResult, EngineRunContext } from '../src/engines/engine.js';
import { extractEngine } from '../src/engines/extract.js';
import { ffmpegPath } from '../src/media/ffmpeg.js';
import { generateEngine } from '../src/engines/generate.js';
import { stemsEngine } from '../src/engines/stems.js';
import { medianBy, table } from './table.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), '..');
const run = promisify(execFile);
export const ENGINES: Record<string, Engine> = { stems: stemsEngine, generate: generateEngine, extract: extractEngine };

export interface ChildJob {
  kind: string;
  input: string | null;
  params: Record<string, unknown>;
  target: Record<string, unknown>;
  outDir: string;
}

export interface ChildReport {
  wallMs: number;
  cpuMs: number;
  /** CPU of the ffmpeg processes the run started and waited for (decoders, encoders), ms; 0 off Linux. */
  childCpuMs: number;
  /** Peak resident set of the node process (ffmpeg children excluded), bytes. */
  peakRss: number;
  /** Resident set just before the run, after imports: the peak minus this is what the run itself cost. */
  baseRss: number;
  result: EngineResult;
}

/** The context a worker would give the engine of `job`, for a bench run outside any worker. */
export function engineContext(job: ChildJob): EngineRunContext {
  const engine = ENGINES[job.kind]!;
  return {
    taskId: 'task_bench',
    targetId: 'tgt_bench',
    input: { path: job.input },
    inputUrl: null,
    params: job.params,
    target: job.target,
    targetName: engine.targetName(job.target, 0),
    outDir: job.outDir,
    signal: new AbortController().signal,
    progress: () => {},
  };
}

/**
 * CPU time of this process's children that have ended (Linux: cutime + cstime in /proc/self/stat, which the
 * kernel adds up as each child is reaped), ms.
 */
function childrenCpuMs(): number {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    // cutime and cstime are fields 16 and 17 of stat, i.e. 14 and 15 after the name.
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/**
 * This process's peak resident set. Linux's VmHWM belongs to the process's own memory map, which exec
 * replaces; getrusage's maxRSS does not start over at exec, so a child forked from a big parent (the
 * bench, holding held-out songs) would report the parent's size.
 */
function peakRss(): number {
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Child side: run one engine job, report time and memory as one JSON line. */
async function childMain(job: ChildJob): Promise<void> {
  // 'stems-all' and 'stems-task' (bench/stems.ts, bench/stems-all.ts) are not engines of their own.
  const special = job.kind === 'stems-all' || job.kind === 'stems-task' ? await import('./stems-all.js') : null;
  const runJob = special
    ? job.kind === 'stems-all'
      ? special.separateAllStems
      : special.runStemTask
    : (j: ChildJob) => ENGINES[j.kind]!.run(engineContext(j));
  // Model files load once per engine thread; the first run in this child pays for it, so warm it first.
  if (job.kind !== 'extract' && job.kind !== 'generate' && job.params.method !== 'fast') await (await import('../src/engines/stems-model/session.js')).stemsSession();
  globalThis.gc?.();
  const baseRss = process.memoryUsage().rss;
  const cpu = process.cpuUsage();
  const children = childrenCpuMs();
  const t0 = performance.now();
  const result = await runJob(job);
  const wallMs = performance.now() - t0;
  const report: ChildReport = {
    wallMs,
    cpuMs: process.cpuUsage(cpu).user / 1000 + process.cpuUsage(cpu).system / 1000,
    childCpuMs: childrenCpuMs() - children,
    peakRss: peakRss(),
    baseRss,
    result,
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

let tasksetChecked: boolean | null = null;
async function canPin(): Promise<boolean> {
  if (tasksetChecked === null) {
    tasksetChecked = await run('taskset', ['-c', '0', 'true']).then(
      () => true,
      () => false,
    );
  }
  return tasksetChecked;
}

/** Runs `cmd args` pinned to CPU 0 when taskset exists. */
async function pinned(cmd: string, args: string[]): Promise<{ stdout: string; ms: number }> {
  const [c, a] = (await canPin()) ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args];
  const t0 = performance.now();
  const { stdout } = await run(c, a, { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  return { stdout, ms: performance.now() - t0 };
}

export async function inChild(job: ChildJob): Promise<ChildReport> {
  const { stdout } = await pinned(process.execPath, ['--expose-gc', '--import', 'tsx', here, '--engine-child', JSON.stringify(job)]);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildReport;
}

export async function ffmpeg(args: string[]): Promise<number> {
  return (await pinned(ffmpegPath(), ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...args])).ms;
}

export const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;
export const x = (factor: number) => `${factor.toFixed(1)}×`;

/** One line per goal, judged on this run's numbers, so a reader need not do the comparison. */
export function goal(text: string, measured: string, met: boolean): void {
  console.log(`goal: ${text} — measured ${measured}: ${met ? 'met' : 'NOT met'}`);
}

/** A realistic test track: the generator's own output (drums, bass, chords, melody), as 16-bit wav. */
export async function makeTrack(dir: string, seconds: number, prompt: string): Promise<string> {
  const report = await inChild({ kind: 'generate', input: null, params: { prompt, duration: seconds, seed: 7 }, target: { format: 'wav', name: `track-${seconds}s` }, outDir: dir });
  return report.result.outputs[0]!.path;
}

async function benchGenerate(dir: string, seconds: number, rounds: number): Promise<void> {
  const rows = [];
  const base: number[] = [];
  let slowest = Infinity;
  for (let r = 0; r < rounds; r++) {
    base.push(await ffmpeg(['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`, '-ac', '2', '-c:a', 'pcm_s16le', path.join(dir, 'tone.wav')]));
  }
  const b = medianBy(base, (v) => v);
  rows.push({ run: 'ffmpeg: encode a tone of the same length to wav (baseline)', 'wall s': b / 1000, 'cpu s (node)': '', 'realtime factor': x(seconds / (b / 1000)) });
  for (const prompt of ['lofi chill, piano, vinyl crackle', 'edm, synth', 'rock, guitar', 'ambient, strings, bells']) {
    const runs: ChildReport[] = [];
    for (let r = 0; r < rounds; r++) runs.push(await inChild({ kind: 'generate', input: null, params: { prompt, duration: seconds, seed: r + 1 }, target: { format: 'wav' }, outDir: mkdtempSync(path.join(dir, 'gen-')) }));
    const o = medianBy(runs, (v) => v.wallMs);
    const factor = seconds / (o.wallMs / 1000);
    slowest = Math.min(slowest, factor);
    rows.push({ run: `generate "${prompt}" → wav`, 'wall s': o.wallMs / 1000, 'cpu s (node)': o.cpuMs / 1000, 'realtime factor': x(factor) });
  }
  table(`generate: speed on one core (${seconds / 60} minutes of music, median of ${rounds})`, rows);
  goal('generate ≥ 50× realtime on one core, for every prompt above', `${x(slowest)} for the slowest`, slowest >= 50);
}

async function benchExtract(dir: string, track: string, rounds: number): Promise<void> {
  const ours: number[] = [];
  const base: number[] = [];
  const plainArgs = ['-i', track, '-vn', '-map', '0:a:0', '-c:a', 'libmp3lame', '-af', 'aformat=channel_layouts=stereo', '-b:a', '192000', '-f', 'mp3'];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await run(ffmpegPath(), ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...plainArgs, path.join(dir, 'plain.mp3')]);
    base.push(performance.now() - t0);
    const t1 = performance.now();
    await extractEngine.run(engineContext({ kind: 'extract', input: track, params: {}, target: { format: 'mp3' }, outDir: mkdtempSync(path.join(dir, 'extract-')) }));
    ours.push(performance.now() - t1);
  }
  const b = medianBy(base, (v) => v);
  const o = medianBy(ours, (v) => v);
  table(`extract: wall time against the plain ffmpeg command (3-minute wav → mp3 192k, median of ${rounds} alternating rounds)`, [
    { run: 'plain ffmpeg (baseline)', 'wall ms': b, ratio: '1.00' },
    { run: 'extract engine (probe, encode to temp file, rename, describe)', 'wall ms': o, ratio: (o / b).toFixed(2) },
  ]);
  const limit = 1.1 * b + 100;
  goal(`extract ≤ 1.10 × baseline + 100 ms = ${limit.toFixed(0)} ms`, `${o.toFixed(0)} ms`, o <= limit);
}

export async function benchEngines(opts: { quick: boolean }): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hookwave-bench-engines-'));
  try {
    const rounds = opts.quick ? 1 : 3;
    if (!(await canPin())) console.log('\n(taskset not found: engine runs are not pinned to one core)');
    const short = await makeTrack(dir, 180, 'pop, piano, synth');
    await benchGenerate(dir, 180, rounds);
    await benchExtract(dir, short, opts.quick ? 3 : 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--engine-child') {
  await childMain(JSON.parse(process.argv[3]!) as ChildJob);
} else if (path.resolve(process.argv[1] ?? '') === here) {
  await benchEngines({ quick: process.argv.includes('--quick') });
}
