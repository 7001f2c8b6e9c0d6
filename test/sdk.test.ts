/**
 * The typed client (@hookwave/client) as an application uses it against a real server: create and
 * wait (by event stream, or by polling when the stream is unavailable), or both in one `run`;
 * uploads, batches, endpoints, the delivery log, typed errors, and verifying the webhooks it
 * receives — with the Express-style middleware and the Fastify plugin.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Hookwave,
  HookwaveApiError,
  HookwaveConnectionError,
  HookwaveTaskFailedError,
  HookwaveTimeoutError,
  WebhookVerificationError,
  expressWebhookMiddleware,
  fastifyWebhookVerifier,
  verifyWebhook,
  type TargetProgress,
  type VerifiedFastifyRequest,
  type WebhookEvent,
} from '@hookwave/client';
import { createApiKey } from '../src/services/tenants.js';
import { closedPort } from './helpers/closed-port.js';
import { signatureHeaders } from '../src/net/webhook-signature.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, tempDir, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

let svc: TestService;
let hw: Hookwave;
let files: FileServer;
let mediaDir: string;
let short: string;
let long: string;
// Long enough that encoding it spans several progress writes (one per 500 ms) even on a fast machine.
let longer: string;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  mediaDir = tempDir('hookwave-media-');
  short = path.basename(await makeTone(mediaDir, { seconds: 1, format: 'wav' }));
  long = path.basename(await makeTone(mediaDir, { seconds: 120, format: 'flac' }));
  longer = path.basename(await makeTone(mediaDir, { seconds: 300, format: 'flac' }));
  files = await startFileServer(mediaDir);
  svc = await startService({ retryScheduleMs: [100, 100], retryJitter: 0 });
  hw = new Hookwave({ baseUrl: svc.url, apiKey: svc.key });
});
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await svc.close();
  await files.close();
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  closers.push(() => r.close());
  return r;
}

describe('tasks', () => {
  it('creates a task, follows its progress over the event stream, and gets the finished task with working download URLs', async () => {
    const { task_id, status } = await hw.tasks.create({ kind: 'extract', input: { url: files.url(longer) }, targets: [{ format: 'mp3' }, { format: 'ogg', name: 'preview' }] });
    expect(status).toBe('queued');
    const updates: TargetProgress[] = [];
    const task = await hw.tasks.wait(task_id, { timeoutMs: 60_000, onProgress: (p) => updates.push(p) });

    expect(task.status).toBe('completed');
    expect(task.targets.map((t) => t.name)).toEqual(['mp3', 'preview']);
    expect(updates.some((u) => u.status === 'processing' && u.progress > 0 && u.progress < 1)).toBe(true);
    expect(new Set(updates.filter((u) => u.status === 'completed').map((u) => u.name))).toEqual(new Set(['mp3', 'preview']));
    const output = task.targets[0]!.outputs[0]!;
    const file = await fetch(output.url);
    expect(file.status).toBe(200);
    expect((await file.arrayBuffer()).byteLength).toBe(output.size);
  }, 90_000);

  it('falls back to polling when the event stream is unavailable', async () => {
    const calls: string[] = [];
    const noStreams: typeof fetch = async (input, init) => {
      const url = String(input);
      calls.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`);
      if (url.includes('/events')) return new Response('{"success":false,"error":{"code":"INTERNAL_ERROR","message":"proxy ate it"}}', { status: 502 });
      return fetch(input, init);
    };
    const client = new Hookwave({ baseUrl: svc.url, apiKey: svc.key, fetch: noStreams });
    const { task_id } = await client.tasks.create({ kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'wav' }] });
    const seen: string[] = [];
    const task = await client.tasks.wait(task_id, { pollIntervalMs: 50, onProgress: (p) => seen.push(p.status) });
    expect(task.status).toBe('completed');
    expect(seen).toContain('completed');
    expect(calls).toContain(`GET /v1/tasks/${task_id}/events`);
    expect(calls.filter((c) => c === `GET /v1/tasks/${task_id}`).length).toBeGreaterThan(0);
  });

  it('times out without losing the task: waiting again picks up the same task', async () => {
    const { task_id } = await hw.tasks.create({ kind: 'extract', input: { url: files.url(long) }, targets: [{ format: 'flac' }] });
    const err = await hw.tasks.wait(task_id, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HookwaveTimeoutError);
    expect((err as HookwaveTimeoutError).taskId).toBe(task_id);

    const aborted = new AbortController();
    const pending = hw.tasks.wait(task_id);
    const abortedWait = hw.tasks.wait(task_id, { signal: aborted.signal });
    aborted.abort(new Error('user left'));
    await expect(abortedWait).rejects.toThrow('user left');
    expect((await pending).status).toBe('completed');
  }, 60_000);

  it('lists page by page, cancels, and reports errors as typed HookwaveApiErrors', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await hw.tasks.create({ kind: 'extract', input: { url: files.url(long) }, targets: [{ format: 'wav' }], title: `page-${i}` })).task_id);
    const first = await hw.tasks.list({ limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.next_cursor).not.toBeNull();
    const all: string[] = [];
    for await (const t of hw.tasks.iterate({ limit: 2 })) all.push(t.id);
    expect(all).toEqual(expect.arrayContaining(ids));
    expect(new Set(all).size).toBe(all.length);

    for (const id of ids) expect((await hw.tasks.cancel(id)).status).toBe('canceled');
    const canceled = await hw.tasks.wait(ids[0]!);
    expect(canceled.status).toBe('canceled');

    // The compiler refuses it (test/client-types.test.ts); the server still does for JavaScript callers.
    // @ts-expect-error 'mp9' is not a format
    const bad = await hw.tasks.create({ kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'mp9' }] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(HookwaveApiError);
    expect(bad).toMatchObject({ status: 400, code: 'INVALID_TARGET' });
    expect((bad as HookwaveApiError).message).toMatch(/targets\[0\]/);

    await expect(hw.tasks.get('task_00000000000000000000000000')).rejects.toMatchObject({ status: 404, code: 'NOT_FOUND' });
    await expect(hw.tasks.wait('task_00000000000000000000000000')).rejects.toMatchObject({ status: 404, code: 'NOT_FOUND' });
    await expect(hw.tasks.cancel(ids[0]!)).resolves.toMatchObject({ status: 'canceled' });
    await expect(new Hookwave({ baseUrl: svc.url, apiKey: 'hw_nope' }).tasks.list()).rejects.toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    await expect(new Hookwave({ baseUrl: 'http://127.0.0.1:9', apiKey: svc.key }).tasks.list()).rejects.toBeInstanceOf(HookwaveConnectionError);
  }, 60_000);
});

describe('run: create and wait in one call', () => {
  it('hands over the task id as soon as the task is stored, then resolves with the completed task', async () => {
    const events: string[] = [];
    let createdId: string | null = null;
    const task = await hw.run(
      { kind: 'extract', input: { url: files.url(long) }, targets: [{ format: 'mp3', bitrate: '96k' }] },
      {
        timeoutMs: 60_000,
        onCreated: (id) => {
          createdId = id;
          events.push('created');
        },
        onProgress: (p) => events.push(p.status),
      },
    );
    expect(task.status).toBe('completed');
    expect(task.id).toBe(createdId);
    expect(events[0]).toBe('created');
    expect(events).toContain('completed');
    expect(task.targets[0]!.outputs[0]).toMatchObject({ format: 'mp3' });
  }, 90_000);

  it('throws HookwaveTaskFailedError with the ended task when the task fails', async () => {
    let createdId: string | null = null;
    const err = await hw
      .run({ kind: 'extract', input: { url: `http://127.0.0.1:${await closedPort()}/gone.wav` }, targets: [{ format: 'wav' }] }, { timeoutMs: 60_000, onCreated: (id) => (createdId = id) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HookwaveTaskFailedError);
    const failed = err as HookwaveTaskFailedError;
    expect(failed.task).toMatchObject({ id: createdId, status: 'failed' });
    expect(failed.code).toBe(failed.task.targets[0]!.error?.code ?? failed.task.error?.code);
    expect(failed.message).toContain(failed.task.id);
  }, 90_000);

  it('times out without losing the task, whose id it already handed over', async () => {
    let createdId = '';
    const err = await hw
      .run({ kind: 'extract', input: { url: files.url(long) }, targets: [{ format: 'flac' }] }, { timeoutMs: 1, onCreated: (id) => (createdId = id) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HookwaveTimeoutError);
    expect((err as HookwaveTimeoutError).taskId).toBe(createdId);
    expect((await hw.tasks.wait(createdId, { timeoutMs: 60_000 })).status).toBe('completed');
  }, 90_000);

  it('finds its server and key in HOOKWAVE_URL and HOOKWAVE_API_KEY', async () => {
    const saved = { url: process.env.HOOKWAVE_URL, key: process.env.HOOKWAVE_API_KEY };
    try {
      delete process.env.HOOKWAVE_URL;
      delete process.env.HOOKWAVE_API_KEY;
      expect(() => new Hookwave()).toThrow(/HOOKWAVE_URL/);
      process.env.HOOKWAVE_URL = svc.url;
      expect(() => new Hookwave()).toThrow(/HOOKWAVE_API_KEY/);
      process.env.HOOKWAVE_API_KEY = svc.key;
      const fromEnv = new Hookwave();
      expect(fromEnv.baseUrl).toBe(svc.url);
      expect((await fromEnv.account.get()).tenant_id).toBe((await hw.account.get()).tenant_id);
    } finally {
      for (const [name, value] of [['HOOKWAVE_URL', saved.url], ['HOOKWAVE_API_KEY', saved.key]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('uploads and batches', () => {
  it('uploads a local file and a buffer, with progress, and runs tasks on them', async () => {
    const file = path.join(mediaDir, short);
    const progress: number[] = [];
    const up = await hw.uploads.create(file, { onProgress: (sent) => progress.push(sent) });
    expect(up.upload_id).toMatch(/^upl_/);
    expect(up.file_name).toBe(short);
    expect(up.size).toBe(fs.statSync(file).size);
    expect(progress.at(-1)).toBe(up.size);

    const fromBuffer = await hw.uploads.create(fs.readFileSync(file), { fileName: 'from memory.wav' });
    expect(fromBuffer.size).toBe(up.size);

    const { task_id } = await hw.tasks.create({ kind: 'extract', input: { upload_id: fromBuffer.upload_id }, targets: [{ format: 'mp3' }] });
    expect((await hw.tasks.wait(task_id)).status).toBe('completed');
  });

  it('creates a batch where a bad item fails alone, and reads it back', async () => {
    const created = await hw.batches.create({
      tasks: [
        { kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'mp3' }] },
        { kind: 'nope', input: { url: files.url(short) }, targets: [{ format: 'mp3' }] },
      ],
    });
    expect(created).toMatchObject({ accepted: 1, rejected: 1 });
    const ok = created.results.find((r) => r.success);
    if (!ok?.success) throw new Error('expected an accepted item');
    await hw.tasks.wait(ok.task_id);
    const batch = await hw.batches.get(created.batch_id);
    expect(batch).toMatchObject({ id: created.batch_id, status: 'ended', task_count: 1 });
    expect(batch.counts.completed).toBe(1);
  });
});

describe('endpoints and deliveries', () => {
  it('manages endpoints, reads the delivery log and redelivers', async () => {
    const rx = await receiver();
    const ep = await hw.endpoints.create({ url: rx.url, events: ['task.completed'], description: 'sdk' });
    expect(ep.secret).toMatch(/^whsec_/);
    expect(await hw.endpoints.get(ep.id)).toMatchObject({ id: ep.id, url: rx.url, events: ['task.completed'] });
    expect((await hw.endpoints.list()).map((e) => e.id)).toContain(ep.id);

    const { task_id } = await hw.tasks.create({ kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'wav' }] });
    await hw.tasks.wait(task_id);
    const [got] = await rx.waitFor(1);
    expect(verifyWebhook(got!.raw, got!.headers, ep.secret).type).toBe('task.completed');

    const deliveries = await until('the delivery to be recorded as delivered', async () => {
      const list = await hw.deliveries.listForTask(task_id);
      return list[0]?.status === 'delivered' && list;
    });
    expect(deliveries).toHaveLength(1);
    const one = await hw.deliveries.get(deliveries[0]!.id);
    expect(one).toMatchObject({ status: 'delivered', event_type: 'task.completed', endpoint_id: ep.id });
    expect(one.attempts?.[0]?.status_code).toBe(200);
    expect((await hw.deliveries.list({ endpoint_id: ep.id })).data.map((d) => d.id)).toEqual([one.id]);

    expect(one.request_body).toBe(got!.raw);
    expect(await hw.deliveries.redeliver(one.id)).toEqual({ id: one.id, status: 'pending', final_attempt: true });
    const [, again] = await rx.waitFor(2);
    expect(again!.headers['webhook-id']).toBe(got!.headers['webhook-id']);

    const test = await hw.endpoints.test(ep.id, { message: 'from the sdk' });
    const [, , tested] = await rx.waitFor(3);
    const event = verifyWebhook(tested!.raw, tested!.headers, ep.secret);
    expect(event.type === 'endpoint.test' && event.data).toEqual({ endpoint_id: ep.id, message: 'from the sdk' });
    expect(tested!.headers['webhook-id']).toBe(test.event_id);

    const rotated = await hw.endpoints.rotateSecret(ep.id);
    expect(rotated.secret).not.toBe(ep.secret);
    expect(rotated.previous_secret_expires_at).not.toBeNull();
    expect(await hw.endpoints.recover(ep.id, new Date(Date.now() - 60_000))).toEqual({ requeued: 0 });
    expect((await hw.endpoints.update(ep.id, { enabled: false })).enabled).toBe(false);
    expect(await hw.endpoints.delete(ep.id)).toEqual({ id: ep.id, deleted: true });
    await expect(hw.endpoints.get(ep.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('tells the tenant its webhook secret', async () => {
    expect(await hw.account.get()).toMatchObject({ name: 'acme', webhook_secret: svc.secret });
  });
});

describe('keys', () => {
  it("lists the caller's tenant's keys by prefix, marks the caller's own, and never another tenant's", async () => {
    const second = await createApiKey(svc.hw.store, 'acme');
    const revoked = await createApiKey(svc.hw.store, 'acme');
    expect(await svc.hw.store.revokeApiKey(revoked.apiKey.id, Date.now())).toBe(true);
    const other = await svc.newTenant('keys-other-tenant');
    const otherKeys = (await svc.hw.store.listApiKeys()).filter((k) => k.tenant_name === 'keys-other-tenant');
    expect(otherKeys).toHaveLength(1);

    const mine = await hw.keys.list();
    expect(mine.map((k) => k.prefix)).toEqual([svc.key.slice(0, 11), second.key.slice(0, 11), revoked.key.slice(0, 11)]);
    expect(mine.map((k) => k.current)).toEqual([true, false, false]);
    expect(mine[1]).toEqual({ id: second.apiKey.id, prefix: second.apiKey.prefix, created_at: new Date(second.apiKey.created_at).toISOString(), revoked_at: null, current: false });
    expect(mine[2]!.revoked_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(mine.map((k) => k.id)).not.toContain(otherKeys[0]!.id);

    // The second key sees the same list, with itself as the current one.
    expect((await new Hookwave({ baseUrl: svc.url, apiKey: second.key }).keys.list()).map((k) => k.current)).toEqual([false, true, false]);

    // Neither a key nor its hash is ever in the answer.
    const raw = await (await fetch(`${svc.url}/v1/keys`, { headers: { 'x-api-key': svc.key } })).text();
    for (const secret of [svc.key, second.key, revoked.key, second.apiKey.hash, revoked.apiKey.hash]) expect(raw).not.toContain(secret);
    expect(raw).not.toContain('hash');

    const theirs = await new Hookwave({ baseUrl: svc.url, apiKey: other.key }).keys.list();
    expect(theirs).toEqual([expect.objectContaining({ id: otherKeys[0]!.id, current: true })]);
    await expect(new Hookwave({ baseUrl: svc.url, apiKey: revoked.key }).keys.list()).rejects.toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });
});

/** A bare node:http receiver that runs the Express-style middleware (Express's req/res are these). */
async function middlewareReceiver(secret: string): Promise<{ url: string; accepted: WebhookEvent[] }> {
  const accepted: WebhookEvent[] = [];
  const verify = expressWebhookMiddleware(secret);
  const server = http.createServer((req, res) => {
    verify(req, res, (err?: unknown) => {
      if (err) return void res.writeHead(500).end(String(err));
      accepted.push((req as unknown as { webhook: WebhookEvent }).webhook);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, accepted };
}

async function fastifyReceiver(secret: string): Promise<{ url: string; app: FastifyInstance; accepted: WebhookEvent[] }> {
  const accepted: WebhookEvent[] = [];
  const app = Fastify();
  app.get('/health', async () => ({ ok: true }));
  await app.register(async (hooks) => {
    await hooks.register(fastifyWebhookVerifier([secret]));
    hooks.post('/hook', async (req) => {
      accepted.push((req as VerifiedFastifyRequest<typeof req>).webhook);
      return { received: true };
    });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/hook`, app, accepted };
}

describe('receiving webhooks', () => {
  it('verifies real deliveries in an Express-style middleware and a Fastify plugin, and refuses forgeries and replays with 401', async () => {
    // The task's own URL is signed with the tenant's secret, an endpoint with its own.
    const viaMiddleware = await middlewareReceiver(svc.secret);
    const ep = await hw.endpoints.create({ url: 'https://example.com/placeholder', events: ['task.completed'] });
    const viaFastify = await fastifyReceiver(ep.secret);
    await hw.endpoints.update(ep.id, { url: viaFastify.url });
    const wrongSecret = await fastifyReceiver('whsec_' + Buffer.from('not the secret').toString('base64'));

    const { task_id } = await hw.tasks.create({ kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'mp3' }], webhook_url: viaMiddleware.url });
    await hw.tasks.wait(task_id);
    await until('both receivers to accept a webhook', () => viaMiddleware.accepted.length >= 1 && viaFastify.accepted.length >= 1);
    expect(viaMiddleware.accepted.map((e) => e.type)).toEqual(['task.completed']);
    const event = viaMiddleware.accepted[0]!;
    if (event.type === 'endpoint.disabled' || event.type === 'endpoint.test') throw new Error('unexpected event');
    expect(event.data.id).toBe(task_id);
    expect(event.data.targets[0]!.outputs[0]!.format).toBe('mp3');
    expect(viaFastify.accepted.map((e) => e.type)).toEqual(['task.completed']);

    // What an attacker or a replaying proxy could send.
    const body = JSON.stringify(event);
    const now = Math.floor(Date.now() / 1000);
    const post = (url: string, payload: string, headers: Record<string, string>) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload }).then((r) => r.status);
    const fresh = signatureHeaders([svc.secret], 'msg_replayed', now, body);
    const stale = signatureHeaders([svc.secret], 'msg_replayed', now - 6 * 60, body);
    const forged = signatureHeaders(['whsec_' + Buffer.from('guess').toString('base64')], 'msg_forged', now, body);
    expect(await post(viaMiddleware.url, body, fresh)).toBe(204);
    expect(await post(viaMiddleware.url, body.replace('completed', 'failed'), fresh)).toBe(401);
    expect(await post(viaMiddleware.url, body, stale)).toBe(401);
    expect(await post(viaMiddleware.url, body, forged)).toBe(401);
    expect(await post(viaMiddleware.url, body, {})).toBe(401);
    expect(await post(wrongSecret.url, body, fresh)).toBe(401);
    const epFresh = signatureHeaders([ep.secret], 'msg_x', now, body);
    expect(await post(viaFastify.url, body, epFresh)).toBe(200);
    expect(await post(viaFastify.url, body, signatureHeaders([ep.secret], 'msg_x', now - 400, body))).toBe(401);
    expect(await post(viaFastify.url, body.replace('{', '{ '), epFresh)).toBe(401);
    // Routes outside the verifier's scope are untouched.
    expect((await fetch(viaFastify.url.replace('/hook', '/health'))).status).toBe(200);
  });

  it('verifyWebhook accepts any of several secrets and says why it refuses', () => {
    const body = JSON.stringify({ type: 'task.completed', timestamp: new Date().toISOString(), data: { id: 'task_x' } });
    const now = Math.floor(Date.now() / 1000);
    const h = signatureHeaders([svc.secret], 'msg_1', now, body);
    const other = 'whsec_' + Buffer.from('another secret, rotated in').toString('base64');
    expect(verifyWebhook(body, h, [other, svc.secret]).type).toBe('task.completed');
    expect(verifyWebhook(Buffer.from(body), new Headers(h), svc.secret).type).toBe('task.completed');
    expect(() => verifyWebhook(body, h, other)).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(body, signatureHeaders([svc.secret], 'msg_1', now - 301, body), svc.secret)).toThrow(/too old/);
    expect(() => verifyWebhook(body, { 'webhook-id': 'msg_1' }, svc.secret)).toThrow(/Missing required headers/);
  });
});
