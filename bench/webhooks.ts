/**
 * Webhook latency and isolation, each against a baseline from the same run:
 * - completion → receipt: from the commit of an outbox row to the receiver reading the request,
 *   against a plain undici POST from the same process to the same receiver;
 * - deliveries/s to healthy receivers while another receiver hangs until the request timeout,
 *   against the same run without the hanging receiver.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { loadConfig } from '../src/config.js';
import { createApiKey } from '../src/services/tenants.js';
import type { DeliveryRow, EventRow } from '../src/domain/types.js';
import { newId } from '../src/ids.js';
import { createLogger } from '../src/logger.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';
import { Dispatcher } from '../src/webhooks/dispatcher.js';
import { UrlGuard } from '../src/net/url-guard.js';
import { tempDir } from '../test/helpers/service.js';
import { medianBy, pct, percentile, table } from './table.js';

const now = () => performance.timeOrigin + performance.now();

async function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

function delivery(tenantId: string, url: string, body: string, at: number): { event: EventRow; delivery: DeliveryRow } {
  const event: EventRow = { id: newId('msg'), tenant_id: tenantId, task_id: null, type: 'task.completed', payload: body, created_at: at };
  return {
    event,
    delivery: { id: newId('dlv'), event_id: event.id, tenant_id: tenantId, task_id: null, endpoint_id: null, url, status: 'pending', attempt_count: 0, next_attempt_at: at, last_error: null, last_status_code: null, created_at: at, updated_at: at, delivered_at: null },
  };
}

async function enqueue(store: Store, rows: Array<{ event: EventRow; delivery: DeliveryRow }>): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    await store.tx(async (tx) => {
      for (const r of rows.slice(i, i + 1000)) {
        await tx.insertEvent(r.event);
        await tx.insertDeliveries([r.delivery]);
      }
      tx.notifyAfterCommit('deliveries');
    });
  }
}

export async function benchWebhooks(opts: { quick: boolean }): Promise<void> {
  const body = JSON.stringify({ type: 'task.completed', timestamp: new Date().toISOString(), data: { id: 'task_x', padding: 'x'.repeat(1200) } });
  const config = loadConfig({ dataDir: tempDir('hookwave-bench-'), dev: true, logLevel: 'warn', webhookTimeoutMs: 2000 }, {});
  const store = await openStore(config);
  const { tenant } = await createApiKey(store, 'bench');
  const guard = new UrlGuard({ allowHttp: true, allowLoopback: true, allowCidrs: [] });

  // ---- latency: one at a time, so each figure is a pure path length ----
  let arrived: (t: number) => void = () => undefined;
  const rx = await listen((req, res) => {
    const t = now();
    req.resume();
    req.on('end', () => {
      res.writeHead(200).end('ok');
      arrived(t);
    });
  });
  const n = opts.quick ? 200 : 1000;
  const raw: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    const got = new Promise<number>((r) => (arrived = r));
    const t0 = now();
    const res = await request(`${rx.url}/hook`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: guard.dispatcher });
    await res.body.text();
    if (i >= 20) raw.push((await got) - t0);
  }
  const dispatcher = new Dispatcher({ store, guard, config, logger: createLogger('warn') });
  dispatcher.start();
  const ours: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    const got = new Promise<number>((r) => (arrived = r));
    const d = delivery(tenant.id, `${rx.url}/hook`, body, Date.now());
    const t0 = now();
    await store.tx(async (tx) => {
      await tx.insertEvent(d.event);
      await tx.insertDeliveries([d.delivery]);
      tx.notifyAfterCommit('deliveries');
    });
    const t = await got;
    if (i >= 20) ours.push(t - t0);
    await dispatcher.idle();
  }
  await dispatcher.stop();
  await rx.close();
  raw.sort((a, b) => a - b);
  ours.sort((a, b) => a - b);
  table(`Completion → receipt latency (${n} sequential events, ms)`, [
    { path: 'raw undici POST (baseline)', p50: percentile(raw, 50), p99: percentile(raw, 99) },
    { path: 'outbox commit → dispatcher → receiver', p50: percentile(ours, 50), p99: percentile(ours, 99) },
    { path: 'added by hookwave', p50: percentile(ours, 50) - percentile(raw, 50), p99: percentile(ours, 99) - percentile(raw, 99) },
  ]);
  console.log('goal: p50 ≤ 5 ms and p99 ≤ 50 ms above the raw POST');

  // ---- isolation: healthy throughput with and without a receiver that never answers ----
  let healthyCount = 0;
  let reached: () => void = () => undefined;
  let target = 0;
  const healthy = await listen((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200).end('ok');
      if (++healthyCount === target) reached();
    });
  });
  const hanging = await listen(() => undefined);
  const count = opts.quick ? 2000 : 6000;
  async function healthyRate(withHanging: boolean): Promise<number> {
    const at = Date.now();
    const rows = Array.from({ length: count }, () => delivery(tenant.id, `${healthy.url}/hook`, body, at));
    if (withHanging) {
      // The hanging receiver's deliveries come first in the outbox, the worst case for a FIFO.
      await enqueue(store, Array.from({ length: 200 }, () => delivery(tenant.id, `${hanging.url}/hook`, body, at - 1)));
    }
    await enqueue(store, rows);
    const d = new Dispatcher({ store, guard, config, logger: createLogger('silent') });
    healthyCount = 0;
    target = count;
    const all = new Promise<void>((r) => (reached = r));
    const t0 = performance.now();
    d.start();
    await all;
    const rate = count / ((performance.now() - t0) / 1000);
    await d.stop();
    return rate;
  }
  await healthyRate(false); // warm-up
  const alones: number[] = [];
  const besides: number[] = [];
  for (let round = 0; round < 3; round++) {
    alones.push(await healthyRate(false));
    besides.push(await healthyRate(true));
  }
  const alone = medianBy(alones, (x) => x);
  const beside = medianBy(besides, (x) => x);
  await healthy.close();
  await hanging.close();
  table(`Deliveries/s to a healthy receiver (${count} events, median of 3 alternating rounds; the other receiver never answers, 2 s timeout)`, [
    { run: 'healthy receiver alone (baseline)', 'deliveries/s': alone, ratio: '100 %' },
    { run: 'beside 200 deliveries to a hanging receiver', 'deliveries/s': beside, ratio: pct(beside, alone) },
  ]);
  console.log('goal: ≥ 90 % of the figure without the hanging receiver');
  await guard.close();
  await store.close();
}
