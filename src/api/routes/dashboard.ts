/**
 * The dashboard: static files from web/ at `/`, talking to the same /v1 API with the user's key.
 *
 * Assets live under /assets/<content hash>/ so they can be cached forever and a new release is
 * picked up at the next page load; index.html itself is revalidated every time (ETag). There is no
 * build step: the files are plain ES modules, read into memory once (on every page load in dev mode,
 * so edits show up on reload). Without a web/ folder the API runs as before, just with no dashboard.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** web/ sits next to src/ and dist/, and this file is at <src|dist>/api/routes/. */
export const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * The page talks to its own origin only, plus, with bucket-presigned download URLs, the bucket
 * (the player and the waveform load outputs from there). Signed /v1/files URLs are made relative in
 * the browser.
 */
function contentSecurityPolicy(mediaOrigins: string[]): string {
  const media = ["'self'", ...mediaOrigins].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `media-src ${media}`,
    `connect-src ${media}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

interface Bundle {
  version: string;
  index: Asset;
  assets: Map<string, Asset>;
}

const etagOf = (body: Buffer) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix + entry.name;
    if (entry.isDirectory()) out.push(...listFiles(path.join(dir, entry.name), rel + '/'));
    else if (TYPES[path.extname(entry.name)]) out.push(rel);
  }
  return out.sort();
}

export function loadBundle(dir = WEB_DIR): Bundle | null {
  if (!fs.existsSync(path.join(dir, 'index.html'))) return null;
  const assets = new Map<string, Asset>();
  const hash = createHash('sha256');
  for (const rel of listFiles(dir)) {
    if (rel === 'index.html') continue;
    const body = fs.readFileSync(path.join(dir, rel));
    hash.update(rel).update('\0').update(body).update('\0');
    assets.set(rel, { body, type: TYPES[path.extname(rel)]!, etag: etagOf(body) });
  }
  const version = hash.digest('hex').slice(0, 12);
  const html = Buffer.from(fs.readFileSync(path.join(dir, 'index.html'), 'utf8').replaceAll('{{assets}}', `/assets/${version}`));
  return { version, index: { body: html, type: TYPES['.html']!, etag: etagOf(html) }, assets };
}

function send(req: FastifyRequest, reply: FastifyReply, asset: Asset, cacheControl: string, csp: string) {
  void reply
    .header('content-security-policy', csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', cacheControl)
    .header('etag', asset.etag);
  if (req.headers['if-none-match'] === asset.etag) return reply.status(304).send();
  return reply.type(asset.type).send(asset.body);
}

export function dashboardRoutes(app: FastifyInstance, opts: { dev: boolean; dir?: string; mediaOrigins?: string[] }): void {
  const CSP = contentSecurityPolicy(opts.mediaOrigins ?? []);
  const dir = opts.dir ?? WEB_DIR;
  let bundle = loadBundle(dir);
  if (!bundle) {
    app.log.warn({ dir }, 'no dashboard files found; serving the API only');
    return;
  }

  app.get('/', { schema: { hide: true } }, async (req, reply) => {
    if (opts.dev) bundle = loadBundle(dir) ?? bundle;
    return send(req, reply, bundle!.index, 'no-cache', CSP);
  });

  app.get<{ Params: { version: string; '*': string } }>('/assets/:version/*', { schema: { hide: true } }, async (req, reply) => {
    const asset = bundle!.assets.get(req.params['*']);
    // An old version's URL would get today's file under a forever-cache header: better a 404.
    if (req.params.version !== bundle!.version || !asset) return reply.callNotFound();
    return send(req, reply, asset, 'public, max-age=31536000, immutable', CSP);
  });
}
