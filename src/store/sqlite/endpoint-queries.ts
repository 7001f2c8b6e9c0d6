/** Webhook endpoints and their health: the sqlite statements of EndpointOps (ops/endpoints.ts). */
import type { EndpointRow } from '../../domain/types.js';
import type { EndpointFailure, EndpointOps, EndpointPatch } from '../ops/endpoints.js';
import type { Sync } from '../ops/ops.js';
import { endpointFromRow, json, patchSql, type Row, SqliteQueries } from './sql.js';

export class SqliteEndpointQueries extends SqliteQueries implements Sync<EndpointOps> {
  insertEndpoint(e: EndpointRow): void {
    this.s(
      `INSERT INTO endpoints (id, tenant_id, url, description, events, secret, previous_secret, previous_secret_until, enabled,
                              disabled_reason, consecutive_failures, failing_since, circuit_open_until, created_at, updated_at)
       VALUES (@id, @tenant_id, @url, @description, @events, @secret, @previous_secret, @previous_secret_until, @enabled,
               @disabled_reason, @consecutive_failures, @failing_since, @circuit_open_until, @created_at, @updated_at)`,
    ).run({ ...e, events: json(e.events), enabled: e.enabled ? 1 : 0 });
  }

  getEndpoint(tenantId: string, id: string): EndpointRow | null {
    const r = this.s('SELECT * FROM endpoints WHERE id = ? AND tenant_id = ?').get(id, tenantId) as Row | undefined;
    return r ? endpointFromRow(r) : null;
  }

  getEndpointById(id: string): EndpointRow | null {
    const r = this.s('SELECT * FROM endpoints WHERE id = ?').get(id) as Row | undefined;
    return r ? endpointFromRow(r) : null;
  }

  listEndpoints(tenantId: string): EndpointRow[] {
    return (this.s('SELECT * FROM endpoints WHERE tenant_id = ? ORDER BY id').all(tenantId) as Row[]).map(endpointFromRow);
  }

  updateEndpoint(id: string, patch: EndpointPatch): void {
    const { set, values } = patchSql({ ...patch, ...(patch.enabled === undefined ? {} : { enabled: patch.enabled ? 1 : 0 }) }, ['events']);
    this.s(`UPDATE endpoints SET ${set} WHERE id = @id`).run({ ...values, id });
  }

  recordEndpointFailure(id: string, now: number): EndpointFailure | null {
    return (
      (this.s(
        `UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, failing_since = COALESCE(failing_since, ?), updated_at = ?
          WHERE id = ? AND enabled = 1
          RETURNING consecutive_failures, failing_since, circuit_open_until`,
      ).get(now, now, id) as EndpointFailure | undefined) ?? null
    );
  }

  resetEndpointHealth(ids: string[], now: number): number {
    if (ids.length === 0) return 0;
    const list = JSON.stringify(ids);
    return this.atomic(() => {
      // Releases first, while circuit_open_until still says which rows the circuit held (they were
      // moved to exactly that time); writing first also takes the write lock up front.
      const released = this.s(
        `UPDATE deliveries SET next_attempt_at = ?
          WHERE status = 'pending' AND (endpoint_id, next_attempt_at) IN (
            SELECT id, circuit_open_until FROM endpoints
             WHERE id IN (SELECT value FROM json_each(?)) AND consecutive_failures > 0 AND circuit_open_until IS NOT NULL)`,
      ).run(now, list).changes;
      this.s(
        `UPDATE endpoints SET consecutive_failures = 0, failing_since = NULL, circuit_open_until = NULL, updated_at = ?
          WHERE id IN (SELECT value FROM json_each(?)) AND consecutive_failures > 0`,
      ).run(now, list);
      return released;
    });
  }

  deleteEndpoint(tenantId: string, id: string): boolean {
    return this.s('DELETE FROM endpoints WHERE id = ? AND tenant_id = ?').run(id, tenantId).changes > 0;
  }
}
