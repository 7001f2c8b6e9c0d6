/**
 * Debian's Chromium, driven by playwright-core, on one page of the dashboard: what the dashboard's
 * browser tests share. The page's errors and unexpected console errors are collected in `problems`
 * for a test to assert empty; screenshots go to test-artifacts/<artifacts>/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Browser tests are skipped where Chromium is missing (.ci/run installs it). */
export const hasChromium = fs.existsSync(CHROMIUM);

export interface DashboardBrowser {
  browser: Browser;
  page: Page;
  /** Page errors and console errors not expected by the test, in the order they came. */
  problems: string[];
  /** Follows a link of the top navigation. */
  nav(name: string): Promise<void>;
  /** A full-page screenshot named `<name>.png`. */
  shot(name: string): Promise<Buffer>;
  /** Fills the sign-in form with `key` and submits it. */
  signIn(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface DashboardBrowserOptions {
  /** Folder under test-artifacts/ for the screenshots. */
  artifacts: string;
  /** Console errors the test causes on purpose (Chromium logs every non-2xx fetch). */
  expectedConsoleError?: (msg: ConsoleMessage) => boolean;
}

export async function openDashboardBrowser(opts: DashboardBrowserOptions): Promise<DashboardBrowser> {
  const artifacts = fileURLToPath(new URL(`../../test-artifacts/${opts.artifacts}/`, import.meta.url));
  fs.mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      // Nothing but loopback: no update checks, sync or QUIC probes leave the machine.
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      // A test plays an output without a click.
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(20_000);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !opts.expectedConsoleError?.(msg)) problems.push(`console: ${msg.text()}`);
  });
  return {
    browser,
    page,
    problems,
    nav: (name) => page.locator('.nav').getByRole('link', { name, exact: true }).click(),
    shot: (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true }),
    async signIn(key) {
      await page.getByLabel('API key').fill(key);
      await page.getByRole('button', { name: 'Sign in' }).click();
    },
    close: () => browser.close(),
  };
}
