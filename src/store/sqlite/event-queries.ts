/** Task events: the sqlite statements of EventOps (ops/events.ts). */
import type { EventRow } from '../../domain/types.js';
import type { EventOps } from '../ops/events.js';
import type { Sync } from '../ops/ops.js';
import { SqliteQueries } from './sql.js';

export class SqliteEventQueries extends SqliteQueries implements Sync<EventOps> {
  insertEvent(e: EventRow): void {
    this.s('INSERT INTO events (id, tenant_id, task_id, type, payload, created_at) VALUES (@id, @tenant_id, @task_id, @type, @payload, @created_at)').run(e);
  }

  listEventsForTask(tenantId: string, taskId: string, afterId?: string): EventRow[] {
    return this.s('SELECT * FROM events WHERE task_id = ? AND tenant_id = ? AND id > ? ORDER BY id').all(taskId, tenantId, afterId ?? '') as EventRow[];
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
}
