/**
 * GET /v1/kinds: the kinds this server runs, built-in engines and configured model servers alike,
 * each with the JSON schemas a task's targets and params are validated against, so clients (the
 * dashboard's form, `hookwave kinds`, the SDK) build requests from what the server says rather
 * than from a list of their own.
 */
import type { FastifyInstance } from 'fastify';
import type { EngineRegistry } from '../../engines/registry.js';
import { errorReplies, listReply } from '../schemas.js';

export function kindRoutes(app: FastifyInstance, engines: EngineRegistry): void {
  // Fixed at startup: built once, not per request.
  const data = engines.describe();
  app.get(
    '/v1/kinds',
    {
      schema: {
        tags: ['tasks'],
        summary: 'The kinds of work this server runs, with their target and params schemas',
        description:
          'Every kind a task may have: the built-in engines and the model servers the operator configured. `target_schema` validates each entry of `targets`, `params_schema` the task-level `params`; a request that does not fit is refused with VALIDATION_ERROR or INVALID_TARGET naming the field.',
        response: { 200: listReply('Kind', 'Every kind, built-in ones first'), ...errorReplies },
      },
    },
    async () => ({ success: true, data }),
  );
}
