/**
 * A client that promises a body and never sends it, or sends a byte at a time, must not hold a
 * socket, a descriptor and a temp file for ever: it gets 408 REQUEST_TIMEOUT in the API's error
 * shape and the connection is closed. A client that gives up mid-upload is not a server error.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

let svc: TestService;
const logs: Array<{ level: number; msg: string; [k: string]: unknown }> = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      cb();
    },
  });
  svc = await startService(
    { bodyTimeoutMs: 1000, uploadIdleMs: 800, uploadGraceMs: 600, uploadMinBytesPerSecond: 256 * 1024 },
    { logger: pino({ level: 'info' }, sink) },
  );
});
afterAll(async () => svc.close());

/** Opens a raw connection, writes `head`, then calls `then` with the socket; resolves with all the server sent and when. */
function rawRequest(head: string, then: (socket: net.Socket) => void = () => undefined): Promise<{ text: string; ended: boolean }> {
  const { port } = new URL(svc.url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(head);
      then(socket);
    });
    let text = '';
    socket.on('data', (c) => (text += c.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ text, ended: true }));
  });
}

function jsonOf(response: string): any {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
}

const head = (method: string, p: string, headers: Record<string, string | number>) =>
  `${method} ${p} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${svc.key}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

const uploadTemps = () => {
  const dir = path.join(svc.dataDir, 'work', 'uploads');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
};

describe('request bodies that do not arrive', () => {
  it('answers 408 in the error shape when a JSON body stops short of its Content-Length, and closes', async () => {
    const res = await rawRequest(head('POST', '/v1/tasks', { 'Content-Type': 'application/json', 'Content-Length': 1000 }) + '{"kind":"ex');
    expect(res.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(res.text).toMatch(/connection: close/i);
    expect(jsonOf(res.text)).toMatchObject({ success: false, error: { code: 'REQUEST_TIMEOUT', message: expect.stringMatching(/did not arrive within 1 s/) } });
  });

  it('answers 408 to a JSON body sent a byte at a time', async () => {
    const body = JSON.stringify({ kind: 'generate', targets: [{ format: 'mp3' }] });
    let timer: NodeJS.Timeout | undefined;
    const res = await rawRequest(head('POST', '/v1/tasks', { 'Content-Type': 'application/json', 'Content-Length': body.length }), (socket) => {
      let at = 0;
      timer = setInterval(() => {
        if (at < body.length && !socket.destroyed) socket.write(body[at++]!);
      }, 200);
    });
    clearInterval(timer);
    expect(jsonOf(res.text).error.code).toBe('REQUEST_TIMEOUT');
    expect((await svc.api('GET', '/v1/tasks')).body.data).toEqual([]);
  });

  it('answers 408 to an upload that pauses, and removes its temp file', async () => {
    const res = await rawRequest(head('POST', '/v1/uploads', { 'Content-Type': 'application/octet-stream', 'Content-Length': 10 * 1024 * 1024 }), (socket) => {
      socket.write(Buffer.alloc(512 * 1024, 1));
    });
    expect(jsonOf(res.text)).toMatchObject({ error: { code: 'REQUEST_TIMEOUT', message: expect.stringMatching(/stopped arriving for 0.8 s/) } });
    await until('the temp file to be removed', () => uploadTemps().length === 0);
  });

  it('answers 408 to an upload that crawls below the minimum rate, naming the way out', async () => {
    let timer: NodeJS.Timeout | undefined;
    const res = await rawRequest(head('POST', '/v1/uploads', { 'Content-Type': 'application/octet-stream', 'Content-Length': 10 * 1024 * 1024 }), (socket) => {
      timer = setInterval(() => !socket.destroyed && socket.write(Buffer.alloc(4096, 1)), 50);
    });
    clearInterval(timer);
    expect(jsonOf(res.text)).toMatchObject({ error: { code: 'REQUEST_TIMEOUT', message: expect.stringMatching(/below the minimum of 262144 bytes\/s.*input\.url/) } });
    await until('the temp file to be removed', () => uploadTemps().length === 0);
  });

  it('answers a request that is not HTTP in the error shape', async () => {
    const res = await rawRequest('THIS IS NOT HTTP\r\n\r\n');
    expect(res.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(jsonOf(res.text)).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR' } });
  });
});

describe('a client that gives up', () => {
  it('logs an abandoned upload as the client going away, not as a server error', async () => {
    const before = logs.length;
    await new Promise<void>((resolve) => {
      const { port } = new URL(svc.url);
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write(head('POST', '/v1/uploads', { 'Content-Type': 'application/octet-stream', 'Content-Length': 4 * 1024 * 1024 }));
        socket.write(Buffer.alloc(256 * 1024, 1), () => {
          socket.destroy();
          resolve();
        });
      });
    });
    await until('the abandoned upload to be noticed', () => uploadTemps().length === 0 && logs.slice(before).some((l) => /upload/.test(String(l.msg))));
    const fresh = logs.slice(before);
    expect(fresh.filter((l) => l.level >= 50)).toEqual([]);
    expect(fresh.some((l) => l.res && (l.res as { statusCode?: number }).statusCode === 500)).toBe(false);
  });
});
