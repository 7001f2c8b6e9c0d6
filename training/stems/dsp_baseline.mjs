// SDR of today's DSP separator (the compiled dist/engines/dsp/separator.js) on the held-out set, for the
// model card's comparison. Run after `npm run build`:
//   node training/stems/dsp_baseline.mjs [/work/data/stems/heldout]
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { StemSeparator } = await import(pathToFileURL(join(repo, 'dist/engines/dsp/separator.js')).href);
const root = process.argv[2] ?? process.env.HOOKWAVE_STEMS_HELDOUT ?? '/work/data/stems/heldout';
const STEMS = ['drums', 'bass', 'other', 'vocals'];

const read = (p) => {
  const b = execFileSync('ffmpeg', ['-loglevel', 'error', '-i', p, '-f', 'f32le', '-ac', '2', '-ar', '44100', '-'], {
    maxBuffer: 1 << 30,
  });
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
const sdr = (ref, est) => {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) { num += ref[i] * ref[i]; const d = ref[i] - est[i]; den += d * d; }
  return 10 * Math.log10((num + 1e-12) / (den + 1e-12));
};

const sums = Object.fromEntries(STEMS.map((s) => [s, []]));
for (const song of readdirSync(root).filter((d) => d.startsWith('heldout')).sort()) {
  const refs = STEMS.map((s) => read(join(root, song, `${s}.flac`)));
  const mix = new Float32Array(refs[0].length);
  for (const r of refs) for (let i = 0; i < mix.length; i++) mix[i] += r[i];
  const outs = STEMS.map(() => new Float32Array(mix.length));
  const pos = STEMS.map(() => 0);
  const sep = new StemSeparator({
    stems: STEMS, stereoCues: true, sampleRate: 44100,
    onOutput: (k, data, frames) => { outs[k].set(data.subarray(0, frames * 2), pos[k]); pos[k] += frames * 2; },
  });
  for (let i = 0; i < mix.length; i += 2 * 8192) sep.push(mix.subarray(i, Math.min(mix.length, i + 2 * 8192)));
  sep.finish();
  const row = { song };
  STEMS.forEach((s, k) => {
    let e = 0, m = 0;
    for (let i = 0; i < mix.length; i++) { e += refs[k][i] ** 2; m += mix[i] ** 2; }
    if (e < 1e-6 * m) return;
    row[s] = +sdr(refs[k], outs[k]).toFixed(2);
    sums[s].push(row[s]);
  });
  console.log(JSON.stringify(row));
}
console.log(JSON.stringify({ dsp_mean: Object.fromEntries(STEMS.map((s) => [s, +(sums[s].reduce((a, b) => a + b, 0) / sums[s].length).toFixed(2)])) }));
