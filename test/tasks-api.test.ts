/**
 * The task API from a client's side: what it accepts, what it refuses (and how it says so), who
 * sees what, and how retries with an Idempotency-Key behave.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi, startService, type TestService } from './helpers/service.js';

let svc: TestService;
const input = { url: 'http://127.0.0.1:9/never-fetched.wav' };

beforeAll(async () => {
  // No worker: these tests are about the API and what it stores, not about running tasks.
  // A model-server kind takes any params: what the echoed-payload limit is for. (Never called.)
  svc = await startService({ role: 'api', externalEngines: [{ kind: 'echo', url: 'http://127.0.0.1:9/work' }] });
});
afterAll(() => svc.close());

async function taskCount(): Promise<number> {
  const res = await svc.api('GET', '/v1/tasks?limit=100');
  return res.body.data.length;
}

describe('authentication', () => {
  it('answers 401 with a JSON error without a key, with a wrong key, and accepts Bearer', async () => {
    const none = await callApi(svc.url, null, 'GET', '/v1/tasks');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ success: false, error: { code: 'UNAUTHORIZED' } });
    expect(none.body.error.message).toMatch(/X-API-Key/);

    const wrong = await callApi(svc.url, 'hw_not-a-real-key', 'GET', '/v1/tasks');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('UNAUTHORIZED');

    const bearer = await callApi(svc.url, null, 'GET', '/v1/tasks', undefined, { authorization: `Bearer ${svc.key}` });
    expect(bearer.status).toBe(200);
  });
});

describe('creating a task', () => {
  it('answers 202 with the task id once stored, and GET shows every documented field', async () => {
    const res = await svc.api('POST', '/v1/tasks', {
      kind: 'extract',
      input,
      targets: [{ format: 'mp3', bitrate: '128k' }, { format: 'wav', name: 'master', sample_rate: 48000, channels: 1 }],
      webhook_url: 'http://127.0.0.1:9/hook?token=abc&x=1',
      metadata: { order: 42, tags: ['a', 'b'] },
      title: 'My song',
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ success: true, task_id: expect.stringMatching(/^task_/), status: 'queued' });

    const got = await svc.api('GET', `/v1/tasks/${res.body.task_id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: res.body.task_id,
      kind: 'extract',
      status: 'queued',
      title: 'My song',
      input,
      metadata: { order: 42, tags: ['a', 'b'] },
      webhook_url: 'http://127.0.0.1:9/hook?token=abc&x=1', // kept verbatim, query string and all
      webhook_events: null, // the default: task-level events
      cost: null,
      error: null,
      completed_at: null,
    });
    expect(got.body.targets).toHaveLength(2);
    expect(got.body.targets[0]).toMatchObject({ name: 'mp3', status: 'queued', outputs: [], duration: null, cost: null, error: null });
    expect(got.body.targets[1]).toMatchObject({ name: 'master', params: { format: 'wav', sample_rate: 48000, channels: 1 } });
    expect(Date.parse(got.body.created_at)).not.toBeNaN();
    expect(Date.parse(got.body.updated_at)).not.toBeNaN();
  });

  const bad: Array<[string, unknown, number, string, RegExp]> = [
    ['unknown kind', { kind: 'karaoke', input, targets: [{ format: 'mp3' }] }, 400, 'UNKNOWN_KIND', /kind "karaoke".*extract/],
    ['missing targets', { kind: 'extract', input }, 400, 'VALIDATION_ERROR', /targets is required/],
    ['empty targets', { kind: 'extract', input, targets: [] }, 400, 'VALIDATION_ERROR', /^targets needs at least 1 item$/],
    ['bad format', { kind: 'extract', input, targets: [{ format: 'mp4' }] }, 400, 'INVALID_TARGET', /targets\[0\]\.format must be one of/],
    ['unknown target field', { kind: 'extract', input, targets: [{ format: 'mp3', speed: 2 }] }, 400, 'INVALID_TARGET', /targets\[0\] has unknown field "speed"/],
    ['bad sample rate for opus', { kind: 'extract', input, targets: [{ format: 'opus', sample_rate: 44100 }] }, 400, 'INVALID_TARGET', /targets\[0\]\.sample_rate/],
    ['duplicate target names', { kind: 'extract', input, targets: [{ format: 'mp3' }, { format: 'mp3' }] }, 400, 'INVALID_TARGET', /targets\[1\].*same name/],
    ["missing input", { kind: "extract", targets: [{ format: "mp3" }] }, 400, "VALIDATION_ERROR", /input\.url or input\.upload_id is required/],
    ['input not a URL', { kind: 'extract', input: { url: 'not a url' }, targets: [{ format: 'mp3' }] }, 400, 'INVALID_URL', /input\.url/],
    ['input ftp URL', { kind: 'extract', input: { url: 'ftp://example.com/a.wav' }, targets: [{ format: 'mp3' }] }, 400, 'INVALID_URL', /input\.url/],
    ['webhook with credentials', { kind: 'extract', input, targets: [{ format: 'mp3' }], webhook_url: 'https://user:pw@example.com/h' }, 400, 'INVALID_URL', /webhook_url/],
    ['webhook too long', { kind: 'extract', input, targets: [{ format: 'mp3' }], webhook_url: 'https://example.com/' + 'a'.repeat(2050) }, 400, 'VALIDATION_ERROR', /webhook_url/],
    ['webhook to a private address', { kind: 'extract', input, targets: [{ format: 'mp3' }], webhook_url: 'https://10.0.0.8/h' }, 400, 'URL_NOT_ALLOWED', /webhook_url/],
    ['webhook to metadata service in hex', { kind: 'extract', input, targets: [{ format: 'mp3' }], webhook_url: 'https://0xa9fea9fe/latest' }, 400, 'URL_NOT_ALLOWED', /webhook_url/],
    ['unknown webhook event', { kind: 'extract', input, targets: [{ format: 'mp3' }], webhook_events: ['task.exploded'] }, 400, 'VALIDATION_ERROR', /webhook_events\[0\]/],
    ['metadata not an object', { kind: 'extract', input, targets: [{ format: 'mp3' }], metadata: 'x' }, 400, 'VALIDATION_ERROR', /^metadata must be an object or null$/],
    ['huge metadata', { kind: 'extract', input, targets: [{ format: 'mp3' }], metadata: { blob: 'x'.repeat(20_000) } }, 400, 'METADATA_TOO_LARGE', /metadata is \d+ bytes/],
    ['duration not a number', { kind: 'generate', params: { duration: '10' }, targets: [{ format: 'mp3' }] }, 400, 'VALIDATION_ERROR', /^params\.duration must be a number$/],
    ['duration too long', { kind: 'generate', params: { duration: 6000 }, targets: [{ format: 'mp3' }] }, 400, 'VALIDATION_ERROR', /^params\.duration must be at most 600$/],
    ['unknown top-level field', { kind: 'extract', input, targets: [{ format: 'mp3' }], priority: 9 }, 400, 'VALIDATION_ERROR', /unknown field "priority"/],
  ];
  it.each(bad)('refuses %s with a clear 4xx naming the field, and stores nothing', async (_name, body, status, code, message) => {
    const before = await taskCount();
    const res = await svc.api('POST', '/v1/tasks', body);
    expect(res.status).toBe(status);
    expect(res.body.success).toBe(false);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(message);
    expect(await taskCount()).toBe(before);
  });

  it('refuses a body that is not JSON, an empty body, a wrong content type and an oversized body', async () => {
    const before = await taskCount();
    const notJson = await svc.api('POST', '/v1/tasks', '{"kind": "extract",', { 'content-type': 'application/json' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('INVALID_JSON');

    const empty = await svc.api('POST', '/v1/tasks', '', { 'content-type': 'application/json' });
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('INVALID_JSON');

    const text = await svc.api('POST', '/v1/tasks', 'kind=extract', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');

    const huge = await svc.api('POST', '/v1/tasks', { kind: 'extract', input, targets: [{ format: 'mp3' }], title: 'x'.repeat(2 * 1024 * 1024) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await taskCount()).toBe(before);
  });

  it('refuses http:// webhook URLs unless the development flag is set', async () => {
    const prod = await startService({ role: 'api', dev: false });
    try {
      const res = await prod.api('POST', '/v1/tasks', { kind: 'extract', input: { url: 'https://example.com/a.wav' }, targets: [{ format: 'mp3' }], webhook_url: 'http://example.com/hook' });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('URL_NOT_ALLOWED');
      expect(res.body.error.message).toMatch(/webhook_url must use https \(for a receiver on your own machine, start the server with --dev, or forward events to it with `hookwave listen --forward-to`\)/);
      const loop = await prod.api('POST', '/v1/tasks', { kind: 'extract', input: { url: 'https://127.0.0.1/a.wav' }, targets: [{ format: 'mp3' }] });
      expect(loop.body.error.code).toBe('URL_NOT_ALLOWED');
    } finally {
      await prod.close();
    }
  });
});

describe('idempotency', () => {
  it('returns the same task for a retried create, and refuses the key for a different body', async () => {
    const body = { kind: 'extract', input, targets: [{ format: 'flac' }] };
    const headers = { 'idempotency-key': 'order-1234' };
    const first = await svc.api('POST', '/v1/tasks', body, headers);
    const again = await svc.api('POST', '/v1/tasks', body, headers);
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body.task_id).toBe(first.body.task_id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');

    const racing = await Promise.all([1, 2, 3, 4].map(() => svc.api('POST', '/v1/tasks', body, { 'idempotency-key': 'race-1' })));
    expect(new Set(racing.map((r) => r.body.task_id)).size).toBe(1);

    const other = await svc.api('POST', '/v1/tasks', { ...body, targets: [{ format: 'ogg' }] }, headers);
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');

    // The same request with its fields in another order is the same request.
    const reordered = await svc.api('POST', '/v1/tasks', { targets: [{ format: 'flac' }], input, kind: 'extract' }, headers);
    expect(reordered.status).toBe(202);
    expect(reordered.body.task_id).toBe(first.body.task_id);
  });
});

describe('webhook body size', () => {
  it('refuses params and targets that would make every webhook body huge, and stores nothing', async () => {
    const before = await taskCount();
    const res = await svc.api('POST', '/v1/tasks', { kind: 'echo', input, params: { notes: 'x'.repeat(40_000) }, targets: [{ format: 'wav' }] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'PARAMS_TOO_LARGE', details: { field: 'params', limit: 32768 } });
    expect(res.body.error.message).toMatch(/params, targets and title are \d+ bytes/);
    expect(await taskCount()).toBe(before);
    const fine = await svc.api('POST', '/v1/tasks', { kind: 'echo', input, params: { notes: 'x'.repeat(1000) }, targets: [{ format: 'wav' }] });
    expect(fine.status).toBe(202);
  });
});

describe('tenant isolation', () => {
  it("answers another tenant's task exactly like a task that does not exist", async () => {
    const mine = await svc.api('POST', '/v1/tasks', { kind: 'extract', input, targets: [{ format: 'mp3' }] });
    const other = await svc.newTenant('globex');
    const theirs = (m: string, p: string) => callApi(svc.url, other.key, m, p);

    const foreign = await theirs('GET', `/v1/tasks/${mine.body.task_id}`);
    const missing = await theirs('GET', '/v1/tasks/task_00000000000000000000000000');
    expect(foreign.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(foreign.body.error.code).toBe(missing.body.error.code);
    expect((await theirs('POST', `/v1/tasks/${mine.body.task_id}/cancel`)).status).toBe(404);
    expect((await theirs('GET', `/v1/tasks/${mine.body.task_id}/deliveries`)).status).toBe(404);
    const list = await theirs('GET', '/v1/tasks');
    expect(list.body.data.map((t: { id: string }) => t.id)).not.toContain(mine.body.task_id);
    // Idempotency keys are per tenant too.
    const a = await svc.api('POST', '/v1/tasks', { kind: 'extract', input, targets: [{ format: 'mp3' }] }, { 'idempotency-key': 'shared' });
    const b = await callApi(svc.url, other.key, 'POST', '/v1/tasks', { kind: 'extract', input, targets: [{ format: 'mp3' }] }, { 'idempotency-key': 'shared' });
    expect(b.status).toBe(202);
    expect(b.body.task_id).not.toBe(a.body.task_id);
  });
});

describe('listing', () => {
  it('lists newest first, filters by status and kind, and pages with a cursor', async () => {
    const t = await svc.newTenant('lister');
    const call = (m: string, p: string, b?: unknown) => callApi(svc.url, t.key, m, p, b);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await call('POST', '/v1/tasks', { kind: 'extract', input, targets: [{ format: 'mp3' }] })).body.task_id);
    await call('POST', `/v1/tasks/${ids[1]}/cancel`);

    const page1 = await call('GET', '/v1/tasks?limit=2');
    expect(page1.body.data.map((x: { id: string }) => x.id)).toEqual([ids[4], ids[3]]);
    const page2 = await call('GET', `/v1/tasks?limit=2&cursor=${page1.body.next_cursor}`);
    expect(page2.body.data.map((x: { id: string }) => x.id)).toEqual([ids[2], ids[1]]);
    const page3 = await call('GET', `/v1/tasks?limit=2&cursor=${page2.body.next_cursor}`);
    expect(page3.body.data.map((x: { id: string }) => x.id)).toEqual([ids[0]]);
    expect(page3.body.next_cursor).toBeNull();

    const canceled = await call('GET', '/v1/tasks?status=canceled');
    expect(canceled.body.data.map((x: { id: string }) => x.id)).toEqual([ids[1]]);
    expect((await call('GET', '/v1/tasks?kind=stems')).body.data).toEqual([]);
    expect((await call('GET', '/v1/tasks?status=done')).body.error.code).toBe('VALIDATION_ERROR');
    expect((await call('GET', '/v1/tasks?limit=0')).status).toBe(400);
    expect((await call('GET', '/v1/tasks?cursor=bogus')).body.error.code).toBe('INVALID_CURSOR');
  });
});

describe('canceling', () => {
  it('cancels a queued task once, then answers 409 for a finished one', async () => {
    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input, targets: [{ format: 'mp3' }, { format: 'wav' }] });
    const res = await svc.api('POST', `/v1/tasks/${created.body.task_id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, task_id: created.body.task_id, status: 'canceled' });
    const task = (await svc.api('GET', `/v1/tasks/${created.body.task_id}`)).body;
    expect(task.status).toBe('canceled');
    expect(task.targets.map((t: { status: string }) => t.status)).toEqual(['canceled', 'canceled']);
    expect(task.completed_at).not.toBeNull();
    // Canceling again is harmless.
    expect((await svc.api('POST', `/v1/tasks/${created.body.task_id}/cancel`)).status).toBe(200);
  });
});

describe('unknown routes and ids', () => {
  it('answers JSON 404s', async () => {
    const route = await svc.api('GET', '/v1/nothing-here');
    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe('NOT_FOUND');
    const task = await svc.api('GET', '/v1/tasks/does-not-exist');
    expect(task.status).toBe(404);
    expect(task.body.error.code).toBe('NOT_FOUND');
  });
});
