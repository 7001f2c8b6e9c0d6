/**
 * The `hookwave` client commands as a person or a script runs them: real processes against a real
 * server. Submit a local file and get the output files; forward events to a local receiver with
 * `listen`; watch them with `tail`; manage endpoints and keys; and the exit codes that scripts rely on.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { until } from './helpers/until.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '@hookwave/client';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { runCli, runCliAsync, startCli, type CliProcess } from './helpers/process.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { callApi, startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { closedPort } from './helpers/closed-port.js';

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


function wavSampleRate(file: string): number {
  return fs.readFileSync(file).readUInt32LE(24);
}

const cliEntry = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
// By absolute URL: a bare `--import tsx` would be looked up from the child's working directory.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Runs the CLI in another working directory (the helpers run it in the repository's). */
function runCliIn(cwd: string, args: string[], extraEnv: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', tsxLoader, '--conditions=hookwave-source', cliEntry, ...args], { cwd, env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

/** What the server-side commands (keys) need to open the service's database. */
function storeArgs(): { args: string[]; env: Record<string, string> } {
  return { args: ['--data-dir', svc.dataDir], env: { DATABASE_URL: svc.hw.config.databaseUrl ?? '', HOOKWAVE_DATABASE_URL: '' } };
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
    // Named after the input, as the user would name them: tone….mp3 and tone…-master.wav.
    const input = path.basename(tone, '.wav');
    expect(result.files.map((f) => path.basename(f.path)).sort()).toEqual([`${input}-master.wav`, `${input}.mp3`]);
    for (const f of result.files) expect(fs.statSync(f.path).size).toBe(f.size);
    expect(wavSampleRate(path.join(out, `${input}-master.wav`))).toBe(48000);
    expect(fs.readdirSync(out).some((n) => n.endsWith('.part'))).toBe(false);

    // The same with people's output: a summary on stdout, progress notes on stderr.
    const human = await runCliAsync(['submit', 'extract', tone, '-t', 'flac', '--out', path.join(out, 'again')], env);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/^task_\w+ completed in [\d.]+ s/);
    expect(human.stdout).toContain(path.join(out, 'again', `${input}.flac`));
    expect(human.stderr).toMatch(/uploaded .* as upl_/);
    expect(human.stderr).toMatch(/flac\s+completed/);
  });

  it('--wait without --out downloads into a folder named after the task in the current directory, and says where', async () => {
    const cwd = fs.realpathSync(tempDir('hookwave-cwd-'));
    const human = await runCliIn(cwd, ['submit', 'extract', tone, '-t', 'mp3', '--wait'], env);
    expect(human.status).toBe(0);
    const id = /^(task_\w+) completed/.exec(human.stdout)![1]!;
    const dir = path.join(cwd, id);
    expect(fs.readdirSync(dir)).toEqual([`${path.basename(tone, '.wav')}.mp3`]);
    expect(human.stdout).toContain(`outputs in ${dir}${path.sep}\n`);
    expect(human.stdout).toContain(path.join(dir, `${path.basename(tone, '.wav')}.mp3`));
    expect(human.stderr).toContain(`downloading 1 output into ${dir}${path.sep}`);

    const json = await runCliIn(cwd, ['submit', 'extract', tone, '-t', 'wav', '--wait', '--json'], env);
    expect(json.status).toBe(0);
    const result = JSON.parse(json.stdout) as { task_id: string; out_dir: string; files: Array<{ path: string }> };
    expect(result.out_dir).toBe(path.join(cwd, result.task_id));
    expect(result.files.map((f) => f.path)).toEqual([path.join(cwd, result.task_id, path.basename(tone))]);

    const kept = await runCliIn(cwd, ['submit', 'extract', tone, '-t', 'ogg', '--wait', '--no-download', '--json'], env);
    expect(kept.status).toBe(0);
    expect(JSON.parse(kept.stdout)).toMatchObject({ status: 'completed', out_dir: null, files: [] });
    expect(fs.readdirSync(cwd).sort()).toEqual([id, result.task_id].sort());

    const both = await runCliIn(cwd, ['submit', 'extract', tone, '-t', 'ogg', '--out', 'x', '--no-download'], env);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--out and --no-download contradict/);
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
    if (event.type !== 'task.completed') throw new Error(`unexpected ${event.type}`);
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
    expect(list.stdout).toMatch(/^ID\s+STATE\s+EVENTS\s+CREATED\s+URL\n/);
    expect(list.stdout).toMatch(new RegExp(`${ep.id}\\s+enabled\\s+task.completed,task.failed\\s+\\S+ \\S+\\s+https://example.com/hooks/a  "cli"`));
    const rotated = await runCliAsync(['endpoints', 'rotate', ep.id], env);
    expect(rotated.stdout).toMatch(/new signing secret .*: whsec_/);
    expect(rotated.stdout).not.toContain(ep.secret);
    expect((await runCliAsync(['endpoints', 'delete', ep.id], env)).stdout).toBe(`deleted ${ep.id}\n`);
    const again = await runCliAsync(['endpoints', 'delete', ep.id, '--json'], env);
    expect(again.status).toBe(1);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { code: 'NOT_FOUND', status: 404 } });
  });
});

describe('hookwave endpoints update, enable and disable', () => {
  it('changes the url, filter and description, disables and enables again', async () => {
    const created = await runCliAsync(['endpoints', 'create', 'https://example.com/hooks/u', '--events', 'task.completed', '--description', 'before', '--json'], env);
    expect(created.status).toBe(0);
    const id = (JSON.parse(created.stdout) as { id: string }).id;

    const updated = await runCliAsync(['endpoints', 'update', id, '--url', 'https://example.com/hooks/v', '--events', 'all', '--description', '', '--json'], env);
    expect(updated.status).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ id, url: 'https://example.com/hooks/v', events: null, description: null, enabled: true });
    // --server names the server here, so --url can be the endpoint's; HOOKWAVE_URL points nowhere to prove it.
    const port = await closedPort();
    const filtered = await runCliAsync(['endpoints', 'update', id, '--events', 'task.failed,task.canceled', '--server', svc.url], { ...env, HOOKWAVE_URL: `http://127.0.0.1:${port}` });
    expect(filtered.status).toBe(0);
    expect(filtered.stdout).toBe(`${id}  enabled   https://example.com/hooks/v  task.failed,task.canceled\n`);

    const disabled = await runCliAsync(['endpoints', 'disable', id], env);
    expect(disabled.stdout).toMatch(new RegExp(`^${id}\\s+disabled\\s+https://example.com/hooks/v .*\\(disabled by the tenant\\)\\n$`));
    expect((await svc.api('GET', `/v1/endpoints/${id}`)).body).toMatchObject({ enabled: false, disabled_reason: 'disabled by the tenant' });
    const enabled = await runCliAsync(['endpoints', 'enable', id, '--json'], env);
    expect(JSON.parse(enabled.stdout)).toMatchObject({ id, enabled: true, disabled_reason: null, consecutive_failures: 0 });
    expect((await svc.api('GET', `/v1/endpoints/${id}`)).body.enabled).toBe(true);

    const nothing = await runCliAsync(['endpoints', 'update', id], env);
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toMatch(/give at least one of --url, --events, --description/);
    const badType = await runCliAsync(['endpoints', 'update', id, '--events', 'task.exploded'], env);
    expect(badType.status).toBe(2);
    expect(badType.stderr).toMatch(/"task.exploded" is not one of/);
    const missing = await runCliAsync(['endpoints', 'disable', 'ep_00000000000000000000000000', '--json'], env);
    expect(missing.status).toBe(1);
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: 'NOT_FOUND', status: 404 } });
    expect((await runCliAsync(['endpoints', 'delete', id], env)).status).toBe(0);
  });
});

describe('hookwave keys list and revoke', () => {
  it('lists keys by prefix only, revokes by prefix or id, and the server refuses a revoked key', async () => {
    const { args, env: dbEnv } = storeArgs();
    const make = async () => {
      const r = await runCliAsync(['keys', 'create', '--tenant', 'cli-keys', ...args, '--json'], dbEnv);
      expect(r.status).toBe(0);
      return JSON.parse(r.stdout) as { key: string; key_id: string; prefix: string; tenant: string };
    };
    const first = await make();
    const second = await make();
    expect(second.prefix).toBe(second.key.slice(0, 11));

    const listed = await runCliAsync(['keys', 'list', '--tenant', 'cli-keys', ...args, '--json'], dbEnv);
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      { id: first.key_id, prefix: first.prefix, tenant: 'cli-keys', created_at: expect.any(String), revoked_at: null },
      { id: second.key_id, prefix: second.prefix, tenant: 'cli-keys', created_at: expect.any(String), revoked_at: null },
    ]);
    for (const k of [first.key, second.key]) expect(listed.stdout).not.toContain(k);
    const everyone = await runCliAsync(['keys', 'list', ...args], dbEnv);
    expect(everyone.stdout).toMatch(new RegExp(`${svc.key.slice(0, 11)}…\\s+acme\\s`));
    expect(everyone.stdout).toMatch(/^ID\s+PREFIX\s+TENANT\s+CREATED\s+REVOKED\n/);
    expect(everyone.stdout).toMatch(new RegExp(`${first.key_id}\\s+${first.prefix}…\\s+cli-keys\\s+\\S+ \\S+\\s+-\\n`));

    // The second key is revoked before it is ever used, so no server cache can still hold it.
    const revoked = await runCliAsync(['keys', 'revoke', second.prefix, ...args], dbEnv);
    expect(revoked).toMatchObject({ status: 0, stdout: `revoked ${second.prefix}\n` });
    expect((await callApi(svc.url, second.key, 'GET', '/v1/account')).status).toBe(401);
    expect((await callApi(svc.url, first.key, 'GET', '/v1/account')).body).toMatchObject({ name: 'cli-keys' });
    const after = JSON.parse((await runCliAsync(['keys', 'list', '--tenant', 'cli-keys', ...args, '--json'], dbEnv)).stdout) as Array<{ id: string; revoked_at: string | null }>;
    expect(after.map((k) => [k.id, k.revoked_at === null])).toEqual([
      [first.key_id, true],
      [second.key_id, false],
    ]);
    expect((await runCliAsync(['keys', 'list', '--tenant', 'cli-keys', ...args], dbEnv)).stdout).toMatch(new RegExp(`${second.key_id}\\s+\\S+…\\s+cli-keys\\s+\\S+ \\S+\\s+\\d{4}-\\d\\d-\\d\\d \\S+\\n`));

    const again = await runCliAsync(['keys', 'revoke', second.key_id, ...args, '--json'], dbEnv);
    expect(again.status).toBe(1);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { message: `no active key with id or prefix "${second.key_id}"` } });
    const byId = await runCliAsync(['keys', 'revoke', first.key_id, ...args, '--json'], dbEnv);
    expect(JSON.parse(byId.stdout)).toEqual({ revoked: first.key_id });
    // The first key was used just above, so the server remembers it; a revocation reaches every
    // process within a second (the cache's lifetime), whichever process revoked it.
    await until('the used, then revoked key to be refused', async () => (await callApi(svc.url, first.key, 'GET', '/v1/account')).status === 401, 2500);
    const nobody = await runCliAsync(['keys', 'list', '--tenant', 'nobody', ...args], dbEnv);
    expect(nobody.status).toBe(1);
    expect(nobody.stderr).toMatch(/no tenant named "nobody"/);
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
    expect(help.stdout).toMatch(/Exit codes:\n\s+0\s+success\n\s+1\s+error.*\n\s+2\s+invalid usage.*\n\s+3\s+submit --wait: the task ended failed or canceled\n\s+130\s+submit: interrupted/);
  });
});
