/**
 * `Prefer: wait` (Replicate's "sync mode"): a short task's result comes back in the request that
 * created it; a long one answers as usual once the wait is up. Webhooks are sent either way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

let svc: TestService;
let receiver: Receiver;

beforeAll(async () => {
  svc = await startService();
  receiver = await startReceiver();
});
afterAll(async () => {
  await svc.close();
  await receiver.close();
});

const short = () => ({ kind: 'generate', params: { prompt: 'lofi', duration: 2, seed: 1 }, targets: [{ format: 'mp3' }], webhook_url: receiver.url });

describe('Prefer: wait', () => {
  it('answers 201 with the finished task when it ends in time, and still sends the webhook', async () => {
    const res = await svc.api('POST', '/v1/tasks', short(), { prefer: 'wait=50' });
    expect(res.status).toBe(201);
    expect(res.headers.get('preference-applied')).toBe('wait=50');
    expect(res.body).toMatchObject({ status: 'completed', targets: [{ status: 'completed', outputs: [{ format: 'mp3', url: expect.any(String) }] }] });
    await until('the webhook', () => receiver.received.find((r) => r.body?.data?.id === res.body.id && r.body.type === 'task.completed'));
  });

  it('answers the usual 202 when the task is still running when the wait is up', async () => {
    const res = await svc.api('POST', '/v1/tasks', { ...short(), params: { prompt: 'ambient', duration: 600 } }, { prefer: 'wait=1' });
    expect(res.status).toBe(202);
    expect(res.headers.get('preference-applied')).toBeNull();
    expect(res.body).toMatchObject({ success: true, task_id: expect.stringMatching(/^task_/), status: expect.stringMatching(/^(queued|processing)$/) });
    await svc.api('POST', `/v1/tasks/${res.body.task_id}/cancel`);
  });

  it('ignores preferences it does not know, and refuses a wait that is not a number of seconds', async () => {
    expect((await svc.api('POST', '/v1/tasks', short(), { prefer: 'respond-async' })).status).toBe(202);
    const bad = await svc.api('POST', '/v1/tasks', short(), { prefer: 'wait=soon' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'Prefer' } });
  });
});
