/**
 * Every error leaves the API as {"success": false, "error": {code, message, details}} with the
 * right status. Bad input is always a 4xx that names the field; only our own faults are a 500.
 */
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { describeAjvError } from '../schema/validation.js';
import { HookwaveError, isHookwaveError, type ErrorCode } from '../errors.js';

/** Fastify's own errors in our words; their statuses come from the catalogue (src/errors.ts). */
const FASTIFY_CODES: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'request body is larger than the limit'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['INVALID_JSON', 'request body is empty; send a JSON object'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['INVALID_JSON', 'request body is not valid JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['INVALID_JSON', 'Content-Length does not match the body'],
};

export function toHookwaveError(err: FastifyError | Error): HookwaveError {
  if (isHookwaveError(err)) return err;
  const fe = err as FastifyError;
  if (fe.validation && fe.validation.length > 0) {
    const { field, message } = describeAjvError(fe.validation[0] as never, fe.validationContext === 'body' ? '' : '');
    const where = fe.validationContext && fe.validationContext !== 'body' ? ` (in ${fe.validationContext})` : '';
    return new HookwaveError('VALIDATION_ERROR', message + where, { field });
  }
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return new HookwaveError(known[0], known[1]);
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(fe.message))) {
    return new HookwaveError('INVALID_JSON', `request body is not valid JSON: ${fe.message}`);
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new HookwaveError('VALIDATION_ERROR', fe.message, undefined, fe.statusCode);
  }
  return new HookwaveError('INTERNAL_ERROR', 'internal error; the request id in the logs tells us more', undefined, 500);
}

export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const e = toHookwaveError(err);
  if (e.status >= 500) req.log.error({ err }, 'request failed');
  // The rest of a body that did not arrive in time will not be read: this connection is done.
  if (e.code === 'REQUEST_TIMEOUT') void reply.header('connection', 'close');
  // A refusal that will pass on its own says when to come back (RFC 9110 §10.2.3).
  const retryAfter = (e.details as { retry_after?: unknown } | undefined)?.retry_after;
  if (e.status === 429 && typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
  void reply.status(e.status).send({ success: false, error: e.toJSON() });
}

/**
 * Errors Node's HTTP parser meets before any route (headers not sent in time, malformed request
 * lines, oversized headers): the same JSON shape, written straight to the socket.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (socket.destroyed || !socket.writable) return;
  const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const [status, reason, error] = timeout
    ? [408, 'Request Timeout', new HookwaveError('REQUEST_TIMEOUT', 'the request headers did not arrive in time', undefined, 408)]
    : tooLarge
      ? [431, 'Request Header Fields Too Large', new HookwaveError('PAYLOAD_TOO_LARGE', 'the request headers are too large; send shorter headers or URLs', undefined, 431)]
      : [400, 'Bad Request', new HookwaveError('VALIDATION_ERROR', 'the request is not valid HTTP', undefined, 400)];
  const body = JSON.stringify({ success: false, error: error.toJSON() });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply): void {
  const e = new HookwaveError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`);
  void reply.status(e.status).send({ success: false, error: e.toJSON() });
}
