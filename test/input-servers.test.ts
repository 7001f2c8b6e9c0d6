/**
 * Input URLs are served by whatever a user has at hand: Python's http.server (what the README
 * suggests), HTTP/1.0 servers that close after each response, servers that reset or stop
 * mid-body. None of them may take hookwave down: a good body gives a completed task, a broken one
 * a failed task with DOWNLOAD_FAILED, and the service keeps serving everyone else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTone } from './helpers/media.js';
import { loopbackOnly, startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

let svc: TestService;
let mediaDir: string;
let song: string;
let songBytes: Buffer;
const servers: net.Server[] = [];
let python: ChildProcess | null = null;

/** A raw TCP server answering each connection with `answer`, so every byte and FIN is ours to choose. */
async function rawServer(answer: (socket: net.Socket) => void): Promise<string> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => answer(socket));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/song.wav`;
}

/** Writes the body in pieces, the way a real server's socket fills: backpressure on our side is the point. */
function writeBody(socket: net.Socket, body: Buffer, upTo = body.length): void {
  for (let at = 0; at < upTo; at += 64 * 1024) socket.write(body.subarray(at, Math.min(upTo, at + 64 * 1024)));
}

async function startPython(dir: string): Promise<string> {
  python = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  python.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const port = await until('python http.server to listen', () => /port (\d+)/.exec(out)?.[1]);
  return `http://127.0.0.1:${port}/${path.basename(song)}`;
}

async function extract(url: string): Promise<any> {
  const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url }, targets: [{ format: 'flac' }] });
  expect(created.status).toBe(202);
  return waitForTask(svc, created.body.task_id);
}

/** The service still answers and still does work for others after whatever just happened. */
async function expectStillServing(goodUrl: string) {
  const health = await fetch(`${svc.url}/healthz`);
  expect(health.status).toBe(200);
  expect((await extract(goodUrl)).status).toBe('completed');
}

let goodUrl: string;

beforeAll(async () => {
  mediaDir = tempDir('hookwave-inputs-');
  // Several megabytes, so the body outruns the disk write and the download applies backpressure.
  song = await makeTone(mediaDir, { seconds: 40, sampleRate: 44100, channels: 2, format: 'wav' });
  songBytes = fs.readFileSync(song);
  svc = await startService(
    {},
    {
      // A download whose own callbacks throw, as undici's did (nodejs/undici#5360): the resolver
      // runs inside the download, and the throw comes from a timer it scheduled, out of any try.
      resolver: async (hostname) => {
        if (hostname === 'throwing-input.localhost') {
          setImmediate(() => {
            throw new Error('injected fault inside a download');
          });
          return [{ address: '127.0.0.1', family: 4 }];
        }
        return loopbackOnly.resolver(hostname);
      },
    },
  );
  goodUrl = await rawServer((socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${songBytes.length}\r\nConnection: close\r\n\r\n`);
    writeBody(socket, songBytes);
    socket.end();
  });
});

afterAll(async () => {
  python?.kill();
  for (const s of servers) s.close();
  await svc.close();
});

describe('input servers that close, reset or stop early', () => {
  it('downloads from Python http.server, the README quick start, every time', async () => {
    const url = await startPython(mediaDir);
    for (let i = 0; i < 5; i++) {
      const task = await extract(url);
      expect(task.status, JSON.stringify(task.error)).toBe('completed');
      expect(task.targets[0].outputs[0].duration).toBeCloseTo(40, 1);
    }
  });

  it('downloads from a server that sends Connection: close and closes after the body', async () => {
    for (let i = 0; i < 3; i++) expect((await extract(goodUrl)).status).toBe('completed');
  });

  it('downloads an HTTP/1.0 body delimited only by the server closing the connection', async () => {
    const url = await rawServer((socket) => {
      socket.write('HTTP/1.0 200 OK\r\nContent-Type: audio/wav\r\n\r\n');
      writeBody(socket, songBytes);
      socket.end();
    });
    const task = await extract(url);
    expect(task.status).toBe('completed');
    expect(task.targets[0].outputs[0].duration).toBeCloseTo(40, 1);
  });

  it('fails the task with DOWNLOAD_FAILED when the server resets the connection mid-body', async () => {
    const url = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${songBytes.length}\r\n\r\n`);
      writeBody(socket, songBytes, songBytes.length >> 1);
      socket.resetAndDestroy();
    });
    const task = await extract(url);
    expect(task.status).toBe('failed');
    expect(task.error.code).toBe('DOWNLOAD_FAILED');
    await expectStillServing(goodUrl);
  });

  it('fails the task with DOWNLOAD_FAILED when the body ends before its Content-Length', async () => {
    const url = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${songBytes.length}\r\nConnection: close\r\n\r\n`);
      writeBody(socket, songBytes, songBytes.length >> 1);
      socket.end();
    });
    const task = await extract(url);
    expect(task.status).toBe('failed');
    expect(task.error.code).toBe('DOWNLOAD_FAILED');
    await expectStillServing(goodUrl);
  });

  it('keeps running when a download throws from its own callbacks: that task alone fails', async () => {
    const port = new URL(goodUrl).port;
    const task = await extract(`http://throwing-input.localhost:${port}/song.wav`);
    expect(task.status).toBe('failed');
    expect(task.error.code).toBe('DOWNLOAD_FAILED');
    expect(task.error.message).not.toMatch(/injected|\/tmp|at /);
    await expectStillServing(goodUrl);
  });
});
