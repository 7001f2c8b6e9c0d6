/** Task events: the postgres statements of EventOps (ops/events.ts). */
import type { EventRow } from '../../domain/types.js';
import type { EventOps } from '../ops/events.js';
import { PostgresQueries } from './sql.js';

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
}
