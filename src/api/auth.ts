/** API-key authentication for /v1 routes: `X-API-Key: <key>` or `Authorization: Bearer <key>`. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authenticator } from '../services/tenants.js';
import type { Tenant } from '../domain/types.js';
import { HookwaveError } from '../errors.js';
import type { Store } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenant: Tenant;
  }
}

export function keyFromHeaders(req: FastifyRequest): string | null {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header) return header.trim();
  const auth = req.headers.authorization;
  if (auth && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim();
  return null;
}

export function requireApiKey(store: Store) {
  const auth = new Authenticator(store);
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const key = keyFromHeaders(req);
    if (!key) throw new HookwaveError('UNAUTHORIZED', 'missing API key: send X-API-Key: <key> or Authorization: Bearer <key>');
    const tenant = await auth.authenticate(key);
    if (!tenant) throw new HookwaveError('UNAUTHORIZED', 'invalid or revoked API key');
    req.tenant = tenant;
  };
}
