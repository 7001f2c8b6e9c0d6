/** Tenants, their API keys, and installation settings (the file-signing key). */
import type { ApiKey, Tenant } from '../../domain/types.js';
import type { OpNames } from './op-names.js';

export interface KeyOps {
  insertTenant(t: Tenant): Promise<void>;
  getTenant(id: string): Promise<Tenant | null>;
  getTenantByName(name: string): Promise<Tenant | null>;
  listTenants(): Promise<Tenant[]>;
  insertApiKey(k: ApiKey): Promise<void>;
  /** The key (not revoked) with this hash, with its tenant. */
  findApiKey(hash: string): Promise<{ key: ApiKey; tenant: Tenant } | null>;
  listApiKeys(tenantId?: string): Promise<Array<ApiKey & { tenant_name: string }>>;
  revokeApiKey(idOrPrefix: string, now: number): Promise<boolean>;
  getSetting(key: string): Promise<string | null>;
  /** Sets the value unless one exists; returns the value that is stored. */
  setSettingIfAbsent(key: string, value: string): Promise<string>;
}

export const KEY_OPS: OpNames<KeyOps> = {
  insertTenant: true,
  getTenant: true,
  getTenantByName: true,
  listTenants: true,
  insertApiKey: true,
  findApiKey: true,
  listApiKeys: true,
  revokeApiKey: true,
  getSetting: true,
  setSettingIfAbsent: true,
};
