/**
 * Does engine work stall the API? `GET /healthz` latency, sampled every 10 ms from this process,
 * against a hookwave process that is idle (the baseline) and the same process while its worker
 * renders a `generate` task of three 600 s targets and separates a 10-minute track (issue 9's
 * scenario). Engines run in threads, so the event loop should only move bytes.
 *
 * Run alone with `tsx bench/stall.ts [--quick]`; bench/run.ts calls benchStall.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { makeTone } from '../test/helpers/media.js';
import { runCli, spawnService, type ServiceProcess } from '../test/helpers/process.js';
import { tempDir } from '../test/helpers/service.js';
import { percentile, table } from './table.js';

interface Sampled {
  p50: number;
  p99: number;
  max: number;
  samples: number;
  /** Share of the window spent in answers slower than 20 ms. */
  stalledShare: number;
}

/** Sends GET /healthz every `everyMs` (one at a time) until `done()` or `maxMs`; latencies in ms. */
async function sampleHealth(url: string, agent: Agent, everyMs: number, maxMs: number, done: () => boolean): Promise<Sampled> {
  const latencies: number[] = [];
  const start = performance.now();
  while (performance.now() - start < maxMs && !done()) {
    const t0 = performance.now();
    const res = await request(`${url}/healthz`, { dispatcher: agent });
    await res.body.dump();
    const ms = performance.now() - t0;
    latencies.push(ms);
    if (ms < everyMs) await new Promise((r) => setTimeout(r, everyMs - ms));
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const slow = latencies.filter((l) => l > 20).reduce((a, b) => a + b, 0);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0, samples: latencies.length, stalledShare: slow / (performance.now() - start) };
}

async function api(svc: ServiceProcess, key: string, method: string, p: string, body?: unknown): Promise<any> {
  const res = await fetch(svc.url + p, { method, headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json();
}

export async function benchStall(opts: { quick: boolean }): Promise<void> {
  const seconds = opts.quick ? 60 : 600;
  const dataDir = tempDir('hookwave-bench-stall-');
  const env = { HOOKWAVE_DATA_DIR: dataDir, HOOKWAVE_LOG_LEVEL: 'info', HOOKWAVE_WORKER_CONCURRENCY: '2' };
  const { key } = JSON.parse(runCli(['keys', 'create', '--tenant', 'bench', '--json'], env).stdout) as { key: string };
  const track = await makeTone(tempDir('hookwave-bench-stall-media-'), { seconds, format: 'flac', frequency: 220 });
  const svc = await spawnService(['--dev'], env);
  const agent = new Agent({ connections: 1 });
  try {
    // Warm-up, then the baseline: the same process with nothing to do.
    await sampleHealth(svc.url, agent, 10, 2000, () => false);
    const idle = await sampleHealth(svc.url, agent, 10, opts.quick ? 5000 : 15_000, () => false);

    const up = await fetch(`${svc.url}/v1/uploads`, { method: 'POST', headers: { 'x-api-key': key, 'x-file-name': path.basename(track), 'content-type': 'application/octet-stream' }, body: fs.readFileSync(track) });
    const upload = (await up.json()) as { upload_id: string };
    const gen = await api(svc, key, 'POST', '/v1/tasks', { kind: 'generate', params: { prompt: 'rock, guitar', duration: seconds }, targets: [{ format: 'wav' }, { format: 'mp3', name: 'mp3' }, { format: 'flac', name: 'flac' }] });
    const stems = await api(svc, key, 'POST', '/v1/tasks', { kind: 'stems', input: { upload_id: upload.upload_id }, targets: [{ stem: 'vocals', format: 'wav' }] });
    const ids = [gen.task_id as string, stems.task_id as string];
    if (!upload.upload_id || ids.some((id) => !id)) throw new Error(`could not create the work: ${JSON.stringify({ upload, gen, stems })}`);
    let finished = false;
    const watcher = (async () => {
      for (;;) {
        const tasks = await Promise.all(ids.map((id) => api(svc, key, 'GET', `/v1/tasks/${id}`)));
        if (tasks.every((t) => ['completed', 'failed', 'canceled'].includes(t.status))) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      finished = true;
    })();
    const t0 = performance.now();
    const busy = await sampleHealth(svc.url, agent, 10, 20 * 60_000, () => finished);
    const busyS = (performance.now() - t0) / 1000;
    await watcher;
    const ended = await Promise.all(ids.map((id) => api(svc, key, 'GET', `/v1/tasks/${id}`)));

    const row = (name: string, s: Sampled) => ({ 'hookwave process': name, samples: s.samples, 'p50 ms': s.p50, 'p99 ms': s.p99, 'max ms': s.max, 'time in answers > 20 ms': `${(s.stalledShare * 100).toFixed(1)} %` });
    table(`GET /healthz every 10 ms while engines work (generate 3 × ${seconds} s targets + stems of a ${seconds / 60}-minute track, 2 targets at a time; ${busyS.toFixed(0)} s of work)`, [
      row('idle (baseline)', idle),
      row('rendering and separating', busy),
    ]);
    console.log(`tasks: ${ended.map((t) => `${t.kind} ${t.status}`).join(', ')}`);
    console.log(`goal: p99 ≤ 20 ms while rendering and separating — measured ${busy.p99.toFixed(1)} ms: ${busy.p99 <= 20 ? 'met' : 'NOT met'}`);
  } finally {
    await agent.close();
    svc.child.kill('SIGTERM');
    await svc.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await benchStall({ quick: process.argv.includes('--quick') });
