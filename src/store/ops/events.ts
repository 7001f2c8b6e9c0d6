/** Task events: what happened, stored once; deliveries and SSE feeds read them. */
import type { EventRow } from '../../domain/types.js';
import type { OpNames } from './op-names.js';

export interface EventOps {
  insertEvent(e: EventRow): Promise<void>;
  /** The task's events in order, after the event `afterId` when given. */
  listEventsForTask(tenantId: string, taskId: string, afterId?: string): Promise<EventRow[]>;
  /** The tenant's events in order, after `afterId` when given. */
  listEvents(tenantId: string, afterId: string | undefined, limit: number): Promise<EventRow[]>;
  getEvent(tenantId: string, id: string): Promise<EventRow | null>;
  /** The type of each of these events of the tenant (the payload stays unread). */
  listEventTypes(tenantId: string, ids: string[]): Promise<Array<Pick<EventRow, 'id' | 'type'>>>;
  /**
   * Row retention: deletes events stored before `createdBefore` that no delivery refers to any
   * more (a pending one, or one retention has not removed yet, keeps its event: retries and
   * redeliveries send its payload), examining up to `limit` in id order after `after` (null: from
   * the first). `next`: where the next call of this pass goes on, null when nothing is left to
   * examine. Idempotent.
   */
  pruneEvents(createdBefore: number, after: string | null, limit: number): Promise<{ events: number; next: string | null }>;
}

export const EVENT_OPS: OpNames<EventOps> = {
  insertEvent: true,
  listEventsForTask: true,
  listEvents: true,
  getEvent: true,
  listEventTypes: true,
  pruneEvents: true,
};
