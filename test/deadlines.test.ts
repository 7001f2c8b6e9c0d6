/**
 * Deadlines and queue positions (issue 13.3, 13.6): a task given `Cancel-After` (or a `deadline`)
 * that has not ended by then is canceled with DEADLINE_EXCEEDED, its running engines stopped and
 * its webhook sent; and a queued task says how many targets start before it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveDeadline } from '../src/domain/deadline.js';
import { queuePosition } from '../src/domain/fair-share.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { callApi, startService, waitForTask, type TestService } from './helpers/service.js';

describe('deadlines', () => {
  let svc: TestService;
  let receiver: Receiver;
  beforeAll(async () => {
    svc = await startService({ workerConcurrency: 1 });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await svc.close();
  });

  it('cancels a task still running at its Cancel-After with DEADLINE_EXCEEDED, stops its engine and sends task.canceled', async () => {
    const created = await svc.api(
      'POST',
      '/v1/tasks',
      { kind: 'generate', params: { duration: 600 }, targets: [{ format: 'flac' }, { format: 'wav' }, { format: 'mp3' }], webhook_url: receiver.url, webhook_events: ['task.canceled'] },
      { 'cancel-after': '5s' },
    );
    expect(created.status).toBe(202);
    const running = (await svc.api('GET', `/v1/tasks/${created.body.task_id}`)).body;
    expect(Date.parse(running.deadline) - Date.parse(running.created_at)).toBeGreaterThanOrEqual(4_900);

    const task = await waitForTask(svc, created.body.task_id, 60_000);
    expect(task.status).toBe('canceled');
    expect(task.error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(Date.parse(task.completed_at)).toBeGreaterThanOrEqual(Date.parse(task.deadline));
    for (const t of task.targets) {
      expect(t.status).toBe('canceled');
      expect(t.outputs).toEqual([]);
    }
    const [hook] = await receiver.waitFor(1);
    expect(hook!.body).toMatchObject({ type: 'task.canceled', data: { id: task.id, error: { code: 'DEADLINE_EXCEEDED' } } });
    // The worker's slot is free again: the next task runs.
    const next = await svc.api('POST', '/v1/tasks', { kind: 'generate', params: { duration: 1 }, targets: [{ format: 'mp3' }] });
    expect((await waitForTask(svc, next.body.task_id, 60_000)).status).toBe('completed');
  });

  it('leaves a task that ends in time as it ended, with its deadline shown', async () => {
    const created = await svc.api('POST', '/v1/tasks', { kind: 'generate', params: { duration: 1 }, targets: [{ format: 'mp3' }], deadline: new Date(Date.now() + 3_600_000).toISOString() });
    const task = await waitForTask(svc, created.body.task_id, 60_000);
    expect(task).toMatchObject({ status: 'completed', error: null, deadline: expect.any(String) });
  });

  it('refuses deadlines it cannot keep or read, naming the header or field, and stores nothing', async () => {
    const body = { kind: 'generate', params: { duration: 1 }, targets: [{ format: 'mp3' }] };
    const before = (await svc.api('GET', '/v1/tasks?limit=100')).body.data.length;
    const cases: Array<[Record<string, unknown>, Record<string, string>, string, RegExp]> = [
      [{}, { 'cancel-after': 'soon' }, 'Cancel-After', /not a duration; use e\.g\. 90, 30s, 5m or 1h30m/],
      [{}, { 'cancel-after': '2s' }, 'Cancel-After', /at least 5 s from now/],
      [{}, { 'cancel-after': '30d' }, 'Cancel-After', /within 7 days/],
      [{ deadline: '2020-01-01T00:00:00Z' }, {}, 'deadline', /at least 5 s from now/],
      [{ deadline: 'tomorrow' }, {}, 'deadline', /not an ISO 8601 time with a zone/],
      [{ deadline: '2030-01-01T10:00:00' }, {}, 'deadline', /with a zone/],
      [{ deadline: new Date(Date.now() + 60_000).toISOString() }, { 'cancel-after': '60s' }, 'deadline', /not both/],
    ];
    for (const [extra, headers, field, message] of cases) {
      const res = await svc.api('POST', '/v1/tasks', { ...body, ...extra }, headers);
      expect(res.status, JSON.stringify([extra, headers])).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field } });
      expect(res.body.error.message).toMatch(message);
    }
    expect((await svc.api('GET', '/v1/tasks?limit=100')).body.data.length).toBe(before);
  });

  it('reads durations as Replicate writes them', () => {
    const now = 1_000_000;
    expect(resolveDeadline('90', undefined, now)).toEqual({ at: now + 90_000 });
    expect(resolveDeadline('1h30m', undefined, now)).toEqual({ at: now + 5_400_000 });
    expect(resolveDeadline('1.5m', undefined, now)).toEqual({ at: now + 90_000 });
    expect(resolveDeadline(undefined, undefined, now)).toBeNull();
  });
});

describe('queue position', () => {
  it("gives each queued task its place under fair claiming, and none once it runs", async () => {
    // API role: nothing runs, so the queue stays as it is made.
    const svc = await startService({ role: 'api' });
    try {
      const quick = { kind: 'generate', params: { duration: 1 }, targets: [{ format: 'mp3' }] };
      const a: string[] = [];
      for (let i = 0; i < 3; i++) a.push((await svc.api('POST', '/v1/tasks', quick)).body.task_id);
      const b = await svc.newTenant('bravo');
      const bApi = (m: string, p: string, body?: unknown) => callApi(svc.url, b.key, m, p, body);
      const bId = (await bApi('POST', '/v1/tasks', quick)).body.task_id;

      const positions = [...(await Promise.all(a.map(async (id) => (await svc.api('GET', `/v1/tasks/${id}`)).body.queue_position))), (await bApi('GET', `/v1/tasks/${bId}`)).body.queue_position];
      // Four queued targets, four places; A's in the order A made them; B, with one task, is
      // first or second in line (whichever tenant's turn comes first), never behind A's backlog.
      expect([...positions].sort()).toEqual([0, 1, 2, 3]);
      expect(positions.slice(0, 3)).toEqual([...positions.slice(0, 3)].sort());
      expect(positions[3]).toBeLessThanOrEqual(1);
      // Lists leave it out (it costs a query per task).
      expect((await svc.api('GET', '/v1/tasks')).body.data.every((t: { queue_position: unknown }) => t.queue_position === null)).toBe(true);
    } finally {
      await svc.close();
    }
  });

  it('counts rounds: another tenant gets one target per round, one more if its turn is first', () => {
    expect(queuePosition(0, [])).toBe(0);
    expect(queuePosition(2, [{ queued: 10, servedFirst: false }])).toBe(4);
    expect(queuePosition(2, [{ queued: 10, servedFirst: true }])).toBe(5);
    expect(queuePosition(2, [{ queued: 1, servedFirst: true }, { queued: 0, servedFirst: false }])).toBe(3);
  });
});
