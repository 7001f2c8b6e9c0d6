/**
 * The `hookwave` client commands as a person or a script runs them: real processes against a real
 * server. Submit a local file and get the output files; forward events to a local receiver with
 * `listen`; watch them with `tail`; manage endpoints; and the exit codes that scripts rely on.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../src/sdk/index.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { runCli, runCliAsync, startCli, type CliProcess } from './helpers/process.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';

let svc: TestService;
let files: FileServer;
let tone: string;
let env: Record<string, string>;
const running: CliProcess[] = [];
const receivers: Receiver[] = [];

beforeAll(async () => {
  const dir = tempDir('hookwave-media-');
  tone = await makeTone(dir, { seconds: 2, format: 'wav' });
  files = await startFileServer(dir);
  svc = await startService();
  env = { HOOKWAVE_URL: svc.url, HOOKWAVE_API_KEY: svc.key };
});
afterAll(async () => {
  for (const p of running) p.child.kill('SIGKILL');
  await Promise.all(receivers.map((r) => r.close()));
  await svc.close();
  await files.close();
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

/** A loopback port nothing listens on (undici refuses some well-known ports outright, so not 9). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function wavSampleRate(file: string): number {
  return fs.readFileSync(file).readUInt32LE(24);
}

describe('hookwave submit', () => {
  it('uploads a local file, waits, and downloads every output into --out', async () => {
    const out = tempDir('hookwave-out-');
    const r = await runCliAsync(['submit', 'extract', tone, '--target', 'mp3', '--target', 'wav:name=master,sample_rate=48000', '--wait', '--out', out, '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout) as { task_id: string; status: string; task: { input: { upload_id?: string } }; files: Array<{ name: string; path: string; size: number }> };
    expect(result.status).toBe('completed');
    expect(result.task.input.upload_id).toMatch(/^upl_/);
    expect(result.files.map((f) => path.basename(f.path)).sort()).toEqual(['master.wav', 'mp3.mp3']);
    for (const f of result.files) expect(fs.statSync(f.path).size).toBe(f.size);
    expect(wavSampleRate(path.join(out, 'master.wav'))).toBe(48000);
    expect(fs.readdirSync(out).some((n) => n.endsWith('.part'))).toBe(false);

    // The same with people's output: a summary on stdout, progress notes on stderr.
    const human = await runCliAsync(['submit', 'extract', tone, '-t', 'flac', '--out', path.join(out, 'again')], env);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/^task_\w+ completed in [\d.]+ s/);
    expect(human.stdout).toContain(path.join(out, 'again', 'flac.flac'));
    expect(human.stderr).toMatch(/uploaded .* as upl_/);
    expect(human.stderr).toMatch(/flac\s+completed/);
  });

  it('without --wait prints the task id as soon as the task is stored', async () => {
    const r = await runCliAsync(['submit', 'extract', files.url(path.basename(tone)), '--target', 'ogg', '--title', 'from the cli', '--param', 'x=1'], env);
    // params the kind does not take are refused and named
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: .*params.*\(VALIDATION_ERROR, HTTP 400/);

    const ok = await runCliAsync(['submit', 'extract', files.url(path.basename(tone)), '--target', 'ogg', '--title', 'from the cli'], env);
    expect(ok.status).toBe(0);
    const [id, status] = ok.stdout.trim().split(' ');
    expect(id).toMatch(/^task_/);
    expect(status).toBe('queued');
    const task = await waitForTask(svc, id!);
    expect(task).toMatchObject({ status: 'completed', title: 'from the cli', input: { url: files.url(path.basename(tone)) } });
  });

  it('exits 3 when the task fails, and says why', async () => {
    const r = await runCliAsync(['submit', 'extract', files.url('status/404'), '--target', 'mp3', '--wait'], env);
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/^task_\w+ failed/);
    expect(r.stdout).toContain('DOWNLOAD_FAILED');
  });
});

describe('hookwave listen', () => {
  it("forwards a completed task's event to a local receiver, signed with the tenant's secret", async () => {
    const local = await receiver();
    const listen = startCli(['listen', '--forward-to', local.url, '--events', 'task.completed'], env);
    running.push(listen);
    await listen.waitForOutput('Ready');

    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(path.basename(tone)) }, targets: [{ format: 'mp3' }] });
    const [got] = await local.waitFor(1);
    const event = verifyWebhook(got!.raw, got!.headers, svc.secret);
    expect(event.type).toBe('task.completed');
    expect(event.data.id).toBe(created.body.task_id);
    await listen.waitForOutput(new RegExp(`task\\.completed\\s+${created.body.task_id}\\s+->\\s+200`));

    listen.child.kill('SIGINT');
    expect(await listen.exited).toBe(0);
    expect(local.received).toHaveLength(1);
  });

  it('signs with --secret when given, and reports a local server that is down without stopping', async () => {
    const secret = 'whsec_' + Buffer.from('my local dev secret 123').toString('base64');
    const local = await receiver();
    const signed = startCli(['listen', '--forward-to', local.url, '--secret', secret, '--json'], env);
    const toNowhere = startCli(['listen', '--forward-to', `http://127.0.0.1:${await closedPort()}/hook`], env);
    running.push(signed, toNowhere);
    await Promise.all([signed.waitForOutput('Ready'), toNowhere.waitForOutput('Ready')]);

    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(path.basename(tone)) }, targets: [{ format: 'wav' }] });
    const id = created.body.task_id as string;
    const got = await local.waitFor(2);
    expect(got.map((g) => verifyWebhook(g.raw, g.headers, secret).type)).toEqual(['task.target.completed', 'task.completed']);
    expect(() => verifyWebhook(got[0]!.raw, got[0]!.headers, svc.secret)).toThrow();
    await signed.waitForOutput('"type":"task.completed"');
    const lines = signed.stdout().trim().split('\n').map((l) => JSON.parse(l) as { id: string; type: string; task_id: string; status: number | null });
    expect(lines).toEqual([
      expect.objectContaining({ type: 'task.target.completed', task_id: id, status: 200, id: got[0]!.headers['webhook-id'] }),
      expect.objectContaining({ type: 'task.completed', task_id: id, status: 200, id: got[1]!.headers['webhook-id'] }),
    ]);

    await toNowhere.waitForOutput(new RegExp(`task\\.completed\\s+${id}\\s+->\\s+failed: ECONNREFUSED`));
    expect(toNowhere.stdout()).toMatch(new RegExp(`task\\.target\\.completed\\s+${id}\\s+->\\s+failed: ECONNREFUSED`));
    signed.child.kill('SIGTERM');
    toNowhere.child.kill('SIGINT');
    expect(await Promise.all([signed.exited, toNowhere.exited])).toEqual([0, 0]);
  });
});

describe('hookwave tail and endpoints', () => {
  it("prints the tenant's events as they happen", async () => {
    const tail = startCli(['tail', '--json'], env);
    running.push(tail);
    await tail.waitForOutput('Listening');
    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(path.basename(tone)) }, targets: [{ format: 'ogg' }] });
    await tail.waitForOutput('"type":"task.completed"');
    const events = tail.stdout().trim().split('\n').map((l) => JSON.parse(l) as { id: string; type: string; data: { id: string } });
    expect(events.map((e) => e.type)).toEqual(['task.target.completed', 'task.completed']);
    expect(events.every((e) => e.id.startsWith('msg_') && e.data.id === created.body.task_id)).toBe(true);
    tail.child.kill('SIGINT');
    expect(await tail.exited).toBe(0);
  });

  it('creates, lists, rotates and deletes endpoints', async () => {
    const created = await runCliAsync(['endpoints', 'create', 'https://example.com/hooks/a', '--events', 'task.completed,task.failed', '--description', 'cli', '--json'], env);
    expect(created.status).toBe(0);
    const ep = JSON.parse(created.stdout) as { id: string; secret: string; events: string[] };
    expect(ep.secret).toMatch(/^whsec_/);
    expect(ep.events).toEqual(['task.completed', 'task.failed']);

    const list = await runCliAsync(['endpoints', 'list'], env);
    expect(list.stdout).toMatch(new RegExp(`${ep.id}\\s+enabled\\s+https://example.com/hooks/a\\s+task.completed,task.failed`));
    const rotated = await runCliAsync(['endpoints', 'rotate', ep.id], env);
    expect(rotated.stdout).toMatch(/new signing secret .*: whsec_/);
    expect(rotated.stdout).not.toContain(ep.secret);
    expect((await runCliAsync(['endpoints', 'delete', ep.id], env)).stdout).toBe(`deleted ${ep.id}\n`);
    const again = await runCliAsync(['endpoints', 'delete', ep.id, '--json'], env);
    expect(again.status).toBe(1);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { code: 'NOT_FOUND', status: 404 } });
  });
});

describe('exit codes', () => {
  it('exits 2 on bad usage, with a message that says what to do', () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['submit', 'extract', tone, '--bogus'], env, /unknown option '--bogus'/],
      [['submit'], env, /missing required argument 'kind'/],
      [['submit', 'extract', tone], env, /give at least one --target/],
      [['submit', 'extract', tone, '--target', 'mp3:bitrate'], env, /must look like key=value/],
      [['submit', 'extract', '/no/such/file.wav', '--target', 'mp3'], env, /neither an http\(s\) URL nor a file/],
      [['submit', 'extract', tone, '--target', 'mp3'], { HOOKWAVE_URL: svc.url, HOOKWAVE_API_KEY: '' }, /missing API key/],
      [['listen'], env, /required option '-f, --forward-to <url>'/],
      [['listen', '--forward-to', 'localhost:3000'], env, /--forward-to must be http/],
      [['tail', '--events', 'task.exploded'], env, /"task.exploded" is not one of/],
      [['endpoints', 'frobnicate'], env, /unknown command 'frobnicate'/],
      [['serve', '--role', 'boss'], env, /role must be all, api, worker or dispatcher/],
    ];
    for (const [args, e, message] of cases) {
      const r = runCli(args, e);
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(message);
    }
  });

  it('exits 1 when the server refuses the key or cannot be reached, and documents the codes in --help', async () => {
    const refused = await runCliAsync(['endpoints', 'list'], { ...env, HOOKWAVE_API_KEY: 'hw_wrong' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/UNAUTHORIZED, HTTP 401.*check --api-key/);
    const port = await closedPort();
    const down = runCli(['endpoints', 'list', '--url', `http://127.0.0.1:${port}`], env);
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(new RegExp(`cannot reach hookwave at http://127.0.0.1:${port}: ECONNREFUSED`));

    const help = runCli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:\n\s+0\s+success\n\s+1\s+error.*\n\s+2\s+invalid usage.*\n\s+3\s+submit --wait: the task ended failed or canceled/);
  });
});
