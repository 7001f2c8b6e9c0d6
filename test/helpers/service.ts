/**
 * Starts the real service (API + worker + dispatcher) on an ephemeral loopback port, on SQLite or,
 * with HOOKWAVE_TEST_DATABASE=postgres, on a fresh PostgreSQL schema (see database.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config.js';
import { createApiKey } from '../../src/services/tenants.js';
import { createLogger } from '../../src/logger.js';
import { startHookwave, type Hookwave, type StartOptions } from '../../src/runtime.js';
import { freshDatabase } from './database.js';

export interface TestService {
  hw: Hookwave;
  url: string;
  dataDir: string;
  key: string;
  secret: string;
  /** Calls the API with this tenant's key; returns status, headers and parsed JSON body. */
  api(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  newTenant(name: string): Promise<{ key: string; secret: string }>;
  close(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
}

/**
 * What every test service resolves and dials: names answer only if they are `localhost`, and a
 * connect to anything but loopback throws before a socket exists, so no test, whatever URL it
 * registers (https://example.com endpoints included), can reach the network.
 */
export const loopbackOnly: Required<Pick<StartOptions, 'resolver' | 'connectHook'>> = {
  resolver: async (hostname) => {
    if (hostname === 'localhost') return [{ address: '127.0.0.1', family: 4 }];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (tests resolve only localhost)`), { code: 'ENOTFOUND' });
  },
  connectHook: (address, hostname) => {
    if (!/^127\./.test(address) && address !== '::1') throw new Error(`test safety net: refused to dial ${hostname} at ${address}`);
  },
};

export function tempDir(prefix = 'hookwave-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function callApi(base: string, key: string | null, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  const res = await fetch(base + urlPath, {
    method,
    headers: {
      ...(key ? { 'x-api-key': key } : {}),
      ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export async function startService(overrides: Partial<Config> = {}, opts: StartOptions = {}): Promise<TestService> {
  const dataDir = overrides.dataDir ?? tempDir();
  const db = freshDatabase();
  let hw: Hookwave;
  try {
    hw = await startHookwave(
      { port: 0, dataDir, dev: true, logLevel: 'silent', retryScheduleMs: [200, 400, 800], pollIntervalMs: 200, databaseUrl: db.databaseUrl, ...overrides },
      { logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'), ...loopbackOnly, ...opts },
    );
  } catch (err) {
    await db.drop();
    throw err;
  }
  const { key, tenant } = await createApiKey(hw.store, 'acme');
  const url = hw.url!;
  return {
    hw,
    url,
    dataDir,
    key,
    secret: tenant.webhook_secret,
    api: (method, urlPath, body, headers) => callApi(url, key, method, urlPath, body, headers),
    async newTenant(name) {
      const created = await createApiKey(hw.store, name);
      return { key: created.key, secret: created.tenant.webhook_secret };
    },
    async close() {
      await hw.close();
      await db.drop();
    },
  };
}

/** Polls GET /v1/tasks/:id until the task has ended (or the timeout passes). */
export async function waitForTask(svc: Pick<TestService, 'api'>, id: string, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await svc.api('GET', `/v1/tasks/${id}`);
    if (['completed', 'failed', 'canceled'].includes(res.body.status)) return res.body;
    if (Date.now() > deadline) throw new Error(`task ${id} still ${res.body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
