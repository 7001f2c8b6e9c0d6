/**
 * The commands a Stripe CLI or Replicate CLI user reaches for next: tasks and deliveries from a
 * terminal, `doctor` before the first serve, and the CLI run through `npm run` from the user's own
 * folder. Real processes against a real server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTone } from './helpers/media.js';
import { runCliAsync } from './helpers/process.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

let svc: TestService;
let receiver: Receiver;
let env: Record<string, string>;
const repoRoot = path.resolve(import.meta.dirname, '..');

beforeAll(async () => {
  svc = await startService();
  receiver = await startReceiver();
  env = { HOOKWAVE_URL: svc.url, HOOKWAVE_API_KEY: svc.key };
});
afterAll(async () => {
  await receiver.close();
  await svc.close();
});

describe('hookwave under npm run, from the folder the user stands in', () => {
  it('reads ./song.wav from that folder and downloads into it, leaving the checkout clean', async () => {
    const here = fs.realpathSync(tempDir('hookwave-user-folder-'));
    await makeTone(here, { seconds: 1, format: 'wav' });
    const song = fs.readdirSync(here).find((n) => n.endsWith('.wav'))!;
    // What npm gives a script: the package's folder as the working directory, the user's in INIT_CWD.
    const r = await runCliAsync(['submit', 'extract', `./${song}`, '-t', 'mp3', '--wait', '--json'], { ...env, INIT_CWD: here, npm_lifecycle_event: 'hookwave' });
    expect(r.stderr).toBe('');
    const result = JSON.parse(r.stdout) as { task_id: string; out_dir: string };
    expect(result.out_dir).toBe(path.join(here, result.task_id));
    expect(fs.readdirSync(path.join(here, result.task_id))).toHaveLength(1);
    expect(fs.existsSync(path.join(repoRoot, result.task_id))).toBe(false);
  });
});

describe('hookwave tasks', () => {
  it('lists with column headers, gets, waits for and cancels tasks', async () => {
    const done = await runCliAsync(['submit', 'generate', '-p', 'duration=1', '--json'], env);
    const { task_id: doneId } = JSON.parse(done.stdout) as { task_id: string };
    // No --target: generate makes an mp3.
    const waited = await runCliAsync(['tasks', 'wait', doneId], env);
    expect(waited.status).toBe(0);
    expect(waited.stdout).toMatch(new RegExp(`^${doneId} completed in [\\d.]+ s`));
    expect(waited.stdout).toMatch(/mp3\s+completed\s+http/);

    const list = await runCliAsync(['tasks', 'list', '--status', 'completed'], env);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+KIND\s+STATUS\s+TARGETS\s+CREATED\s+TITLE\n/);
    expect(list.stdout).toMatch(new RegExp(`${doneId}\\s+generate\\s+completed\\s+mp3\\s`));
    const json = JSON.parse((await runCliAsync(['tasks', 'get', doneId, '--json'], env)).stdout) as { id: string; targets: Array<{ outputs: unknown[] }> };
    expect(json.id).toBe(doneId);
    expect(json.targets[0]!.outputs).toHaveLength(1);

    const long = JSON.parse((await runCliAsync(['submit', 'generate', '-p', 'duration=600', '-t', 'flac', '-t', 'wav', '--json'], env)).stdout) as { task_id: string };
    const canceled = await runCliAsync(['tasks', 'cancel', long.task_id], env);
    expect(canceled).toMatchObject({ status: 0, stdout: `${long.task_id} canceled\n` });
    // A task that ended canceled: wait says so and exits 3, as submit --wait does.
    const waitedCanceled = await runCliAsync(['tasks', 'wait', long.task_id], env);
    expect(waitedCanceled.status).toBe(3);
    expect(waitedCanceled.stdout).toMatch(/canceled/);

    expect(await runCliAsync(['tasks', 'delete', doneId], env)).toMatchObject({ status: 0, stdout: `deleted ${doneId}\n` });
    expect(JSON.parse((await runCliAsync(['tasks', 'get', doneId, '--json'], env)).stdout)).toMatchObject({ deleted_at: expect.any(String) });

    const missing = await runCliAsync(['tasks', 'get', 'task_01zzzzzzzzzzzzzzzzzzzzzzzz', '--json'], env);
    expect(missing.status).toBe(1);
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: 'NOT_FOUND', status: 404 } });
    expect((await runCliAsync(['tasks', 'list', '--status', 'done'], env)).status).toBe(2);
  }, 180_000);

  it('takes `-t vocals` as a stem for stems', async () => {
    const tone = await makeTone(tempDir('hookwave-stems-cli-'), { seconds: 1, format: 'wav' });
    const r = await runCliAsync(['submit', 'stems', tone, '-t', 'vocals', '-t', 'instrumental:format=mp3', '--json'], env);
    expect(r.status).toBe(0);
    const id = (JSON.parse(r.stdout) as { task_id: string }).task_id;
    const task = (await svc.api('GET', `/v1/tasks/${id}`)).body;
    expect(task.targets.map((t: { params: unknown }) => t.params)).toEqual([
      { stem: 'vocals', format: 'wav' },
      { stem: 'instrumental', format: 'mp3' },
    ]);
    await svc.api('POST', `/v1/tasks/${id}/cancel`);
  });
});

describe('hookwave deliveries', () => {
  it('lists deliveries, shows a delivery with its attempts, and redelivers it', async () => {
    receiver.respond(() => ({ status: 200, body: 'thanks' }));
    const created = await svc.api('POST', '/v1/tasks', { kind: 'generate', params: { duration: 1 }, targets: [{ format: 'mp3' }], webhook_url: receiver.url, webhook_events: ['task.completed'] });
    await waitForTask(svc, created.body.task_id);
    await receiver.waitFor(1);
    const list = await until('the delivery to be recorded as delivered', async () => {
      const r = await runCliAsync(['deliveries', 'list', '--task', created.body.task_id], env);
      return /delivered \(200\)/.test(r.stdout) ? r : null;
    });
    expect(list.stdout).toMatch(/^ID\s+EVENT\s+STATUS\s+ATTEMPTS\s+NEXT\s+TASK\s+URL\n/);
    const id = /^(dlv_\w+)/m.exec(list.stdout)![1]!;

    const shown = await runCliAsync(['deliveries', 'get', id], env);
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/#\s+AT\s+STATUS\s+MS\s+ANSWER OR ERROR/);
    expect(shown.stdout).toMatch(/\n1\s+\S+ \S+\s+200\s+\d+\s+thanks\n/);

    expect(shown.stdout).toMatch(/\nrequest body:\n\{"type":"task\.completed",/);

    const again = await runCliAsync(['deliveries', 'redeliver', id], env);
    expect(again).toMatchObject({ status: 0, stdout: `${id} pending: it goes out now\n` });
    await receiver.waitFor(2);
  }, 120_000);

  it('sends an endpoint a test event, and retries a delivery waiting for its next attempt', async () => {
    // Retries as far apart as in production, so the second attempt is the retry's doing.
    const prod = await startService({ retryScheduleMs: [5 * 60_000, 30 * 60_000] });
    const rx = await startReceiver();
    const prodEnv = { HOOKWAVE_URL: prod.url, HOOKWAVE_API_KEY: prod.key };
    try {
      let fixed = false;
      rx.respond(() => (fixed ? { status: 200 } : { status: 500 }));
      const ep = await prod.api('POST', '/v1/endpoints', { url: rx.url, events: ['task.failed'] });
      const tested = await runCliAsync(['endpoints', 'test', ep.body.id, '--message', 'from the cli'], prodEnv);
      expect(tested.status).toBe(0);
      const id = new RegExp(`^(dlv_\\w+) pending: endpoint\\.test goes out to ${ep.body.id} now`).exec(tested.stdout)?.[1];
      expect(id).toBeDefined();
      const [got] = await rx.waitFor(1);
      expect(JSON.parse(got!.raw)).toMatchObject({ type: 'endpoint.test', data: { endpoint_id: ep.body.id, message: 'from the cli' } });
      await until('the failed attempt to be recorded', async () => ((await prod.api('GET', `/v1/deliveries/${id}`)).body.attempt_count === 1 ? true : null));

      fixed = true;
      const retried = await runCliAsync(['deliveries', 'retry', id!], prodEnv);
      expect(retried).toMatchObject({ status: 0, stdout: `${id} pending: it goes out now (if it fails, the retry schedule goes on)\n` });
      await rx.waitFor(2);
    } finally {
      await rx.close();
      await prod.close();
    }
  }, 120_000);
});

describe('hookwave doctor', () => {
  it('passes on a working machine, changing nothing', async () => {
    const dataDir = tempDir('hookwave-doctor-');
    const r = await runCliAsync(['doctor', '--data-dir', dataDir, '--json'], { HOOKWAVE_DATABASE_URL: '', DATABASE_URL: '' });
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ check: string; status: string; detail: string }> };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.check)).toEqual(['node', 'ffmpeg', 'ffprobe', 'database', 'storage', 'dev mode', 'public URL']);
    expect(report.checks.find((c) => c.check === 'ffmpeg')!.detail).toMatch(/^ffmpeg version/);
    // No database yet: a warning that says how it comes to be, and doctor did not create one.
    expect(report.checks.find((c) => c.check === 'database')).toMatchObject({ status: 'warn' });
    expect(fs.existsSync(path.join(dataDir, 'hookwave.db'))).toBe(false);
  });

  it("checks the service's own database, and fails naming what to fix", async () => {
    const ok = await runCliAsync(['doctor', '--data-dir', svc.dataDir], { DATABASE_URL: svc.hw.config.databaseUrl ?? '', HOOKWAVE_DATABASE_URL: '' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^CHECK\s+STATUS\s+DETAIL\n/);
    expect(ok.stdout).toMatch(/database\s+ok\s+.*reachable, migrated/);

    const broken = await runCliAsync(['doctor', '--data-dir', svc.dataDir], { HOOKWAVE_FFMPEG: '/nonexistent/ffmpeg' });
    expect(broken.status).toBe(1);
    expect(broken.stdout).toMatch(/ffmpeg\s+fail\s+HOOKWAVE_FFMPEG is "\/nonexistent\/ffmpeg", which is not an executable file/);
    expect(broken.stdout).toMatch(/to do:\n {2}ffmpeg: install ffmpeg/);
  }, 120_000);
});
