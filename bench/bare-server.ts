/**
 * The baseline for POST /v1/tasks: a bare Fastify route that parses the same JSON body and answers
 * the same 202 shape, with nothing behind it (no auth, no validation, no database).
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
let n = 0;
app.post('/v1/tasks', async (_req, reply) => reply.status(202).send({ success: true, task_id: `task_${++n}`, status: 'queued' }));
await app.listen({ host: '127.0.0.1', port: 0 });
const addr = app.server.address() as { port: number };
process.stdout.write(JSON.stringify({ msg: 'hookwave started', url: `http://127.0.0.1:${addr.port}` }) + '\n');
