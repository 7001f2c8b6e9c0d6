/**
 * Tenants and their API keys. A key is 32 random bytes, so a single SHA-256 is the right hash: a
 * slow password hash only protects low-entropy secrets, and would put ~100 ms on every request.
 */
import { createHash, randomBytes } from 'node:crypto';
import { newId } from '../ids.js';
import type { Store } from '../store/store.js';
import { newWebhookSecret } from '../net/webhook-signature.js';
import type { ApiKey, Tenant } from '../domain/types.js';

const KEY_PREFIX = 'hw_';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export async function ensureTenant(store: Store, name: string): Promise<Tenant> {
  const existing = await store.getTenantByName(name);
  if (existing) return existing;
  const tenant: Tenant = { id: newId('ten'), name, webhook_secret: newWebhookSecret(), created_at: Date.now() };
  try {
    await store.insertTenant(tenant);
    return tenant;
  } catch (err) {
    // Another process created it a moment ago (tenant names are unique).
    const winner = await store.getTenantByName(name);
    if (winner) return winner;
    throw err;
  }
}

/** Creates a key for the tenant (creating the tenant on first use). The key is returned once and never stored. */
export async function createApiKey(store: Store, tenantName: string): Promise<{ key: string; apiKey: ApiKey; tenant: Tenant }> {
  const tenant = await ensureTenant(store, tenantName);
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const apiKey: ApiKey = {
    id: newId('key'),
    tenant_id: tenant.id,
    hash: hashApiKey(key),
    prefix: key.slice(0, KEY_PREFIX.length + 8),
    created_at: Date.now(),
    revoked_at: null,
  };
  await store.insertApiKey(apiKey);
  return { key, apiKey, tenant };
}

export interface ApiKeyView {
  id: string;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
  /** The key this request was made with. */
  current: boolean;
}

/** The tenant's keys, oldest first. Built field by field: the rows carry the hash, which must never leave the server. */
export async function listApiKeys(store: Store, tenantId: string, currentKey: string): Promise<ApiKeyView[]> {
  const own = hashApiKey(currentKey);
  const iso = (ms: number) => new Date(ms).toISOString();
  return (await store.listApiKeys(tenantId)).map((k) => ({
    id: k.id,
    prefix: k.prefix,
    created_at: iso(k.created_at),
    revoked_at: k.revoked_at === null ? null : iso(k.revoked_at),
    current: k.hash === own,
  }));
}

/**
 * Resolves API keys to tenants, remembering an answer for a second so a busy client does not cost
 * a database read per request (at 10,000 requests a second, one read in 10,000). A key revoked in
 * any process (the CLI revokes it in the database) therefore stops working within `ttlMs`.
 */
export class Authenticator {
  private readonly cache = new Map<string, { tenant: Tenant | null; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly ttlMs = 1000,
    private readonly maxEntries = 10_000,
  ) {}

  async authenticate(key: string): Promise<Tenant | null> {
    if (!key.startsWith(KEY_PREFIX) || key.length > 128) return null;
    const hash = hashApiKey(key);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return hit.tenant;
    const found = await this.store.findApiKey(hash);
    const tenant = found?.tenant ?? null;
    // Unknown keys are not cached: guessing keys must not fill the cache.
    if (tenant) {
      if (this.cache.size >= this.maxEntries) this.cache.clear();
      this.cache.set(hash, { tenant, until: now + this.ttlMs });
    }
    return tenant;
  }
}
