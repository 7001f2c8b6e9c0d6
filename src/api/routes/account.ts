import type { FastifyInstance } from 'fastify';
import { errorReplies, resourceReply } from '../schemas.js';

export function accountRoutes(app: FastifyInstance): void {
  app.get(
    '/v1/account',
    {
      schema: {
        tags: ['account'],
        summary: "The key's tenant, with its webhook signing secret",
        description:
          "The secret signs webhooks sent to tasks' own webhook_url (registered endpoints have their own). `hookwave listen` uses it to sign the events it forwards, so a local receiver verifies them as it would in production.",
        response: {
          200: resourceReply('Account', "The key's tenant"),
          ...errorReplies,
        },
      },
    },
    async (req) => ({ success: true, tenant_id: req.tenant.id, name: req.tenant.name, webhook_secret: req.tenant.webhook_secret }),
  );
}
