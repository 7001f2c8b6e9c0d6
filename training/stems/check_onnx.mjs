// Check an exported stems model in onnxruntime-node: outputs match torch, and speed on ONE intra-op thread.
//   NODE_PATH=/path/to/node_modules node training/stems/check_onnx.mjs models/stems/hookwave-stems-v2.onnx \
//     /work/data/stems/export/hookwave-stems-v2
// (onnxruntime-node is the service's dependency; this script only needs it resolvable.)
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.env.NODE_PATH ?? process.cwd(), 'x.js'));
const ort = require('onnxruntime-node');
const [modelPath, vecBase] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(join(modelPath, '..', 'spec.json'), 'utf8'));
const F = spec.model_input.shape[2];
const T = spec.chunking.core_frames + 2 * spec.chunking.context_frames;

const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'], graphOptimizationLevel: 'all',
});
const f32 = (p) => { const b = readFileSync(p); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
const input = f32(`${vecBase}.in.f32`);
const expected = f32(`${vecBase}.out.f32`);
const out = await session.run({ mag: new ort.Tensor('float32', input, [1, 2, F, T]) });
const got = out.masks.data;
let maxDiff = 0;
for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
// determinism: a second run gives identical bytes
const out2 = await session.run({ mag: new ort.Tensor('float32', input, [1, 2, F, T]) });
let same = true;
for (let i = 0; i < got.length; i++) if (got[i] !== out2.masks.data[i]) { same = false; break; }

// speed: 60 s of audio = 1 + 60*44100/hop frames, in chunks of core frames with context on both sides
const hop = spec.stft.hop;
const frames60 = 1 + Math.floor((60 * spec.sample_rate) / hop);
const nChunks = Math.ceil(frames60 / spec.chunking.core_frames);
const x = new Float32Array(2 * F * T);
for (let i = 0; i < x.length; i++) x[i] = input[i % input.length];
await session.run({ mag: new ort.Tensor('float32', x, [1, 2, F, T]) }); // warm-up
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let k = 0; k < nChunks; k++) await session.run({ mag: new ort.Tensor('float32', x, [1, 2, F, T]) });
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({
  maxAbsDiff: maxDiff, deterministic: same, frames: T, chunksFor60s: nChunks,
  wallMsPer60s: Math.round(wall), cpuMsPer60s: Math.round((cpu.user + cpu.system) / 1000),
  networkMsPerSecondOfAudio: +(wall / 60).toFixed(1),
}));
