/**
 * Deliveries a Svix or Stripe user can drive: "retry now" for a delivery waiting for its next
 * attempt (it goes out at once and keeps the retry schedule), "send test event" for an endpoint,
 * and the body each delivery sent. Real service, real receivers on loopback.
 */
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from '@hookwave/client';
import type { TestService } from './helpers/service.js';
import { serviceFixture } from './helpers/service-fixture.js';
import { until } from './helpers/until.js';

const MIN = 60_000;
// Retries far apart, as in production: a test that passes got its attempts from "retry now".
const { service, receiver, toneUrl } = serviceFixture({ retryScheduleMs: [5 * MIN, 30 * MIN, 2 * 60 * MIN], retryJitter: 0, webhookTimeoutMs: 2000 });

/** The delivery once `ok` says it is in the wanted state. */
function deliveryWhen(svc: TestService, id: string, what: string, ok: (d: any) => boolean): Promise<any> {
  return until(what, async () => {
    const r = await svc.api('GET', `/v1/deliveries/${id}`);
    return ok(r.body) ? r.body : null;
  });
}

describe('retry now', () => {
  it('sends a delivery waiting for its next attempt at once, once the receiver is fixed', async () => {
    const svc = await service();
    const rx = await receiver();
    let fixed = false;
    rx.respond(() => (fixed ? { status: 200, body: 'thanks' } : { status: 500, body: 'broken' }));
    const task = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: toneUrl() }, targets: [{ format: 'mp3' }], webhook_url: rx.url });
    const [first] = await rx.waitFor(1, 30_000);
    const [listed] = (await until('the first attempt to be recorded', async () => {
      const r = await svc.api('GET', `/v1/tasks/${task.body.task_id}/deliveries`);
      return r.body.data?.[0]?.attempt_count === 1 ? r.body.data : null;
    })) as any[];
    // The schedule says five minutes.
    expect(Date.parse(listed.next_attempt_at) - Date.now()).toBeGreaterThan(4 * MIN);

    fixed = true;
    const retried = await svc.api('POST', `/v1/deliveries/${listed.id}/redeliver`);
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual({ success: true, id: listed.id, status: 'pending', final_attempt: false });
    const [, second] = await rx.waitFor(2, 10_000);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(second!.raw).toBe(first!.raw);

    const done = await deliveryWhen(svc, listed.id, 'the retry to be recorded', (d) => d.status === 'delivered');
    expect(done.attempts.map((a: any) => [a.attempt_number, a.status_code])).toEqual([
      [1, 500],
      [2, 200],
    ]);
    // The delivery shows the exact bytes it sent (and signed).
    expect(done.request_body).toBe(second!.raw);
    verifyWebhook(done.request_body, second!.headers as Record<string, string>, svc.secret);
  });

  it('keeps the retry schedule when the retry fails too: the next attempt is due as the schedule says, not final', async () => {
    const svc = await service({ circuitBreakerThreshold: 100 });
    const rx = await receiver();
    rx.respond(() => ({ status: 503, body: 'still down' }));
    const ep = await svc.api('POST', '/v1/endpoints', { url: rx.url });
    const sent = await svc.api('POST', `/v1/endpoints/${ep.body.id}/test`);
    await rx.waitFor(1);
    await deliveryWhen(svc, sent.body.id, 'the first attempt to be recorded', (d) => d.attempt_count === 1);

    const retried = await svc.api('POST', `/v1/deliveries/${sent.body.id}/redeliver`);
    expect(retried.body).toMatchObject({ status: 'pending', final_attempt: false });
    await rx.waitFor(2, 10_000);
    const after = await deliveryWhen(svc, sent.body.id, 'the retry to be recorded', (d) => d.attempt_count === 2);
    expect(after.status).toBe('pending');
    // Two attempts made: the schedule's second step (30 min) from the retry, not the first (5 min).
    const wait = Date.parse(after.next_attempt_at) - Date.parse(after.attempts[1].started_at);
    expect(wait).toBeGreaterThanOrEqual(30 * MIN - 1000);
    expect(wait).toBeLessThanOrEqual(30 * MIN + 5000);
  });

  it('lets a fixed receiver have a delivery its open circuit holds: the retry is the probe', async () => {
    const svc = await service({ circuitBreakerThreshold: 1, circuitCooldownMs: 30 * MIN });
    const rx = await receiver();
    let fixed = false;
    rx.respond(() => (fixed ? { status: 204 } : { status: 500 }));
    const ep = await svc.api('POST', '/v1/endpoints', { url: rx.url });
    const sent = await svc.api('POST', `/v1/endpoints/${ep.body.id}/test`);
    await rx.waitFor(1);
    await until('the circuit to open', async () => (await svc.api('GET', `/v1/endpoints/${ep.body.id}`)).body.circuit_open_until);

    fixed = true;
    expect((await svc.api('POST', `/v1/deliveries/${sent.body.id}/redeliver`)).status).toBe(202);
    await rx.waitFor(2, 10_000);
    await deliveryWhen(svc, sent.body.id, 'the retry to be delivered', (d) => d.status === 'delivered');
    const healed = await until('the circuit to close', async () => {
      const e = (await svc.api('GET', `/v1/endpoints/${ep.body.id}`)).body;
      return e.circuit_open_until === null ? e : null;
    });
    expect(healed.consecutive_failures).toBe(0);
  });

  it('refuses a delivery that is being sent right now (it would go out twice)', async () => {
    const svc = await service({ webhookTimeoutMs: 5000 });
    const rx = await receiver();
    rx.respond(() => 'hang');
    const ep = await svc.api('POST', '/v1/endpoints', { url: rx.url });
    const sent = await svc.api('POST', `/v1/endpoints/${ep.body.id}/test`);
    await rx.waitFor(1);
    const res = await svc.api('POST', `/v1/deliveries/${sent.body.id}/redeliver`);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'DELIVERY_PENDING', details: { status: 'pending' } });
    expect(rx.received).toHaveLength(1);
  });
});

describe('send test event', () => {
  it('sends a signed endpoint.test event to that endpoint alone, whatever its filter, and logs it with its body', async () => {
    const svc = await service();
    const target = await receiver();
    const other = await receiver();
    // The filter names only task.failed: a test the user asked for goes through anyway.
    const ep = await svc.api('POST', '/v1/endpoints', { url: target.url, events: ['task.failed'] });
    const otherEp = await svc.api('POST', '/v1/endpoints', { url: other.url });

    const sent = await svc.api('POST', `/v1/endpoints/${ep.body.id}/test`, { message: 'hello from the docs' });
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ success: true, endpoint_id: ep.body.id, status: 'pending' });
    expect(sent.body.id).toMatch(/^dlv_/);

    const [got] = await target.waitFor(1);
    const event = verifyWebhook(got!.raw, got!.headers as Record<string, string>, ep.body.secret);
    if (event.type !== 'endpoint.test') throw new Error(`unexpected ${event.type}`);
    expect(event.data).toEqual({ endpoint_id: ep.body.id, message: 'hello from the docs' });
    expect(got!.headers['webhook-id']).toBe(sent.body.event_id);
    expect(() => verifyWebhook(got!.raw, got!.headers as Record<string, string>, otherEp.body.secret)).toThrow();

    const logged = await deliveryWhen(svc, sent.body.id, 'the test delivery to be recorded', (d) => d.status === 'delivered');
    expect(logged).toMatchObject({ event_type: 'endpoint.test', endpoint_id: ep.body.id, task_id: null, request_body: got!.raw });
    expect(logged.attempts).toHaveLength(1);
    // One delivery of the event, to that endpoint: none to the tenant's other endpoint (stored with the event, so this is final).
    const all = await svc.api('GET', '/v1/deliveries');
    expect(all.body.data.filter((d: any) => d.event_id === sent.body.event_id).map((d: any) => d.endpoint_id)).toEqual([ep.body.id]);
    expect((await svc.api('GET', `/v1/deliveries?endpoint_id=${otherEp.body.id}`)).body.data).toEqual([]);
    expect(other.received).toHaveLength(0);
  });

  it('is not a type to subscribe to, and is refused for a disabled or unknown endpoint', async () => {
    const svc = await service();
    const rx = await receiver();
    const filtered = await svc.api('POST', '/v1/endpoints', { url: rx.url, events: ['endpoint.test'] });
    expect(filtered.status).toBe(400);
    expect(filtered.body.error.code).toBe('VALIDATION_ERROR');
    const task = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: toneUrl() }, targets: [{ format: 'mp3' }], webhook_url: rx.url, webhook_events: ['endpoint.test'] });
    expect(task.status).toBe(400);

    const ep = await svc.api('POST', '/v1/endpoints', { url: rx.url });
    await svc.api('PATCH', `/v1/endpoints/${ep.body.id}`, { enabled: false });
    const disabled = await svc.api('POST', `/v1/endpoints/${ep.body.id}/test`);
    expect(disabled.status).toBe(409);
    expect(disabled.body.error).toMatchObject({ code: 'ENDPOINT_UNAVAILABLE', details: { reason: 'disabled' } });
    expect((await svc.api('POST', '/v1/endpoints/ep_00000000000000000000000000/test')).status).toBe(404);
    expect((await svc.api('POST', `/v1/endpoints/${ep.body.id}/test`, { message: 7 })).status).toBe(400);
  });
});
