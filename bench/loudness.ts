/**
 * What loudness costs, in CPU seconds (the engine's node process and every ffmpeg it ran), next to
 * the same work without it in the same run:
 *  - measuring: every output is measured with ebur128 (one decode pass); shown as the plain run
 *    with and without that pass (the pass alone is timed on the same file);
 *  - normalising: a target with `loudness` (pass 1 measure, pass 2 encode, the check measurement,
 *    corrections when a pass misses), for a target linear mode reaches and one that needs dynamic mode.
 * Each job runs in a child process pinned to one core; rounds alternate the variants, and each
 * row is the median round.
 *
 * `npm run bench -- --only=loudness [--quick]`, or `tsx bench/loudness.ts [--quick]`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { analyseAudio } from '../src/media/ffmpeg.js';
import { ENGINES, engineContext } from './engines.js';
import { medianBy, table } from './table.js';

const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), '..');
const run = promisify(execFile);

interface Job {
  kind: string | 'measure';
  input: string | null;
  params: Record<string, unknown>;
  target: Record<string, unknown>;
  outDir: string;
}

interface Report {
  cpuMs: number;
  wallMs: number;
  output: string;
  loudness: unknown;
}

/** CPU of this process's waited-for children (ffmpeg), from /proc: Node has no RUSAGE_CHILDREN. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime are fields 16 and 17 of stat (13 and 14 after the command), in clock ticks.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}

async function childMain(job: Job): Promise<void> {
  const cpu0 = process.cpuUsage();
  const kids0 = childrenCpuMs();
  const t0 = performance.now();
  let output: string;
  let loudness: unknown;
  if (job.kind === 'measure') {
    output = job.input!;
    ({ loudness } = await analyseAudio(job.input!));
  } else {
    const result = await ENGINES[job.kind]!.run(engineContext(job));
    output = result.outputs[0]!.path;
    loudness = result.outputs[0]!.loudness;
  }
  const wallMs = performance.now() - t0;
  const own = process.cpuUsage(cpu0);
  const report: Report = { cpuMs: (own.user + own.system) / 1000 + childrenCpuMs() - kids0, wallMs, output, loudness };
  process.stdout.write(JSON.stringify(report) + '\n');
}

async function pinnable(): Promise<boolean> {
  return run('taskset', ['-c', '0', 'true']).then(
    () => true,
    () => false,
  );
}

async function inChild(job: Job, pin: boolean): Promise<Report> {
  const args = ['--import', 'tsx', here, '--loudness-child', JSON.stringify(job)];
  const [cmd, a] = pin ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args];
  const { stdout } = await run(cmd, a, { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Report;
}

interface Variant {
  name: string;
  job: (dir: string) => Job;
}

const STREAMING = { integrated: -14, true_peak: -1 };
/** A drums stem peaks high for its loudness: -14 under -1 dBTP is past what loudnorm's limiter reaches (the target fails), -20 is not. */
const STEM = { integrated: -20, true_peak: -1 };
const BROADCAST = { integrated: -23, true_peak: -2 };

export async function benchLoudness(opts: { quick?: boolean } = {}): Promise<void> {
  const seconds = opts.quick ? 20 : 60;
  const rounds = opts.quick ? 3 : 5;
  const pin = await pinnable();
  const dir = mkdtempSync(path.join(tmpdir(), 'hookwave-bench-loudness-'));
  try {
    const track = (await inChild({ kind: 'generate', input: null, params: { prompt: 'rock, guitar', duration: seconds, seed: 7 }, target: { format: 'wav', name: 'track' }, outDir: dir }, pin)).output;
    const sections: Array<{ title: string; variants: Variant[] }> = [
      {
        title: `extract ${seconds} s wav → mp3`,
        variants: [
          { name: 'no loudness target', job: (d) => ({ kind: 'extract', input: track, params: {}, target: { format: 'mp3' }, outDir: d }) },
          { name: 'normalised to -23 LUFS / -2 dBTP', job: (d) => ({ kind: 'extract', input: track, params: {}, target: { format: 'mp3', loudness: BROADCAST }, outDir: d }) },
          { name: 'normalised to -14 LUFS / -1 dBTP', job: (d) => ({ kind: 'extract', input: track, params: {}, target: { format: 'mp3', loudness: STREAMING }, outDir: d }) },
        ],
      },
      {
        title: `generate ${seconds} s → mp3`,
        variants: [
          { name: 'no loudness target', job: (d) => ({ kind: 'generate', input: null, params: { prompt: 'rock, guitar', duration: seconds, seed: 7 }, target: { format: 'mp3' }, outDir: d }) },
          { name: 'normalised to -14 LUFS / -1 dBTP', job: (d) => ({ kind: 'generate', input: null, params: { prompt: 'rock, guitar', duration: seconds, seed: 7 }, target: { format: 'mp3', loudness: STREAMING }, outDir: d }) },
        ],
      },
      {
        title: `stems (fast) ${seconds} s → drums wav`,
        variants: [
          { name: 'no loudness target', job: (d) => ({ kind: 'stems', input: track, params: { method: 'fast' }, target: { stem: 'drums', format: 'wav' }, outDir: d }) },
          { name: 'normalised to -20 LUFS / -1 dBTP', job: (d) => ({ kind: 'stems', input: track, params: { method: 'fast' }, target: { stem: 'drums', format: 'wav', loudness: STEM }, outDir: d }) },
        ],
      },
    ];
    for (const section of sections) {
      // Per round: each variant, then the ebur128 pass alone on the plain output (what measuring adds).
      const runs = section.variants.map(() => [] as Report[]);
      const measures: Report[] = [];
      for (let r = 0; r < rounds; r++) {
        for (const [i, v] of section.variants.entries()) {
          // A target that cannot be reached fails (as it would for a user): shown as such, not as a crash.
          const report = await inChild(v.job(mkdtempSync(path.join(dir, 'run-'))), pin).catch((): Report => ({ cpuMs: NaN, wallMs: NaN, output: '', loudness: { normalization: 'failed: target not reached' } }));
          runs[i]!.push(report);
          if (i === 0) measures.push(await inChild({ kind: 'measure', input: report.output, params: {}, target: {}, outDir: dir }, pin));
        }
      }
      const measureMs = medianBy(measures, (m) => m.cpuMs).cpuMs;
      const plain = medianBy(runs[0]!, (m) => m.cpuMs);
      const unmeasured = plain.cpuMs - measureMs;
      const rows = [
        { run: 'without loudness (plain run minus its ebur128 pass)', 'CPU s': unmeasured / 1000, 'vs without': '1.00×', normalization: '' },
        ...section.variants.map((v, i) => {
          const m = medianBy(runs[i]!, (x) => x.cpuMs);
          const label = i === 0 ? 'measured only (every output now)' : v.name;
          return { run: label, 'CPU s': m.cpuMs / 1000, 'vs without': `${(m.cpuMs / unmeasured).toFixed(2)}×`, normalization: String((m.loudness as { normalization?: string } | null)?.normalization ?? '') };
        }),
      ];
      table(`loudness: ${section.title}, CPU seconds on one core (median of ${rounds}; ebur128 pass alone ${(measureMs / 1000).toFixed(2)} s)`, rows);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--loudness-child')) {
  await childMain(JSON.parse(process.argv[process.argv.indexOf('--loudness-child') + 1]!) as Job);
} else if (path.resolve(process.argv[1] ?? '') === here) {
  await benchLoudness({ quick: process.argv.includes('--quick') });
}
