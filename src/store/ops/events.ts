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
}

export const EVENT_OPS: OpNames<EventOps> = {
  insertEvent: true,
  listEventsForTask: true,
  listEvents: true,
  getEvent: true,
  listEventTypes: true,
};
