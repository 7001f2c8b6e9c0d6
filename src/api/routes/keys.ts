/**
 * GET /v1/keys: the caller's tenant's keys, by id and prefix. Reading only: keys are minted and
 * revoked with the CLI on the server, so a leaked key cannot be used to make more keys.
 */
import type { FastifyInstance } from 'fastify';
import { hashApiKey } from '../../services/tenants.js';
import type { Store } from '../../store/store.js';
import { keyFromHeaders } from '../auth.js';
import { errorReplies, listReply } from '../schemas.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function keyRoutes(app: FastifyInstance, store: Store): void {
  app.get(
    '/v1/keys',
    {
      schema: {
        tags: ['keys'],
        summary: "The API keys of the key's tenant, revoked ones included",
        description:
          'Ids and prefixes only: keys are stored as SHA-256 hashes and never shown again. Keys are created and revoked with `hookwave keys create|revoke` on the server, never through the API, so a leaked key cannot mint more.',
        response: { 200: listReply('ApiKey', 'The tenant’s keys, oldest first'), ...errorReplies },
      },
    },
    async (req) => {
      // The auth hook resolved the tenant from this very header, so it is present.
      const own = hashApiKey(keyFromHeaders(req) ?? '');
      const keys = await store.listApiKeys(req.tenant.id);
      return {
        success: true,
        // Built field by field: the rows carry the hash, which must never leave the server.
        data: keys.map((k) => ({ id: k.id, prefix: k.prefix, created_at: iso(k.created_at)!, revoked_at: iso(k.revoked_at), current: k.hash === own })),
      };
    },
  );
}
