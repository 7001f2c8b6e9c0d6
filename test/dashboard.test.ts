/**
 * The dashboard as a person uses it: Debian's Chromium (driven by playwright-core) against the real
 * service, a loopback media server and a webhook receiver. Screenshots of each step go to
 * test-artifacts/dashboard/. The browser part is skipped only where /usr/bin/chromium is missing
 * (.ci/run installs it); the serving checks run everywhere.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/services/tenants.js';
import { CHROMIUM, hasChromium, openDashboardBrowser, type DashboardBrowser } from './helpers/browser.js';
import { startGatedServer, type GatedServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, tempDir, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

if (!hasChromium) console.warn(`dashboard browser tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run installs it)`);

// Callbacks passed to page.evaluate run in Chromium; the project compiles without DOM types, so these
// name the little of the DOM they use.
interface InPage {
  sessionStorage: { getItem(key: string): string | null };
  noReload?: boolean;
}
interface AudioElement {
  play(): Promise<void>;
  pause(): void;
  currentTime: number;
  readyState: number;
  error: { message: string } | null;
}
interface CanvasElement {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

describe('dashboard serving', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(() => svc.close());

  it('serves the page at / with a self-only CSP, revalidation and immutable assets', async () => {
    const res = await fetch(svc.url + '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(res.headers.get('content-security-policy')).not.toMatch(/unsafe|\*/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    expect(html).not.toContain('{{assets}}');

    const again = await fetch(svc.url + '/', { headers: { 'if-none-match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);

    const script = /src="(\/assets\/[0-9a-f]+\/app\.js)"/.exec(html)![1]!;
    const asset = await fetch(svc.url + script);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');

    const stale = await fetch(svc.url + script.replace(/\/assets\/[0-9a-f]+\//, '/assets/000000000000/'));
    expect(stale.status).toBe(404);
    const missing = await fetch(svc.url + script.replace('app.js', 'nope.js'));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('leaves the API as it was: JSON 404 for unknown /v1 routes, 401 without a key', async () => {
    const unknown = await svc.api('GET', '/v1/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ success: false, error: { code: 'NOT_FOUND', message: 'no route GET /v1/nothing-here' } });
    const noKey = await fetch(svc.url + '/v1/tasks');
    expect(noKey.status).toBe(401);
    const doc = (await svc.api('GET', '/openapi.json')).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).some((p) => p === '/' || p.startsWith('/assets'))).toBe(false);
  });
});

describe.skipIf(!hasChromium)('dashboard in Chromium', () => {
  let svc: TestService;
  let rx: Receiver;
  let endpointRx: Receiver;
  let input: GatedServer;
  let ui: DashboardBrowser;
  let page: Page;
  let taskId: string;
  let failing = true;

  beforeAll(async () => {
    const media = tempDir('hookwave-media-');
    input = await startGatedServer(await makeTone(media, { seconds: 3, frequency: 220, format: 'wav' }));
    rx = await startReceiver();
    rx.respond(() => (failing ? { status: 500, body: 'receiver is down for maintenance' } : { status: 200, body: 'ok' }));
    endpointRx = await startReceiver();
    // A model server kind besides the built-in ones: the form offers whatever GET /v1/kinds lists (none of its tasks is submitted).
    svc = await startService({ retryScheduleMs: [100], retryJitter: 0, webhookTimeoutMs: 2000, externalEngines: [{ kind: 'karaoke', url: 'http://127.0.0.1:9/karaoke', description: 'Removes the lead vocal' }] });
    ui = await openDashboardBrowser({
      artifacts: 'dashboard',
      // The rejected sign-in's 401 is on purpose, and the keys page asks GET /v1/account for the
      // tenant's name and does without it on a server that has no such route.
      expectedConsoleError: (msg) => /status of 401/.test(msg.text()) || (/status of 404/.test(msg.text()) && msg.location().url.endsWith('/v1/account')),
    });
    page = ui.page;
  });

  afterAll(async () => {
    await ui?.close();
    await svc?.close();
    await Promise.all([rx?.close(), endpointRx?.close(), input?.close()]);
  });

  it('signs in with an API key kept in sessionStorage', async () => {
    await page.goto(svc.url + '/');
    await ui.signIn('hw_not-a-key');
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/not accepted/);
    await ui.shot('01-sign-in-rejected');

    await ui.signIn(svc.key);
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    await page.getByText('No tasks yet.').waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as InPage).sessionStorage.getItem('hookwave.apiKey'))).toBe(svc.key);
    await ui.shot('02-tasks-empty');
  });

  it('offers the kinds the server publishes, each with the choices its target schema has', async () => {
    await ui.nav('New task');
    const kind = page.locator('select[name="kind"]');
    const published = ((await svc.api('GET', '/v1/kinds')).body.data as Array<{ kind: string }>).map((k) => k.kind);
    expect(published).toEqual(['extract', 'stems', 'generate', 'karaoke']);
    expect(await kind.locator('option').allTextContents()).toEqual(published);
    const targets = async () => JSON.parse(await page.getByLabel('Targets (JSON)').inputValue());

    await kind.selectOption('stems');
    expect(await page.locator('label.chip').allTextContents()).toEqual(['vocals', 'instrumental', 'drums', 'bass', 'other']);
    await page.locator('label.chip', { hasText: 'drums' }).click();
    await page.locator('select[name="target-format"]').selectOption('flac');
    expect(await targets()).toEqual([{ stem: 'vocals', format: 'flac' }, { stem: 'drums', format: 'flac' }]);

    await kind.selectOption('generate');
    await page.getByText('takes no input').waitFor();
    expect(await page.getByLabel('Input URL').isDisabled()).toBe(true);
    expect(JSON.parse(await page.getByLabel('Params (JSON)').inputValue())).toMatchObject({ prompt: expect.any(String), duration: 30 });

    await kind.selectOption('karaoke');
    await page.getByText('Removes the lead vocal').waitFor();
    expect(await page.getByLabel('Input URL').isDisabled()).toBe(false);
    expect(await page.getByLabel('Params (JSON)').inputValue()).toBe('');
    expect(await targets()).toEqual([{ format: 'mp3' }]);
    await ui.nav('Tasks');
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    expect(await page.locator('datalist#kinds option').evaluateAll((os) => os.map((o) => o.getAttribute('value')))).toEqual(published);
  });

  it('submits an extract task from the form and shows it complete live', async () => {
    await ui.nav('New task');
    await page.getByLabel('Input URL').fill(input.url);
    await page.locator('label.chip', { hasText: 'wav' }).click();
    await page.getByLabel('Title').fill('Dashboard walk-through');
    await page.getByLabel('Webhook URL').fill(rx.url);
    expect(JSON.parse(await page.getByLabel('Targets (JSON)').inputValue())).toEqual([{ format: 'mp3' }, { format: 'wav' }]);
    await ui.shot('03-new-task');
    await page.getByRole('button', { name: 'Submit task' }).click();

    await page.waitForURL(/#\/tasks\/task_/);
    taskId = decodeURIComponent(page.url().split('#/tasks/')[1]!);
    const status = page.locator('.task-status');
    // The input server holds the download, so the worker has claimed the task but cannot finish it.
    await page.locator('.task-status[data-status="processing"]').waitFor();
    await page.evaluate(() => ((globalThis as unknown as InPage).noReload = true));
    await ui.shot('04-task-processing');

    input.release();
    await page.locator('.task-status[data-status="completed"]').waitFor({ timeout: 30_000 });
    expect(await status.textContent()).toBe('completed');
    // Same document throughout: the change came over the event stream, not a reload.
    expect(await page.evaluate(() => (globalThis as unknown as InPage).noReload)).toBe(true);
    await expect.poll(() => page.locator('ol.timeline li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-event')))).toEqual([
      'task.target.completed',
      'task.target.completed',
      'task.completed',
    ]);
  });

  it('plays an output and draws its waveform from the peaks the API gives, without decoding the file', async () => {
    const out = page.locator('.output[data-output="mp3.mp3"]');
    await out.waitFor();
    const playback = await out.locator('audio').evaluate(async (node) => {
      const el = node as unknown as AudioElement;
      await el.play().catch(() => undefined);
      const deadline = Date.now() + 8000;
      while (el.currentTime === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      el.pause();
      return { currentTime: el.currentTime, readyState: el.readyState, error: el.error?.message ?? null };
    });
    expect(playback.error).toBeNull();
    // Chromium here plays to a fake audio sink and the clock moves; where no sink exists, decoded frames are the proof.
    expect(playback.currentTime > 0 || playback.readyState >= 2, JSON.stringify(playback)).toBe(true);

    for (const name of ['mp3.mp3', 'wav.wav']) {
      const canvas = page.locator(`.output[data-output="${name}"] canvas.waveform[data-drawn="true"]`);
      await canvas.waitFor();
      expect(await canvas.getAttribute('data-source')).toBe('api');
      expect(Number(await canvas.getAttribute('data-duration'))).toBeCloseTo(3, 0);
      // A steady tone fills most columns from well above to well below the centre line.
      const inked = await canvas.evaluate((node) => {
        const c = node as unknown as CanvasElement;
        const g = c.getContext('2d')!;
        const { data } = g.getImageData(0, 0, c.width, c.height);
        let columns = 0;
        for (let x = 0; x < c.width; x++) {
          let n = 0;
          for (let y = 0; y < c.height; y++) if (data[(y * c.width + x) * 4 + 3]! > 0) n++;
          if (n > c.height * 0.5) columns++;
        }
        return columns / c.width;
      });
      expect(inked).toBeGreaterThan(0.9);
    }
    await page.locator('.output[data-output="mp3.mp3"] canvas.waveform').scrollIntoViewIfNeeded();
    await ui.shot('05-task-completed');
  });

  it('shows the failed delivery with its attempts and redelivers it with the same webhook-id', async () => {
    // One retry 100 ms apart, both answered 500: the delivery fails for good.
    const failed = await until('a failed delivery', async () => {
      const res = await svc.api('GET', `/v1/deliveries?status=failed&task_id=${taskId}`);
      return res.body.data[0];
    });
    expect(rx.received).toHaveLength(2);
    failing = false;

    await page.locator(`ul.delivery-list li[data-delivery-id="${failed.id}"][data-status="failed"]`).waitFor();
    await ui.nav('Deliveries');
    const row = page.locator(`tr[data-delivery-id="${failed.id}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('failed');
    await ui.shot('06-deliveries');

    await row.getByRole('link').first().click();
    await page.locator('article.attempt').nth(1).waitFor();
    expect(await page.locator('article.attempt').count()).toBe(2);
    expect(await page.locator('article.attempt .badge').allTextContents()).toEqual(['HTTP 500', 'HTTP 500']);
    expect(await page.locator('pre.excerpt').first().textContent()).toBe('receiver is down for maintenance');
    expect(await page.locator('code.webhook-id').textContent()).toBe(rx.received[0]!.headers['webhook-id']);
    // The body it sent, byte for byte what was signed (shown indented).
    expect(JSON.parse((await page.locator('pre.request-body').textContent())!)).toEqual(JSON.parse(rx.received[0]!.raw));
    await ui.shot('07-delivery-failed');

    await page.getByRole('button', { name: 'Redeliver' }).click();
    const [first, , again] = await rx.waitFor(3);
    expect(again!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(again!.raw).toBe(first!.raw);
    await page.locator('.page-head .badge[data-status="delivered"]').waitFor();
    expect(await page.locator('article.attempt').count()).toBe(3);
    expect(await page.locator('article.attempt .badge').first().textContent()).toBe('HTTP 200');
    await ui.shot('08-redelivered');
  });

  it('creates an endpoint, shows its secret once, disables, rotates and deletes it', async () => {
    await ui.nav('Endpoints');
    await page.getByText('No endpoints yet.').waitFor();
    await page.getByLabel('URL', { exact: true }).fill(endpointRx.url);
    await page.getByLabel('Description').fill('Failures to the on-call bot');
    await page.locator('label.chip', { hasText: /^task\.failed$/ }).click();
    await page.getByRole('button', { name: 'Create endpoint' }).click();

    const secret = (await page.locator('.secret-value').textContent())!;
    expect(secret).toMatch(/^whsec_/);
    const row = page.locator('tr[data-endpoint-id]');
    await row.waitFor();
    await ui.shot('09-endpoint-secret');
    const listed = await svc.api('GET', '/v1/endpoints');
    expect(listed.body.data).toHaveLength(1);
    expect(listed.body.data[0]).toMatchObject({ url: endpointRx.url, events: ['task.failed'], enabled: true });

    // Leaving the page forgets the secret: the API never hands it out again.
    await ui.nav('Keys');
    await ui.nav('Endpoints');
    await row.waitFor();
    expect(await page.locator('.secret-value').count()).toBe(0);
    expect(await page.content()).not.toContain(secret);

    await row.getByRole('button', { name: 'Disable' }).click();
    await page.locator('tr[data-endpoint-id][data-enabled="false"]').waitFor();
    expect((await svc.api('GET', '/v1/endpoints')).body.data[0].enabled).toBe(false);

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await expect.poll(() => page.locator('.secret-value').textContent()).toMatch(/^whsec_/);
    expect(await page.locator('.secret-value').textContent()).not.toBe(secret);
    await ui.shot('10-endpoint-rotated');

    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Really delete?' }).click();
    await page.getByText('No endpoints yet.').waitFor();
    expect((await svc.api('GET', '/v1/endpoints')).body.data).toEqual([]);
  });

  it("lists the tenant's keys, marks this session's, and says why keys are made with the CLI", async () => {
    const acme = (await svc.hw.store.getTenantByName('acme'))!;
    const [own] = await svc.hw.store.listApiKeys(acme.id);
    const spare = await createApiKey(svc.hw.store, 'acme');
    const old = await createApiKey(svc.hw.store, 'acme');
    expect(await svc.hw.store.revokeApiKey(old.apiKey.id, Date.now())).toBe(true);
    await svc.newTenant('someone-else');
    const [theirs] = (await svc.hw.store.listApiKeys()).filter((k) => k.tenant_name === 'someone-else');

    await ui.nav('Keys');
    expect(await page.locator('.current-prefix').textContent()).toBe(`${svc.key.slice(0, 11)}…`);
    if ((await svc.api('GET', '/v1/account')).status === 200) expect(await page.locator('.tenant-name').textContent()).toBe('acme');
    const rows = page.locator('table.keys tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    const listed = await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-key-id'), tr.getAttribute('data-current'), tr.getAttribute('data-state')]));
    expect(listed).toEqual([
      [own!.id, 'true', 'active'],
      [spare.apiKey.id, 'false', 'active'],
      [old.apiKey.id, 'false', 'revoked'],
    ]);
    expect(await page.locator('table.keys .key-prefix').allTextContents()).toEqual([own!.prefix, spare.apiKey.prefix, old.apiKey.prefix].map((p) => `${p}…`));
    expect(await page.locator('tr[data-current="true"] .this-session').textContent()).toBe('this session');
    await page.getByText(/minted offline.*cannot mint more keys/).waitFor();
    await page.getByText('hookwave keys revoke <id-or-prefix>').waitFor();

    const html = await page.content();
    for (const secret of [svc.key, spare.key, old.key, own!.hash, spare.apiKey.hash, theirs!.id, theirs!.prefix]) expect(html).not.toContain(secret);
    await ui.shot('11-keys');
  });

  it('lists and filters tasks by status', async () => {
    await ui.nav('Tasks');
    const row = page.locator(`tr[data-task-id="${taskId}"]`);
    await row.waitFor();
    expect(await row.locator('.badge').textContent()).toBe('completed');
    await ui.shot('12-tasks');

    await page.getByLabel('Status').selectOption('failed');
    await page.getByText('No tasks match these filters.').waitFor();
    expect(page.url()).toMatch(/#\/tasks\?status=failed$/);
    await page.getByLabel('Status').selectOption('completed');
    await row.waitFor();

    // A task submitted elsewhere shows up finished through the tenant's event stream, without a reload.
    await page.getByLabel('Status').selectOption('');
    await row.waitFor();
    await page.locator('.live.on').waitFor();
    const other = await svc.api('POST', '/v1/tasks', { kind: 'extract', title: 'From the API', input: { url: input.url }, targets: [{ format: 'ogg' }] });
    expect(other.status).toBe(202);
    await page.locator(`tr[data-task-id="${other.body.task_id}"][data-status="completed"]`).waitFor();
    expect(await page.locator('tbody tr').first().getAttribute('data-task-id')).toBe(other.body.task_id);

    expect(ui.problems).toEqual([]);
  });

  it('signs out and forgets the key', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as InPage).sessionStorage.getItem('hookwave.apiKey'))).toBeNull();
  });
});
