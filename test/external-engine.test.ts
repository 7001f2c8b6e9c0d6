/**
 * Bring-your-own model server: a kind registered by configuration, whose work a model server does
 * over HTTP, with retries and errors mapped to target errors.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkExternalEngineConfig, createExternalEngine } from '../src/engines/external.js';
import { ffmpegPath } from '../src/media/ffmpeg.js';
import { builtinEngines, EngineRegistry } from '../src/engines/registry.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { startModelServer, type ModelAnswer, type ModelServer } from './helpers/model-server.js';
import { runCliAsync } from './helpers/process.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { until as waitUntil } from './helpers/until.js';

const run = promisify(execFile);
let svc: TestService;
let model: ModelServer;
let files: FileServer;
let dir: string;

/** Mean volume in dB of a band of an audio file, measured by ffmpeg. */
async function meanVolume(file: string, filter = 'anull'): Promise<number> {
  const { stderr } = await run(ffmpegPath(), ['-nostdin', '-i', file, '-af', `${filter},volumedetect`, '-f', 'null', '-']);
  return Number(/mean_volume: (-?[\d.]+) dB/.exec(stderr)![1]);
}

beforeAll(async () => {
  dir = tempDir('hookwave-media-');
  // A mix of a low and a high tone: a low-pass must remove the high one.
  await run(ffmpegPath(), ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=150:d=2', '-f', 'lavfi', '-i', 'sine=f=6000:d=2', '-filter_complex', 'amix=inputs=2', path.join(dir, 'mix.wav')]);
  fs.copyFileSync(path.join(dir, 'mix.wav'), path.join(dir, 'counted.wav'));
  files = await startFileServer(dir);
  model = await startModelServer();
  const target_schema = { properties: { effect: { type: 'string', enum: ['lowpass', 'quieter'] } }, required: ['effect'] };
  svc = await startService({
    externalEngines: [
      { kind: 'filters', url: model.url, retries: 2, target_schema },
      // Short answer window, one retry: a hanging server costs this kind about 2 s, not 10 minutes.
      { kind: 'filters-slow', url: model.url, retries: 1, timeout_ms: 400, target_schema },
    ],
  });
});
afterAll(async () => {
  await svc.close();
  await model.close();
  await files.close();
});

describe('an external engine', () => {
  it('sends the work to the model server and stores what it produced', async () => {
    const created = await svc.api('POST', '/v1/tasks', { kind: 'filters', input: { url: files.url('mix.wav') }, targets: [{ format: 'wav', effect: 'lowpass', name: 'bass' }], params: { strength: 2 } });
    expect(created.status).toBe(202);
    const task = await waitForTask(svc, created.body.task_id);
    expect(task.status).toBe('completed');
    const target = task.targets[0];
    expect(target.info).toEqual({ model: 'ffmpeg-filter', effect: 'lowpass' });
    expect(target.outputs[0]).toMatchObject({ name: 'bass', format: 'wav' });
    expect(target.outputs[0].duration).toBeCloseTo(2, 1);

    const call = model.calls.at(-1)!;
    expect(call.body).toMatchObject({ task_id: task.id, target_id: target.id, kind: 'filters', params: { strength: 2 }, target: { name: 'bass', format: 'wav', effect: 'lowpass' } });
    expect(call.headers['idempotency-key']).toBe(target.id);

    const out = path.join(dir, 'out.wav');
    fs.writeFileSync(out, Buffer.from(await (await fetch(target.outputs[0].url)).arrayBuffer()));
    // The high tone is gone, the low one stays.
    const highIn = await meanVolume(path.join(dir, 'mix.wav'), 'highpass=f=3000');
    const highOut = await meanVolume(out, 'highpass=f=3000');
    expect(highIn - highOut).toBeGreaterThan(20);
    expect(Math.abs((await meanVolume(out, 'lowpass=f=300')) - (await meanVolume(path.join(dir, 'mix.wav'), 'lowpass=f=300')))).toBeLessThan(3);
  });

  it('validates targets against the configured schema', async () => {
    const res = await svc.api('POST', '/v1/tasks', { kind: 'filters', input: { url: files.url('mix.wav') }, targets: [{ format: 'wav', effect: 'reverse' }] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_TARGET', message: expect.stringMatching(/targets\[0\]\.effect must be one of: lowpass, quieter/) });
  });

  it('retries a model server that answers 503, then succeeds', async () => {
    model.failNext(2, 503);
    const before = model.calls.length;
    const created = await svc.api('POST', '/v1/tasks', { kind: 'filters', input: { url: files.url('mix.wav') }, targets: [{ format: 'flac', effect: 'quieter' }] });
    const task = await waitForTask(svc, created.body.task_id);
    expect(task.status).toBe('completed');
    expect(model.calls.length - before).toBe(3);
  });

  it("fails the target with the model server's error, mapped to our codes", async () => {
    model.failNext(1, 422, { code: 'UNSUPPORTED_MEDIA', message: 'cannot read that' });
    const created = await svc.api('POST', '/v1/tasks', { kind: 'filters', input: { url: files.url('mix.wav') }, targets: [{ format: 'wav', effect: 'quieter' }] });
    const task = await waitForTask(svc, created.body.task_id);
    expect(task.status).toBe('failed');
    expect(task.targets[0].error).toMatchObject({ code: 'UNSUPPORTED_MEDIA', message: expect.stringMatching(/HTTP 422: cannot read that/) });
  });

  it('gives the model server a signed URL for an uploaded input', async () => {
    const up = await fetch(`${svc.url}/v1/uploads`, { method: 'POST', headers: { 'x-api-key': svc.key, 'content-type': 'audio/wav', 'x-file-name': 'mix.wav' }, body: fs.readFileSync(path.join(dir, 'mix.wav')) });
    const { upload_id } = (await up.json()) as { upload_id: string };
    const created = await svc.api('POST', '/v1/tasks', { kind: 'filters', input: { upload_id }, targets: [{ format: 'mp3', effect: 'quieter' }] });
    const task = await waitForTask(svc, created.body.task_id);
    expect(task.status).toBe('completed');
    expect(model.calls.at(-1)!.body.input.url).toMatch(new RegExp(`/v1/files/${upload_id}/mix\\.wav\\?expires=\\d+&signature=`));
  });
});

/** Every file under `root`, relative paths. */
function filesUnder(root: string): string[] {
  return fs.readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

async function submit(kind: string, target: Record<string, unknown>, input: Record<string, unknown> = { url: files.url('mix.wav') }): Promise<string> {
  const created = await svc.api('POST', '/v1/tasks', { kind, input, targets: [target] });
  expect(created.status).toBe(202);
  return created.body.task_id as string;
}

const until = <T>(what: string, fn: () => T | false | null | undefined | Promise<T | false | null | undefined>, timeoutMs = 10_000): Promise<T> => waitUntil(what, fn, timeoutMs);

describe("an external engine: the model server's answer is checked", () => {
  const first = (a: ModelAnswer) => a.outputs[0]!;
  const bad: Array<[string, (a: ModelAnswer) => unknown, RegExp]> = [
    ['a format that is a path', (a) => ({ ...a, outputs: [{ ...first(a), format: 'wav/../../x' }] }), /outputs\[0\]\.format "wav\/\.\.\/\.\.\/x" is not one of: mp3, wav, flac, ogg, opus, m4a/],
    ['a format hookwave does not serve', (a) => ({ ...a, outputs: [{ ...first(a), format: 'aiff' }] }), /outputs\[0\]\.format "aiff" is not one of/],
    ['a name that is a path', (a) => ({ ...a, outputs: [{ ...first(a), name: '../../evil' }] }), /outputs\[0\]\.name "\.\.\/\.\.\/evil" is not a valid output name/],
    ['two outputs with one name', (a) => ({ ...a, outputs: [first(a), { ...first(a) }] }), /outputs\[1\] has the same name "bass" as outputs\[0\]/],
    ['a default name that clashes with a given one', (a) => ({ ...a, outputs: [{ ...first(a), name: 'bass-1' }, { ...first(a), name: undefined }] }), /outputs\[1\] has the same name "bass-1" as outputs\[0\]/],
    ['a file that is not what its format says', (a) => ({ ...a, outputs: [{ ...first(a), format: 'flac' }] }), /outputs\[0\] of the model server claims format "flac" but the file is wav/],
    ['a file that is not audio', (a) => ({ ...a, outputs: [{ ...first(a), url: `${model.base}/files/notes.txt` }] }), /outputs\[0\] of the model server is not readable audio/],
    ['a negative duration', (a) => ({ ...a, duration: -5 }), /duration -5 is not a number of seconds/],
    ['an answer that is not an object', () => [1, 2], /answered HTTP 200 without a JSON object/],
  ];
  it.each(bad)('fails the target with ENGINE_FAILED on %s, and writes nothing outside its folder', async (_name, rewrite, message) => {
    fs.writeFileSync(path.join(model.dir, 'notes.txt'), 'not audio at all\n'.repeat(100));
    model.rewriteNext(rewrite);
    const task = await waitForTask(svc, await submit('filters', { format: 'wav', effect: 'quieter', name: 'bass' }), 15_000);
    expect(task.status).toBe('failed');
    expect(task.targets[0].error).toMatchObject({ code: 'ENGINE_FAILED', message: expect.stringMatching(message) });
    expect(task.targets[0].outputs).toEqual([]);
    // Neither the work folder nor the blob store holds a file the server named.
    expect(filesUnder(svc.dataDir).filter((f) => /(^|\/)(x|evil)(\.|$)/.test(f))).toEqual([]);
    // The run's folder goes once the outcome is recorded (just after the task shows failed).
    await until('the run folder to be removed', () => filesUnder(path.join(svc.dataDir, 'work', 'runs')).length === 0, 5000);
  });

  it('stores several outputs of one target under their own names', async () => {
    model.rewriteNext((a) => ({ ...a, outputs: [{ ...a.outputs[0], name: 'bass' }, { ...a.outputs[0], name: 'bass.copy' }] }));
    const task = await waitForTask(svc, await submit('filters', { format: 'wav', effect: 'quieter', name: 'bass' }), 15_000);
    expect(task.status).toBe('completed');
    const outs = task.targets[0].outputs;
    expect(outs.map((o: any) => o.name)).toEqual(['bass', 'bass.copy']);
    expect(outs[0].url).not.toBe(outs[1].url);
    const bytes = await Promise.all(outs.map(async (o: any) => Buffer.from(await (await fetch(o.url)).arrayBuffer())));
    expect(bytes[0]!.length).toBe(outs[0].size);
    expect(bytes[0]!.equals(bytes[1]!)).toBe(true);
  });
});

describe('an external engine: the input', () => {
  it('hands the model server the input URL and makes no local copy of it', async () => {
    const before = files.requests.filter((p) => p === '/counted.wav').length;
    const task = await waitForTask(svc, await submit('filters', { format: 'wav', effect: 'quieter' }, { url: files.url('counted.wav') }), 15_000);
    expect(task.status).toBe('completed');
    expect(model.calls.at(-1)!.body.input).toEqual({ url: files.url('counted.wav') });
    // One fetch, the model server's own; the worker downloaded nothing.
    expect(files.requests.filter((p) => p === '/counted.wav').length - before).toBe(1);
    expect(svc.hw.engines.get('filters')!.inputAccess).toBe('url');
  });
});

describe('an external engine: failures', () => {
  it('times out a model server that does not answer, retries, then fails naming the calls', async () => {
    model.stallNext(2);
    const before = model.calls.length;
    const started = Date.now();
    const task = await waitForTask(svc, await submit('filters-slow', { format: 'wav', effect: 'quieter' }), 15_000);
    expect(task.status).toBe('failed');
    expect(task.targets[0].error).toMatchObject({
      code: 'ENGINE_FAILED',
      message: 'the model server did not answer within 400 ms (gave up after 2 calls)',
      details: { calls: 2, engine_code: null },
    });
    // Two windows of 400 ms and one 1 s backoff, with room for a slow machine.
    expect(Date.now() - started).toBeLessThan(8000);
    const calls = model.calls.slice(before);
    expect(calls).toHaveLength(2);
    await until('the model server seeing both requests dropped', () => calls.every((c) => c.aborted));
  });

  it('fails the target once the retries run out, naming the calls and the last answer', async () => {
    model.failNext(3, 503);
    const before = model.calls.length;
    const task = await waitForTask(svc, await submit('filters', { format: 'wav', effect: 'quieter' }), 20_000);
    expect(task.status).toBe('failed');
    expect(task.targets[0].error).toMatchObject({
      code: 'ENGINE_FAILED',
      message: 'model server answered HTTP 503: try later (gave up after 3 calls)',
      details: { calls: 3, engine_code: 'BUSY' },
    });
    expect(model.calls.length - before).toBe(3);
    expect(task.error.code).toBe('ENGINE_FAILED');
  });

  it('fails at once on a 4xx code of its own, reporting it in details.engine_code', async () => {
    model.failNext(1, 409, { code: 'QUOTA_EXCEEDED', message: 'the monthly quota is used up' });
    const before = model.calls.length;
    const task = await waitForTask(svc, await submit('filters', { format: 'wav', effect: 'quieter' }), 15_000);
    expect(task.status).toBe('failed');
    expect(task.targets[0].error).toEqual({
      code: 'ENGINE_FAILED',
      message: 'model server answered HTTP 409: the monthly quota is used up',
      details: { engine_code: 'QUOTA_EXCEEDED' },
    });
    // A 4xx is an answer, not an outage: no retry.
    expect(model.calls.length - before).toBe(1);
  });

  it('aborts the call when the task is canceled mid-call', async () => {
    model.stallNext(1);
    const before = model.calls.length;
    const id = await submit('filters', { format: 'wav', effect: 'quieter' });
    await until('the model server receiving the call', () => model.calls.length > before);
    const call = model.calls[before]!;
    expect(call.aborted).toBe(false);

    const res = await svc.api('POST', `/v1/tasks/${id}/cancel`);
    expect(res.body.status).toBe('canceled');
    await until('the model server seeing the request aborted', () => call.aborted, 5000);
    await until('the worker letting go', () => svc.hw.worker!.activeTargets === 0, 5000);
    const task = (await svc.api('GET', `/v1/tasks/${id}`)).body;
    expect(task.status).toBe('canceled');
    expect(task.targets[0]).toMatchObject({ status: 'canceled', outputs: [] });
    // A canceled target is not called again: its run (retries and their backoff included) has
    // returned, and a later task goes through the model server with nothing of this one in between.
    const later = await waitForTask(svc, await submit('filters', { format: 'wav', effect: 'quieter' }), 15_000);
    expect(later.status).toBe('completed');
    expect(model.calls.slice(before).map((c) => c.body.task_id)).toEqual([id, later.id]);
  });
});

describe('an external engine: configuration', () => {
  const url = 'http://127.0.0.1:9/run';
  const bad: Array<[string, unknown, RegExp]> = [
    ['a kind with capitals and spaces', { kind: 'My Model', url }, /^HOOKWAVE_EXTERNAL_ENGINES entry "My Model": kind must be 1 to 64 lower-case letters/],
    ['no kind', { url }, /^HOOKWAVE_EXTERNAL_ENGINES entry with url http:\/\/127\.0\.0\.1:9\/run \(no kind\): kind must be/],
    ['no url', { kind: 'demucs' }, /entry "demucs": url must be an http\(s\) URL; got nothing/],
    ['a url that is not one', { kind: 'demucs', url: 'demucs:9000' }, /entry "demucs": url must use http or https, not demucs:/],
    ['a url with a password', { kind: 'demucs', url: 'http://u:p@127.0.0.1:9/run' }, /entry "demucs": url must not contain a user name or password/],
    ['negative retries', { kind: 'demucs', url, retries: -1 }, /entry "demucs": retries must be a whole number from 0 to 10; got -1/],
    ['retries as a string', { kind: 'demucs', url, retries: '2' }, /entry "demucs": retries must be a whole number from 0 to 10; got "2"/],
    ['a zero timeout', { kind: 'demucs', url, timeout_ms: 0 }, /entry "demucs": timeout_ms must be a whole number of ms from 1 to 86400000; got 0/],
    ['a fractional timeout', { kind: 'demucs', url, timeout_ms: 1.5 }, /entry "demucs": timeout_ms must be a whole number/],
    ['a misspelt field', { kind: 'demucs', url, timeout: 1000 }, /entry "demucs": timeout is not a known field \(known: kind, url, /],
    ['a token with a newline', { kind: 'demucs', url, token: 'abc\r\nx-evil: 1' }, /entry "demucs": token must be a non-empty string of printable ASCII/],
    ['a broken target schema', { kind: 'demucs', url, target_schema: { properties: { stem: { type: 'colour' } } } }, /entry "demucs": target_schema is not a valid JSON schema/],
    ['needs_input as a string', { kind: 'demucs', url, needs_input: 'no' }, /entry "demucs": needs_input must be true or false/],
    ['an entry that is not an object', 'demucs', /^a HOOKWAVE_EXTERNAL_ENGINES entry must be a JSON object, got "demucs"/],
  ];
  it.each(bad)('refuses %s, naming the entry and the field', (_name, cfg, message) => {
    expect(() => checkExternalEngineConfig(cfg)).toThrow(message);
    expect(() => createExternalEngine(cfg as any, svc.hw.guard)).toThrow(message);
  });

  it('accepts a full, valid entry', () => {
    const cfg = { kind: 'demucs_v4-hq', url: 'https://models.internal:9000/separate', description: 'Demucs', needs_input: true, timeout_ms: 1, retries: 0, token: 's3cret', params_schema: { type: 'object' } };
    expect(checkExternalEngineConfig(cfg)).toBe(cfg);
  });

  it('refuses two engines with one kind, and an engine named like a built-in kind', () => {
    const builtin = builtinEngines().all();
    const a = createExternalEngine({ kind: 'demucs', url: 'http://127.0.0.1:9/one' }, svc.hw.guard);
    const b = createExternalEngine({ kind: 'demucs', url: 'http://127.0.0.1:9/two' }, svc.hw.guard);
    expect(() => new EngineRegistry([...builtin, a, b])).toThrow(
      'two engines serve kind "demucs": HOOKWAVE_EXTERNAL_ENGINES entry "demucs" (http://127.0.0.1:9/one) and HOOKWAVE_EXTERNAL_ENGINES entry "demucs" (http://127.0.0.1:9/two); every kind needs its own name',
    );
    const stems = createExternalEngine({ kind: 'stems', url: 'http://127.0.0.1:9/one' }, svc.hw.guard);
    expect(() => new EngineRegistry([...builtin, stems])).toThrow(/two engines serve kind "stems": the built-in "stems" engine and HOOKWAVE_EXTERNAL_ENGINES entry "stems"/);
    expect(new EngineRegistry([...builtin, a]).kinds()).toEqual(['extract', 'stems', 'generate', 'demucs']);
  });

  it('stops startup with a message naming the entry and the field, before opening the database', async () => {
    const dataDirs: string[] = [];
    const env = (extra: Record<string, string>) => {
      const dir = path.join(tempDir(), 'data');
      dataDirs.push(dir);
      return { HOOKWAVE_DATA_DIR: dir, DATABASE_URL: '', HOOKWAVE_DATABASE_URL: '', HOOKWAVE_LOG_LEVEL: 'silent', ...extra };
    };
    const engines = (list: unknown[]) => env({ HOOKWAVE_EXTERNAL_ENGINES: JSON.stringify(list) });
    const [badRetries, twice, builtinKind, noFfmpeg] = await Promise.all([
      runCliAsync(['serve', '--port', '0'], engines([{ kind: 'demucs', url, retries: -1 }]), { timeoutMs: 30_000 }),
      runCliAsync(['serve', '--port', '0'], engines([{ kind: 'demucs', url }, { kind: 'demucs', url: `${url}2` }]), { timeoutMs: 30_000 }),
      runCliAsync(['serve', '--port', '0'], engines([{ kind: 'extract', url }]), { timeoutMs: 30_000 }),
      runCliAsync(['serve', '--port', '0'], env({ HOOKWAVE_FFMPEG: '/nonexistent/ffmpeg' }), { timeoutMs: 30_000 }),
    ]);
    expect(badRetries.status).toBe(1);
    expect(badRetries.stderr).toMatch(/HOOKWAVE_EXTERNAL_ENGINES entry "demucs": retries must be a whole number from 0 to 10; got -1/);
    expect(twice.status).toBe(1);
    expect(twice.stderr).toMatch(/two engines serve kind "demucs"/);
    expect(builtinKind.status).toBe(1);
    expect(builtinKind.stderr).toMatch(/two engines serve kind "extract": the built-in "extract" engine and HOOKWAVE_EXTERNAL_ENGINES entry "extract"/);
    expect(noFfmpeg.status).toBe(1);
    expect(noFfmpeg.stderr).toMatch(/HOOKWAVE_FFMPEG is "\/nonexistent\/ffmpeg", which is not an executable file/);
    // Nothing was created: a configuration mistake leaves no half-started database behind.
    for (const dir of dataDirs) expect(fs.existsSync(dir)).toBe(false);
  });
});
