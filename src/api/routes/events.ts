/**
 * Server-sent events for clients that cannot receive webhooks (browsers, scripts, `hookwave
 * listen`). Each stored event is sent with its id (the webhook-id), so `Last-Event-ID` resumes
 * exactly where a dropped connection stopped; target progress is sent as unnumbered `progress`
 * events. A committed event wakes the stream at once; a slow poll covers events committed by
 * another process.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../../services/tasks.js';
import type { EventRow } from '../../domain/types.js';
import { idAt } from '../../ids.js';
import type { Store } from '../../store/store.js';
import { errorReplies } from '../schemas.js';

const POLL_MS = 1000;
/**
 * On PostgreSQL an event's id is made inside its transaction, and transactions of different
 * processes commit in any order, so an event can become visible after one with a later id. The
 * tenant stream re-reads this much of the recent past and skips what it already sent. (A task's
 * own events are ordered: their transactions hold the task's row lock.)
 */
const LATE_COMMIT_MS = 5000;
const HEARTBEAT_MS = 15_000;
const ENDED = ['completed', 'failed', 'canceled'];

interface Stream {
  send(event: EventRow): void;
  sendRaw(text: string): void;
  closed: boolean;
  close(): void;
  onClose(fn: () => void): void;
}

function openStream(req: FastifyRequest, reply: FastifyReply): Stream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`retry: 2000\n\n`);
  const closers: Array<() => void> = [];
  const stream: Stream = {
    closed: false,
    send(e) {
      if (!stream.closed) res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${e.payload}\n\n`);
    },
    sendRaw(text) {
      if (!stream.closed) res.write(text);
    },
    close() {
      if (stream.closed) return;
      stream.closed = true;
      closers.forEach((f) => f());
      res.end();
    },
    onClose(fn) {
      closers.push(fn);
    },
  };
  const heartbeat = setInterval(() => stream.sendRaw(': keep-alive\n\n'), HEARTBEAT_MS);
  stream.onClose(() => clearInterval(heartbeat));
  req.raw.on('close', () => stream.close());
  return stream;
}

function lastEventId(req: FastifyRequest<{ Querystring: { last_event_id?: string } }>): string | undefined {
  const header = req.headers['last-event-id'];
  return (typeof header === 'string' && header) || req.query.last_event_id || undefined;
}

/** Runs `tick` now, on every wake-up of `channel` for this key, and on a slow poll, never twice at once. */
function drive(store: Store, stream: Stream, key: string | null, tick: () => Promise<void>): void {
  let running = false;
  let again = false;
  const run = () => {
    if (stream.closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    void tick()
      .catch(() => stream.close())
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const unsubscribe = store.subscribe('events', (payload) => {
    if (key === null || payload === key) run();
  });
  // A task's stream also carries its targets' progress, written without an event.
  const unsubscribeProgress = key === null ? () => undefined : store.subscribe('progress', (payload) => payload === key && run());
  const poll = setInterval(run, POLL_MS);
  stream.onClose(() => {
    unsubscribe();
    unsubscribeProgress();
    clearInterval(poll);
  });
  run();
}

export function eventRoutes(app: FastifyInstance, store: Store): void {
  // Streams never end by themselves; at shutdown they are ended first (clients reconnect, to
  // another process if there is one, and resume with Last-Event-ID), or the server would wait.
  const open = new Set<Stream>();
  app.addHook('preClose', async () => {
    for (const s of open) s.close();
  });
  const track = (s: Stream): Stream => {
    open.add(s);
    s.onClose(() => open.delete(s));
    return s;
  };
  app.get<{ Params: { id: string }; Querystring: { last_event_id?: string } }>(
    '/v1/tasks/:id/events',
    {
      schema: {
        tags: ['events'],
        summary: "Stream a task's events and progress (text/event-stream)",
        description:
          'Sends every stored event of the task (id = webhook-id, event = type, data = the webhook body), then new ones as they happen, and `progress` events while targets run. Resume with the Last-Event-ID header (or ?last_event_id=). The stream ends after the task-level final event.',
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } },
        querystring: { type: 'object', properties: { last_event_id: { type: 'string', maxLength: 64 } } },
        response: { ...errorReplies },
      },
    },
    async (req, reply) => {
      const tenantId = req.tenant.id;
      const task = await store.getTask(tenantId, req.params.id);
      if (!task) throw notFound(req.params.id);
      const stream = track(openStream(req, reply));
      let after = lastEventId(req);
      const progress = new Map<string, number>();
      drive(store, stream, task.id, async () => {
        for (const e of await store.listEventsForTask(tenantId, task.id, after)) {
          stream.send(e);
          after = e.id;
          if (e.type === 'task.completed' || e.type === 'task.failed' || e.type === 'task.canceled') return stream.close();
        }
        const current = await store.getTask(tenantId, task.id);
        if (!current || ENDED.includes(current.status)) {
          // Resumed after the final event, or it was committed (with the status) just after the
          // read above: send what is left and end, or the client would wait on a stream that
          // never ends.
          for (const e of await store.listEventsForTask(tenantId, task.id, after)) {
            stream.send(e);
            after = e.id;
          }
          return stream.close();
        }
        for (const t of await store.getTargets(task.id)) {
          if (t.status === 'processing' && progress.get(t.id) !== t.progress) {
            progress.set(t.id, t.progress);
            stream.sendRaw(`event: progress\ndata: ${JSON.stringify({ task_id: task.id, target_id: t.id, name: t.name, progress: t.progress })}\n\n`);
          }
        }
      });
    },
  );

  app.get<{ Querystring: { last_event_id?: string } }>(
    '/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: "Stream all of the tenant's events (text/event-stream)",
        description: 'What `hookwave listen` consumes. Without Last-Event-ID it starts with events from now on.',
        querystring: { type: 'object', properties: { last_event_id: { type: 'string', maxLength: 64 } } },
      },
    },
    async (req, reply) => {
      const tenantId = req.tenant.id;
      // Ids sort by time, so "from now on" is the smallest id of this millisecond.
      const start = lastEventId(req) ?? idAt('msg', Date.now());
      let after = start;
      const lateMs = store.dialect === 'postgres' ? LATE_COMMIT_MS : 0;
      /** Ids sent within the re-read window, with when they were sent. */
      const recent = new Map<string, number>();
      const stream = track(openStream(req, reply));
      drive(store, stream, null, async () => {
        const now = Date.now();
        let from = after;
        if (lateMs > 0) {
          const windowStart = idAt('msg', now - lateMs);
          from = windowStart < after ? windowStart : after;
          if (from < start) from = start;
          for (const [id, at] of recent) if (at < now - 2 * lateMs) recent.delete(id);
        }
        for (;;) {
          const page = await store.listEvents(tenantId, from, 500);
          for (const e of page) {
            if (recent.has(e.id)) continue;
            stream.send(e);
            if (lateMs > 0) recent.set(e.id, now);
            if (e.id > after) after = e.id;
          }
          if (page.length < 500) return;
          from = page[page.length - 1]!.id;
        }
      });
    },
  );
}
