/**
 * Server-sent events for clients that cannot receive webhooks (browsers, scripts, `hookwave
 * listen`): the feeds of services/events.ts, framed. Each stored event is sent with its id (the
 * webhook-id), so `Last-Event-ID` resumes exactly where a dropped connection stopped; target
 * progress is sent as unnumbered `progress` events. A committed event wakes the stream at once; a
 * slow poll covers events committed by another process.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EventRow } from '../../domain/types.js';
import type { EventService, Feed } from '../../services/events.js';
import { errorReplies } from '../schemas.js';

const POLL_MS = 1000;
const HEARTBEAT_MS = 15_000;

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

/**
 * Writes what the feed gives: at once, on every wake-up, and on a slow poll, never two reads at
 * once; ends the stream when the feed ends.
 */
function drive(stream: Stream, feed: Feed): void {
  let running = false;
  let again = false;
  const tick = async () => {
    for (;;) {
      const r = await feed.read();
      for (const e of r.events) stream.send(e);
      for (const p of r.progress) stream.sendRaw(`event: progress\ndata: ${JSON.stringify(p)}\n\n`);
      if (r.ended) return stream.close();
      if (!r.more || stream.closed) return;
    }
  };
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
  const unsubscribe = feed.onWake(run);
  const poll = setInterval(run, POLL_MS);
  stream.onClose(() => {
    unsubscribe();
    clearInterval(poll);
  });
  run();
}

export function eventRoutes(app: FastifyInstance, events: EventService): void {
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
      const feed = await events.taskFeed(req.tenant.id, req.params.id, lastEventId(req));
      drive(track(openStream(req, reply)), feed);
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
      const feed = events.tenantFeed(req.tenant.id, lastEventId(req));
      drive(track(openStream(req, reply)), feed);
    },
  );
}
