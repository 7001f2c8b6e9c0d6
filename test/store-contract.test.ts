/**
 * The store's contract, held on both dialects: one table of cases, each calling one store
 * operation on the same small world of rows (two tenants, their keys, tasks, a batch, events,
 * endpoints, deliveries, uploads) in a fresh SQLite store and a fresh PostgreSQL schema. Both must
 * answer alike, and what they answer is checked against what the operation promises. Every
 * operation of Ops has at least one case, so a new operation needs one too.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { ApiKey, BatchRow, DeliveryRow, EndpointRow, EventRow, OutputRow, TargetRow, TaskRow, Tenant, UploadRow } from '../src/domain/types.js';
import { OP_NAMES, type Ops } from '../src/store/ops/ops.js';
import { openStore } from '../src/store/open-store.js';
import type { AttemptOutcome, Store } from '../src/store/store.js';
import { idAt } from '../src/ids.js';
import { freshDatabase, type TestDatabase } from './helpers/database.js';
import { tempDir } from './helpers/service.js';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

const tenantA: Tenant = { id: 'ten_a', name: 'alpha', webhook_secret: 'whsec_a', created_at: T0 };
const tenantB: Tenant = { id: 'ten_b', name: 'beta', webhook_secret: 'whsec_b', created_at: T0 + 1 };
const keyA: ApiKey = { id: 'key_a', tenant_id: 'ten_a', hash: 'hash-a', prefix: 'hw_a', created_at: T0, revoked_at: null };
const keyB: ApiKey = { id: 'key_b', tenant_id: 'ten_b', hash: 'hash-b', prefix: 'hw_b', created_at: T0 + 1, revoked_at: null };

function task(id: string, tenant: string, over: Partial<TaskRow> = {}): TaskRow {
  return {
    id, tenant_id: tenant, kind: 'extract', status: 'queued', title: `task ${id}`, input: { url: 'https://in.example/a.wav' },
    params: { format: 'wav', nested: { deep: [1, 2] } }, metadata: { order: 7 }, webhook_url: 'https://hooks.example/own',
    webhook_events: ['task.completed'], idempotency_key: null, request_hash: null, batch_id: null, cost: null, error: null,
    created_at: T0, updated_at: T0, completed_at: null, deadline_at: null, deleted_at: null, pruned_at: null, ...over,
  };
}

function target(id: string, taskId: string, position: number, over: Partial<TargetRow> = {}): TargetRow {
  return {
    id, task_id: taskId, position, name: `part-${position}`, spec: { stem: 'vocals', gain: 0.5 }, status: 'queued', progress: 0,
    attempts: 0, lease_owner: null, lease_expires_at: null, cost: null, duration: null, info: null, error: null,
    created_at: T0 + position, started_at: null, finished_at: null, ...over,
  };
}

const task1 = task('tsk_1', 'ten_a', { idempotency_key: 'idem-1', request_hash: 'rh-1' });
const targets1 = [target('tgt_1a', 'tsk_1', 0), target('tgt_1b', 'tsk_1', 1)];
const batch1: BatchRow = { id: 'bat_1', tenant_id: 'ten_a', webhook_url: null, item_count: 1, idempotency_key: 'batch-idem', created_at: T0 };
const task2 = task('tsk_2', 'ten_a', { status: 'completed', kind: 'stems', batch_id: 'bat_1', cost: 1.5, completed_at: T0 + 5, created_at: T0 + 2 });
const targets2 = [target('tgt_2a', 'tsk_2', 0, { status: 'completed', progress: 1, attempts: 1, duration: 2.5, info: { peak: -1 }, started_at: T0 + 3, finished_at: T0 + 5 })];
const task3 = task('tsk_3', 'ten_b', { created_at: T0 + 3, webhook_url: null, webhook_events: null, metadata: null });
const targets3 = [target('tgt_3a', 'tsk_3', 0, { created_at: T0 + 10 })];
const output2: OutputRow = {
  id: 'out_2', target_id: 'tgt_2a', task_id: 'tsk_2', tenant_id: 'ten_a', name: 'vocals', format: 'wav', path: 'outputs/out_2.wav',
  size: 4096, duration: 2.5, bitrate: 1411200, sample_rate: 44100, channels: 2,
  loudness: { integrated_lufs: -14.1, true_peak_dbtp: null, range_lu: 3.5, normalization: 'dynamic' }, created_at: T0 + 5, expires_at: T0 + 7 * 86_400_000, removed_at: null,
};

const event = (id: string, tenant: string, taskId: string | null, type: string, at: number): EventRow => ({
  id, tenant_id: tenant, task_id: taskId, type, payload: JSON.stringify({ type, data: { id: taskId } }), created_at: at,
});
const evt1 = event('evt_1', 'ten_a', 'tsk_1', 'task.completed', T0 + 10);
const evt2 = event('evt_2', 'ten_a', 'tsk_2', 'task.target.completed', T0 + 11);
const evt3 = event('evt_3', 'ten_a', 'tsk_2', 'task.completed', T0 + 12);
const evt4 = event('evt_4', 'ten_b', 'tsk_3', 'task.failed', T0 + 13);

function endpoint(id: string, tenant: string, over: Partial<EndpointRow> = {}): EndpointRow {
  return {
    id, tenant_id: tenant, url: `https://recv.example/${id}`, description: null, events: null, secret: `whsec_${id}`, previous_secret: null,
    previous_secret_until: null, enabled: true, disabled_reason: null, consecutive_failures: 0, failing_since: null, circuit_open_until: null,
    created_at: T0, updated_at: T0, ...over,
  };
}
/** Healthy, receives only task.completed. */
const ep1 = endpoint('ep_1', 'ten_a', { events: ['task.completed'], description: 'main' });
/** Failing, its circuit open until T0 + 1 min. */
const ep2 = endpoint('ep_2', 'ten_a', { consecutive_failures: 4, failing_since: T0 - 10 * MIN, circuit_open_until: T0 + MIN });
const ep3 = endpoint('ep_3', 'ten_b');

function delivery(id: string, eventRow: EventRow, over: Partial<DeliveryRow> = {}): DeliveryRow {
  return {
    id, event_id: eventRow.id, tenant_id: eventRow.tenant_id, task_id: eventRow.task_id, endpoint_id: null, url: 'https://hooks.example/own',
    status: 'pending', attempt_count: 0, next_attempt_at: T0 - 5, last_error: null, last_status_code: null, created_at: T0 + 20,
    updated_at: T0 + 20, delivered_at: null, ...over,
  };
}
/** Due now, to the task's own URL. */
const dlv1 = delivery('dlv_1', evt1);
/** Due now, to ep_1. */
const dlv2 = delivery('dlv_2', evt1, { endpoint_id: 'ep_1', url: ep1.url, next_attempt_at: T0 - 3 });
/** Due now, to ep_2 whose circuit is open: held, not sent. */
const dlv3 = delivery('dlv_3', evt3, { endpoint_id: 'ep_2', url: ep2.url, next_attempt_at: T0 - 4 });
/** Failed after three attempts to ep_1. */
const dlv4 = delivery('dlv_4', evt3, {
  endpoint_id: 'ep_1', url: ep1.url, status: 'failed', attempt_count: 3, next_attempt_at: null, last_error: 'HTTP 500', last_status_code: 500, created_at: T0 + 21,
});
/** Pending to ep_2, due later. */
const dlv5 = delivery('dlv_5', evt2, { endpoint_id: 'ep_2', url: ep2.url, next_attempt_at: T0 + 30 * MIN, created_at: T0 + 22 });
/** Delivered, tenant B. */
const dlv6 = delivery('dlv_6', evt4, { status: 'delivered', attempt_count: 1, next_attempt_at: null, last_status_code: 204, delivered_at: T0 + 30, created_at: T0 + 23 });

const attempt = (deliveryId: string, n: number, status: number | null): AttemptOutcome['attempt'] & object => ({
  id: `att_${deliveryId}_${n}`, delivery_id: deliveryId, attempt_number: n, started_at: T0 + 100 * n, status_code: status, latency_ms: 12.5,
  response_excerpt: status === null ? null : `status ${status}`, error: status === null ? 'connect ECONNREFUSED' : null,
  request_headers: { 'webhook-id': 'evt_x' }, response_headers: status === null ? null : { 'content-type': 'text/plain' },
});

function upload(id: string, tenant: string, expiresAt: number): UploadRow {
  return { id, tenant_id: tenant, file_name: `${id}.wav`, path: `uploads/${id}`, size: 1000, format: 'wav', duration: 1.25, created_at: T0, expires_at: expiresAt };
}
const upl1 = upload('upl_1', 'ten_a', T0 - 1);
const upl2 = upload('upl_2', 'ten_a', T0 + 60 * MIN);
const upl3 = upload('upl_3', 'ten_b', T0 - 2);

/** The same world in any store. */
async function seed(s: Store): Promise<void> {
  await s.insertTenant(tenantA);
  await s.insertTenant(tenantB);
  await s.insertApiKey(keyA);
  await s.insertApiKey(keyB);
  await s.insertBatch(batch1);
  await s.insertTask(task1, targets1);
  await s.insertTask(task2, targets2);
  await s.insertTask(task3, targets3);
  await s.insertOutputs([output2]);
  for (const e of [evt1, evt2, evt3, evt4]) await s.insertEvent(e);
  for (const e of [ep1, ep2, ep3]) await s.insertEndpoint(e);
  await s.insertDeliveries([dlv1, dlv2, dlv3, dlv4, dlv5, dlv6]);
  await s.recordAttempts([1, 2, 3].map((n) => ({ attempt: attempt('dlv_4', n, 500), delivery: { ...dlv4, next_attempt_at: null } })));
  for (const u of [upl1, upl2, upl3]) await s.insertUpload(u);
}

/**
 * Row retention's world, beside the seeded one: rows with real (time-ordered) ids, made around
 * DAY 0 and judged against a cutoff at DAY 40 (the pruner walks ids made before its cutoff).
 */
const DAY = 86_400_000;
const CUTOFF = T0 + 40 * DAY;
/** An id of `prefix` made at `ms`, told apart by `n`. */
const madeAt = (prefix: string, ms: number, n: number) => idAt(prefix, ms).slice(0, -2) + String(n).padStart(2, '0');
const old = {
  event: madeAt('msg', T0, 1), eventNoDelivery: madeAt('msg', T0, 2), eventDelivered: madeAt('msg', T0, 3), eventNew: madeAt('msg', T0 + 41 * DAY, 4),
  delivered: madeAt('dlv', T0, 1), failed: madeAt('dlv', T0, 2), pending: madeAt('dlv', T0, 3), redelivered: madeAt('dlv', T0, 4), deliveredNew: madeAt('dlv', T0 + 41 * DAY, 5),
  filesGone: madeAt('task', T0, 1), filesKept: madeAt('task', T0, 2), failedNoFiles: madeAt('task', T0, 3), endedLate: madeAt('task', T0, 4), running: madeAt('task', T0, 5),
};

async function seedRetention(s: Store): Promise<void> {
  for (const [id, at] of [[old.event, T0], [old.eventNoDelivery, T0], [old.eventDelivered, T0], [old.eventNew, T0 + 41 * DAY]] as const) {
    await s.insertEvent(event(id, 'ten_a', null, 'task.completed', at));
  }
  const ended = { next_attempt_at: null, created_at: T0 };
  await s.insertDeliveries([
    delivery(old.delivered, { ...evt1, id: old.event }, { ...ended, status: 'delivered', updated_at: T0 + 1, delivered_at: T0 + 1 }),
    delivery(old.failed, { ...evt1, id: old.event }, { ...ended, status: 'failed', attempt_count: 2, updated_at: T0 + 2 }),
    // Pending for 40 days (an endpoint's circuit kept it waiting): never pruned, and it keeps its event.
    delivery(old.pending, { ...evt1, id: old.event }, { created_at: T0 }),
    // Ended long ago, then redelivered by hand after the cutoff: it ended only then.
    delivery(old.redelivered, { ...evt1, id: old.eventDelivered }, { ...ended, status: 'delivered', updated_at: CUTOFF + 1 }),
    delivery(old.deliveredNew, { ...evt1, id: old.eventNew }, { ...ended, status: 'delivered', created_at: T0 + 41 * DAY, updated_at: T0 + 41 * DAY }),
  ]);
  await s.recordAttempts([1, 2].map((n) => ({ attempt: attempt(old.failed, n, 500), delivery: { id: old.failed, status: 'failed' as const, attempt_count: 2, next_attempt_at: null, last_error: 'HTTP 500', last_status_code: 500, updated_at: T0 + 2, delivered_at: null } })));
  const endedTask = (id: string, over: Partial<TaskRow>) => task(id, 'ten_a', { status: 'completed', cost: 0.25, created_at: T0, updated_at: T0 + 5, completed_at: T0 + 5, ...over });
  const doneTarget = (taskId: string) => target(madeAt('tgt', T0, Number(taskId.slice(-2))), taskId, 0, { status: 'completed', finished_at: T0 + 5 });
  await s.insertTask(endedTask(old.filesGone, { idempotency_key: 'idem-old', request_hash: 'rh-old' }), [doneTarget(old.filesGone)]);
  await s.insertTask(endedTask(old.filesKept, {}), [doneTarget(old.filesKept)]);
  await s.insertTask(endedTask(old.failedNoFiles, { status: 'failed', error: { code: 'ENGINE_FAILED', message: 'no audio stream' } }), [doneTarget(old.failedNoFiles)]);
  await s.insertTask(endedTask(old.endedLate, { completed_at: CUTOFF + 1 }), [doneTarget(old.endedLate)]);
  await s.insertTask(task(old.running, 'ten_a', { status: 'processing', created_at: T0 }), [target(madeAt('tgt', T0, 5), old.running, 0)]);
  const out = (n: number, taskId: string, removedAt: number | null): OutputRow => ({
    ...output2, id: madeAt('out', T0, n), task_id: taskId, target_id: madeAt('tgt', T0, Number(taskId.slice(-2))), path: `outputs/${n}.wav`, expires_at: T0 + 7 * DAY, removed_at: removedAt,
  });
  await s.insertOutputs([out(1, old.filesGone, T0 + 7 * DAY), out(2, old.filesKept, null), out(3, old.endedLate, T0 + 7 * DAY)]);
}

/** Which of these deliveries are still stored. */
const storedDeliveries = async (s: Store, list: string[]) => (await Promise.all(list.map((id) => s.getDelivery('ten_a', id)))).filter((d) => d !== null).map((d) => d!.id);

interface Case {
  op: keyof Ops;
  /** What the operation does here, as its test's name. */
  does: string;
  /** Calls the operation on the seeded store and returns what shows its effect (the answer, and the rows it wrote). */
  run(s: Store): Promise<unknown>;
  /**
   * What that must be (it must also be the same on both dialects, column for column). Matched, not
   * equal: stored rows also carry columns that only the store reads (targets.tenant_id, tenants.claim_turn).
   */
  check(result: any): void;
}

const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);

const cases: Case[] = [
  // ---- keys ----
  {
    op: 'insertTenant', does: 'stores a tenant that reads back whole',
    run: async (s) => { await s.insertTenant({ id: 'ten_c', name: 'gamma', webhook_secret: 'whsec_c', created_at: T0 + 9 }); return s.getTenant('ten_c'); },
    check: (r) => expect(r).toMatchObject({ id: 'ten_c', name: 'gamma', webhook_secret: 'whsec_c', created_at: T0 + 9 }),
  },
  {
    op: 'insertTenant', does: 'refuses a second tenant of the same name',
    run: (s) => s.insertTenant({ ...tenantA, id: 'ten_dup' }).then(() => 'stored', () => 'refused'),
    check: (r) => expect(r).toBe('refused'),
  },
  { op: 'getTenant', does: 'reads a tenant by id, null when absent', run: async (s) => [await s.getTenant('ten_b'), await s.getTenant('ten_x')], check: (r) => expect(r).toMatchObject([tenantB, null]) },
  { op: 'getTenantByName', does: 'reads a tenant by name', run: async (s) => [await s.getTenantByName('alpha'), await s.getTenantByName('zeta')], check: (r) => expect(r).toMatchObject([tenantA, null]) },
  { op: 'listTenants', does: 'lists tenants by name', run: (s) => s.listTenants(), check: (r) => expect(r).toMatchObject([tenantA, tenantB]) },
  {
    op: 'insertApiKey', does: 'stores a key that finds its tenant',
    run: async (s) => { await s.insertApiKey({ ...keyA, id: 'key_a2', hash: 'hash-a2', prefix: 'hw_a2', created_at: T0 + 5 }); return s.findApiKey('hash-a2'); },
    check: (r) => expect(r).toMatchObject({ key: { ...keyA, id: 'key_a2', hash: 'hash-a2', prefix: 'hw_a2', created_at: T0 + 5 }, tenant: tenantA }),
  },
  { op: 'findApiKey', does: 'finds a key by hash with its tenant, null for an unknown hash', run: async (s) => [await s.findApiKey('hash-b'), await s.findApiKey('nope')], check: (r) => expect(r).toMatchObject([{ key: keyB, tenant: tenantB }, null]) },
  {
    op: 'listApiKeys', does: 'lists every key with its tenant name, or one tenant\'s',
    run: async (s) => [await s.listApiKeys(), await s.listApiKeys('ten_b')],
    check: (r) => expect(r).toMatchObject([[{ ...keyA, tenant_name: 'alpha' }, { ...keyB, tenant_name: 'beta' }], [{ ...keyB, tenant_name: 'beta' }]]),
  },
  {
    op: 'revokeApiKey', does: 'revokes by id or prefix once; a revoked key is no longer found',
    run: async (s) => [await s.revokeApiKey('hw_a', T0 + 50), await s.revokeApiKey('key_a', T0 + 60), await s.findApiKey('hash-a'), (await s.listApiKeys('ten_a'))[0]!.revoked_at],
    check: (r) => expect(r).toMatchObject([true, false, null, T0 + 50]),
  },
  { op: 'getSetting', does: 'reads null for a setting never set', run: (s) => s.getSetting('file_signing_key'), check: (r) => expect(r).toBeNull() },
  {
    op: 'setSettingIfAbsent', does: 'sets a setting once; the first value stays',
    run: async (s) => [await s.setSettingIfAbsent('file_signing_key', 'first'), await s.setSettingIfAbsent('file_signing_key', 'second'), await s.getSetting('file_signing_key')],
    check: (r) => expect(r).toMatchObject(['first', 'first', 'first']),
  },

  // ---- tasks, targets, outputs ----
  {
    op: 'insertTask', does: 'stores a task and its targets together, JSON columns intact',
    run: async (s) => {
      const t = task('tsk_9', 'ten_b', { created_at: T0 + 40, input: { upload_id: 'upl_3' }, params: { list: [{ a: null }], text: 'é "q"' } });
      await s.insertTask(t, [target('tgt_9a', 'tsk_9', 0), target('tgt_9b', 'tsk_9', 1, { spec: { deep: { deeper: [true] } } })]);
      return s.loadAggregates([(await s.getTaskById('tsk_9'))!]);
    },
    check: (r) => {
      expect(r[0].task).toEqual(task('tsk_9', 'ten_b', { created_at: T0 + 40, input: { upload_id: 'upl_3' }, params: { list: [{ a: null }], text: 'é "q"' } }));
      expect(r[0].targets).toMatchObject([target('tgt_9a', 'tsk_9', 0), target('tgt_9b', 'tsk_9', 1, { spec: { deep: { deeper: [true] } } })]);
    },
  },
  {
    op: 'insertTask', does: 'stores nothing when a target cannot be stored',
    run: async (s) => [await s.insertTask(task('tsk_8', 'ten_a'), [target('tgt_8a', 'tsk_8', 0), target('tgt_1a', 'tsk_8', 1)]).then(() => 'stored', () => 'refused'), await s.getTaskById('tsk_8')],
    check: (r) => expect(r).toMatchObject(['refused', null]),
  },
  { op: 'getTask', does: 'reads a task of its own tenant only', run: async (s) => [await s.getTask('ten_a', 'tsk_1'), await s.getTask('ten_b', 'tsk_1')], check: (r) => expect(r).toMatchObject([task1, null]) },
  { op: 'getTaskById', does: 'reads a task by id alone', run: (s) => s.getTaskById('tsk_3'), check: (r) => expect(r).toMatchObject(task3) },
  { op: 'lockTask', does: 'reads a task inside a transaction', run: (s) => s.tx((tx) => tx.lockTask('tsk_2')), check: (r) => expect(r).toMatchObject(task2) },
  {
    op: 'findTaskByIdempotencyKey', does: 'finds a task by its tenant\'s idempotency key',
    run: async (s) => [await s.findTaskByIdempotencyKey('ten_a', 'idem-1'), await s.findTaskByIdempotencyKey('ten_b', 'idem-1')],
    check: (r) => expect(r).toMatchObject([task1, null]),
  },
  {
    op: 'listTasks', does: 'lists newest first with filters and a cursor',
    run: async (s) => [
      ids(await s.listTasks({ tenantId: 'ten_a', limit: 10 })),
      ids(await s.listTasks({ tenantId: 'ten_a', status: 'queued', limit: 10 })),
      ids(await s.listTasks({ tenantId: 'ten_a', kind: 'stems', limit: 10 })),
      ids(await s.listTasks({ tenantId: 'ten_a', before: 'tsk_2', limit: 10 })),
      ids(await s.listTasks({ tenantId: 'ten_a', limit: 1 })),
    ],
    check: (r) => expect(r).toMatchObject([['tsk_2', 'tsk_1'], ['tsk_1'], ['tsk_2'], ['tsk_1'], ['tsk_2']]),
  },
  {
    op: 'loadAggregates', does: 'gives each task its targets and outputs, in the order asked',
    run: (s) => s.loadAggregates([task2, task1, task3]),
    check: (r) => expect(r).toMatchObject([
      { task: task2, targets: targets2, outputs: [output2] },
      { task: task1, targets: targets1, outputs: [] },
      { task: task3, targets: targets3, outputs: [] },
    ]),
  },
  { op: 'loadAggregates', does: 'gives nothing for no tasks', run: (s) => s.loadAggregates([]), check: (r) => expect(r).toMatchObject([]) },
  {
    op: 'updateTask', does: 'writes only the patched columns',
    run: async (s) => {
      await s.updateTask('tsk_1', { status: 'failed', error: { code: 'ENGINE_FAILED', message: 'no', details: { at: 1 } }, updated_at: T0 + 70, completed_at: T0 + 70 });
      return s.getTaskById('tsk_1');
    },
    check: (r) => expect(r).toMatchObject({ ...task1, status: 'failed', error: { code: 'ENGINE_FAILED', message: 'no', details: { at: 1 } }, updated_at: T0 + 70, completed_at: T0 + 70 }),
  },
  { op: 'getTargets', does: 'reads a task\'s targets by position', run: (s) => s.getTargets('tsk_1'), check: (r) => expect(r).toMatchObject(targets1) },
  {
    op: 'insertOutputs', does: 'stores several outputs at once',
    run: async (s) => {
      await s.insertOutputs([{ ...output2, id: 'out_3', name: 'drums', created_at: T0 + 6 }, { ...output2, id: 'out_4', name: 'bass', duration: null, created_at: T0 + 7 }]);
      return (await s.loadAggregates([task2]))[0]!.outputs.map((o) => [o.id, o.duration]);
    },
    check: (r) => expect(r).toMatchObject([['out_2', 2.5], ['out_3', 2.5], ['out_4', null]]),
  },
  { op: 'getOutput', does: 'reads an output by id', run: async (s) => [await s.getOutput('out_2'), await s.getOutput('out_x')], check: (r) => expect(r).toMatchObject([output2, null]) },

  // ---- worker leases ----
  {
    op: 'claimTargets', does: 'leases queued targets one tenant at a time, counts the run, and marks their tasks processing',
    run: async (s) => {
      const claimed = await s.claimTargets('worker-1', 2, T0 + 100, T0 + 100 + MIN, 0);
      return [claimed.map((c) => [c.target.id, c.target.status, c.target.lease_owner, c.target.lease_expires_at, c.target.attempts, c.target.started_at, c.task.id, c.task.status]),
        (await s.claimTargets('worker-2', 5, T0 + 100, T0 + 100 + MIN, 0)).map((c) => c.target.id)];
    },
    check: (r) => expect(r).toMatchObject([
      [['tgt_1a', 'processing', 'worker-1', T0 + 100 + MIN, 1, T0 + 100, 'tsk_1', 'processing'], ['tgt_3a', 'processing', 'worker-1', T0 + 100 + MIN, 1, T0 + 100, 'tsk_3', 'processing']],
      ['tgt_1b'],
    ]),
  },
  {
    op: 'claimTargets', does: 'takes back a target whose lease ran out first, keeping its first start',
    run: async (s) => {
      await s.claimTargets('worker-1', 1, T0 + 100, T0 + 200, 0);
      await s.claimTargets('worker-1', 1, T0 + 150, T0 + 250, 0);
      const again = await s.claimTargets('worker-2', 1, T0 + 300, T0 + 400, 0);
      return again.map((c) => [c.target.id, c.target.lease_owner, c.target.attempts, c.target.started_at]);
    },
    check: (r) => expect(r).toMatchObject([['tgt_1a', 'worker-2', 2, T0 + 100]]),
  },
  {
    op: 'claimTargets', does: 'never takes a tenant past its running cap',
    run: async (s) => [(await s.claimTargets('worker-1', 5, T0, T0 + MIN, 1)).map((c) => c.target.id), (await s.claimTargets('worker-1', 5, T0, T0 + MIN, 1)).map((c) => c.target.id)],
    check: (r) => expect(r).toMatchObject([['tgt_1a', 'tgt_3a'], []]),
  },
  {
    op: 'countQueuedTasks', does: 'counts a tenant\'s queued tasks, no further than asked',
    run: async (s) => {
      const counts = [await s.countQueuedTasks('ten_a', 10), await s.countQueuedTasks('ten_b', 10)];
      for (const id of ['tsk_b1', 'tsk_b2', 'tsk_b3']) await s.insertTask(task(id, 'ten_b'), [target(`tgt_${id}`, id, 0)]);
      return [...counts, await s.countQueuedTasks('ten_b', 10), await s.countQueuedTasks('ten_b', 2)];
    },
    check: (r) => expect(r).toMatchObject([1, 1, 4, 2]),
  },
  {
    op: 'queueStanding', does: "counts the tenant's earlier queued targets and every other tenant's, with whose turn is first",
    run: async (s) => [await s.queueStanding('tsk_3'), await s.queueStanding('tsk_1'), await s.queueStanding('tsk_2')],
    check: (r) => expect(r).toEqual([{ ownAhead: 0, others: [{ queued: 2, servedFirst: true }] }, { ownAhead: 0, others: [{ queued: 1, servedFirst: false }] }, null]),
  },
  {
    op: 'listTasksPastDeadline', does: 'finds open tasks past their deadline, oldest deadline first, not ended ones',
    run: async (s) => {
      await s.insertTask(task('tsk_d2', 'ten_a', { deadline_at: T0 + 90 }), [target('tgt_d2', 'tsk_d2', 0)]);
      await s.insertTask(task('tsk_d1', 'ten_b', { deadline_at: T0 + 50, status: 'processing' }), [target('tgt_d1', 'tsk_d1', 0)]);
      await s.insertTask(task('tsk_d3', 'ten_a', { deadline_at: T0 + 500 }), [target('tgt_d3', 'tsk_d3', 0)]);
      await s.insertTask(task('tsk_d4', 'ten_a', { deadline_at: T0 + 10, status: 'completed', completed_at: T0 + 5 }), [target('tgt_d4', 'tsk_d4', 0, { status: 'completed' })]);
      return [await s.listTasksPastDeadline(T0 + 100, 10), await s.listTasksPastDeadline(T0 + 100, 1), (await s.getTaskById('tsk_d3'))!.deadline_at];
    },
    check: (r) => expect(r).toEqual([['tsk_d1', 'tsk_d2'], ['tsk_d1'], T0 + 500]),
  },
  {
    op: 'deleteTask', does: 'redacts the task and the task in its events, keeps its id, status and cost, and makes its outputs due for removal now',
    run: async (s) => {
      await s.deleteTask('tsk_2', T0 + 100);
      await s.deleteTask('tsk_2', T0 + 900);
      const t = (await s.getTaskById('tsk_2'))!;
      const payloads = async (taskId: string) => (await s.listEventsForTask('ten_a', taskId)).map((e) => JSON.parse(e.payload));
      return [
        [t.id, t.status, t.cost, t.input, t.metadata, t.webhook_url, t.deleted_at, (await s.getOutput('out_2'))!.expires_at, (await s.getTaskById('tsk_1'))!.deleted_at],
        await payloads('tsk_2'),
        await payloads('tsk_1'),
      ];
    },
    check: (r) =>
      expect(r).toEqual([
        ['tsk_2', 'completed', 1.5, {}, null, null, T0 + 100, T0 + 100, null],
        [
          { type: 'task.target.completed', data: { id: 'tsk_2', input: {}, metadata: null, webhook_url: null } },
          { type: 'task.completed', data: { id: 'tsk_2', input: {}, metadata: null, webhook_url: null } },
        ],
        [{ type: 'task.completed', data: { id: 'tsk_1' } }],
      ]),
  },
  {
    op: 'listOutputsToRemove', does: 'lists outputs past their expiry that are not removed yet',
    run: async (s) => [await s.listOutputsToRemove(T0 + 5, 10), await s.listOutputsToRemove(T0 + 8 * 86_400_000, 10)],
    check: (r) => expect(r).toEqual([[], [{ id: 'out_2', path: 'outputs/out_2.wav' }]]),
  },
  {
    op: 'markOutputsRemoved', does: 'records removal, so the output is no longer listed for removal',
    run: async (s) => {
      await s.markOutputsRemoved(['out_2'], T0 + 300);
      return [(await s.getOutput('out_2'))!.removed_at, await s.listOutputsToRemove(T0 + 8 * 86_400_000, 10)];
    },
    check: (r) => expect(r).toEqual([T0 + 300, []]),
  },
  {
    op: 'pruneTasks', does: 'reduces tasks ended before the cutoff whose files are all gone to tombstones, once',
    run: async (s) => {
      await seedRetention(s);
      const first = await s.pruneTasks(CUTOFF, CUTOFF + 9, null, 2);
      const second = await s.pruneTasks(CUTOFF, CUTOFF + 9, first.next, 2);
      const again = await s.pruneTasks(CUTOFF, CUTOFF + 10, null, 10);
      const tasks = await Promise.all([old.filesGone, old.filesKept, old.failedNoFiles, old.endedLate, old.running].map(async (id) => (await s.getTaskById(id))!));
      const aggs = await s.loadAggregates(tasks);
      return [first, second, again, tasks.map((t) => t.pruned_at), tasks[0], aggs.map((a) => [a.targets.length, a.outputs.length]), await s.getOutput(madeAt('out', T0, 1)),
        (await s.findTaskByIdempotencyKey('ten_a', 'idem-old'))?.id, (await s.getTaskById(old.failedNoFiles))!.error];
    },
    check: (r) => {
      expect(r.slice(0, 3)).toEqual([{ tasks: 1, next: old.filesKept }, { tasks: 1, next: old.endedLate }, { tasks: 0, next: null }]);
      expect(r[3]).toEqual([CUTOFF + 9, null, CUTOFF + 9, null, null]);
      expect(r[4]).toMatchObject({
        id: old.filesGone, tenant_id: 'ten_a', kind: 'extract', status: 'completed', cost: 0.25, created_at: T0, completed_at: T0 + 5, deleted_at: null,
        title: null, input: {}, params: {}, metadata: null, webhook_url: null, idempotency_key: 'idem-old',
      });
      expect(r.slice(5)).toEqual([[[0, 0], [1, 1], [0, 0], [1, 1], [1, 0]], null, old.filesGone, { code: 'ENGINE_FAILED', message: 'no audio stream' }]);
    },
  },
  {
    op: 'renewLeases', does: 'extends only the leases its owner still holds',
    run: async (s) => {
      await s.claimTargets('worker-1', 3, T0 + 100, T0 + 200, 0);
      return [(await s.renewLeases('worker-1', ['tgt_1a', 'tgt_3a', 'tgt_2a'], T0 + 900)).sort(), await s.renewLeases('worker-2', ['tgt_1b'], T0 + 900), await s.renewLeases('worker-1', [], T0),
        (await s.getTargets('tsk_1')).map((t) => t.lease_expires_at)];
    },
    check: (r) => expect(r).toMatchObject([['tgt_1a', 'tgt_3a'], [], [], [T0 + 900, T0 + 200]]),
  },
  {
    op: 'updateLeasedTarget', does: 'writes while the lease is held, refuses once it is lost',
    run: async (s) => {
      await s.claimTargets('worker-1', 3, T0 + 100, T0 + 200, 0);
      const held = await s.updateLeasedTarget('tgt_1a', 'worker-1', { progress: 0.5, info: { stage: 'mix' } });
      const lost = await s.updateLeasedTarget('tgt_1a', 'worker-2', { progress: 0.9 });
      const t = (await s.getTargets('tsk_1'))[0]!;
      return [held, lost, t.progress, t.info];
    },
    check: (r) => expect(r).toMatchObject([true, false, 0.5, { stage: 'mix' }]),
  },
  {
    op: 'updateTarget', does: 'writes a target unconditionally',
    run: async (s) => {
      await s.updateTarget('tgt_1b', { status: 'failed', error: { code: 'X', message: 'y' }, finished_at: T0 + 5, lease_owner: null, lease_expires_at: null });
      return (await s.getTargets('tsk_1'))[1];
    },
    check: (r) => expect(r).toMatchObject({ ...targets1[1], status: 'failed', error: { code: 'X', message: 'y' }, finished_at: T0 + 5 }),
  },
  {
    op: 'cancelOpenTargets', does: 'cancels the targets that have not ended and releases their leases',
    run: async (s) => {
      await s.claimTargets('worker-1', 1, T0 + 100, T0 + 200, 0);
      return [await s.cancelOpenTargets('tsk_1', T0 + 150), await s.cancelOpenTargets('tsk_2', T0 + 150), (await s.getTargets('tsk_1')).map((t) => [t.status, t.finished_at, t.lease_owner])];
    },
    check: (r) => expect(r).toMatchObject([2, 0, [['canceled', T0 + 150, null], ['canceled', T0 + 150, null]]]),
  },

  // ---- batches ----
  {
    op: 'insertBatch', does: 'stores a batch that reads back whole',
    run: async (s) => { await s.insertBatch({ ...batch1, id: 'bat_2', idempotency_key: null, webhook_url: 'https://b.example' }); return s.getBatch('ten_a', 'bat_2'); },
    check: (r) => expect(r).toMatchObject({ ...batch1, id: 'bat_2', idempotency_key: null, webhook_url: 'https://b.example' }),
  },
  { op: 'getBatch', does: 'reads a batch of its own tenant only', run: async (s) => [await s.getBatch('ten_a', 'bat_1'), await s.getBatch('ten_b', 'bat_1')], check: (r) => expect(r).toMatchObject([batch1, null]) },
  {
    op: 'findBatchByIdempotencyKey', does: 'finds a batch by its tenant\'s idempotency key',
    run: async (s) => [await s.findBatchByIdempotencyKey('ten_a', 'batch-idem'), await s.findBatchByIdempotencyKey('ten_a', 'other')],
    check: (r) => expect(r).toMatchObject([batch1, null]),
  },
  { op: 'listTasksOfBatch', does: 'lists a batch\'s tasks', run: async (s) => [await s.listTasksOfBatch('ten_a', 'bat_1'), await s.listTasksOfBatch('ten_b', 'bat_1')], check: (r) => expect(r).toMatchObject([[task2], []]) },

  // ---- deliveries ----
  {
    op: 'insertDeliveries', does: 'stores several deliveries at once',
    run: async (s) => {
      await s.insertDeliveries([delivery('dlv_7', evt4, { created_at: T0 + 40 }), delivery('dlv_8', evt4, { created_at: T0 + 41, next_attempt_at: T0 + 5 })]);
      return s.listDeliveriesForTask('ten_b', 'tsk_3');
    },
    check: (r) => expect(r.map((d: DeliveryRow) => [d.id, d.next_attempt_at])).toEqual([['dlv_6', null], ['dlv_7', T0 - 5], ['dlv_8', T0 + 5]]),
  },
  {
    op: 'claimDueDeliveries', does: 'leases due deliveries with their secrets, holding those of an open circuit until it closes',
    run: async (s) => {
      const claim = await s.claimDueDeliveries(T0, 10, T0 + MIN / 2, true);
      const held = await s.getDelivery('ten_a', 'dlv_3');
      return [claim.taken, claim.deliveries.map((d) => [d.id, d.secrets, d.probe, d.unavailable, d.final_attempt, d.payload === evt1.payload]), held!.next_attempt_at,
        (await s.claimDueDeliveries(T0, 10, T0 + MIN / 2, true)).taken];
    },
    check: (r) => expect(r).toMatchObject([3, [['dlv_1', ['whsec_a'], false, null, null, true], ['dlv_2', ['whsec_ep_1'], false, null, null, true]], T0 + MIN, 0]),
  },
  {
    op: 'claimDueDeliveries', does: "ordered: holds a task's later delivery to the same receiver until the earlier one ends, and no other",
    run: async (s) => {
      // A later event of tsk_1 to its own URL (behind dlv_1), due now.
      const later = event('evt_7', 'ten_a', 'tsk_1', 'task.completed', T0 + 40);
      await s.insertEvent(later);
      await s.insertDeliveries([delivery('dlv_7', later, { next_attempt_at: T0 - 1, created_at: T0 + 40 })]);
      const first = await s.claimDueDeliveries(T0, 10, T0 + MIN / 2, true);
      const parkedUntil = (await s.getDelivery('ten_a', 'dlv_7'))!.next_attempt_at;
      // dlv_1 is delivered: dlv_7 is due at once and goes on the next claim.
      await s.recordAttempts([{ attempt: attempt('dlv_1', 1, 204), delivery: { id: 'dlv_1', status: 'delivered', attempt_count: 1, next_attempt_at: null, last_error: null, last_status_code: 204, updated_at: T0 + 50, delivered_at: T0 + 50 } }]);
      const woken = (await s.getDelivery('ten_a', 'dlv_7'))!.next_attempt_at;
      const second = await s.claimDueDeliveries(T0 + 60, 10, T0 + MIN, true);
      return [first.deliveries.map((d) => d.id), first.taken, parkedUntil, woken, second.deliveries.map((d) => d.id)];
    },
    check: (r) => expect(r).toEqual([['dlv_1', 'dlv_2'], 4, T0 + 100, T0 + 50, ['dlv_7']]),
  },
  {
    op: 'claimDueDeliveries', does: 'unordered: sends every due delivery at once',
    run: async (s) => {
      const later = event('evt_7', 'ten_a', 'tsk_1', 'task.completed', T0 + 40);
      await s.insertEvent(later);
      await s.insertDeliveries([delivery('dlv_7', later, { next_attempt_at: T0 - 1, created_at: T0 + 40 })]);
      return (await s.claimDueDeliveries(T0, 10, T0 + MIN / 2, false)).deliveries.map((d) => d.id);
    },
    check: (r) => expect(r).toEqual(['dlv_1', 'dlv_2', 'dlv_7']),
  },
  {
    op: 'claimDueDeliveries', does: 'lets one probe through when a circuit\'s cooldown has ended',
    run: async (s) => {
      const claim = await s.claimDueDeliveries(T0 + MIN, 10, T0 + 2 * MIN, true);
      return [claim.deliveries.map((d) => [d.id, d.probe]), (await s.getEndpointById('ep_2'))!.circuit_open_until];
    },
    check: (r) => expect(r).toMatchObject([[['dlv_1', false], ['dlv_2', false], ['dlv_3', true]], T0 + 2 * MIN]),
  },
  {
    op: 'releaseDeliveries', does: 'makes claimed deliveries due again',
    run: async (s) => {
      await s.claimDueDeliveries(T0, 10, T0 + MIN / 2, true);
      await s.releaseDeliveries(['dlv_1', 'dlv_4'], T0 + 7);
      return [(await s.getDelivery('ten_a', 'dlv_1'))!.next_attempt_at, (await s.getDelivery('ten_a', 'dlv_4'))!.next_attempt_at];
    },
    check: (r) => expect(r).toMatchObject([T0 + 7, null]),
  },
  {
    op: 'recordAttempts', does: 'stores attempts and their deliveries\' new state; the last outcome of a delivery wins',
    run: async (s) => {
      const state = (id: string, status: DeliveryRow['status'], n: number, code: number | null): AttemptOutcome['delivery'] => ({
        id, status, attempt_count: n, next_attempt_at: status === 'pending' ? T0 + n * MIN : null, last_error: code === 204 ? null : 'boom', last_status_code: code,
        updated_at: T0 + n, delivered_at: status === 'delivered' ? T0 + n : null,
      });
      await s.recordAttempts([
        { attempt: attempt('dlv_1', 1, 503), delivery: state('dlv_1', 'pending', 1, 503) },
        { attempt: attempt('dlv_1', 2, 204), delivery: state('dlv_1', 'delivered', 2, 204) },
        { attempt: null, delivery: state('dlv_3', 'failed', 0, null) },
        { attempt: attempt('dlv_4', 1, 500), delivery: { ...state('dlv_4', 'failed', 3, 500) } }, // a repeated attempt is ignored
      ]);
      await s.recordAttempts([]);
      return [await s.getDelivery('ten_a', 'dlv_1'), await s.getDelivery('ten_a', 'dlv_3'), await s.listAttempts(['dlv_1', 'dlv_4'])];
    },
    check: (r) => {
      expect(r[0]).toMatchObject({ status: 'delivered', attempt_count: 2, next_attempt_at: null, last_status_code: 204, delivered_at: T0 + 2 });
      expect(r[1]).toMatchObject({ status: 'failed', attempt_count: 0, last_error: 'boom' });
      expect(r[2].map((a: { id: string; status_code: number | null }) => [a.id, a.status_code])).toEqual([
        ['att_dlv_1_1', 503], ['att_dlv_1_2', 204], ['att_dlv_4_1', 500], ['att_dlv_4_2', 500], ['att_dlv_4_3', 500],
      ]);
    },
  },
  { op: 'nextDeliveryDueAt', does: 'gives the earliest pending due time', run: (s) => s.nextDeliveryDueAt(), check: (r) => expect(r).toBe(T0 - 5) },
  {
    op: 'nextDeliveryDueAt', does: 'gives null when nothing is pending',
    run: async (s) => { for (const ep of ['ep_1', 'ep_2']) await s.failEndpointDeliveries(ep, 'gone', T0); await s.releaseDeliveries(['dlv_1'], T0); await s.recordAttempts([{ attempt: null, delivery: { ...dlv1, status: 'failed', next_attempt_at: null } }]); return s.nextDeliveryDueAt(); },
    check: (r) => expect(r).toBeNull(),
  },
  {
    op: 'listDeliveriesForTask', does: 'lists a task\'s deliveries oldest first, its tenant\'s only',
    run: async (s) => [ids(await s.listDeliveriesForTask('ten_a', 'tsk_2')), ids(await s.listDeliveriesForTask('ten_b', 'tsk_2'))],
    check: (r) => expect(r).toMatchObject([['dlv_3', 'dlv_4', 'dlv_5'], []]),
  },
  {
    op: 'listDeliveries', does: 'lists newest first with filters and a cursor',
    run: async (s) => [
      ids(await s.listDeliveries({ tenantId: 'ten_a', limit: 10 })),
      ids(await s.listDeliveries({ tenantId: 'ten_a', status: 'failed', limit: 10 })),
      ids(await s.listDeliveries({ tenantId: 'ten_a', endpointId: 'ep_2', limit: 10 })),
      ids(await s.listDeliveries({ tenantId: 'ten_a', taskId: 'tsk_1', limit: 10 })),
      ids(await s.listDeliveries({ tenantId: 'ten_a', before: 'dlv_3', limit: 1 })),
    ],
    check: (r) => expect(r).toMatchObject([['dlv_5', 'dlv_4', 'dlv_3', 'dlv_2', 'dlv_1'], ['dlv_4'], ['dlv_5', 'dlv_3'], ['dlv_2', 'dlv_1'], ['dlv_2']]),
  },
  { op: 'getDelivery', does: 'reads a delivery of its own tenant only', run: async (s) => [await s.getDelivery('ten_b', 'dlv_6'), await s.getDelivery('ten_a', 'dlv_6')], check: (r) => expect(r).toMatchObject([{ ...dlv6, final_attempt: null }, null]) },
  {
    op: 'listAttempts', does: 'lists attempts by delivery and number, headers intact',
    run: async (s) => [await s.listAttempts(['dlv_4', 'dlv_1']), await s.listAttempts([])],
    check: (r) => expect(r).toMatchObject([[1, 2, 3].map((n) => attempt('dlv_4', n, 500)), []]),
  },
  {
    op: 'requeueDelivery', does: 'gives an ended delivery one more attempt, never a pending one',
    run: async (s) => [await s.requeueDelivery('ten_a', 'dlv_4', T0 + 50), await s.requeueDelivery('ten_a', 'dlv_1', T0 + 50), await s.requeueDelivery('ten_b', 'dlv_4', T0 + 50), await s.getDelivery('ten_a', 'dlv_4')],
    check: (r) => {
      expect(r.slice(0, 3)).toEqual([true, false, false]);
      expect(r[3]).toMatchObject({ status: 'pending', next_attempt_at: T0 + 50, final_attempt: 4, updated_at: T0 + 50 });
    },
  },
  {
    op: 'retryDeliveryNow', does: 'makes a waiting delivery due now with its attempts kept and its circuit\'s cooldown over; never a leased or ended one',
    run: async (s) => {
      await s.claimDueDeliveries(T0, 10, T0 + MIN / 2, true); // leases dlv_1 and dlv_2; dlv_3 is held for ep_2's circuit, not leased
      const answers = [
        await s.retryDeliveryNow('ten_a', 'dlv_1', T0 + 10),
        await s.retryDeliveryNow('ten_a', 'dlv_5', T0 + 10),
        await s.retryDeliveryNow('ten_a', 'dlv_3', T0 + 10),
        await s.retryDeliveryNow('ten_a', 'dlv_4', T0 + 10),
        await s.retryDeliveryNow('ten_b', 'dlv_5', T0 + 10),
        await s.retryDeliveryNow('ten_a', 'dlv_1', T0 + MIN), // its lease ran out: the dispatcher that held it is gone
      ];
      return [answers, await s.getDelivery('ten_a', 'dlv_5'), (await s.getEndpointById('ep_2'))!.circuit_open_until];
    },
    check: (r) => {
      expect(r[0]).toEqual(['leased', 'due', 'due', 'not-pending', null, 'due']);
      expect(r[1]).toMatchObject({ status: 'pending', attempt_count: 0, next_attempt_at: T0 + 10, final_attempt: null, updated_at: T0 + 10 });
      expect(r[2]).toBe(T0 + 10);
    },
  },
  {
    op: 'hasEndpointDeliveries', does: 'tells whether the log has deliveries of an endpoint, even a deleted one',
    run: async (s) => { const before = await s.hasEndpointDeliveries('ten_a', 'ep_1'); await s.deleteEndpoint('ten_a', 'ep_1'); return [before, await s.hasEndpointDeliveries('ten_a', 'ep_1'), await s.hasEndpointDeliveries('ten_b', 'ep_1'), await s.hasEndpointDeliveries('ten_b', 'ep_3')]; },
    check: (r) => expect(r).toMatchObject([true, true, false, false]),
  },
  {
    op: 'requeueFailedDeliveries', does: 'requeues an endpoint\'s failed deliveries made since a time',
    run: async (s) => [await s.requeueFailedDeliveries('ten_a', 'ep_1', T0 + 22, T0 + 60), await s.requeueFailedDeliveries('ten_a', 'ep_1', T0, T0 + 60), await s.getDelivery('ten_a', 'dlv_4')],
    check: (r) => {
      expect(r.slice(0, 2)).toEqual([0, 1]);
      expect(r[2]).toMatchObject({ status: 'pending', next_attempt_at: T0 + 60, final_attempt: 4 });
    },
  },
  {
    op: 'deferEndpointDeliveries', does: 'pushes an endpoint\'s pending deliveries due earlier to a time',
    run: async (s) => { await s.deferEndpointDeliveries('ep_2', T0 + 10 * MIN); return [(await s.getDelivery('ten_a', 'dlv_3'))!.next_attempt_at, (await s.getDelivery('ten_a', 'dlv_5'))!.next_attempt_at]; },
    check: (r) => expect(r).toMatchObject([T0 + 10 * MIN, T0 + 30 * MIN]),
  },
  {
    op: 'failEndpointDeliveries', does: 'fails an endpoint\'s pending deliveries',
    run: async (s) => [await s.failEndpointDeliveries('ep_2', 'endpoint disabled', T0 + 9), await s.getDelivery('ten_a', 'dlv_5')],
    check: (r) => {
      expect(r[0]).toBe(2);
      expect(r[1]).toMatchObject({ status: 'failed', next_attempt_at: null, last_error: 'endpoint disabled', updated_at: T0 + 9 });
    },
  },

  {
    op: 'pruneDeliveries', does: 'deletes deliveries ended before the cutoff with their attempts, a batch at a time in id order; never a pending one',
    run: async (s) => {
      await seedRetention(s);
      const all = [old.delivered, old.failed, old.pending, old.redelivered, old.deliveredNew, 'dlv_4'];
      const first = await s.pruneDeliveries(CUTOFF, null, 2);
      const second = await s.pruneDeliveries(CUTOFF, first.next, 2);
      const third = await s.pruneDeliveries(CUTOFF, second.next, 2);
      const again = await s.pruneDeliveries(CUTOFF, null, 10);
      return [first, second, third, again, await storedDeliveries(s, all), (await s.listAttempts([old.failed, 'dlv_4'])).map((a) => a.delivery_id)];
    },
    check: (r) => expect(r).toEqual([
      { deliveries: 2, attempts: 2, next: old.failed },
      { deliveries: 0, attempts: 0, next: old.redelivered },
      { deliveries: 0, attempts: 0, next: null },
      { deliveries: 0, attempts: 0, next: null },
      [old.pending, old.redelivered, old.deliveredNew, 'dlv_4'],
      ['dlv_4', 'dlv_4', 'dlv_4'],
    ]),
  },

  // ---- events ----
  {
    op: 'insertEvent', does: 'stores an event with its payload text as sent',
    run: async (s) => { const e = { ...evt4, id: 'evt_9', payload: '{"b":1,"a":[2, 3]}' }; await s.insertEvent(e); return s.getEvent('ten_b', 'evt_9'); },
    check: (r) => expect(r).toMatchObject({ ...evt4, id: 'evt_9', payload: '{"b":1,"a":[2, 3]}' }),
  },
  {
    op: 'listEventsForTask', does: 'lists a task\'s events in order, after a cursor',
    run: async (s) => [ids(await s.listEventsForTask('ten_a', 'tsk_2')), ids(await s.listEventsForTask('ten_a', 'tsk_2', 'evt_2')), ids(await s.listEventsForTask('ten_b', 'tsk_2'))],
    check: (r) => expect(r).toMatchObject([['evt_2', 'evt_3'], ['evt_3'], []]),
  },
  {
    op: 'listEvents', does: 'lists a tenant\'s events in order, after a cursor, up to a limit',
    run: async (s) => [ids(await s.listEvents('ten_a', undefined, 10)), ids(await s.listEvents('ten_a', 'evt_1', 1))],
    check: (r) => expect(r).toMatchObject([['evt_1', 'evt_2', 'evt_3'], ['evt_2']]),
  },
  { op: 'getEvent', does: 'reads an event of its own tenant only', run: async (s) => [await s.getEvent('ten_a', 'evt_1'), await s.getEvent('ten_b', 'evt_1')], check: (r) => expect(r).toMatchObject([evt1, null]) },
  {
    op: 'listEventTypes', does: 'gives the types of the tenant\'s events among those asked',
    run: async (s) => [(await s.listEventTypes('ten_a', ['evt_3', 'evt_4', 'evt_1'])).sort((a, b) => a.id.localeCompare(b.id)), await s.listEventTypes('ten_a', [])],
    check: (r) => expect(r).toMatchObject([[{ id: 'evt_1', type: 'task.completed' }, { id: 'evt_3', type: 'task.completed' }], []]),
  },

  {
    op: 'pruneEvents', does: 'deletes events made before the cutoff that no delivery refers to, and no other',
    run: async (s) => {
      await seedRetention(s);
      const first = await s.pruneEvents(CUTOFF, null, 10);
      // Once its delivery is pruned (a month after it was redelivered), its event may go too.
      await s.pruneDeliveries(CUTOFF + 2, null, 10);
      const second = await s.pruneEvents(CUTOFF + 2, null, 1);
      const stored = async () => (await Promise.all([old.event, old.eventNoDelivery, old.eventDelivered, old.eventNew, 'evt_1'].map((id) => s.getEvent('ten_a', id)))).filter((e) => e).map((e) => e!.id);
      return [first, second, await s.pruneEvents(CUTOFF + 2, second.next, 10), await stored()];
    },
    check: (r) => expect(r).toEqual([
      { events: 1, next: null },
      { events: 0, next: old.event },
      { events: 1, next: null },
      [old.event, old.eventNew, 'evt_1'],
    ]),
  },

  // ---- endpoints ----
  {
    op: 'insertEndpoint', does: 'stores an endpoint that reads back whole',
    run: async (s) => { const e = endpoint('ep_9', 'ten_b', { enabled: false, disabled_reason: 'by hand', events: ['task.failed', 'endpoint.disabled'] }); await s.insertEndpoint(e); return s.getEndpoint('ten_b', 'ep_9'); },
    check: (r) => expect(r).toMatchObject(endpoint('ep_9', 'ten_b', { enabled: false, disabled_reason: 'by hand', events: ['task.failed', 'endpoint.disabled'] })),
  },
  { op: 'getEndpoint', does: 'reads an endpoint of its own tenant only', run: async (s) => [await s.getEndpoint('ten_a', 'ep_1'), await s.getEndpoint('ten_b', 'ep_1')], check: (r) => expect(r).toMatchObject([ep1, null]) },
  { op: 'getEndpointById', does: 'reads an endpoint by id alone', run: (s) => s.getEndpointById('ep_2'), check: (r) => expect(r).toMatchObject(ep2) },
  { op: 'listEndpoints', does: 'lists a tenant\'s endpoints', run: async (s) => [await s.listEndpoints('ten_a'), ids(await s.listEndpoints('ten_b'))], check: (r) => expect(r).toMatchObject([[ep1, ep2], ['ep_3']]) },
  {
    op: 'updateEndpoint', does: 'writes only the patched columns',
    run: async (s) => {
      await s.updateEndpoint('ep_1', { enabled: false, disabled_reason: 'failing', events: null, previous_secret: 'whsec_old', previous_secret_until: T0 + 5, updated_at: T0 + 8 });
      return s.getEndpointById('ep_1');
    },
    check: (r) => expect(r).toMatchObject({ ...ep1, enabled: false, disabled_reason: 'failing', events: null, previous_secret: 'whsec_old', previous_secret_until: T0 + 5, updated_at: T0 + 8 }),
  },
  {
    op: 'recordEndpointFailure', does: 'counts failures of an enabled endpoint, keeping when the streak began',
    run: async (s) => {
      const first = await s.recordEndpointFailure('ep_1', T0 + 1);
      const second = await s.recordEndpointFailure('ep_1', T0 + 2);
      await s.updateEndpoint('ep_3', { enabled: false, updated_at: T0 });
      return [first, second, await s.recordEndpointFailure('ep_3', T0 + 3), await s.recordEndpointFailure('ep_x', T0 + 3)];
    },
    check: (r) => expect(r).toMatchObject([
      { consecutive_failures: 1, failing_since: T0 + 1, circuit_open_until: null },
      { consecutive_failures: 2, failing_since: T0 + 1, circuit_open_until: null },
      null,
      null,
    ]),
  },
  {
    op: 'resetEndpointHealth', does: 'closes failing circuits and makes the deliveries they held due now',
    run: async (s) => {
      await s.claimDueDeliveries(T0, 10, T0 + MIN / 2, true); // holds dlv_3 until ep_2's circuit closes
      const released = await s.resetEndpointHealth(['ep_1', 'ep_2'], T0 + 20);
      return [released, await s.resetEndpointHealth([], T0), await s.getEndpointById('ep_1'), await s.getEndpointById('ep_2'), (await s.getDelivery('ten_a', 'dlv_3'))!.next_attempt_at, (await s.getDelivery('ten_a', 'dlv_5'))!.next_attempt_at];
    },
    check: (r) => expect(r).toMatchObject([1, 0, ep1, { ...ep2, consecutive_failures: 0, failing_since: null, circuit_open_until: null, updated_at: T0 + 20 }, T0 + 20, T0 + 30 * MIN]),
  },
  {
    op: 'deleteEndpoint', does: 'deletes an endpoint of its own tenant only',
    run: async (s) => [await s.deleteEndpoint('ten_b', 'ep_1'), await s.deleteEndpoint('ten_a', 'ep_1'), await s.getEndpointById('ep_1'), await s.deleteEndpoint('ten_a', 'ep_1')],
    check: (r) => expect(r).toMatchObject([false, true, null, false]),
  },

  // ---- uploads ----
  {
    op: 'insertUpload', does: 'stores an upload that reads back whole',
    run: async (s) => { const u = { ...upload('upl_9', 'ten_b', T0), file_name: null, format: null, duration: null }; await s.insertUpload(u); return s.getUpload('ten_b', 'upl_9'); },
    check: (r) => expect(r).toMatchObject({ ...upload('upl_9', 'ten_b', T0), file_name: null, format: null, duration: null }),
  },
  { op: 'getUpload', does: 'reads an upload of its own tenant only', run: async (s) => [await s.getUpload('ten_a', 'upl_2'), await s.getUpload('ten_b', 'upl_2')], check: (r) => expect(r).toMatchObject([upl2, null]) },
  { op: 'getUploadById', does: 'reads an upload by id alone', run: (s) => s.getUploadById('upl_3'), check: (r) => expect(r).toMatchObject(upl3) },
  {
    op: 'listExpiredUploads', does: 'lists expired uploads of every tenant, earliest expiry first, up to a limit',
    run: async (s) => [ids(await s.listExpiredUploads(T0, 10)), ids(await s.listExpiredUploads(T0, 1)), ids(await s.listExpiredUploads(T0 - 2, 10))],
    check: (r) => expect(r).toMatchObject([['upl_3', 'upl_1'], ['upl_3'], []]),
  },
  {
    op: 'deleteUpload', does: 'deletes an upload',
    run: async (s) => { await s.deleteUpload('upl_1'); return [await s.getUploadById('upl_1'), ids(await s.listExpiredUploads(T0, 10))]; },
    check: (r) => expect(r).toMatchObject([null, ['upl_3']]),
  },

  // ---- metrics ----
  {
    op: 'countOpenTasks', does: 'counts queued and processing tasks per status and kind, and no ended ones',
    run: async (s) => (await s.countOpenTasks()).sort((a, b) => `${a.status}${a.kind}`.localeCompare(`${b.status}${b.kind}`)),
    check: (r) => expect(r).toEqual([{ status: 'queued', kind: 'extract', count: 2 }]),
  },
  {
    op: 'countEndedTasks', does: 'counts ended tasks per status and kind whose completion time is in (after, upTo]',
    run: async (s) => [
      await s.countEndedTasks(null, null),
      await s.countEndedTasks(T0 + 4, T0 + 5),
      await s.countEndedTasks(T0 + 5, null),
      await s.countEndedTasks(null, T0 + 4),
    ],
    check: (r) => expect(r).toEqual([[{ status: 'completed', kind: 'stems', count: 1 }], [{ status: 'completed', kind: 'stems', count: 1 }], [], []]),
  },
  {
    op: 'firstEndedAt', does: 'finds the earliest completion time of any task',
    run: async (s) => {
      const before = await s.firstEndedAt();
      await s.insertTask(task('tsk_e1', 'ten_b', { status: 'failed', created_at: T0 - 50, updated_at: T0 - 40, completed_at: T0 - 40 }), [target('tgt_e1', 'tsk_e1', 0, { status: 'failed' })]);
      return [before, await s.firstEndedAt()];
    },
    check: (r) => expect(r).toEqual([T0 + 5, T0 - 40]),
  },
  {
    op: 'queueDepth', does: 'counts waiting targets and due deliveries with the oldest due time',
    run: async (s) => { await s.claimTargets('worker-1', 1, T0, T0 + MIN, 0); return [await s.queueDepth(T0), await s.queueDepth(T0 - 100)]; },
    check: (r) => expect(r).toMatchObject([
      { queued_targets: 2, processing_targets: 1, due_deliveries: 3, oldest_due_at: T0 - 5 },
      { queued_targets: 2, processing_targets: 1, due_deliveries: 0, oldest_due_at: null },
    ]),
  },
];

/**
 * A fresh SQLite store per case (a new file is cheap); one PostgreSQL schema for the whole file,
 * emptied between cases (a new schema costs a migration, and TRUNCATE half a second: minutes over
 * the table of cases).
 */
let postgres: { store: Store; db: TestDatabase; empty: string };

/** DELETE statements for every table, those that reference others first. */
async function emptyingSql(db: TestDatabase): Promise<string> {
  const tables = (await db.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'", [db.schema])).map((r) => r.t);
  const refs = await db.query<{ child: string; parent: string }>(
    `SELECT c.relname AS child, p.relname AS parent FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
      WHERE k.contype = 'f' AND k.connamespace = $1::regnamespace AND k.conrelid <> k.confrelid`,
    [db.schema],
  );
  const ordered: string[] = [];
  const visit = (t: string): void => {
    if (ordered.includes(t)) return;
    for (const r of refs) if (r.parent === t) visit(r.child);
    ordered.push(t);
  };
  tables.forEach(visit);
  return ordered.map((t) => `DELETE FROM ${t};`).join(' ');
}

beforeAll(async () => {
  const db = freshDatabase('postgres');
  const store = await openStore(loadConfig({ dataDir: tempDir(), databaseUrl: db.databaseUrl, databasePoolSize: 2 }));
  postgres = { store, db, empty: await emptyingSql(db) };
});
afterAll(async () => {
  await postgres?.store.close();
  await postgres?.db.drop();
});

/** The seeded world in a store of each dialect; `close` ends the SQLite one. */
async function seededStores(): Promise<{ sqlite: Store; postgres: Store; close(): Promise<void> }> {
  const sqlite = await openStore(loadConfig({ dataDir: tempDir(), databaseUrl: null }));
  try {
    await postgres.db.query(postgres.empty);
    await Promise.all([seed(sqlite), seed(postgres.store)]);
  } catch (err) {
    await sqlite.close();
    throw err;
  }
  return { sqlite, postgres: postgres.store, close: () => sqlite.close() };
}

describe('the store contract', () => {
  it('has a case for every store operation', () => {
    expect(OP_NAMES.filter((op) => !cases.some((c) => c.op === op))).toEqual([]);
  });

  it('exposes exactly the operations on a store and a transaction, none of the queries\' helpers', async () => {
    const stores = await seededStores();
    onTestFinished(stores.close);
    for (const kind of ['sqlite', 'postgres'] as const) {
      const store = stores[kind];
      for (const op of OP_NAMES) expect(typeof store[op], `${kind} store.${op}`).toBe('function');
      for (const helper of ['s', 'atomic', 'takeProbes', 'exec', 'one', 'all', 'count', 'insert', 'sql', 'q']) {
        expect((store as unknown as Record<string, unknown>)[helper], `${kind} store.${helper}`).toBeUndefined();
      }
      const txNames = await store.tx(async (tx) => {
        const names: string[] = [];
        for (const name in tx) if (typeof (tx as unknown as Record<string, unknown>)[name] === 'function') names.push(name);
        return names.sort();
      });
      expect(txNames, kind).toEqual([...OP_NAMES, 'notifyAfterCommit'].sort());
    }
  });

  describe('gives the same answer on SQLite and PostgreSQL', () => {
    for (const c of cases) {
      it(`${c.op}: ${c.does}`, async () => {
        const stores = await seededStores();
        onTestFinished(stores.close);
        const onSqlite = await c.run(stores.sqlite);
        const onPostgres = await c.run(stores.postgres);
        expect(onPostgres).toEqual(onSqlite);
        c.check(onSqlite);
      });
    }
  });
});
