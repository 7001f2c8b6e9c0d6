/**
 * A small model server in the shape docs/external-engines.md describes, for tests: it really
 * transforms audio (with ffmpeg), it does not return canned answers. `target.effect` picks the
 * filter: "lowpass" keeps what is under 400 Hz, "quieter" halves the volume.
 *
 * Tests can also make it misbehave the ways real servers do: fail with a status, hang without
 * answering, or do the work and then answer with outputs that are wrong (see `rewriteNext`).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ffmpegPath } from '../../src/media/ffmpeg.js';
import { tempDir } from './service.js';

const run = promisify(execFile);
const FILTERS: Record<string, string> = { lowpass: 'lowpass=f=400,lowpass=f=400', quieter: 'volume=0.5' };

export interface ModelAnswer {
  outputs: Array<{ name?: unknown; format?: unknown; url?: unknown }>;
  info?: unknown;
  duration?: unknown;
}

export interface ModelCall {
  body: any;
  headers: http.IncomingHttpHeaders;
  /** The client went away before the server answered (a timeout or a cancel on hookwave's side). */
  aborted: boolean;
}

export interface ModelServer {
  url: string;
  /** Origin of the server, for output URLs a test makes up. */
  base: string;
  /** Directory `/files/<name>` is served from. */
  dir: string;
  calls: ModelCall[];
  /** Answer the next calls with this status instead of working (to test retries and errors). */
  failNext(count: number, status: number, error?: { code: string; message: string }): void;
  /** Take the next calls and never answer them; the client has to give up (timeout or cancel). */
  stallNext(count: number): void;
  /** Do the next call's work for real, then answer with what `rewrite` makes of the honest answer. */
  rewriteNext(rewrite: (answer: ModelAnswer) => unknown): void;
  close(): Promise<void>;
}

export async function startModelServer(): Promise<ModelServer> {
  const dir = tempDir('hookwave-model-');
  const calls: ModelServer['calls'] = [];
  let failures: Array<{ status: number; error?: { code: string; message: string } }> = [];
  let stalls = 0;
  let rewrites: Array<(answer: ModelAnswer) => unknown> = [];
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
      const call: ModelCall = { body, headers: req.headers, aborted: false };
      calls.push(call);
      res.on('close', () => {
        if (!res.writableFinished) call.aborted = true;
      });
      if (stalls > 0) {
        stalls--;
        return;
      }
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
      const answer: ModelAnswer = { outputs: [{ name: body.target.name, format: body.target.format, url: `${base}/files/${name}` }], info: { model: 'ffmpeg-filter', effect: body.target.effect } };
      const rewrite = rewrites.shift();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(rewrite ? rewrite(answer) : answer));
    } catch (err) {
      res.writeHead(500).end(JSON.stringify({ error: { code: 'CRASH', message: String(err) } }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/run`,
    base,
    dir,
    calls,
    failNext(count, status, error) {
      failures = Array.from({ length: count }, () => ({ status, error }));
    },
    stallNext(count) {
      stalls = count;
    },
    rewriteNext(rewrite) {
      rewrites = [rewrite];
    },
    close() {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
