/**
 * Webhook delivery that loses nothing: retries with backoff, every attempt on record, the same
 * webhook-id on every try.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextRetryDelay } from '../src/webhooks/retry-schedule.js';
import { DEFAULT_RETRY_SCHEDULE_MS } from '../src/config.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { startReceiver } from './helpers/receiver.js';
import { startService, tempDir, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';
import path from 'node:path';
import { closedPort } from './helpers/closed-port.js';

let svc: TestService;
let files: FileServer;
let tone: string;

beforeAll(async () => {
  const dir = tempDir('hookwave-media-');
  tone = path.basename(await makeTone(dir, { seconds: 1, format: 'wav' }));
  files = await startFileServer(dir);
  svc = await startService({ retryScheduleMs: [100, 200, 300], retryJitter: 0, webhookTimeoutMs: 500 });
});
afterAll(async () => {
  await svc.close();
  await files.close();
});

async function deliveriesOf(id: string, reached: (d: any) => boolean) {
  let last: unknown;
  return until('the delivery to reach the state', async () => {
    const res = await svc.api('GET', `/v1/tasks/${id}/deliveries`);
    const d = (last = res.body.data?.[0]);
    return d && reached(d) && d;
  }).catch((e: Error) => {
    throw new Error(`${e.message}; last: ${JSON.stringify(last)}`);
  });
}

describe('retries', () => {
  it('retries a receiver that fails twice, records 3 attempts, and keeps one webhook-id', async () => {
    const rx = await startReceiver();
    rx.respond((_req, i) => (i < 2 ? { status: 500, body: `boom ${i}` } : { status: 204 }));
    try {
      const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'mp3' }], webhook_url: rx.url });
      const got = await rx.waitFor(3);
      expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(1);
      expect(new Set(got.map((r) => r.raw)).size).toBe(1); // the same bytes each time
      for (const r of got) new Webhook(svc.secret).verify(r.raw, r.headers as Record<string, string>);
      // Backoff: each retry waits at least its scheduled delay.
      expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(90);
      expect(got[2]!.at - got[1]!.at).toBeGreaterThanOrEqual(190);

      const d = await deliveriesOf(created.body.task_id, (x) => x.status === 'delivered');
      expect(d.attempt_count).toBe(3);
      expect(d.attempts.map((a: any) => a.status_code)).toEqual([500, 500, 204]);
      expect(d.attempts[0].response_excerpt).toBe('boom 0');
      expect(d.attempts[0].error).toBeNull();
      for (const a of d.attempts) {
        expect(a.latency_ms).toBeGreaterThanOrEqual(0);
        expect(Date.parse(a.started_at)).not.toBeNaN();
      }
      expect(d.event_id).toBe(got[0]!.headers['webhook-id']);
    } finally {
      await rx.close();
    }
  });

  it('records timeouts and refused connections, and marks the delivery failed after the last try', async () => {
    const rx = await startReceiver();
    rx.respond(() => 'hang');
    const deadUrl = `http://127.0.0.1:${await closedPort()}/hook`;
    try {
      const slow = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'wav' }], webhook_url: rx.url });
      const dead = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'ogg' }], webhook_url: deadUrl });

      const s = await deliveriesOf(slow.body.task_id, (x) => x.status === 'failed');
      expect(s.attempt_count).toBe(4); // first try + 3 retries
      expect(s.attempts.every((a: any) => a.status_code === null && /timeout/.test(a.error))).toBe(true);

      const c = await deliveriesOf(dead.body.task_id, (x) => x.status === 'failed');
      expect(c.attempt_count).toBe(4);
      expect(c.attempts.every((a: any) => /refused/i.test(a.error))).toBe(true);
      expect(c.next_attempt_at).toBeNull();
    } finally {
      await rx.close();
    }
  });

  it('treats a redirect as a failure and never follows it', async () => {
    const rx = await startReceiver();
    rx.respond(() => ({ status: 301, headers: { location: 'http://169.254.169.254/latest/meta-data' } }));
    try {
      const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'flac' }], webhook_url: rx.url });
      const d = await deliveriesOf(created.body.task_id, (x) => x.status === 'failed');
      expect(d.attempts[0].status_code).toBe(301);
      expect(d.attempts[0].error).toMatch(/redirect to http:\/\/169\.254\.169\.254\/latest\/meta-data not followed/);
      expect(rx.received).toHaveLength(4);
    } finally {
      await rx.close();
    }
  });
});

describe('the default retry schedule', () => {
  it('spans about a day with jitter of ±20 %', () => {
    const total = DEFAULT_RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0);
    expect(total / 3600_000).toBeGreaterThan(20);
    expect(total / 3600_000).toBeLessThan(30);
    const policy = { scheduleMs: DEFAULT_RETRY_SCHEDULE_MS, jitter: 0.2 };
    expect(nextRetryDelay(policy, 1, () => 0)).toBe(4000);
    expect(nextRetryDelay(policy, 1, () => 1)).toBe(6000);
    expect(nextRetryDelay(policy, 7, () => 0.5)).toBe(10 * 3600_000);
    expect(nextRetryDelay(policy, 8)).toBeNull();
  });
});

