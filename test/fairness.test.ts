/**
 * Tenants share the workers fairly (issue 9.4): a tenant with a thousand queued tasks does not make
 * another tenant's single task wait behind them, a tenant's running targets can be capped, and a
 * tenant whose queue is full is told to come back later instead of filling the database.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fairShare, roomUnderCap } from '../src/domain/fair-share.js';
import { callApi, startService, waitForTask, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

let svc: TestService | null = null;
afterEach(async () => {
  await svc?.close();
  svc = null;
});

const quickTask = (title: string) => ({ kind: 'generate', params: { duration: 1 }, targets: [{ format: 'wav' }], title });

interface TargetTimes {
  task: string;
  started: number;
  finished: number | null;
}

/** Every target of the tenant's tasks in these statuses, with its start and end times. */
async function targetTimes(api: TestService['api'], statuses: string[]): Promise<TargetTimes[]> {
  const out: TargetTimes[] = [];
  for (const status of statuses) {
    const page = await api('GET', `/v1/tasks?status=${status}&limit=100`);
    for (const t of page.body.data) {
      for (const g of t.targets) {
        if (g.started_at) out.push({ task: t.id, started: Date.parse(g.started_at), finished: g.finished_at ? Date.parse(g.finished_at) : null });
      }
    }
  }
  return out;
}

describe('fair claiming across tenants', () => {
  it("starts tenant B's single task in the next free slot while tenant A has 1,000 tasks queued", async () => {
    svc = await startService({ workerConcurrency: 1, tenantMaxRunning: 0 });
    const a = svc.api;
    for (let batch = 0; batch < 10; batch++) {
      const res = await a('POST', '/v1/batches', { tasks: Array.from({ length: 100 }, (_, i) => quickTask(`a${batch * 100 + i}`)) });
      expect(res.status).toBe(202);
    }
    // A's backlog is flowing: its tasks hold the only slot, one after another.
    await until("A's first tasks to finish", async () => (await a('GET', '/v1/tasks?status=completed&limit=2')).body.data.length >= 2);

    const b = await svc.newTenant('bravo');
    const created = await callApi(svc.url, b.key, 'POST', '/v1/tasks', quickTask('b'));
    expect(created.status).toBe(202);
    const bTask = await waitForTask({ api: (m, p, body, h) => callApi(svc!.url, b.key, m, p, body, h) }, created.body.task_id, 60_000);
    expect(bTask.status).toBe('completed');
    const bCreated = Date.parse(bTask.created_at);
    const bStarted = Date.parse(bTask.targets[0].started_at);

    // Between B's request and B's start, A got at most the one claim that may already have been
    // under way when B's task was stored (PostgreSQL: a claim's snapshot can predate the insert).
    const aTimes = await targetTimes(a, ['processing', 'completed']);
    const aStartedMeanwhile = aTimes.filter((t) => t.started > bCreated && t.started < bStarted);
    expect(aStartedMeanwhile.length).toBeLessThanOrEqual(1);
    // And A's backlog really was ahead of B: most of it is still waiting.
    expect(await svc.hw.store.countQueuedTasks((await svc.hw.store.getTenantByName('acme'))!.id, 1000)).toBeGreaterThan(900);
  });

  it("runs at most tenantMaxRunning of a tenant's targets at once, and gives the other slots to other tenants", async () => {
    svc = await startService({ workerConcurrency: 2, tenantMaxRunning: 1 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await svc.api('POST', '/v1/tasks', quickTask(`a${i}`))).body.task_id);
    const b = await svc.newTenant('bravo');
    const bApi = (m: string, p: string, body?: unknown, h?: Record<string, string>) => callApi(svc!.url, b.key, m, p, body, h);
    const bId = (await bApi('POST', '/v1/tasks', quickTask('b'))).body.task_id;
    for (const id of ids) expect((await waitForTask(svc, id, 60_000)).status).toBe('completed');
    const bTask = await waitForTask({ api: bApi }, bId, 60_000);

    // A's targets ran one after another, never two at once.
    const a = (await targetTimes(svc.api, ['completed'])).sort((x, y) => x.started - y.started);
    expect(a).toHaveLength(3);
    for (let i = 1; i < a.length; i++) expect(a[i]!.started).toBeGreaterThanOrEqual(a[i - 1]!.finished!);
    // B did not wait for A's queue: it ran beside A's work, in the slot A could not take.
    expect(Date.parse(bTask.targets[0].started_at)).toBeLessThan(a.at(-1)!.finished!);
  });
});

describe("a tenant's queue cap", () => {
  it('answers 429 RATE_LIMITED with Retry-After past the cap, for tasks and whole batches, and only for that tenant', async () => {
    // API role: nothing runs, so queued tasks stay queued.
    svc = await startService({ role: 'api', tenantMaxQueued: 5 });
    for (let i = 0; i < 4; i++) expect((await svc.api('POST', '/v1/tasks', quickTask(`a${i}`))).status).toBe(202);

    const batch = await svc.api('POST', '/v1/batches', { tasks: [quickTask('x'), quickTask('y')] });
    expect(batch.status).toBe(429);
    expect(batch.headers.get('retry-after')).toBe('30');
    expect(batch.body.error).toMatchObject({ code: 'RATE_LIMITED', details: { limit: 5, queued: 4 } });
    expect(batch.body.error.message).toMatch(/HOOKWAVE_TENANT_MAX_QUEUED/);

    const fifth = await svc.api('POST', '/v1/tasks', quickTask('a4'));
    expect(fifth.status).toBe(202);
    const sixth = await svc.api('POST', '/v1/tasks', quickTask('a5'));
    expect(sixth.status).toBe(429);
    expect(sixth.headers.get('retry-after')).toBe('30');
    expect(sixth.body.error.message).toMatch(/cancel queued tasks/);
    expect((await svc.api('GET', '/v1/tasks?limit=100')).body.data).toHaveLength(5);

    // Another tenant has its own queue.
    const b = await svc.newTenant('bravo');
    expect((await callApi(svc.url, b.key, 'POST', '/v1/tasks', quickTask('b'))).status).toBe(202);

    // Canceling a queued task makes room again.
    expect((await svc.api('POST', `/v1/tasks/${fifth.body.task_id}/cancel`)).status).toBe(200);
    expect((await svc.api('POST', '/v1/tasks', quickTask('a5'))).status).toBe(202);
  });
});

describe('the round-robin rule', () => {
  it('takes one target per tenant per round, in turn order, until the claim is full', () => {
    const queues = [
      { tenantId: 'a', targetIds: ['a1', 'a2', 'a3', 'a4'] },
      { tenantId: 'b', targetIds: ['b1'] },
      { tenantId: 'c', targetIds: ['c1', 'c2'] },
    ];
    expect(fairShare(queues, 5)).toEqual({ targetIds: ['a1', 'b1', 'c1', 'a2', 'c2'], served: ['a', 'b', 'c'] });
    expect(fairShare(queues, 2)).toEqual({ targetIds: ['a1', 'b1'], served: ['a', 'b'] });
    expect(fairShare(queues, 10).targetIds).toHaveLength(7);
    expect(fairShare([], 3)).toEqual({ targetIds: [], served: [] });
  });

  it("gives a tenant no more room than its cap leaves, and any room when there is no cap", () => {
    expect(roomUnderCap(3, 4, 8)).toBe(1);
    expect(roomUnderCap(5, 4, 8)).toBe(0);
    expect(roomUnderCap(100, 0, 8)).toBe(8);
    expect(roomUnderCap(0, 10, 2)).toBe(2);
  });
});
