/** Tenants, API keys and installation settings: the postgres statements of KeyOps (ops/keys.ts). */
import type { ApiKey, Tenant } from '../../domain/types.js';
import type { KeyOps } from '../ops/keys.js';
import { PostgresQueries } from './sql.js';

export class PostgresKeyQueries extends PostgresQueries implements KeyOps {
  async insertTenant(t: Tenant): Promise<void> {
    await this.insert('tenants', [t]);
  }

  getTenant(id: string): Promise<Tenant | null> {
    return this.one('SELECT * FROM tenants WHERE id = $1', [id]);
  }

  getTenantByName(name: string): Promise<Tenant | null> {
    return this.one('SELECT * FROM tenants WHERE name = $1', [name]);
  }

  listTenants(): Promise<Tenant[]> {
    return this.all('SELECT * FROM tenants ORDER BY name');
  }

  async insertApiKey(k: ApiKey): Promise<void> {
    await this.insert('api_keys', [k]);
  }

  async findApiKey(hash: string): Promise<{ key: ApiKey; tenant: Tenant } | null> {
    const key = await this.one<ApiKey>('SELECT * FROM api_keys WHERE hash = $1 AND revoked_at IS NULL', [hash]);
    if (!key) return null;
    const tenant = await this.getTenant(key.tenant_id);
    return tenant ? { key, tenant } : null;
  }

  listApiKeys(tenantId?: string): Promise<Array<ApiKey & { tenant_name: string }>> {
    return this.all(
      `SELECT k.*, t.name AS tenant_name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
        ${tenantId ? 'WHERE k.tenant_id = $1' : ''} ORDER BY k.created_at, k.id`,
      tenantId ? [tenantId] : [],
    );
  }

  async revokeApiKey(idOrPrefix: string, now: number): Promise<boolean> {
    return (await this.count('UPDATE api_keys SET revoked_at = $1 WHERE (id = $2 OR prefix = $2) AND revoked_at IS NULL', [now, idOrPrefix])) > 0;
  }

  async getSetting(key: string): Promise<string | null> {
    return (await this.one<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]))?.value ?? null;
  }

  async setSettingIfAbsent(key: string, value: string): Promise<string> {
    await this.exec('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
    return (await this.getSetting(key))!;
  }
}
