/** Task events: the sqlite statements of EventOps (ops/events.ts). */
import type { EventRow } from '../../domain/types.js';
import type { EventOps } from '../ops/events.js';
import type { Sync } from '../ops/ops.js';
import { SqliteQueries } from './sql.js';
import { idAt } from '../../ids.js';

export class SqliteEventQueries extends SqliteQueries implements Sync<EventOps> {
  insertEvent(e: EventRow): void {
    this.s('INSERT INTO events (id, tenant_id, task_id, type, payload, created_at) VALUES (@id, @tenant_id, @task_id, @type, @payload, @created_at)').run(e);
  }

  listEventsForTask(tenantId: string, taskId: string, afterId?: string): EventRow[] {
    // `+tenant_id`: by task (events_by_task), not by walking the tenant's whole log in id order,
    // which the planner otherwise picks to save the sort.
    return this.s('SELECT * FROM events WHERE task_id = ? AND +tenant_id = ? AND id > ? ORDER BY id').all(taskId, tenantId, afterId ?? '') as EventRow[];
  }

  listEvents(tenantId: string, afterId: string | undefined, limit: number): EventRow[] {
    return this.s('SELECT * FROM events WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?').all(tenantId, afterId ?? '', limit) as EventRow[];
  }

  getEvent(tenantId: string, id: string): EventRow | null {
    return (this.s('SELECT * FROM events WHERE id = ? AND tenant_id = ?').get(id, tenantId) as EventRow | undefined) ?? null;
  }

  listEventTypes(tenantId: string, ids: string[]): Array<Pick<EventRow, 'id' | 'type'>> {
    if (ids.length === 0) return [];
    return this.s('SELECT id, type FROM events WHERE id IN (SELECT value FROM json_each(?)) AND tenant_id = ?').all(JSON.stringify(ids), tenantId) as Array<Pick<EventRow, 'id' | 'type'>>;
  }

  pruneEvents(createdBefore: number, after: string | null, limit: number): { events: number; next: string | null } {
    return this.atomic(() => {
      // Ids sort by creation time: the events made before the cutoff are a primary-key range.
      const scanned = this.s(
        `SELECT e.id, e.created_at < ? AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) AS due
           FROM events e WHERE e.id > ? AND e.id < ? ORDER BY e.id LIMIT ?`,
      ).all(createdBefore, after ?? 'msg_', idAt('msg', createdBefore), limit) as Array<{ id: string; due: number }>;
      const due = JSON.stringify(scanned.filter((r) => r.due === 1).map((r) => r.id));
      const events = this.s('DELETE FROM events WHERE id IN (SELECT value FROM json_each(?))').run(due).changes;
      return { events, next: scanned.length < limit ? null : scanned[scanned.length - 1]!.id };
    });
  }
}
