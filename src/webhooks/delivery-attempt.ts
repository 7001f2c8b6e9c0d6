/**
 * One attempt of one delivery: the signed POST through the URL guard, and what its answer means
 * for the delivery (delivered, tried again later, or failed for good).
 */
import type { Config } from '../config.js';
import { withinFaultScope } from '../fault-scope.js';
import { newId } from '../ids.js';
import type { AttemptOutcome as AttemptMetric } from '../metrics.js';
import { postCapped } from '../net/post.js';
import { isGuardRefusal, type UrlGuard } from '../net/url-guard.js';
import { signatureHeaders } from '../net/webhook-signature.js';
import type { AttemptOutcome, DueDelivery } from '../store/store.js';
import { USER_AGENT } from '../version.js';
import { retryDelay } from './retry-schedule.js';

const RESPONSE_EXCERPT_BYTES = 16 * 1024;

/** What one request gave. */
export interface Sent {
  startedAt: number;
  latencyMs: number;
  requestHeaders: Record<string, string>;
  /** null: no HTTP answer (`error` says why, `failure` is its metric). */
  statusCode: number | null;
  responseHeaders: Record<string, string> | null;
  excerpt: string | null;
  error: string | null;
  failure: AttemptMetric;
}

export async function sendAttempt(d: DueDelivery, guard: UrlGuard, timeoutMs: number): Promise<Sent> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const requestHeaders: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    ...signatureHeaders(d.secrets, d.event_id, Math.floor(startedAt / 1000), d.payload),
  };
  const sent: Sent = { startedAt, latencyMs: 0, requestHeaders, statusCode: null, responseHeaders: null, excerpt: null, error: null, failure: 'network_error' };
  try {
    // A fault thrown from this request's callbacks fails this attempt alone (fault-scope.ts).
    const fault = new AbortController();
    const scope = { label: `delivery ${d.id}`, fail: (err: unknown) => fault.abort(err) };
    const res = await withinFaultScope(scope, () =>
      postCapped(guard.dispatcher, d.url, { body: d.payload, headers: requestHeaders, timeoutMs, cap: RESPONSE_EXCERPT_BYTES, signal: fault.signal }),
    );
    sent.statusCode = res.statusCode;
    sent.responseHeaders = res.headers;
    sent.excerpt = res.excerpt;
    if (res.statusCode >= 300 && res.statusCode < 400) sent.error = `redirect to ${res.headers.location ?? '(no Location)'} not followed`;
  } catch (err) {
    sent.error = describeSendError(err, timeoutMs);
    sent.failure = sendFailure(err);
  }
  sent.latencyMs = performance.now() - t0;
  return sent;
}

/** An attempt's record and the delivery's next state. */
export interface Settled {
  outcome: AttemptOutcome;
  ok: boolean;
  /** 410 Gone: not retried, and the endpoint is disabled. */
  gone: boolean;
  /** When it is tried again; null when it ended. */
  retryInMs: number | null;
  metric: AttemptMetric;
}

export function settle(d: DueDelivery, sent: Sent, now: number, config: Config): Settled {
  const attemptNumber = d.attempt_count + 1;
  const { statusCode } = sent;
  const ok = statusCode !== null && statusCode >= 200 && statusCode < 300;
  const gone = statusCode === 410;
  // A redelivery is one manual try: its failure is final, whatever the schedule would say.
  const final = d.final_attempt !== null && attemptNumber >= d.final_attempt;
  const policy = { scheduleMs: config.retryScheduleMs, jitter: config.retryJitter, retryAfterMaxMs: config.retryAfterMaxMs };
  const delay = ok || gone || final ? null : retryDelay(policy, attemptNumber, statusCode, sent.responseHeaders, now);
  return {
    ok,
    gone,
    retryInMs: delay,
    metric: ok ? 'success' : gone ? 'gone' : statusCode !== null ? 'http_error' : sent.failure,
    outcome: {
      attempt: {
        id: newId('att'),
        delivery_id: d.id,
        attempt_number: attemptNumber,
        started_at: sent.startedAt,
        status_code: statusCode,
        latency_ms: Math.round(sent.latencyMs * 100) / 100,
        response_excerpt: sent.excerpt,
        error: sent.error,
        request_headers: sent.requestHeaders,
        response_headers: sent.responseHeaders,
      },
      delivery: {
        id: d.id,
        status: ok ? 'delivered' : delay === null ? 'failed' : 'pending',
        attempt_count: attemptNumber,
        next_attempt_at: delay === null ? null : now + delay,
        last_error: ok ? null : (sent.error ?? (gone ? 'HTTP 410 Gone: not retried' : `HTTP ${statusCode}`)),
        last_status_code: statusCode,
        updated_at: now,
        delivered_at: ok ? now : null,
      },
    },
  };
}

/** A delivery whose endpoint is gone ends without a request (there is no secret to sign it with). */
export function unsent(d: DueDelivery, reason: string, now: number): AttemptOutcome {
  return {
    attempt: null,
    delivery: { id: d.id, status: 'failed', attempt_count: d.attempt_count, next_attempt_at: null, last_error: reason, last_status_code: null, updated_at: now, delivered_at: null },
  };
}

function sendFailure(err: unknown): AttemptMetric {
  if (isGuardRefusal(err)) return 'blocked';
  const e = err as { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : 'network_error';
}

function describeSendError(err: unknown, timeoutMs: number): string {
  if (isGuardRefusal(err)) return `refused by the URL guard: ${(err as Error).message}`;
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return `timeout: no answer within ${timeoutMs} ms`;
  if (code === 'ECONNREFUSED') return `connection refused: ${e.message ?? ''}`.trim();
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `DNS lookup failed: ${e.message ?? ''}`.trim();
  return `${code ? code + ': ' : ''}${e.message ?? String(err)}`;
}
