/** Task events: the postgres statements of EventOps (ops/events.ts). */
import type { EventRow } from '../../domain/types.js';
import type { EventOps } from '../ops/events.js';
import { PostgresQueries } from './sql.js';
import { idAt } from '../../ids.js';

// Row retention, one batch in one statement: the events made before the cutoff ($2) are a
// primary-key range (ids sort by creation time); those no delivery refers to go. Locked with SKIP
// LOCKED, so pruners in several processes share the work without waiting on each other.
const PRUNE_EVENTS = `
  WITH scan AS (
    SELECT id FROM events WHERE id > $1 AND id < $2 ORDER BY id LIMIT $3
  ), doomed AS (
    SELECT e.id FROM events e
     WHERE e.id = ANY(ARRAY(SELECT id FROM scan)) AND e.created_at < $4
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
       FOR UPDATE SKIP LOCKED
  ), gone AS (
    DELETE FROM events WHERE id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1
  )
  SELECT (SELECT count(*) FROM gone)::int AS events, (SELECT count(*) FROM scan)::int AS scanned, (SELECT max(id) FROM scan) AS last`;

export class PostgresEventQueries extends PostgresQueries implements EventOps {
  async insertEvent(e: EventRow): Promise<void> {
    await this.insert('events', [e]);
  }

  listEventsForTask(tenantId: string, taskId: string, afterId?: string): Promise<EventRow[]> {
    return this.all('SELECT * FROM events WHERE task_id = $1 AND tenant_id = $2 AND id > $3 ORDER BY id', [taskId, tenantId, afterId ?? '']);
  }

  listEvents(tenantId: string, afterId: string | undefined, limit: number): Promise<EventRow[]> {
    return this.all('SELECT * FROM events WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3', [tenantId, afterId ?? '', limit]);
  }

  getEvent(tenantId: string, id: string): Promise<EventRow | null> {
    return this.one('SELECT * FROM events WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
  }

  async listEventTypes(tenantId: string, ids: string[]): Promise<Array<Pick<EventRow, 'id' | 'type'>>> {
    if (ids.length === 0) return [];
    return this.all('SELECT id, type FROM events WHERE id = ANY($1) AND tenant_id = $2', [ids, tenantId]);
  }

  async pruneEvents(createdBefore: number, after: string | null, limit: number): Promise<{ events: number; next: string | null }> {
    const r = (await this.one<{ events: number; scanned: number; last: string | null }>(PRUNE_EVENTS, [after ?? 'msg_', idAt('msg', createdBefore), limit, createdBefore]))!;
    return { events: r.events, next: r.scanned < limit ? null : r.last };
  }
}
