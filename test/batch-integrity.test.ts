/**
 * A batch is validated whole before any of it is stored, stored in one transaction, and an
 * Idempotency-Key stands for one request: the same request again gets the same batch, a different
 * one is refused whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from './helpers/service.js';

let svc: TestService;
beforeAll(async () => {
  svc = await startService({ role: 'api' });
});
afterAll(async () => svc.close());

const item = (n: number) => ({ kind: 'generate', params: { duration: 5, seed: n }, targets: [{ format: 'mp3' }] });
const taskCount = async () => (await svc.api('GET', '/v1/tasks?limit=100')).body.data.length as number;

describe('batches', () => {
  it('stores the valid items together and reports the bad one, all under one batch', async () => {
    const before = await taskCount();
    const res = await svc.api('POST', '/v1/batches', { tasks: [item(1), item(2), { ...item(3), targets: [{ format: 'mp4' }] }] });
    expect(res.status).toBe(202);
    expect(res.body.results.map((r: any) => r.success)).toEqual([true, true, false]);
    expect(res.body.results[2].error).toMatchObject({ code: 'INVALID_TARGET', details: { field: expect.stringMatching(/^tasks\[2\]\.targets\[0\]/) } });
    const summary = await svc.api('GET', `/v1/batches/${res.body.batch_id}`);
    expect(summary.body).toMatchObject({ item_count: 3, task_count: 2 });
    expect(await taskCount()).toBe(before + 2);
  });

  it('answers a retried batch with the same batch and tasks', async () => {
    const body = { tasks: [item(10), item(11)] };
    const first = await svc.api('POST', '/v1/batches', body, { 'idempotency-key': 'batch-same' });
    const again = await svc.api('POST', '/v1/batches', body, { 'idempotency-key': 'batch-same' });
    expect(again.body.batch_id).toBe(first.body.batch_id);
    expect(again.body.results.map((r: any) => r.task_id)).toEqual(first.body.results.map((r: any) => r.task_id));
  });

  it('refuses a different batch under a used key whole (1 task, then 3), and stores nothing of it', async () => {
    const first = await svc.api('POST', '/v1/batches', { tasks: [item(20)] }, { 'idempotency-key': 'batch-key' });
    expect(first.status).toBeLessThan(300);
    const before = await taskCount();
    const other = await svc.api('POST', '/v1/batches', { tasks: [item(21), item(22), item(23)] }, { 'idempotency-key': 'batch-key' });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', details: { field: 'Idempotency-Key', batch_id: first.body.batch_id } });
    const sameCount = await svc.api('POST', '/v1/batches', { tasks: [item(24)] }, { 'idempotency-key': 'batch-key' });
    expect(sameCount.status).toBe(409);
    expect(await taskCount()).toBe(before);
    expect((await svc.api('GET', `/v1/batches/${first.body.batch_id}`)).body).toMatchObject({ item_count: 1, task_count: 1 });
  });
});
