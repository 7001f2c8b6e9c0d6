/**
 * A request body must keep coming. Without this, `Content-Length: 1000` and 10 bytes sent, or a
 * byte every 20 s, holds a socket, a descriptor and (uploads) a temp file for ever.
 *
 * JSON bodies are small: the whole body within `bodyTimeoutMs`. An upload may be large and slow, but not idle: no pause longer than
 * `uploadIdleMs`, and once `uploadGraceMs` has passed, at least `uploadMinBytesPerSecond` on
 * average. Either way the answer is 408 REQUEST_TIMEOUT in the API's error shape, and the
 * connection is closed (the rest of the body will not be read); an upload's temp file goes with
 * the failed stream.
 */
import { Transform, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HookwaveError } from '../errors.js';

export interface BodyPace {
  bodyTimeoutMs: number;
  uploadIdleMs: number;
  uploadGraceMs: number;
  uploadMinBytesPerSecond: number;
}

/** Route config flag: this route's body is a file upload (paced by rate, not by a deadline). */
export interface PacedRouteConfig {
  upload?: boolean;
}

function timedOut(message: string): HookwaveError {
  return new HookwaveError('REQUEST_TIMEOUT', message, undefined, 408);
}

/** An upload's body as a pass-through that fails when it stalls or crawls. */
function pacedUpload(payload: Readable, pace: BodyPace, answered: NodeJS.EventEmitter): Readable {
  const started = Date.now();
  let received = 0;
  let idleTimer: NodeJS.Timeout | null = null;
  const paced = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      // Fastify compares this with Content-Length once the body has been read.
      (paced as Readable & { receivedEncodedLength?: number }).receivedEncodedLength = received;
      armIdle();
      cb(null, chunk);
    },
    flush(cb) {
      stop();
      cb();
    },
    destroy(err, cb) {
      stop();
      cb(err);
    },
  });
  const fail = (err: HookwaveError) => {
    stop();
    // The error reaches the upload pipeline, which removes its temp file; the socket stays open
    // for the 408 (sent with Connection: close).
    payload.unpipe(paced);
    paced.destroy(err);
  };
  const armIdle = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => fail(timedOut(`the upload stopped arriving for ${pace.uploadIdleMs / 1000} s; send the file without pauses`)), pace.uploadIdleMs);
  };
  const rateCheck = setInterval(() => {
    const elapsed = Date.now() - started;
    if (elapsed < pace.uploadGraceMs) return;
    const rate = received / (elapsed / 1000);
    if (rate < pace.uploadMinBytesPerSecond) {
      fail(timedOut(`the upload arrived at ${Math.round(rate)} bytes/s, below the minimum of ${pace.uploadMinBytesPerSecond} bytes/s; upload from a faster connection, or give the file as input.url`));
    }
  }, 1000);
  const stop = () => {
    if (idleTimer) clearTimeout(idleTimer);
    clearInterval(rateCheck);
  };
  (paced as Readable & { receivedEncodedLength?: number }).receivedEncodedLength = 0;
  // Whoever reads the body hears its error through their own listener; one that stopped reading
  // (the upload was refused early) must not turn it into an uncaught exception.
  paced.on('error', () => undefined);
  // Once answered, the rest of the body no longer matters (a refused upload is not read to its end).
  answered.once('close', stop);
  armIdle();
  payload.on('error', (err) => paced.destroy(err));
  payload.pipe(paced);
  return paced;
}

/**
 * A JSON body only gets a deadline: it is small, and a timer on the raw stream costs the create
 * path nothing per chunk (a pass-through stream would, on the hottest route).
 */
function jsonDeadline(payload: Readable, pace: BodyPace, answered: NodeJS.EventEmitter): Readable {
  // Emitted, not destroyed: Fastify's body reader fails with it, and the socket stays open for the 408.
  const timer = setTimeout(() => payload.emit('error', timedOut(`the request body did not arrive within ${pace.bodyTimeoutMs / 1000} s`)), pace.bodyTimeoutMs);
  const clear = () => clearTimeout(timer);
  payload.once('end', clear);
  payload.once('close', clear);
  answered.once('close', clear);
  return payload;
}

/** Fastify `preParsing` hook: every request that has a body gets paced. */
export function paceBodies(pace: BodyPace) {
  return async (req: FastifyRequest, reply: FastifyReply, payload: Readable): Promise<Readable> => {
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return payload;
    if (req.routeOptions.config?.upload === true) return pacedUpload(payload, pace, reply.raw);
    return jsonDeadline(payload, pace, reply.raw);
  };
}

declare module 'fastify' {
  interface FastifyContextConfig extends PacedRouteConfig {}
}
