/**
 * Requests a hostile tenant sends: bodies nested thousands deep, download URLs with their expiry
 * spelt another way or their file name swapped, upload names that try to break out of a header.
 * Each gets a clear 4xx (or the exact file, safely named), and nothing is stored for a refusal.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseDisposition } from 'content-disposition';
import { makeTone } from './helpers/media.js';
import { startService, tempDir, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

let svc: TestService;
let tone: Buffer;

beforeAll(async () => {
  svc = await startService();
  tone = fs.readFileSync(await makeTone(tempDir('hookwave-hostile-'), { seconds: 1, format: 'wav' }));
});
afterAll(async () => svc.close());

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

async function upload(name: string): Promise<{ upload_id: string }> {
  const res = await fetch(`${svc.url}/v1/uploads`, { method: 'POST', headers: { 'x-api-key': svc.key, 'x-file-name': name, 'content-type': 'application/octet-stream' }, body: tone });
  expect(res.status).toBe(201);
  return (await res.json()) as { upload_id: string };
}

describe('deeply nested JSON', () => {
  it('refuses metadata nested 5,000 levels (10 KB) with 400 naming the field, and stores nothing', async () => {
    // Sent as text: JSON.stringify itself cannot write what the attacker can.
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    const body = `{"kind":"generate","targets":[{"format":"mp3"}],"metadata":${deep}}`;
    expect(body.length).toBeLessThan(40_000);
    const res = await svc.api('POST', '/v1/tasks', body, { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/^metadata nests deeper than 32 levels/), details: { field: expect.stringMatching(/^metadata\.a\.a/) } });
    expect((await svc.api('GET', '/v1/tasks')).body.data).toEqual([]);
  });

  it('refuses the same inside a batch item, before creating anything', async () => {
    const item = { kind: 'generate', targets: [{ format: 'mp3' }] };
    const res = await svc.api('POST', '/v1/batches', { tasks: [item, { ...item, params: nested(3000) }] });
    expect(res.status).toBe(400);
    expect(res.body.error.details.field).toMatch(/^tasks\[1\]\.params\.a/);
    expect((await svc.api('GET', '/v1/tasks')).body.data).toEqual([]);
  });

  it('accepts metadata nested as deep as a real client would', async () => {
    const res = await svc.api('POST', '/v1/tasks', { kind: 'generate', params: { duration: 1 }, targets: [{ format: 'mp3' }], metadata: nested(20) as Record<string, unknown> });
    expect(res.status).toBe(202);
  });
});

describe('NUL characters, which PostgreSQL cannot store', () => {
  it('refuses a NUL in metadata, a title or a key with 400 naming the field, on either store, and stores nothing', async () => {
    const base = { kind: 'generate', params: { duration: 1 }, targets: [{ format: 'mp3' }] };
    const before = (await svc.api('GET', '/v1/tasks')).body.data.length;
    const cases: Array<[unknown, string]> = [
      [{ ...base, metadata: { order: '\u0000' } }, 'metadata.order'],
      [{ ...base, title: 'a\u0000b' }, 'title'],
      [{ ...base, metadata: { 'k\u0000': 1 } }, 'metadata.k\\u0000'],
    ];
    for (const [body, field] of cases) {
      const res = await svc.api('POST', '/v1/tasks', body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringContaining('NUL character'), details: { field } });
    }
    // The fuzzer's counterexample: a valid item beside one whose metadata holds a NUL.
    const batch = await svc.api('POST', '/v1/batches', { tasks: [base, { ...base, metadata: { order: '\u0000' } }] });
    expect(batch.status).toBe(400);
    expect(batch.body.error.details.field).toBe('tasks[1].metadata.order');
    expect((await svc.api('GET', '/v1/tasks')).body.data.length).toBe(before);
  });
});

describe('signed download URLs', () => {
  let url: URL;
  beforeAll(async () => {
    const { upload_id } = await upload('song.wav');
    const task = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { upload_id }, targets: [{ format: 'flac' }] });
    const done = await until('the task to complete', async () => {
      const t = (await svc.api('GET', `/v1/tasks/${task.body.task_id}`)).body;
      if (t.status !== 'completed') expect(['queued', 'processing']).toContain(t.status);
      return t.status === 'completed' && t;
    });
    url = new URL(done.targets[0].outputs[0].url);
  });

  it('serve the file at the URL as given', async () => {
    expect((await fetch(url)).status).toBe(200);
  });

  it('accept exactly one spelling of expires: every other one is refused', async () => {
    const expires = url.searchParams.get('expires')!;
    for (const spelling of [`0${expires}`, `+${expires}`, `${expires}.0`, ` ${expires} `, `0x${Number(expires).toString(16)}`, `${Number(expires) / 1e9}e9`, `${expires}n`]) {
      const other = new URL(url);
      other.searchParams.set('expires', spelling);
      const res = await fetch(other);
      expect(res.status, spelling).toBe(403);
      expect(((await res.json()) as any).error.code).toBe('SIGNATURE_INVALID');
    }
  });

  it('sign the file name: a URL with another name is refused', async () => {
    const renamed = new URL(url);
    renamed.pathname = renamed.pathname.replace(/[^/]+$/, 'evil.html');
    const res = await fetch(renamed);
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error.code).toBe('SIGNATURE_INVALID');
  });
});

describe('upload file names', () => {
  it('cannot add parameters to Content-Disposition when the upload is downloaded', async () => {
    const name = 'a"; filename*=UTF-8\'\'evil.html; x="';
    const { upload_id } = await upload(name);
    // A model server fetches an upload through the same signed URLs; ask for one as it would.
    const signed = svc.hw.signer.sign(upload_id, 'input');
    const res = await fetch(signed.url);
    expect(res.status).toBe(200);
    const disposition = parseDisposition(res.headers.get('content-disposition')!);
    expect(disposition.type).toBe('attachment');
    expect(Object.keys(disposition.parameters).sort()).toEqual(['filename']);
    expect(disposition.parameters.filename).not.toMatch(/evil\.html$/);
  });
});
