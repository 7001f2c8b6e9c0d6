// The ONNX model behind a pipe, for Python scripts where onnxruntime for Python is not installed
// (reference_fixture.py). Protocol on stdin/stdout: int32 LE frame count, then float32 LE magnitudes
// [1, 2, bins, frames]; the reply is float32 LE masks [1, stems, 2, bins, frames]. A frame count of 0 ends it.
//   node training/stems/onnx_runner.mjs models/stems
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.cwd(), 'x.js'));
const ort = require('onnxruntime-node');
const dir = process.argv[2] ?? 'models/stems';
const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8'));
const bins = spec.model_input.shape[2];
const session = await ort.InferenceSession.create(join(dir, spec.file), { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] });

let pending = Buffer.alloc(0);
const need = async (n, it) => {
  while (pending.length < n) {
    const { value, done } = await it.next();
    if (done) throw new Error('stdin ended');
    pending = Buffer.concat([pending, value]);
  }
  const out = pending.subarray(0, n);
  pending = pending.subarray(n);
  return Buffer.from(out);
};
const it = process.stdin[Symbol.asyncIterator]();
for (;;) {
  const frames = (await need(4, it)).readInt32LE(0);
  if (frames === 0) break;
  const b = await need(4 * 2 * bins * frames, it);
  const mag = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const out = await session.run({ [spec.model_input.name]: new ort.Tensor('float32', mag, [1, 2, bins, frames]) });
  const m = out[spec.model_output.name].data;
  await new Promise((resolve) => process.stdout.write(Buffer.from(m.buffer, m.byteOffset, m.byteLength), resolve));
}
