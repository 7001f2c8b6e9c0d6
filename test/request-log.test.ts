/** Operators read one line per request: method, route pattern (no ids), status and time. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startService, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

let svc: TestService;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  svc = await startService({}, { logger: pino({ level: 'info' }, sink) });
});
afterAll(async () => svc.close());

it('logs each request once, at info, by route pattern', async () => {
  await svc.api('GET', '/v1/tasks/task_01abcdefghjkmnpqrstvwxyz12');
  const line = await until('the request line', () => lines.find((l) => l.route === '/v1/tasks/:id'));
  expect(line).toMatchObject({ level: 30, method: 'GET', route: '/v1/tasks/:id', status: 404, ms: expect.any(Number), msg: expect.stringMatching(/^GET \/v1\/tasks\/:id 404 [\d.]+ ms$/) });
  expect(JSON.stringify(lines)).not.toContain('task_01abcdefghjkmnpqrstvwxyz12');
  expect(lines.filter((l) => l.route === '/v1/tasks/:id')).toHaveLength(1);
});
