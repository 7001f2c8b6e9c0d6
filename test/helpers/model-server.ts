/**
 * A small model server in the shape docs/external-engines.md describes, for tests: it really
 * transforms audio (with ffmpeg), it does not return canned answers. `target.effect` picks the
 * filter: "lowpass" keeps what is under 400 Hz, "quieter" halves the volume.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ffmpegPath } from '../../src/engines/ffmpeg.js';
import { tempDir } from './service.js';

const run = promisify(execFile);
const FILTERS: Record<string, string> = { lowpass: 'lowpass=f=400,lowpass=f=400', quieter: 'volume=0.5' };

export interface ModelServer {
  url: string;
  calls: Array<{ body: any; headers: http.IncomingHttpHeaders }>;
  /** Answer the next calls with this status instead of working (to test retries and errors). */
  failNext(count: number, status: number, error?: { code: string; message: string }): void;
  close(): Promise<void>;
}

export async function startModelServer(): Promise<ModelServer> {
  const dir = tempDir('hookwave-model-');
  const calls: ModelServer['calls'] = [];
  let failures: Array<{ status: number; error?: { code: string; message: string } }> = [];
  let base = '';
  const server = http.createServer(async (req, res) => {
    try {
      if (req.method === 'GET' && req.url?.startsWith('/files/')) {
        const file = path.join(dir, path.basename(req.url));
        if (!fs.existsSync(file)) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-length': fs.statSync(file).size });
        return void fs.createReadStream(file).pipe(res);
      }
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString());
      calls.push({ body, headers: req.headers });
      const failure = failures.shift();
      if (failure) return void res.writeHead(failure.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: failure.error ?? { code: 'BUSY', message: 'try later' } }));

      const input = await fetch(body.input.url);
      if (!input.ok) return void res.writeHead(422).end(JSON.stringify({ error: { code: 'DOWNLOAD_FAILED', message: `input answered ${input.status}` } }));
      const src = path.join(dir, `${body.target_id}-in`);
      fs.writeFileSync(src, Buffer.from(await input.arrayBuffer()));
      const filter = FILTERS[body.target.effect as string];
      if (!filter) return void res.writeHead(400).end(JSON.stringify({ error: { code: 'INVALID_TARGET', message: `unknown effect ${body.target.effect}` } }));
      const name = `${body.target_id}.${body.target.format}`;
      await run(ffmpegPath(), ['-nostdin', '-v', 'error', '-y', '-i', src, '-af', filter, path.join(dir, name)]);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ outputs: [{ name: body.target.name, format: body.target.format, url: `${base}/files/${name}` }], info: { model: 'ffmpeg-filter', effect: body.target.effect } }));
    } catch (err) {
      res.writeHead(500).end(JSON.stringify({ error: { code: 'CRASH', message: String(err) } }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/run`,
    calls,
    failNext(count, status, error) {
      failures = Array.from({ length: count }, () => ({ status, error }));
    },
    close() {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
