/**
 * Receiving hookwave webhooks: Standard Webhooks signatures (standardwebhooks.com) checked with the
 * reference `standardwebhooks` package, timestamps older (or newer) than 5 minutes refused as
 * replays, and the body returned as a typed event.
 *
 * Verify the raw bytes exactly as received: a body parsed and re-serialised is a different string
 * and will not verify.
 */
import { Webhook, WebhookVerificationError as StandardWebhookError } from 'standardwebhooks';
import { WebhookVerificationError } from './errors.js';
import type { WebhookEvent } from './types.js';

export type RawBody = string | Uint8Array;

/** Node's IncomingHttpHeaders, a plain record, or a fetch Headers object. */
export type WebhookHeaders = Record<string, string | string[] | undefined> | { get(name: string): string | null };

const HEADER_NAMES = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

function pickHeaders(headers: WebhookHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof (headers as { get?: unknown }).get === 'function') {
    for (const name of HEADER_NAMES) {
      const v = (headers as { get(name: string): string | null }).get(name);
      if (v !== null) out[name] = v;
    }
    return out;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  for (const [key, value] of Object.entries(record)) {
    const name = key.toLowerCase();
    if (!(HEADER_NAMES as readonly string[]).includes(name) || value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(' ') : value;
  }
  return out;
}

function asPayload(body: RawBody): string | Buffer {
  if (typeof body === 'string') return body;
  if (typeof Buffer !== 'undefined') return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return new TextDecoder().decode(body);
}

/**
 * Checks a webhook and returns its event. Pass several secrets while you rotate one (any may
 * match). Throws WebhookVerificationError — answer it with 401 — when the headers are missing,
 * the timestamp is more than 5 minutes away from now, or no signature matches.
 */
export function verifyWebhook(rawBody: RawBody, headers: WebhookHeaders, secret: string | readonly string[]): WebhookEvent {
  const secrets = typeof secret === 'string' ? [secret] : [...secret];
  if (secrets.length === 0) throw new TypeError('verifyWebhook: give at least one secret');
  const picked = pickHeaders(headers);
  const payload = asPayload(rawBody);
  let last: unknown;
  for (const s of secrets) {
    try {
      return new Webhook(s).verify(payload, picked) as WebhookEvent;
    } catch (err) {
      if (!(err instanceof StandardWebhookError)) throw err;
      last = err;
      // Only a signature mismatch can be fixed by another secret.
      if (err.message !== 'No matching signature found') break;
    }
  }
  throw new WebhookVerificationError(`webhook rejected: ${(last as Error).message}`);
}

// ---- Express (or bare node:http) ----

interface NodeLikeRequest {
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  rawBody?: unknown;
  readable?: boolean;
  [Symbol.asyncIterator]?: () => AsyncIterator<unknown>;
}

interface NodeLikeResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

/** The request after expressWebhookMiddleware: `webhook` holds the verified event. */
export type VerifiedRequest<R = NodeLikeRequest> = R & { webhook: WebhookEvent };

async function readRaw(req: NodeLikeRequest): Promise<RawBody | null> {
  if (typeof req.body === 'string' || req.body instanceof Uint8Array) return req.body;
  if (typeof req.rawBody === 'string' || req.rawBody instanceof Uint8Array) return req.rawBody;
  // A body parser already turned it into an object: the original bytes are gone.
  if (req.body !== undefined && req.body !== null && !(typeof req.body === 'object' && Object.keys(req.body).length === 0)) return null;
  if (!req[Symbol.asyncIterator] || req.readable === false) return null;
  const chunks: Uint8Array[] = [];
  for await (const chunk of req as AsyncIterable<Uint8Array | string>) chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk);
  return Buffer.concat(chunks);
}

function reject(res: NodeLikeResponse, message: string): void {
  res.statusCode = 401;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ error: { code: 'SIGNATURE_INVALID', message } }));
}

/**
 * Express middleware (also works on bare node:http): verifies the webhook and sets `req.webhook`,
 * or answers 401. Mount it with the raw body, e.g.
 *   app.post('/hook', express.raw({ type: 'application/json' }), expressWebhookMiddleware(secret), handler)
 * or before any body parser (it then reads the body itself).
 */
export function expressWebhookMiddleware(secret: string | readonly string[]) {
  return (req: NodeLikeRequest, res: NodeLikeResponse, next: (err?: unknown) => void): void => {
    readRaw(req).then(
      (raw) => {
        if (raw === null) {
          next(new Error('expressWebhookMiddleware needs the raw body: mount express.raw({ type: "application/json" }) before it, not express.json()'));
          return;
        }
        try {
          (req as VerifiedRequest).webhook = verifyWebhook(raw, req.headers, secret);
        } catch (err) {
          if (err instanceof WebhookVerificationError) return reject(res, err.message);
          return next(err);
        }
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

// ---- Fastify ----
// Described by the few members used, so the package does not depend on fastify: a Fastify instance
// fits these shapes, and `app.register(fastifyWebhookVerifier(secret))` type-checks against it.

interface FastifyLikeRequest {
  headers: Record<string, string | string[] | undefined>;
}

interface FastifyLikeReply {
  code(statusCode: number): { send(payload?: unknown): unknown };
}

interface FastifyLikeScope {
  hasContentTypeParser(contentType: string): boolean;
  removeContentTypeParser(contentType: string): unknown;
  addContentTypeParser(
    contentType: string,
    opts: { parseAs: 'string' },
    parser: (req: never, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => void,
  ): unknown;
  addHook(name: 'preHandler', hook: (req: never, reply: never) => Promise<unknown>): unknown;
}

/**
 * The request inside a scope with fastifyWebhookVerifier: `webhook` holds the verified event.
 * Pass Fastify's request type: `(req as VerifiedFastifyRequest<FastifyRequest>).webhook`.
 */
export type VerifiedFastifyRequest<R = FastifyLikeRequest> = R & { webhook: WebhookEvent; rawBody: string };

/**
 * A Fastify plugin function, as `app.register` takes it. Its scope is typed `object` so any Fastify
 * version's instance fits without this package depending on fastify; it is used as FastifyLikeScope.
 */
export type WebhookPlugin = (scope: object, opts: object) => Promise<void>;

/**
 * A Fastify plugin: in the scope it is registered in, JSON bodies keep their raw text, and every
 * request is verified in a preHandler (401 when it fails) with the event on `request.webhook`.
 * Register it in the scope of your webhook route only:
 *
 *   app.register(async (hooks) => {
 *     await hooks.register(fastifyWebhookVerifier(secret));
 *     hooks.post('/hook', async (req) => { const event = (req as VerifiedFastifyRequest).webhook; ... });
 *   });
 */
export function fastifyWebhookVerifier(secret: string | readonly string[]): WebhookPlugin {
  const plugin: WebhookPlugin = async (instance) => {
    const scope = instance as FastifyLikeScope;
    if (scope.hasContentTypeParser('application/json')) scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (req: FastifyLikeRequest, body, done) => {
      (req as VerifiedFastifyRequest).rawBody = body as string;
      try {
        done(null, JSON.parse(body as string));
      } catch {
        // Unparseable bodies are not webhooks; the preHandler answers them with 401.
        done(null, undefined);
      }
    });
    scope.addHook('preHandler', async (req: FastifyLikeRequest, reply: FastifyLikeReply) => {
      const raw = (req as Partial<VerifiedFastifyRequest>).rawBody;
      if (typeof raw !== 'string') return reply.code(401).send({ error: { code: 'SIGNATURE_INVALID', message: 'webhook rejected: no JSON body' } });
      try {
        (req as VerifiedFastifyRequest).webhook = verifyWebhook(raw, req.headers, secret);
      } catch (err) {
        if (err instanceof WebhookVerificationError) return reply.code(401).send({ error: { code: 'SIGNATURE_INVALID', message: err.message } });
        throw err;
      }
      return undefined;
    });
  };
  // Like fastify-plugin: the parser and hook apply to the scope that registers this, not a child of it.
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
}
