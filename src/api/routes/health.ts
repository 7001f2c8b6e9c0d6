import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.js';

export function healthRoutes(app: FastifyInstance, store: Store): void {
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'Liveness' } }, async () => ({ ok: true }));
  app.get(
    '/readyz',
    { schema: { tags: ['operations'], summary: 'Readiness: the database answers and has every migration this code needs' } },
    async (_req, reply) => {
      let pending: number;
      try {
        await store.ping();
        pending = await store.pendingMigrations();
      } catch (err) {
        return reply.status(503).send({ ok: false, database: store.dialect, error: { code: 'DATABASE_UNAVAILABLE', message: (err as Error).message } });
      }
      const migrations = { applied: pending === 0, pending };
      if (pending > 0) {
        // Another process applies them at its start; until then this code may not find its tables.
        const message = `${pending} database migration(s) not applied yet; start any hookwave process on this database to apply them`;
        return reply.status(503).send({ ok: false, database: store.dialect, migrations, error: { code: 'MIGRATIONS_PENDING', message } });
      }
      return { ok: true, database: store.dialect, migrations };
    },
  );
}
