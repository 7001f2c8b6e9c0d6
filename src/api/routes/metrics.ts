import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../metrics.js';

export function metricsRoutes(app: FastifyInstance, metrics: Metrics): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics of this process',
        description:
          'Text exposition format. Tasks by status and kind, targets and due deliveries are counted in the database at each scrape (the same for every process); counters and histograms (target durations, delivery attempts and latency) are those of this process.',
        produces: ['text/plain'],
      },
    },
    async (_req, reply) => {
      const text = await metrics.registry.metrics();
      return reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store').send(text);
    },
  );
}
