/**
 * A store's history for the growth benchmark: tasks with their targets, outputs, events,
 * deliveries and attempts, shaped as hookwave writes them (migrations/*), spread evenly over the
 * last `days` days of two or more tenants. Generated in batches of plain rows (one array of column
 * values per row, in TABLES' column order) that seed-sqlite.ts and seed-postgres.ts insert in bulk.
 *
 * Deterministic (a seeded PRNG): the same shape gives the same rows, on either database.
 *
 * The mix: 1–3 targets per task; 92 % completed, 6 % failed, 2 % canceled; an event per ended
 * target and one for the task (2–4); 1–3 deliveries (the task's own webhook_url for its final
 * event, the tenant's endpoint, and a target event for tasks that asked for them); 1–4 attempts
 * in all, most deliveries succeeding at once. Deliveries of the last day are a few percent still
 * pending, their retry due 6–12 hours on. Outputs older than the output retention (7 days) have
 * their files removed; 1 % of tasks were deleted by their client (input, metadata and webhook URL
 * redacted, in their events' payloads too).
 */

export const DAY_MS = 24 * 3600 * 1000;
const OUTPUT_RETENTION_MS = 7 * DAY_MS;

export type ColumnType = 'text' | 'int' | 'bigint' | 'real' | 'json';

/** The history's tables and columns (the schema after migration 009), with their PostgreSQL types. */
export const TABLES = {
  tasks: {
    id: 'text', tenant_id: 'text', kind: 'text', status: 'text', title: 'text', input: 'json', params: 'json', metadata: 'json', webhook_url: 'text',
    webhook_events: 'json', idempotency_key: 'text', request_hash: 'text', batch_id: 'text', cost: 'real', error: 'json', created_at: 'bigint',
    updated_at: 'bigint', completed_at: 'bigint', deadline_at: 'bigint', deleted_at: 'bigint', pruned_at: 'bigint',
  },
  targets: {
    id: 'text', task_id: 'text', tenant_id: 'text', position: 'int', name: 'text', spec: 'json', status: 'text', progress: 'real', attempts: 'int',
    lease_owner: 'text', lease_expires_at: 'bigint', cost: 'real', duration: 'real', info: 'json', error: 'json', created_at: 'bigint',
    started_at: 'bigint', finished_at: 'bigint',
  },
  outputs: {
    id: 'text', target_id: 'text', task_id: 'text', tenant_id: 'text', name: 'text', format: 'text', path: 'text', size: 'bigint', duration: 'real',
    bitrate: 'int', sample_rate: 'int', channels: 'int', loudness: 'json', created_at: 'bigint', expires_at: 'bigint', removed_at: 'bigint',
    file_name: 'text', peaks: 'json',
  },
  events: { id: 'text', tenant_id: 'text', task_id: 'text', type: 'text', payload: 'text', created_at: 'bigint' },
  deliveries: {
    id: 'text', event_id: 'text', tenant_id: 'text', task_id: 'text', endpoint_id: 'text', url: 'text', status: 'text', attempt_count: 'int',
    final_attempt: 'int', next_attempt_at: 'bigint', last_error: 'text', last_status_code: 'int', created_at: 'bigint', updated_at: 'bigint',
    delivered_at: 'bigint', leased_until: 'bigint',
  },
  attempts: {
    id: 'text', delivery_id: 'text', attempt_number: 'int', started_at: 'bigint', status_code: 'int', latency_ms: 'real', response_excerpt: 'text',
    error: 'text', request_headers: 'json', response_headers: 'json',
  },
} as const satisfies Record<string, Record<string, ColumnType>>;

export type Table = keyof typeof TABLES;
export const TABLE_NAMES = Object.keys(TABLES) as Table[];
export type Value = string | number | null;
export type HistoryBatch = Record<Table, Value[][]>;

export interface HistoryTenant {
  id: string;
  /** The tenant's registered endpoint (subscribed to task-level events). */
  endpointId: string;
  endpointUrl: string;
  /** Share of the tasks (the shares add up to 1). */
  share: number;
}

export interface HistoryShape {
  tasks: number;
  /** Tasks are spread evenly over the `days` days before `now`. */
  days: number;
  now: number;
  tenants: HistoryTenant[];
  /** PRNG seed: the same shape and seed give the same rows. */
  seed?: number;
}

/** A task whose stream replays `events` events (the SSE replay measurement), created at `at`. */
export interface ReplayTask {
  tenantId: string;
  taskId: string;
  at: number;
  events: number;
}

// ---- ids and randomness ----

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** mulberry32: small, fast and good enough to shape data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function timePart(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** An id in ids.ts's layout (time, then 16 random characters) for a time in the past. */
function idMaker(rnd: () => number): (prefix: string, ms: number) => string {
  return (prefix, ms) => {
    let r = '';
    for (let i = 0; i < 4; i++) {
      let x = Math.floor(rnd() * 1048576); // 20 bits = 4 characters
      for (let j = 0; j < 4; j++) {
        r += ALPHABET[x & 31];
        x >>>= 5;
      }
    }
    return `${prefix}_${timePart(ms)}${r}`;
  };
}

/** The smallest id of `prefix` made at `ms` (ids.ts idAt): `id < it` is everything made before. */
function idAtTime(prefix: string, ms: number): string {
  return `${prefix}_${timePart(ms)}${'0'.repeat(16)}`;
}

/** An id made at `ms` outside the seeded sequence (a task the benchmark looks up itself). */
export function historyId(prefix: string, ms: number): string {
  return idMaker(Math.random)(prefix, ms);
}

const iso = (ms: number) => new Date(ms).toISOString();

// ---- the shapes ----

const KINDS = [
  { kind: 'extract', share: 0.6, names: ['mp3', 'flac', 'wav'] },
  { kind: 'stems', share: 0.3, names: ['vocals', 'drums', 'bass'] },
  { kind: 'generate', share: 0.1, names: ['wav', 'mp3', 'flac'] },
];
const FORMAT_OF: Record<string, string> = { mp3: 'mp3', flac: 'flac', wav: 'wav', vocals: 'wav', drums: 'wav', bass: 'wav' };
const ALL_TASK_EVENTS = '["task.completed","task.failed","task.canceled","task.target.completed","task.target.failed"]';
const FAILURE = '{"code":"INPUT_UNREADABLE","message":"ffprobe could not read the input: Invalid data found when processing input"}';
const WEBHOOK_URL = 'https://hooks.example.com/audio/callback?token=3f9c1a7e';
/** Waveform peaks as outputs carry them (256 values 0..1, three decimals): a few shapes, picked at random. */
const PEAKS = Array.from({ length: 32 }, (_, v) => {
  const r = prng(1000 + v);
  return `[${Array.from({ length: 256 }, (_, i) => Math.round(Math.min(1, 0.2 + 0.6 * Math.abs(Math.sin(i / (8 + v))) * (0.7 + 0.3 * r())) * 1000) / 1000).join(',')}]`;
});
const RESPONSE_HEADERS = '{"content-type":"application/json; charset=utf-8","content-length":"16","date":"Tue, 01 Dec 2026 10:00:00 GMT","connection":"keep-alive"}';

/**
 * Task shapes repeat every PERIOD tasks counted from the newest: the k-th newest task of any store
 * looks the same (kind, targets, outcome, deliveries) whatever the store's size, so a page of new
 * tasks, or a page PERIOD·n further back, holds the same shapes in a small store and a large one.
 */
const PERIOD = 1000;

function taskRandom(shape: HistoryShape, i: number): () => number {
  return prng((shape.seed ?? 14) * 7919 + ((shape.tasks - 1 - i) % PERIOD));
}

/** When task `i` was created: its place in the evenly spread history, with a jitter (the task's first draw). */
function createdAt(shape: HistoryShape, i: number, rnd: () => number): number {
  const span = shape.days * DAY_MS;
  const spacing = span / Math.max(1, shape.tasks);
  return Math.floor(shape.now - span + i * spacing + rnd() * spacing * 0.9);
}

/** The task's tenant, by share (its second draw). */
function pickTenant(shape: HistoryShape, rnd: () => number): HistoryTenant {
  let x = rnd();
  for (const t of shape.tenants) if ((x -= t.share) < 0) return t;
  return shape.tenants[shape.tenants.length - 1]!;
}

/**
 * A cursor (GET /v1/tasks?cursor=) whose page starts just behind the task `fromEnd` places from
 * the newest, about `age` ms back: the same shapes in every store for the same fromEnd % PERIOD.
 * Pass the age wanted; the cursor is the nearest such task at least that old.
 */
export function historyCursor(shape: Omit<HistoryShape, 'tenants'>, age: number, fromEndModPeriod: number): string {
  const spacing = (shape.days * DAY_MS) / Math.max(1, shape.tasks);
  const periods = Math.max(0, Math.ceil((age / spacing - fromEndModPeriod) / PERIOD));
  const fromEnd = Math.min(shape.tasks - 1, fromEndModPeriod + periods * PERIOD);
  const i = shape.tasks - 1 - fromEnd;
  const full = { ...shape, tenants: [] };
  return idAtTime('task', createdAt(full, i, taskRandom(full, i)));
}

/**
 * The shape's rows, `batchTasks` tasks at a time, oldest first; then, when `replay` is given, one
 * more task with `replay.events` events (the stream the benchmark replays).
 */
export function* history(shape: HistoryShape, batchTasks = 4000, replay?: ReplayTask): Generator<HistoryBatch> {
  let rnd = prng(shape.seed ?? 14);
  const id = idMaker(() => rnd());
  const hex = () => Math.floor(rnd() * 2 ** 32).toString(16).padStart(8, '0');
  const empty = (): HistoryBatch => ({ tasks: [], targets: [], outputs: [], events: [], deliveries: [], attempts: [] });
  let b = empty();

  for (let i = 0; i < shape.tasks; i++) {
    rnd = taskRandom(shape, i);
    const created = createdAt(shape, i, rnd);
    addTask(b, created, pickTenant(shape, rnd), i);
    if (b.tasks.length >= batchTasks) {
      yield b;
      b = empty();
    }
  }
  // The replayed task: an extract of events - 1 targets, each with its event, then the task's.
  if (replay) {
    rnd = prng(7);
    addTask(b, replay.at, shape.tenants.find((t) => t.id === replay.tenantId)!, shape.tasks, { taskId: replay.taskId, targets: replay.events - 1 });
  }
  if (b.tasks.length > 0) yield b;

  function addTask(b: HistoryBatch, created: number, tenant: HistoryTenant, seq: number, fixed?: { taskId: string; targets: number }): void {
    const k = rnd();
    const kind = fixed ? KINDS[0]! : k < KINDS[0]!.share ? KINDS[0]! : k < KINDS[0]!.share + KINDS[1]!.share ? KINDS[1]! : KINDS[2]!;
    const t = rnd();
    const nTargets = fixed?.targets ?? (t < 0.55 ? 1 : t < 0.85 ? 2 : 3);
    const s = rnd();
    const status = fixed ? 'completed' : s < 0.92 ? 'completed' : s < 0.98 ? 'failed' : 'canceled';
    const taskId = fixed?.taskId ?? id('task', created);
    const hasUrl = rnd() < 0.85;
    const wantsTargets = hasUrl && rnd() < 0.15;
    const deletedDraw = rnd();
    const deleted = created < shape.now - OUTPUT_RETENTION_MS && deletedDraw < 0.01;
    const input = kind.kind === 'generate' ? '{}' : `{"url":"https://media.example.com/u/${1000 + (seq % 9000)}/track-${seq}.wav"}`;
    const params = kind.kind === 'generate' ? `{"prompt":"lofi, warm piano, vinyl crackle","duration":${30 + (seq % 90)}}` : '{}';
    const metadata = `{"user_id":${10_000 + (seq % 50_000)},"plan":"${seq % 3 === 0 ? 'pro' : 'free'}","source":"web"}`;

    // Targets run one after another from a little after the task was created.
    let at = created + 50 + Math.floor(rnd() * 1500);
    const targets: Array<{ id: string; name: string; status: string; started: number; finished: number; duration: number; output: string | null; outputName: string }> = [];
    for (let p = 0; p < nTargets; p++) {
      const name = kind.names[p] ?? `part${p + 1}`;
      const took = 2000 + Math.floor(rnd() * 40_000);
      let st = 'completed';
      if (status === 'failed' && p === nTargets - 1) st = 'failed';
      if (status === 'canceled' && p > 0) st = 'canceled';
      const tgt = { id: id('tgt', created), name, status: st, started: at, finished: at + took, duration: 30 + Math.round(rnd() * 2400) / 10, output: null as string | null, outputName: name };
      if (st === 'completed') tgt.output = id('out', at + took);
      targets.push(tgt);
      at += took;
    }
    const ended = targets[targets.length - 1]!.finished;
    const cost = targets.filter((x) => x.status === 'completed').length * 0.003;
    b.tasks.push(
      [
        taskId, tenant.id, kind.kind, status, null, deleted ? '{}' : input, params, deleted ? null : metadata, deleted ? null : hasUrl ? WEBHOOK_URL : null,
        wantsTargets ? ALL_TASK_EVENTS : null, seq % 10 < 3 ? `order-${seq}` : null, seq % 10 < 3 ? hex() + hex() + hex() + hex() + hex() + hex() + hex() + hex() : null, null,
        cost, status === 'failed' ? FAILURE : status === 'canceled' ? '{"code":"CANCELED","message":"canceled by the client"}' : null, created, ended, ended, null,
        deleted ? ended + 2 * DAY_MS : null, null,
      ],
    );

    const urlExpires = ended + 3600_000;
    const targetViews: string[] = [];
    for (const [p, tgt] of targets.entries()) {
      const format = FORMAT_OF[tgt.name] ?? 'wav';
      const spec = kind.kind === 'stems' ? `{"stem":"${tgt.name}","format":"wav"}` : format === 'mp3' ? '{"format":"mp3","bitrate":"192k"}' : `{"format":"${format}"}`;
      const size = Math.floor(tgt.duration * (format === 'mp3' ? 24_000 : format === 'flac' ? 100_000 : 176_400));
      const loudness = `{"integrated_lufs":${(-8 - rnd() * 10).toFixed(1)},"true_peak_dbtp":${(-rnd() * 3).toFixed(2)},"range_lu":${(3 + rnd() * 8).toFixed(1)}}`;
      b.targets.push([
        tgt.id, taskId, tenant.id, p, tgt.name, spec, tgt.status, tgt.status === 'completed' ? 1 : tgt.status === 'failed' ? 0.4 : 0, tgt.status === 'canceled' ? 0 : 1,
        null, null, tgt.status === 'completed' ? 0.003 : null, tgt.status === 'completed' ? tgt.duration : null,
        kind.kind === 'generate' ? `{"seed":${Math.floor(rnd() * 1e9)}}` : null, tgt.status === 'failed' ? FAILURE : null, created,
        tgt.status === 'canceled' ? null : tgt.started, tgt.finished,
      ]);
      let outputView = '';
      if (tgt.output) {
        const expires = tgt.finished + OUTPUT_RETENTION_MS;
        const fileName = `track-${seq}${kind.kind === 'stems' ? `-${tgt.name}` : ''}.${format}`;
        const peaks = PEAKS[Math.floor(rnd() * PEAKS.length)]!;
        b.outputs.push([
          tgt.output, tgt.id, taskId, tenant.id, tgt.name, format, `${tenant.id}/${taskId}/${tgt.id}/${tgt.output}.${format}`, size, tgt.duration,
          format === 'mp3' ? 192_000 : null, 44_100, 2, loudness, tgt.finished, expires, expires < shape.now ? expires + 30_000 : null, fileName, peaks,
        ]);
        outputView = `{"name":"${tgt.name}","file_name":"${fileName}","format":"${format}","size":${size},"duration":${tgt.duration},"bitrate":${format === 'mp3' ? 192000 : null},"sample_rate":44100,"channels":2,"loudness":${loudness},"peaks":${peaks},"expires_at":"${iso(expires)}","url":"https://audio.example.com/v1/files/${tgt.output}/${fileName}?expires=${Math.floor(urlExpires / 1000)}&signature=${hex()}${hex()}${hex()}${hex()}${hex()}","url_expires_at":"${iso(urlExpires)}"}`;
      }
      targetViews.push(
        `{"id":"${tgt.id}","name":"${tgt.name}","status":"${tgt.status}","progress":${tgt.status === 'completed' ? 1 : 0},"params":${spec},"outputs":[${outputView}],"duration":${tgt.status === 'completed' ? tgt.duration : null},"cost":${tgt.status === 'completed' ? 0.003 : null},"error":${tgt.status === 'failed' ? FAILURE : null},"info":null,"started_at":${tgt.status === 'canceled' ? null : `"${iso(tgt.started)}"`},"finished_at":"${iso(tgt.finished)}"}`,
      );
    }
    const view = (st: string, updated: number) =>
      `{"id":"${taskId}","kind":"${kind.kind}","status":"${st}","title":null,"input":${deleted ? '{}' : input},"params":${params},"metadata":${deleted ? null : metadata},"webhook_url":${hasUrl && !deleted ? `"${WEBHOOK_URL}"` : null},"webhook_events":${wantsTargets ? ALL_TASK_EVENTS : null},"batch_id":null,"targets":[${targetViews.join(',')}],"cost":${cost},"error":${status === 'failed' ? FAILURE : null},"created_at":"${iso(created)}","updated_at":"${iso(updated)}","completed_at":${st === 'processing' ? null : `"${iso(updated)}"`},"deadline":null,"deleted_at":null,"pruned_at":null,"queue_position":null}`;

    // An event per ended target, then the task's; deliveries and attempts within a budget of 4.
    const events: Array<{ id: string; type: string; at: number; toUrl: boolean; toEndpoint: boolean }> = [];
    for (const tgt of targets) {
      if (tgt.status === 'canceled') continue;
      const type = tgt.status === 'completed' ? 'task.target.completed' : 'task.target.failed';
      events.push({ id: id('msg', tgt.finished), type, at: tgt.finished, toUrl: false, toEndpoint: false });
    }
    const finalType = `task.${status}`;
    events.push({ id: id('msg', ended + 1), type: finalType, at: ended + 1, toUrl: hasUrl, toEndpoint: true });
    if (wantsTargets && events.length > 1) events[0]!.toUrl = true;
    for (const e of events) {
      b.events.push([e.id, tenant.id, taskId, e.type, `{"type":"${e.type}","timestamp":"${iso(e.at)}","data":${view(e.type.startsWith('task.target') ? 'processing' : status, e.at)}}`, e.at]);
    }
    const receivers: Array<{ event: (typeof events)[number]; url: string; endpointId: string | null }> = [];
    for (const e of events) {
      if (e.toUrl) receivers.push({ event: e, url: WEBHOOK_URL, endpointId: null });
      if (e.toEndpoint) receivers.push({ event: e, url: tenant.endpointUrl, endpointId: tenant.endpointId });
    }
    let budget = 4 - receivers.length;
    for (const r of receivers) {
      const dlv = id('dlv', r.event.at);
      const x = rnd();
      // Only the last day's deliveries can still be pending: the retry schedule spans about a day.
      const recent = r.event.at > shape.now - DAY_MS;
      let tries = x < 0.92 ? 1 : x < 0.98 ? 2 : 4;
      tries = Math.min(tries, 1 + budget);
      budget -= tries - 1;
      let dstatus = tries === 4 && !recent ? 'failed' : 'delivered';
      const pendingDraw = rnd();
      if (recent && pendingDraw < 0.03) dstatus = 'pending';
      let t = r.event.at + 5 + Math.floor(rnd() * 200);
      for (let n = 1; n <= tries; n++) {
        const ok = n === tries && dstatus === 'delivered';
        const latency = 20 + Math.round(rnd() * 4000) / 10;
        b.attempts.push([
          id('att', t), dlv, n, t, ok ? 200 : dstatus === 'pending' || n < tries ? 503 : 500, latency, ok ? '{"received":true}' : '{"error":"upstream unavailable"}', ok ? null : 'HTTP 503',
          `{"content-type":"application/json","user-agent":"hookwave/0.1.0","webhook-id":"${r.event.id}","webhook-timestamp":"${Math.floor(t / 1000)}","webhook-signature":"v1,${hex()}${hex()}${hex()}${hex()}${hex()}${hex()}="}`,
          RESPONSE_HEADERS,
        ]);
        if (n < tries) t += [5_000, 30_000, 120_000][n - 1]! + Math.floor(rnd() * 1000);
      }
      // Due after the benchmark is over (hours out), so its dispatcher never tries these hosts.
      const pendingDue = shape.now + 6 * 3600_000 + Math.floor(rnd() * 6 * 3600_000);
      b.deliveries.push([
        dlv, r.event.id, tenant.id, taskId, r.endpointId, r.url, dstatus, tries, null, dstatus === 'pending' ? pendingDue : null,
        dstatus === 'delivered' ? null : 'HTTP 503', dstatus === 'delivered' ? 200 : 503, r.event.at, t, dstatus === 'delivered' ? t : null, null,
      ]);
    }
  }
}

/** Columns of a table, in TABLES order. */
export function columnsOf(table: Table): string[] {
  return Object.keys(TABLES[table]);
}
