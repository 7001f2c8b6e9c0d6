/**
 * The dashboard's details a demanding user notices, in Debian's Chromium against the real service:
 * a failed task's bar, who will get a running task's events, the 404 page, params and info as lists,
 * the kind filter as you type, the tenant's name, where signing in lands, aligned table rows and a
 * phone-sized screen. Screenshots at 390 px and at desktop width go to test-artifacts/dashboard-details/.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, openDashboardBrowser, type DashboardBrowser } from './helpers/browser.js';
import { startGatedServer, type GatedServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

// Callbacks passed to page.evaluate run in Chromium; the project compiles without DOM types.
interface Box {
  right: number;
  bottom: number;
  width: number;
}
interface El {
  getBoundingClientRect(): Box;
  querySelectorAll(sel: string): El[];
  scrollWidth: number;
  clientWidth: number;
}
interface InPage {
  document: { documentElement: El; activeElement: unknown; querySelector(sel: string): El | null };
  getComputedStyle(el: unknown): { backgroundColor: string; color: string; width: string };
}

/**
 * A model server for an external kind: it serves a tone and answers each target with it, except ogg
 * targets, which it refuses (so a task asking for wav and ogg fails half done).
 */
async function startModelServer(file: string) {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': fs.statSync(file).size });
      fs.createReadStream(file).pipe(res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { target: { format: string } };
      res.setHeader('content-type', 'application/json');
      if (body.target.format === 'ogg') {
        res.writeHead(422).end(JSON.stringify({ error: { code: 'INVALID_TARGET', message: 'this model writes wav only' } }));
        return;
      }
      res.end(JSON.stringify({ outputs: [{ format: 'wav', url: `${origin}/tone.wav` }], info: { model: 'karaoke-net v2', lead_removed: true, stages: { separation: 'ok', remix: 'ok' } } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe.skipIf(!hasChromium)('dashboard details in Chromium', () => {
  let svc: TestService;
  let model: Awaited<ReturnType<typeof startModelServer>>;
  let gated: GatedServer;
  let endpointRx: Receiver;
  let ui: DashboardBrowser;
  let page: Page;
  let runningId: string;
  let failedId: string;

  beforeAll(async () => {
    const media = tempDir('hookwave-media-');
    const tone = await makeTone(media, { seconds: 2, frequency: 330, format: 'wav' });
    model = await startModelServer(tone);
    gated = await startGatedServer(tone);
    endpointRx = await startReceiver();
    // The endpoint is down for failures: their deliveries fail for good after one quick retry.
    endpointRx.respond((req) => ((req.body as { type?: string }).type === 'task.failed' ? { status: 500, body: 'down' } : { status: 200, body: 'ok' }));
    svc = await startService({ retryScheduleMs: [100], retryJitter: 0, externalEngines: [{ kind: 'karaoke', url: `${model.origin}/karaoke`, description: 'Removes the lead vocal' }] });
    // The 404 page's unknown task is asked for on purpose.
    ui = await openDashboardBrowser({ artifacts: 'dashboard-details', expectedConsoleError: (msg) => /status of 404/.test(msg.text()) });
    page = ui.page;
  });

  afterAll(async () => {
    await ui?.close();
    await svc?.close();
    await Promise.all([model?.close(), gated?.close(), endpointRx?.close()]);
  });

  it("signs in to the Tasks page and names the key's tenant in the header", async () => {
    await page.goto(svc.url + '/');
    await ui.signIn(svc.key);
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    await expect.poll(() => page.locator('.topbar .tenant').textContent()).toBe('acme');
    expect(await page.locator('.topbar .tenant').isVisible()).toBe(true);
  });

  it('says which endpoint will get a running task’s events before any is sent', async () => {
    const ep = await svc.api('POST', '/v1/endpoints', { url: endpointRx.url, events: ['task.completed', 'task.failed'] });
    expect(ep.status).toBe(201);
    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', title: 'Held download', input: { url: gated.url }, targets: [{ format: 'mp3' }] });
    runningId = created.body.task_id;
    await page.goto(`${svc.url}/#/tasks/${runningId}`);
    await page.locator('.task-status[data-status="processing"]').waitFor();
    const upcoming = page.locator(`.upcoming li[data-endpoint-id="${ep.body.id}"]`);
    await upcoming.waitFor();
    expect(await upcoming.locator('.url').textContent()).toBe(endpointRx.url);
    expect(await upcoming.locator('code.tag').allTextContents()).toEqual(['task.completed', 'task.failed']);
    expect(await page.locator('.two-col').textContent()).not.toMatch(/no endpoint/i);
    await ui.shot('01-running-task-upcoming');

    gated.release();
    await page.locator('.task-status[data-status="completed"]').waitFor({ timeout: 30_000 });
    // What it said would happen did: the endpoint got task.completed, and the panel lists that delivery.
    await page.locator('ul.delivery-list li[data-status="delivered"]').waitFor();
    expect(await page.locator('ul.delivery-list summary code').allTextContents()).toEqual(['task.completed']);
    expect((await endpointRx.waitFor(1))[0]!.body).toMatchObject({ type: 'task.completed', data: { id: runningId } });
  });

  it('shows a failed task’s bar in the failed style at the progress it made, in the list and on its page', async () => {
    const created = await svc.api('POST', '/v1/tasks', { kind: 'karaoke', title: 'Half done', input: { url: `${model.origin}/tone.wav` }, targets: [{ format: 'wav' }, { format: 'ogg' }] });
    failedId = created.body.task_id;
    const task = await waitForTask(svc, failedId);
    expect(task.status).toBe('failed');
    expect(task.targets.map((t: { status: string }) => t.status)).toEqual(['completed', 'failed']);
    // The completed target counts whole, the failed one for how far it got before the model server refused it.
    const real = Math.round(((1 + task.targets[1].progress) / 2) * 100);
    expect(real).toBeGreaterThan(0);
    expect(real).toBeLessThan(100);

    const bar = async (selector: string) =>
      page.locator(selector).evaluate((node) => {
        const el = node as unknown as El & { getAttribute(n: string): string | null; firstElementChild: El };
        const fill = el.firstElementChild;
        const failedColour = (globalThis as unknown as InPage).getComputedStyle((globalThis as unknown as InPage).document.querySelector('.badge[data-status="failed"]')).color;
        return {
          status: el.getAttribute('data-status'),
          value: Number(el.getAttribute('aria-valuenow')),
          ratio: fill.getBoundingClientRect().width,
          width: el.getBoundingClientRect().width,
          fillColour: (globalThis as unknown as InPage).getComputedStyle(fill).backgroundColor,
          failedColour,
        };
      });
    const check = (b: Awaited<ReturnType<typeof bar>>) => {
      expect(b.status).toBe('failed');
      expect(b.value).toBe(real);
      expect(b.ratio / b.width).toBeCloseTo(real / 100, 1);
      expect(b.fillColour).toBe(b.failedColour);
    };

    await ui.nav('Tasks');
    const row = page.locator(`tr[data-task-id="${failedId}"][data-status="failed"]`);
    await row.waitFor();
    // The fill eases to its width; wait for it to settle before measuring.
    await expect.poll(async () => {
      const b = await bar(`tr[data-task-id="${failedId}"] .progress`);
      return Math.abs(b.ratio / b.width - real / 100) < 0.02;
    }).toBe(true);
    check(await bar(`tr[data-task-id="${failedId}"] .progress`));
    await ui.shot('02-tasks-with-failed');

    await row.getByRole('link').first().click();
    await page.locator('.task-status[data-status="failed"]').waitFor();
    await expect.poll(async () => {
      const b = await bar('.overall .progress');
      return Math.abs(b.ratio / b.width - real / 100) < 0.02;
    }).toBe(true);
    check(await bar('.overall .progress'));
  });

  it('shows params and info as readable key/value lists, not JSON', async () => {
    const done = page.locator('article.target[data-status="completed"]');
    await done.waitFor();
    const pairs = (scope: string) =>
      done.locator(`${scope} > dl.values`).evaluate((dl) =>
        [...(dl as unknown as { children: Array<{ tagName: string; textContent: string }> }).children].map((c) => `${c.tagName}:${c.textContent}`),
      );
    expect(await pairs('.params')).toEqual(['DT:format', 'DD:wav']);
    expect(await pairs('.info')).toEqual(['DT:model', 'DD:karaoke-net v2', 'DT:lead_removed', 'DD:yes', 'DT:stages', 'DD:separationokremixok']);
    expect(await done.locator('.info dl.values dl.values dt').allTextContents()).toEqual(['separation', 'remix']);
    expect(await page.locator('article.target').allTextContents()).not.toContainEqual(expect.stringMatching(/[{}"]/));
    await ui.shot('03-failed-task-page');
  });

  it('ends every deliveries row and its border at the same right edge and baseline', async () => {
    // The failure's delivery fails for good (500 twice), so it has a Redeliver button; the completion's has none.
    await until('a failed delivery', async () => (await svc.api('GET', `/v1/deliveries?status=failed&task_id=${failedId}`)).body.data[0]);
    await ui.nav('Deliveries');
    await page.locator('table.deliveries tr[data-status="failed"] button.redeliver').waitFor();
    await page.locator('table.deliveries tr[data-status="delivered"]').waitFor();
    const edges = await page.locator('table.deliveries').evaluate((table) => {
      const t = table as unknown as El;
      return [...t.querySelectorAll('tr')].map((tr) => {
        const cells = [...tr.querySelectorAll('th, td')].map((c) => c.getBoundingClientRect());
        return { rowRight: tr.getBoundingClientRect().right, rowBottom: tr.getBoundingClientRect().bottom, lastRight: cells[cells.length - 1]!.right, bottoms: cells.map((c) => c.bottom) };
      });
    });
    expect(edges.length).toBeGreaterThanOrEqual(3);
    const right = edges[0]!.rowRight;
    for (const e of edges) {
      expect(e.rowRight).toBeCloseTo(right, 0);
      expect(e.lastRight).toBeCloseTo(right, 0);
      for (const b of e.bottoms) expect(b).toBeCloseTo(e.rowBottom, 0);
    }
    await ui.shot('04-deliveries');
  });

  it('filters tasks by kind as the user types, keeping the field focused', async () => {
    await ui.nav('Tasks');
    await page.locator(`tr[data-task-id="${runningId}"]`).waitFor();
    const kind = page.getByLabel('Kind');
    await kind.click();
    await page.keyboard.type('karaoke');
    // No change event (no Enter, no blur): the input events alone filter.
    await expect.poll(() => page.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-task-id')))).toEqual([failedId]);
    expect(page.url()).toMatch(/#\/tasks\?kind=karaoke$/);
    expect(await kind.evaluate((el) => (globalThis as unknown as InPage).document.activeElement === el)).toBe(true);

    await page.keyboard.press('Control+A');
    await page.keyboard.press('Backspace');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(2);
    expect(page.url()).toMatch(/#\/tasks$/);
  });

  it('shows a 404 page with a way back to Tasks', async () => {
    for (const where of ['#/tasks/task_doesnotexist', '#/no-such-page']) {
      await page.goto(`${svc.url}/${where}`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      await ui.shot(`05-not-found-${where.split('/')[1]}`);
      await page.getByRole('link', { name: 'Back to Tasks' }).click();
      await page.getByRole('heading', { name: 'Tasks' }).waitFor();
      expect(page.url()).toMatch(/#\/tasks$/);
    }
  });

  it('fits a 390 px wide phone: the nav and every page stay within the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const pages: Array<[string, string]> = [
      ['tasks', '#/tasks'],
      ['task', `#/tasks/${failedId}`],
      ['new-task', '#/new'],
      ['deliveries', '#/deliveries'],
      ['endpoints', '#/endpoints'],
      ['keys', '#/keys'],
    ];
    for (const [name, hash] of pages) {
      await page.goto(`${svc.url}/${hash}`);
      await page.locator('main h1').first().waitFor();
      await page.locator('.topbar .tenant:not(:empty)').waitFor();
      const widths = await page.evaluate(() => {
        const d = (globalThis as unknown as InPage).document;
        const navEl = d.querySelector('.nav')!;
        const bar = d.querySelector('.topbar')!;
        const root = d.documentElement;
        // What sticks out, named for the failure message.
        const wide = [...root.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > root.clientWidth + 0.5)
          .map((el) => `${(el as unknown as { tagName: string }).tagName}.${(el as unknown as { className: string }).className}`)
          .slice(0, 8);
        return { nav: [navEl.scrollWidth, navEl.clientWidth], bar: [bar.scrollWidth, bar.clientWidth], doc: [root.scrollWidth, root.clientWidth], wide };
      });
      expect(widths.nav[0], `${name}: nav`).toBeLessThanOrEqual(widths.nav[1]!);
      expect(widths.bar[0], `${name}: top bar`).toBeLessThanOrEqual(widths.bar[1]!);
      expect(widths.doc[0], `${name}: page (${widths.wide.join(', ')})`).toBeLessThanOrEqual(widths.doc[1]!);
      expect(await page.locator('.nav a').evaluateAll((as) => as.every((a) => (a as unknown as El).getBoundingClientRect().right <= 390))).toBe(true);
      await ui.shot(`06-phone-${name}`);
    }
    await page.setViewportSize({ width: 1280, height: 860 });
    for (const [name, hash] of pages) {
      await page.goto(`${svc.url}/${hash}`);
      await page.locator('main h1').first().waitFor();
      await ui.shot(`07-desktop-${name}`);
    }
  });

  it('lands on Tasks after signing out elsewhere and signing in again', async () => {
    await ui.nav('Keys');
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await ui.signIn(svc.key);
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    expect(page.url()).toMatch(/#\/tasks$/);
    expect(await page.locator('.nav a.active').textContent()).toBe('Tasks');
    expect(ui.problems).toEqual([]);
  });
});
