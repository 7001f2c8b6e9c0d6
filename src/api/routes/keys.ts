/**
 * GET /v1/keys: the caller's tenant's keys, by id and prefix. Reading only: keys are minted and
 * revoked with the CLI on the server, so a leaked key cannot be used to make more keys.
 */
import type { FastifyInstance } from 'fastify';
import { listApiKeys } from '../../services/tenants.js';
import type { Store } from '../../store/store.js';
import { keyFromHeaders } from '../auth.js';
import { errorReplies, listReply } from '../schemas.js';

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
    // The auth hook resolved the tenant from this very header, so it is present.
    async (req) => ({ success: true, data: await listApiKeys(store, req.tenant.id, keyFromHeaders(req) ?? '') }),
  );
}
