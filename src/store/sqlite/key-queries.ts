/** Tenants, API keys and installation settings: the sqlite statements of KeyOps (ops/keys.ts). */
import type { ApiKey, Tenant } from '../../domain/types.js';
import type { KeyOps } from '../ops/keys.js';
import type { Sync } from '../ops/ops.js';
import { SqliteQueries } from './sql.js';

export class SqliteKeyQueries extends SqliteQueries implements Sync<KeyOps> {
  insertTenant(t: Tenant): void {
    this.s('INSERT INTO tenants (id, name, webhook_secret, created_at) VALUES (@id, @name, @webhook_secret, @created_at)').run(t);
  }

  getTenant(id: string): Tenant | null {
    return (this.s('SELECT * FROM tenants WHERE id = ?').get(id) as Tenant | undefined) ?? null;
  }

  getTenantByName(name: string): Tenant | null {
    return (this.s('SELECT * FROM tenants WHERE name = ?').get(name) as Tenant | undefined) ?? null;
  }

  listTenants(): Tenant[] {
    return this.s('SELECT * FROM tenants ORDER BY name').all() as Tenant[];
  }

  insertApiKey(k: ApiKey): void {
    this.s(
      'INSERT INTO api_keys (id, tenant_id, hash, prefix, created_at, revoked_at) VALUES (@id, @tenant_id, @hash, @prefix, @created_at, @revoked_at)',
    ).run(k);
  }

  findApiKey(hash: string): { key: ApiKey; tenant: Tenant } | null {
    const key = this.s('SELECT * FROM api_keys WHERE hash = ? AND revoked_at IS NULL').get(hash) as ApiKey | undefined;
    if (!key) return null;
    const tenant = this.getTenant(key.tenant_id);
    return tenant ? { key, tenant } : null;
  }

  listApiKeys(tenantId?: string): Array<ApiKey & { tenant_name: string }> {
    const sql = `SELECT k.*, t.name AS tenant_name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
                 ${tenantId ? 'WHERE k.tenant_id = ?' : ''} ORDER BY k.created_at`;
    return this.s(sql).all(...(tenantId ? [tenantId] : [])) as Array<ApiKey & { tenant_name: string }>;
  }

  revokeApiKey(idOrPrefix: string, now: number): boolean {
    const r = this.s('UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR prefix = ?) AND revoked_at IS NULL').run(now, idOrPrefix, idOrPrefix);
    return r.changes > 0;
  }

  getSetting(key: string): string | null {
    const r = this.s('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }

  setSettingIfAbsent(key: string, value: string): string {
    this.s('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value);
    return this.getSetting(key)!;
  }
}
