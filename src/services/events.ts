/**
 * Stored events as feeds for clients that cannot receive webhooks (server-sent events): a task's
 * events with its targets' progress, ending after its final event, and a tenant's events from a
 * point on. A feed says when to read again (wake-ups) and what is new at each read; the route
 * only frames and writes it.
 */
import { TEST_EVENT_TYPE, type EventRow, type TaskStatus } from '../domain/types.js';
import { idAt } from '../ids.js';
import type { Store } from '../store/store.js';
import { notFound } from './tasks.js';

export interface TargetProgress {
  task_id: string;
  target_id: string;
  name: string;
  progress: number;
}

/** What is new since the previous read. */
export interface FeedRead {
  events: EventRow[];
  progress: TargetProgress[];
  /** Nothing more will come: the stream ends after these. */
  ended: boolean;
  /** More is there already: read again at once (a backlog comes a page at a time). */
  more: boolean;
}

export interface Feed {
  read(): Promise<FeedRead>;
  /** Calls `fn` when something new may be there to read; returns the unsubscribe. */
  onWake(fn: () => void): () => void;
}

const FINAL_EVENTS = new Set(['task.completed', 'task.failed', 'task.canceled']);
const ENDED: TaskStatus[] = ['completed', 'failed', 'canceled'];
const PAGE = 500;

export class EventService {
  constructor(private readonly store: Store) {}

  /** A task's events after `afterId` (or all), then new ones and its targets' progress. */
  async taskFeed(tenantId: string, taskId: string, afterId: string | undefined): Promise<Feed> {
    const { store } = this;
    const task = await store.getTask(tenantId, taskId);
    if (!task) throw notFound(taskId);
    let after = afterId;
    const shown = new Map<string, number>();
    return {
      onWake: (fn) => {
        const events = store.subscribe('events', (payload) => payload === task.id && fn());
        // A task's feed also carries its targets' progress, written without an event.
        const progress = store.subscribe('progress', (payload) => payload === task.id && fn());
        return () => {
          events();
          progress();
        };
      },
      read: async () => {
        const events: EventRow[] = [];
        for (const e of await store.listEventsForTask(tenantId, task.id, after)) {
          events.push(e);
          after = e.id;
          if (FINAL_EVENTS.has(e.type)) return { events, progress: [], ended: true, more: false };
        }
        const current = await store.getTask(tenantId, task.id);
        if (!current || ENDED.includes(current.status)) {
          // Resumed after the final event, or it was committed (with the status) just after the
          // read above: what is left, and the end, or the client would wait on a feed that never ends.
          for (const e of await store.listEventsForTask(tenantId, task.id, after)) {
            events.push(e);
            after = e.id;
          }
          return { events, progress: [], ended: true, more: false };
        }
        const progress: TargetProgress[] = [];
        for (const t of await store.getTargets(task.id)) {
          if (t.status === 'processing' && shown.get(t.id) !== t.progress) {
            shown.set(t.id, t.progress);
            progress.push({ task_id: task.id, target_id: t.id, name: t.name, progress: t.progress });
          }
        }
        return { events, progress, ended: false, more: false };
      },
    };
  }

  /**
   * The tenant's events after `afterId`, or from now on. Where rows can become visible out of id
   * order (store.lateCommitMs), each read re-reads that much of the recent past and skips what it
   * already gave.
   */
  tenantFeed(tenantId: string, afterId: string | undefined): Feed {
    const { store } = this;
    // Ids sort by time, so "from now on" is the smallest id of this millisecond.
    const start = afterId ?? idAt('msg', Date.now());
    let after = start;
    const lateMs = store.lateCommitMs;
    /** Ids given within the re-read window, with when they were given. */
    const recent = new Map<string, number>();
    /** Where a read that stopped after a full page goes on, and the time that read began. */
    let resume: { from: string; now: number } | null = null;
    return {
      onWake: (fn) => store.subscribe('events', () => fn()),
      read: async () => {
        let now: number;
        let from: string;
        if (resume) {
          ({ from, now } = resume);
        } else {
          now = Date.now();
          from = after;
          if (lateMs > 0) {
            const windowStart = idAt('msg', now - lateMs);
            from = windowStart < after ? windowStart : after;
            if (from < start) from = start;
            for (const [id, at] of recent) if (at < now - 2 * lateMs) recent.delete(id);
          }
        }
        const page = await store.listEvents(tenantId, from, PAGE);
        const events: EventRow[] = [];
        for (const e of page) {
          if (recent.has(e.id)) continue;
          if (lateMs > 0) recent.set(e.id, now);
          if (e.id > after) after = e.id;
          // A test event was asked for one endpoint; the feed (and `hookwave listen`) is for the tenant's real events.
          if (e.type === TEST_EVENT_TYPE) continue;
          events.push(e);
        }
        resume = page.length < PAGE ? null : { from: page[page.length - 1]!.id, now };
        return { events, progress: [], ended: false, more: resume !== null };
      },
    };
  }
}
