/** Serves test media on a loopback port, as an input URL would: a directory, or one file held back until the test says. */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface FileServer {
  url(name: string): string;
  requests: string[];
  close(): Promise<void>;
}

export async function startFileServer(dir: string): Promise<FileServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push(u.pathname);
    if (u.pathname.startsWith('/status/')) return void res.writeHead(Number(u.pathname.slice(8))).end('nope');
    if (u.pathname === '/hang') return; // never answers
    if (u.pathname.startsWith('/redirect/')) return void res.writeHead(302, { location: `/${u.pathname.slice(10)}` }).end();
    if (u.pathname === '/redirect-to') return void res.writeHead(302, { location: u.searchParams.get('u') ?? '/' }).end();
    // Decoded, as any web server does: "My%20Song.wav" is the file "My Song.wav".
    const file = path.join(dir, path.basename(decodeURIComponent(u.pathname)));
    if (!fs.existsSync(file)) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    requests,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export interface GatedServer {
  url: string;
  /** Opens the gate: the requests held so far, and every later one, get the file. */
  release(): void;
  close(): Promise<void>;
}

/** Serves one file, but only once the test opens the gate: a task reading it stays in processing until then. */
export async function startGatedServer(file: string): Promise<GatedServer> {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const server = http.createServer((_req, res) => {
    void gate.then(() => {
      res.writeHead(200, { 'content-length': fs.statSync(file).size, 'content-type': 'audio/wav' });
      fs.createReadStream(file).pipe(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${path.basename(file)}`,
    release: () => open(),
    close: () => {
      open();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
