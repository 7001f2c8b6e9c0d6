/**
 * Registered endpoints as a tenant uses them: fan-out with filters, secret rotation with two
 * signatures, the retry policy's special answers, the circuit breaker, replay and recovery.
 */
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { emitEndpointEvent } from '../src/services/outbox.js';
import type { EndpointRow } from '../src/domain/types.js';
import { createLogger } from '../src/logger.js';
import { EndpointHealth } from '../src/webhooks/endpoint-health.js';
import { waitForTask, type TestService } from './helpers/service.js';
import { serviceFixture } from './helpers/service-fixture.js';
import { until as waitUntil } from './helpers/until.js';

const { service, receiver, toneUrl } = serviceFixture({ retryScheduleMs: [150, 150, 150, 150], retryJitter: 0, webhookTimeoutMs: 1000 });

async function submit(svc: TestService, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: toneUrl() }, targets: [{ format: 'mp3' }], ...extra });
  expect(res.status).toBe(202);
  return res.body.task_id;
}

const until = <T>(what: string, fn: () => T | false | null | undefined | Promise<T | false | null | undefined>, timeoutMs = 15_000): Promise<T> => waitUntil(what, fn, timeoutMs);

describe('registered endpoints', () => {
  it('fans each event out to every enabled endpoint whose filter matches, plus the task URL', async () => {
    const svc = await service();
    const all = await receiver();
    const failuresOnly = await receiver();
    const off = await receiver();
    const own = await receiver();
    const a = await svc.api('POST', '/v1/endpoints', { url: all.url, description: 'everything' });
    expect(a.status).toBe(201);
    expect(a.body.secret).toMatch(/^whsec_/);
    expect(a.body).toMatchObject({ url: all.url, description: 'everything', events: null, enabled: true });
    await svc.api('POST', '/v1/endpoints', { url: failuresOnly.url, events: ['task.failed'] });
    const c = await svc.api('POST', '/v1/endpoints', { url: off.url });
    await svc.api('PATCH', `/v1/endpoints/${c.body.id}`, { enabled: false });

    const id = await submit(svc, { webhook_url: own.url, webhook_events: ['task.target.completed', 'task.completed'] });
    await waitForTask(svc, id);
    const [first, second] = await own.waitFor(2);
    expect([first!.body.type, second!.body.type]).toEqual(['task.target.completed', 'task.completed']);
    // The task shows the filter its webhook_url was given, so a reader can tell what it will get.
    expect((await svc.api('GET', `/v1/tasks/${id}`)).body.webhook_events).toEqual(['task.target.completed', 'task.completed']);
    const [atAll] = await all.waitFor(2);
    expect(all.received.map((r) => r.body.type).sort()).toEqual(['task.completed', 'task.target.completed']);
    // Each endpoint signs with its own secret.
    new Webhook(a.body.secret).verify(atAll!.raw, atAll!.headers as Record<string, string>);
    expect(() => new Webhook(svc.secret).verify(atAll!.raw, atAll!.headers as Record<string, string>)).toThrow();
    new Webhook(svc.secret).verify(first!.raw, first!.headers as Record<string, string>);

    // The fan-out is decided when the event is written: once every delivery the task has is done,
    // nothing more goes out, so the other receivers' silence is final.
    const deliveries = await until('every delivery of the task to be delivered', async () => {
      const r = await svc.api('GET', `/v1/tasks/${id}/deliveries`);
      return r.body.data.length > 0 && r.body.data.every((d: { status: string }) => d.status === 'delivered') ? (r.body.data as Array<{ url: string }>) : null;
    });
    expect(deliveries.map((d) => d.url).sort()).toEqual([all.url, all.url, own.url, own.url].sort());
    expect(failuresOnly.received).toHaveLength(0);
    expect(off.received).toHaveLength(0);

    const list = await svc.api('GET', '/v1/endpoints');
    expect(list.body.data).toHaveLength(3);
    expect(list.body.data.every((e: Record<string, unknown>) => !('secret' in e))).toBe(true);
  });

  it('validates endpoints like webhook URLs and isolates them per tenant', async () => {
    const svc = await service();
    const bad = await svc.api('POST', '/v1/endpoints', { url: 'https://192.168.1.10/hook' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'URL_NOT_ALLOWED', details: { field: 'url' } });
    const badEvent = await svc.api('POST', '/v1/endpoints', { url: 'https://example.com/h', events: ['task.exploded'] });
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.error.message).toMatch(/events\[0\]/);

    const mine = await svc.api('POST', '/v1/endpoints', { url: 'https://example.com/h' });
    const other = await svc.newTenant('other-co');
    const { callApi } = await import('./helpers/service.js');
    expect((await callApi(svc.url, other.key, 'GET', `/v1/endpoints/${mine.body.id}`)).status).toBe(404);
    expect((await callApi(svc.url, other.key, 'DELETE', `/v1/endpoints/${mine.body.id}`)).status).toBe(404);
    expect((await callApi(svc.url, other.key, 'GET', '/v1/endpoints')).body.data).toEqual([]);
    expect((await svc.api('DELETE', `/v1/endpoints/${mine.body.id}`)).status).toBe(200);
    expect((await svc.api('GET', `/v1/endpoints/${mine.body.id}`)).status).toBe(404);
  });

  it('signs with the old and the new secret after a rotation', async () => {
    const svc = await service();
    const rx = await receiver();
    const created = await svc.api('POST', '/v1/endpoints', { url: rx.url, events: ['task.completed'] });
    const oldSecret = created.body.secret;
    const rotated = await svc.api('POST', `/v1/endpoints/${created.body.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(oldSecret);
    expect(Date.parse(rotated.body.previous_secret_expires_at) - Date.now()).toBeGreaterThan(23 * 3600_000);

    await waitForTask(svc, await submit(svc));
    const [hook] = await rx.waitFor(1);
    expect((hook!.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
    // Receivers still on the old secret and those already on the new one both verify.
    new Webhook(oldSecret).verify(hook!.raw, hook!.headers as Record<string, string>);
    new Webhook(rotated.body.secret).verify(hook!.raw, hook!.headers as Record<string, string>);
  });

  it('stops signing with the old secret once the overlap ends', async () => {
    const svc = await service({ secretRotationOverlapMs: 1 });
    const rx = await receiver();
    const created = await svc.api('POST', '/v1/endpoints', { url: rx.url, events: ['task.completed'] });
    const rotated = await svc.api('POST', `/v1/endpoints/${created.body.id}/rotate-secret`);
    await until('the endpoint to show the overlap ended', async () => (await svc.api('GET', `/v1/endpoints/${created.body.id}`)).body.previous_secret_expires_at === null);
    await waitForTask(svc, await submit(svc));
    const [hook] = await rx.waitFor(1);
    expect((hook!.headers['webhook-signature'] as string).split(' ')).toHaveLength(1);
    expect(() => new Webhook(created.body.secret).verify(hook!.raw, hook!.headers as Record<string, string>)).toThrow();
    new Webhook(rotated.body.secret).verify(hook!.raw, hook!.headers as Record<string, string>);
  });
});

describe('retry policy', () => {
  it('honours Retry-After on 429', async () => {
    const svc = await service();
    const rx = await receiver();
    rx.respond((_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    await waitForTask(svc, await submit(svc, { webhook_url: rx.url }));
    const [first, second] = await rx.waitFor(2);
    // The schedule says 150 ms; the receiver asked for a second.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
  });

  it('disables an endpoint that answers 410 Gone and tells the other endpoints', async () => {
    const svc = await service();
    const gone = await receiver();
    const watcher = await receiver();
    gone.respond(() => ({ status: 410 }));
    const ep = await svc.api('POST', '/v1/endpoints', { url: gone.url, events: ['task.completed'] });
    await svc.api('POST', '/v1/endpoints', { url: watcher.url, events: ['endpoint.disabled'] });
    await waitForTask(svc, await submit(svc));
    const [note] = await watcher.waitFor(1);
    expect(note!.body.type).toBe('endpoint.disabled');
    expect(note!.body.data).toMatchObject({ id: ep.body.id, enabled: false, disabled_reason: expect.stringMatching(/410/) });
    const after = await svc.api('GET', `/v1/endpoints/${ep.body.id}`);
    expect(after.body.enabled).toBe(false);
    expect(gone.received).toHaveLength(1); // 410 is final: no retry
  });

  it('disables an endpoint that keeps failing for too long', async () => {
    const svc = await service({ endpointDisableAfterMs: 300, circuitBreakerThreshold: 100 });
    const broken = await receiver();
    broken.respond(() => ({ status: 500 }));
    const ep = await svc.api('POST', '/v1/endpoints', { url: broken.url, events: ['task.completed'] });
    await waitForTask(svc, await submit(svc));
    const disabled = await until('the endpoint to be disabled', async () => {
      const e = await svc.api('GET', `/v1/endpoints/${ep.body.id}`);
      return e.body.enabled === false ? e.body : null;
    });
    expect(disabled.disabled_reason).toMatch(/failing without a success/);
  });
});

describe('circuit breaker', () => {
  it('pauses a failing endpoint, probes it later, and closes on success', async () => {
    const svc = await service({ circuitBreakerThreshold: 2, circuitCooldownMs: 1500, retryScheduleMs: [100, 100, 100, 100, 100, 100] });
    const flaky = await receiver();
    let healthy = false;
    flaky.respond(() => (healthy ? { status: 200 } : { status: 500 }));
    const ep = await svc.api('POST', '/v1/endpoints', { url: flaky.url, events: ['task.completed'] });
    await waitForTask(svc, await submit(svc));
    await flaky.waitFor(2);
    const open = await until('the circuit to open', async () => {
      const e = await svc.api('GET', `/v1/endpoints/${ep.body.id}`);
      return e.body.circuit_open_until ? e.body : null;
    });
    expect(open.consecutive_failures).toBeGreaterThanOrEqual(2);
    const countAtOpen = flaky.received.length;
    const openUntil = Date.parse(open.circuit_open_until);
    healthy = true;
    await flaky.waitFor(countAtOpen + 1, 5000);
    // While open, nothing is sent even though the schedule says 100 ms: the next request is the
    // probe, at the end of the cooldown. (Timestamps, not a sleep: a loaded machine cannot fake a pass.)
    expect(flaky.received[countAtOpen]!.at).toBeGreaterThanOrEqual(openUntil - 5);
    const closed = await until('the circuit to close', async () => {
      const e = await svc.api('GET', `/v1/endpoints/${ep.body.id}`);
      return e.body.consecutive_failures === 0 ? e.body : null;
    });
    expect(closed.circuit_open_until).toBeNull();
    const deliveries = await svc.api('GET', `/v1/deliveries?endpoint_id=${ep.body.id}`);
    expect(deliveries.body.data[0].status).toBe('delivered');
  });
});

describe('circuit breaker while open', () => {
  it('holds new events and queued deliveries, then lets exactly one probe through', async () => {
    const cooldownMs = 3000;
    const svc = await service({ circuitBreakerThreshold: 2, circuitCooldownMs: cooldownMs, retryScheduleMs: [100, 100, 100, 100, 100, 100, 100, 100] });
    const rx = await receiver();
    // Everything fails until the circuit has opened; then the first probe fails and the next one
    // succeeds, decided by the request's place, not by when the test gets round to it.
    let healthyFrom = Infinity;
    rx.respond((_r, index) => (index >= healthyFrom ? { status: 200 } : { status: 500 }));
    const ep = await svc.api('POST', '/v1/endpoints', { url: rx.url, events: ['task.completed'] });
    await waitForTask(svc, await submit(svc));
    const opened = await until('the circuit to open', async () => {
      const e = (await svc.api('GET', `/v1/endpoints/${ep.body.id}`)).body;
      return e.circuit_open_until ? e : null;
    });
    const openUntil = Date.parse(opened.circuit_open_until);
    const countAtOpen = rx.received.length;
    healthyFrom = countAtOpen + 1;
    // Three more events while the circuit is open: none of them may reach the endpoint. Committed at
    // once through the outbox (three extracts could outlast the cooldown on a loaded machine, and the
    // probe would already have gone).
    const tenant = (await svc.hw.store.getTenantByName('acme'))!;
    const source = { id: 'ep_source', tenant_id: tenant.id } as EndpointRow;
    await svc.hw.store.tx(async (tx) => {
      for (let i = 0; i < 3; i++) await emitEndpointEvent(tx, 'task.completed', source, { n: i }, Date.now());
    });
    const pending = await svc.api('GET', `/v1/deliveries?endpoint_id=${ep.body.id}&status=pending`);
    expect(pending.body.data).toHaveLength(4);
    // The cooldown ends: the first request since the circuit opened is one probe, which fails, so the
    // circuit opens again and the rest keep waiting for the next probe, a cooldown (or more) later.
    await rx.waitFor(countAtOpen + 1, cooldownMs + 3000);
    expect(rx.received[countAtOpen]!.at).toBeGreaterThanOrEqual(openUntil - 5);
    // The next probe succeeds: the circuit closes and the held deliveries go out at once.
    await rx.waitFor(countAtOpen + 2, 2 * cooldownMs + 3000);
    expect(rx.received[countAtOpen + 1]!.at - rx.received[countAtOpen]!.at).toBeGreaterThanOrEqual(cooldownMs - 50);
    await rx.waitFor(countAtOpen + 5, 3 * cooldownMs + 3000);
    const delivered = await until('every delivery to be delivered', async () => {
      const r = await svc.api('GET', `/v1/deliveries?endpoint_id=${ep.body.id}&status=delivered`);
      return r.body.data.length === 4 ? r.body.data : null;
    });
    expect(new Set(delivered.map((d: { event_id: string }) => d.event_id)).size).toBe(4);
    expect((await svc.api('GET', `/v1/endpoints/${ep.body.id}`)).body).toMatchObject({ consecutive_failures: 0, circuit_open_until: null });
    // A probe succeeded, then four requests at most: nothing else was sent while the circuit was open.
    expect(rx.received.length).toBe(countAtOpen + 5);
  });
});

describe('endpoint health across dispatchers', () => {
  it('counts concurrent failures from several processes and never trusts a stale success', async () => {
    const svc = await service({ circuitBreakerThreshold: 1000 });
    const ep = await svc.api('POST', '/v1/endpoints', { url: 'https://example.com/hook', events: ['task.completed'] });
    const health = () => new EndpointHealth(svc.hw.store, svc.hw.config, createLogger('silent'));
    const [a, b] = [health(), health()];
    const failures = async () => (await svc.api('GET', `/v1/endpoints/${ep.body.id}`)).body.consecutive_failures;
    await a.succeeded([ep.body.id]);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).failed(ep.body.id, { gone: false, probe: false })));
    expect(await failures()).toBe(20);
    // `a` saw a success before `b` counted failures; a success seen by `a` must still reset them.
    await a.succeeded([ep.body.id]);
    expect(await failures()).toBe(0);
  });
});

describe('delivery log and replay', () => {
  it('shows every attempt with request and response, and redelivers with the same webhook-id', async () => {
    const svc = await service();
    const rx = await receiver();
    rx.respond((_r, i) => (i === 0 ? { status: 500, body: 'x'.repeat(40_000), headers: { 'x-reason': 'busy' } } : { status: 200, body: 'thanks' }));
    const id = await submit(svc, { webhook_url: rx.url });
    await rx.waitFor(2);
    const [summary] = (await until('the delivery to finish', async () => {
      const r = await svc.api('GET', `/v1/tasks/${id}/deliveries`);
      return r.body.data?.[0]?.status === 'delivered' ? r.body.data : null;
    })) as any[];
    const full = await svc.api('GET', `/v1/deliveries/${summary.id}`);
    expect(full.status).toBe(200);
    const [a1, a2] = full.body.attempts;
    expect(a1.status_code).toBe(500);
    expect(a1.response_headers['x-reason']).toBe('busy');
    expect(a1.response_excerpt.length).toBe(16 * 1024); // bodies are kept only up to 16 KB
    expect(a1.request_headers['webhook-id']).toBe(summary.event_id);
    expect(a1.request_headers['user-agent']).toMatch(/^hookwave\//);
    expect(a2).toMatchObject({ status_code: 200, response_excerpt: 'thanks' });

    const again = await svc.api('POST', `/v1/deliveries/${summary.id}/redeliver`);
    expect(again.status).toBe(202);
    const [, , third] = await rx.waitFor(3);
    expect(third!.headers['webhook-id']).toBe(summary.event_id);
    expect(third!.raw).toBe(rx.received[0]!.raw);
    await until('the redelivery to be recorded', async () => {
      const listed = await svc.api('GET', '/v1/deliveries?status=delivered');
      return listed.body.data.some((d: { id: string }) => d.id === summary.id);
    });
    expect((await svc.api('POST', '/v1/deliveries/dlv_00000000000000000000000000/redeliver')).status).toBe(404);
  });

  it('recovers every failed delivery of an endpoint since a time', async () => {
    const svc = await service({ retryScheduleMs: [50], circuitBreakerThreshold: 100 });
    const rx = await receiver();
    let up = false;
    rx.respond(() => (up ? { status: 200 } : { status: 503 }));
    const ep = await svc.api('POST', '/v1/endpoints', { url: rx.url, events: ['task.completed'] });
    const since = new Date().toISOString();
    for (let i = 0; i < 3; i++) await waitForTask(svc, await submit(svc));
    await until('all deliveries to fail', async () => {
      const r = await svc.api('GET', `/v1/deliveries?endpoint_id=${ep.body.id}&status=failed`);
      return r.body.data.length === 3;
    });
    up = true;
    const before = rx.received.length;
    const res = await svc.api('POST', `/v1/endpoints/${ep.body.id}/recover?since=${encodeURIComponent(since)}`);
    expect(res.body).toEqual({ success: true, requeued: 3 });
    await rx.waitFor(before + 3);
    const ids = new Set(rx.received.slice(before).map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(3);
    expect((await svc.api('POST', `/v1/endpoints/${ep.body.id}/recover?since=yesterday`)).body.error.code).toBe('VALIDATION_ERROR');
  });
});

describe('replay rules', () => {
  // A pending delivery waiting for its next attempt is retried now: retry-now-and-test-events.test.ts.
  it('gives a redelivery one attempt, numbered after the earlier ones', async () => {
    const svc = await service({ retryScheduleMs: [100, 100, 100] });
    const rx = await receiver();
    rx.respond((_r, i) => (i === 0 ? { status: 410 } : { status: 500 }));
    const id = await submit(svc, { webhook_url: rx.url, webhook_events: ['task.completed'] });
    const failed = async (attempts: number) =>
      until(`the delivery to fail after ${attempts} attempt(s)`, async () => {
        const r = await svc.api('GET', `/v1/tasks/${id}/deliveries`);
        const d = r.body.data?.[0];
        return d?.status === 'failed' && d.attempt_count === attempts ? d : null;
      });
    const d = await failed(1); // 410 is final
    expect((await svc.api('POST', `/v1/deliveries/${d.id}/redeliver`)).status).toBe(202);
    const again = await failed(2);
    // The schedule would allow three more tries after a second attempt; a manual resend gets one:
    // the delivery is final (failed, nothing scheduled), and a later task's webhook reaching the same
    // receiver shows the dispatcher has claimed since without sending the first one again.
    expect(again.next_attempt_at).toBeNull();
    rx.respond(() => ({ status: 200 }));
    const later = await submit(svc, { webhook_url: rx.url, webhook_events: ['task.completed'] });
    await until("the later task's webhook", () => rx.received.some((r) => r.body?.data?.id === later));
    expect(rx.received.map((r) => r.body.data.id)).toEqual([id, id, later]);
    expect(again.attempts.map((a: { attempt_number: number; status_code: number }) => [a.attempt_number, a.status_code])).toEqual([
      [1, 410],
      [2, 500],
    ]);
  });

  it('never sends a deleted endpoint anything, nor signs for it with the tenant secret', async () => {
    const svc = await service({ retryScheduleMs: [800] });
    const rx = await receiver();
    rx.respond(() => ({ status: 500 }));
    const ep = await svc.api('POST', '/v1/endpoints', { url: rx.url, events: ['task.completed'] });
    const first = await submit(svc);
    await rx.waitFor(1);
    const tenant = (await svc.hw.store.getTenantByName('acme'))!;
    // The row goes while a retry is due (as when a delete races the dispatcher's claim).
    await svc.hw.store.deleteEndpoint(tenant.id, ep.body.id);
    const [d] = (await until('the delivery to fail', async () => {
      const r = await svc.api('GET', `/v1/deliveries?endpoint_id=${ep.body.id}`);
      return r.body.data?.[0]?.status === 'failed' ? r.body.data : null;
    })) as any[];
    expect(d).toMatchObject({ last_error: 'endpoint deleted', attempt_count: 1 });
    expect(rx.received).toHaveLength(1);
    const redeliver = await svc.api('POST', `/v1/deliveries/${d.id}/redeliver`);
    expect(redeliver.status).toBe(409);
    expect(redeliver.body.error).toMatchObject({ code: 'ENDPOINT_UNAVAILABLE', details: { endpoint_id: ep.body.id, reason: 'deleted' } });
    const recover = await svc.api('POST', `/v1/endpoints/${ep.body.id}/recover?since=2020-01-01T00:00:00Z`);
    expect(recover.status).toBe(409);
    expect(recover.body.error).toMatchObject({ code: 'ENDPOINT_UNAVAILABLE', details: { reason: 'deleted' } });
    expect((await svc.api('POST', '/v1/endpoints/ep_00000000000000000000000000/recover?since=2020-01-01T00:00:00Z')).status).toBe(404);
    // Neither refusal queued anything: the delivery stays failed after its one attempt (its retry was
    // claimed and dropped above), and a later task's own webhook to the same URL is all that arrives.
    expect((await svc.api('GET', `/v1/deliveries/${d.id}`)).body).toMatchObject({ status: 'failed', attempt_count: 1 });
    rx.respond(() => ({ status: 200 }));
    const later = await submit(svc, { webhook_url: rx.url, webhook_events: ['task.completed'] });
    await until("the later task's webhook", () => rx.received.some((r) => r.body?.data?.id === later));
    expect(rx.received.map((r) => r.body.data.id)).toEqual([first, later]);
  });

  it('refuses to replay to a disabled endpoint', async () => {
    const svc = await service({ retryScheduleMs: [50] });
    const rx = await receiver();
    rx.respond(() => ({ status: 500 }));
    const ep = await svc.api('POST', '/v1/endpoints', { url: rx.url, events: ['task.completed'] });
    await waitForTask(svc, await submit(svc));
    const [d] = (await until('the delivery to fail', async () => {
      const r = await svc.api('GET', `/v1/deliveries?endpoint_id=${ep.body.id}&status=failed`);
      return r.body.data.length === 1 ? r.body.data : null;
    })) as any[];
    await svc.api('PATCH', `/v1/endpoints/${ep.body.id}`, { enabled: false });
    const redeliver = await svc.api('POST', `/v1/deliveries/${d.id}/redeliver`);
    expect(redeliver.status).toBe(409);
    expect(redeliver.body.error).toMatchObject({ code: 'ENDPOINT_UNAVAILABLE', details: { reason: 'disabled' } });
    expect((await svc.api('POST', `/v1/endpoints/${ep.body.id}/recover?since=2020-01-01T00:00:00Z`)).body.error.code).toBe('ENDPOINT_UNAVAILABLE');
    await svc.api('PATCH', `/v1/endpoints/${ep.body.id}`, { enabled: true });
    rx.respond(() => ({ status: 200 }));
    expect((await svc.api('POST', `/v1/deliveries/${d.id}/redeliver`)).status).toBe(202);
    await rx.waitFor(3);
  });
});

describe('isolation', () => {
  it('a hanging endpoint does not delay deliveries to a healthy one', { timeout: 120_000 }, async () => {
    const timeoutMs = 5000;
    const svc = await service({ webhookTimeoutMs: timeoutMs, endpointConcurrency: 2, dispatcherConcurrency: 8 });
    const hang = await receiver();
    hang.respond(() => 'hang');
    const ok = await receiver();
    await svc.api('POST', '/v1/endpoints', { url: hang.url, events: ['task.completed'] });
    await svc.api('POST', '/v1/endpoints', { url: ok.url, events: ['task.completed'] });
    for (let i = 0; i < 6; i++) await submit(svc);
    // Six extracts on a loaded two-core box can take a while; how long is not what this checks.
    const got = await ok.waitFor(6, 90_000);
    // The hanging endpoint holds its 2 slots until the 5 s timeout. A healthy delivery queued
    // behind them would arrive at least that long after its event; each arrives well before.
    for (const r of got) expect(r.at - Date.parse(r.body.timestamp)).toBeLessThan(timeoutMs / 2);
    // It never had more than its 2 slots: the hanging receiver never answers, so every request
    // stays open until the timeout, and requests that arrived less than a timeout apart were
    // open together. (On a slow machine the tasks outlast the timeout and retries arrive later.)
    for (const r of hang.received) expect(hang.received.filter((o) => o.at >= r.at && o.at - r.at < timeoutMs).length).toBeLessThanOrEqual(2);
  });

  it('keeps healthy deliveries prompt beside three hanging endpoints, with the default concurrency', async () => {
    const svc = await service({ webhookTimeoutMs: 10_000 });
    expect([svc.hw.config.dispatcherConcurrency, svc.hw.config.endpointConcurrency, svc.hw.config.slowEndpointConcurrency]).toEqual([64, 32, 4]);
    const hanging = await Promise.all([receiver(), receiver(), receiver()]);
    for (const h of hanging) h.respond(() => 'hang');
    const ok = await receiver();
    // Hanging ones first: the order the dispatcher meets their queues in, the worst case.
    for (const h of hanging) await svc.api('POST', '/v1/endpoints', { url: h.url });
    await svc.api('POST', '/v1/endpoints', { url: ok.url });
    const tenant = (await svc.hw.store.getTenantByName('acme'))!;
    const source = { id: 'ep_source', tenant_id: tenant.id } as EndpointRow;
    const events = 40;
    // Committed at once, so one claim meets all 160 deliveries; before, the first two hanging
    // endpoints took 32 slots each, all 64, until the 10 s timeout.
    const committedAt = Date.now();
    await svc.hw.store.tx(async (tx) => {
      for (let i = 0; i < events; i++) await emitEndpointEvent(tx, 'endpoint.disabled', source, { n: i }, committedAt);
    });
    try {
      const got = await ok.waitFor(events, 5000);
      for (const r of got) expect(r.at - committedAt).toBeLessThan(2000);
      for (const h of hanging) expect(h.received.length).toBeLessThanOrEqual(4);
    } finally {
      // Ends the hanging requests now rather than at the timeout, so the service stops quickly.
      await Promise.all(hanging.map((h) => h.close()));
    }
  });
});
