/** Webhook endpoints and their health: the postgres statements of EndpointOps (ops/endpoints.ts). */
import type { EndpointRow } from '../../domain/types.js';
import type { EndpointFailure, EndpointOps, EndpointPatch } from '../ops/endpoints.js';
import { patchSql, PostgresQueries } from './sql.js';

export class PostgresEndpointQueries extends PostgresQueries implements EndpointOps {
  async insertEndpoint(e: EndpointRow): Promise<void> {
    await this.insert('endpoints', [e]);
  }

  getEndpoint(tenantId: string, id: string): Promise<EndpointRow | null> {
    return this.one('SELECT * FROM endpoints WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
  }

  getEndpointById(id: string): Promise<EndpointRow | null> {
    return this.one('SELECT * FROM endpoints WHERE id = $1', [id]);
  }

  listEndpoints(tenantId: string): Promise<EndpointRow[]> {
    return this.all('SELECT * FROM endpoints WHERE tenant_id = $1 ORDER BY id', [tenantId]);
  }

  async updateEndpoint(id: string, patch: EndpointPatch): Promise<void> {
    const { set, values } = patchSql(patch, ['events'], 2);
    await this.exec(`UPDATE endpoints SET ${set} WHERE id = $1`, [id, ...values]);
  }

  recordEndpointFailure(id: string, now: number): Promise<EndpointFailure | null> {
    // One statement, so failures counted by several dispatchers at once all count.
    return this.one(
      `UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, failing_since = COALESCE(failing_since, $2), updated_at = $2
        WHERE id = $1 AND enabled
        RETURNING consecutive_failures, failing_since, circuit_open_until`,
      [id, now],
    );
  }

  async resetEndpointHealth(ids: string[], now: number): Promise<number> {
    if (ids.length === 0) return 0;
    // Writes only endpoints that were failing. RETURNING shows the new row; the self-join gives the
    // circuit_open_until it replaced, the time the circuit held this endpoint's deliveries until.
    const healed = await this.all<{ id: string; held_until: number | null }>(
      `UPDATE endpoints AS ep SET consecutive_failures = 0, failing_since = NULL, circuit_open_until = NULL, updated_at = $2
         FROM endpoints AS was
        WHERE ep.id = ANY($1) AND ep.consecutive_failures > 0 AND was.id = ep.id
       RETURNING ep.id, was.circuit_open_until AS held_until`,
      [ids, now],
    );
    const held = healed.filter((h) => h.held_until !== null);
    if (held.length === 0) return 0;
    return this.count(
      `UPDATE deliveries AS d SET next_attempt_at = $1
         FROM unnest($2::text[], $3::bigint[]) AS h(id, held_until)
        WHERE d.endpoint_id = h.id AND d.status = 'pending' AND d.next_attempt_at = h.held_until`,
      [now, held.map((h) => h.id), held.map((h) => h.held_until)],
    );
  }

  async deleteEndpoint(tenantId: string, id: string): Promise<boolean> {
    return (await this.count('DELETE FROM endpoints WHERE id = $1 AND tenant_id = $2', [id, tenantId])) > 0;
  }
}
