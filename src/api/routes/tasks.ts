import type { FastifyInstance } from 'fastify';
import type { CreateTaskBody, TaskService } from '../../services/tasks.js';
import type { TaskStatus } from '../../domain/types.js';
import { HookwaveError } from '../../errors.js';
import { isId } from '../../ids.js';
import { createTaskBodySchema, createTaskReplySchema, errorReplies, listReply, plainReply } from '../schemas.js';

const STATUSES = ['queued', 'processing', 'completed', 'failed', 'canceled'];
const ENDED = ['completed', 'failed', 'canceled'];
/** Replicate's bound: a request held longer than a minute meets proxies' idle timeouts. */
const MAX_WAIT_S = 60;

/**
 * Seconds to wait from a Prefer header (RFC 7240): `wait` is the longest allowed, `wait=N` is N
 * (capped); null without a wait preference. A malformed one is a 400 naming the header.
 */
export function preferredWait(header: string | undefined): number | null {
  if (!header) return null;
  for (const part of header.split(',')) {
    const m = /^\s*wait(?:\s*=\s*"?([^",;\s]*)"?)?\s*(?:;.*)?$/i.exec(part);
    if (!m) continue;
    if (m[1] === undefined || m[1] === '') return MAX_WAIT_S;
    if (!/^[0-9]{1,5}$/.test(m[1]) || Number(m[1]) < 1) {
      throw new HookwaveError('VALIDATION_ERROR', `Prefer: wait=${m[1]} is not a whole number of seconds from 1 to ${MAX_WAIT_S}`, { field: 'Prefer' });
    }
    return Math.min(Number(m[1]), MAX_WAIT_S);
  }
  return null;
}
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } as const;

export function taskRoutes(app: FastifyInstance, tasks: TaskService): void {
  app.post<{ Body: CreateTaskBody; Headers: { 'idempotency-key'?: string; prefer?: string; 'cancel-after'?: string } }>(
    '/v1/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Create a task',
        description:
          'Answers 202 as soon as the task and its targets are durably stored. Send Idempotency-Key to make retries safe. ' +
          `With \`Prefer: wait\` (or \`wait=N\`, N seconds, at most ${MAX_WAIT_S}) the answer waits for the task: 201 with the ended task and ` +
          '`Preference-Applied: wait=N` when it ends in time, else the usual 202 with the task still running. Webhooks are sent either way.',
        body: createTaskBodySchema,
        headers: {
          type: 'object',
          properties: {
            'idempotency-key': { type: 'string', minLength: 1, maxLength: 255 },
            'cancel-after': { type: 'string', maxLength: 40, description: 'A duration (90, 30s, 5m, 1h30m): the task is canceled with DEADLINE_EXCEEDED if it has not ended by then' },
            prefer: { type: 'string', maxLength: 200, description: `wait or wait=N (seconds, 1..${MAX_WAIT_S}): answer with the ended task if it ends within N seconds` },
          },
        },
        response: { 200: createTaskReplySchema, 201: { $ref: 'Task#' }, 202: createTaskReplySchema, 409: { $ref: 'Error#' }, ...errorReplies },
      },
    },
    async (req, reply) => {
      const waitS = preferredWait(req.headers.prefer);
      const { task, replayed } = await tasks.create(req.tenant.id, req.body, req.headers['idempotency-key'], null, req.headers['cancel-after']);
      if (replayed) void reply.header('idempotent-replayed', 'true');
      if (waitS !== null) {
        // A client that hangs up stops the wait; the task goes on regardless.
        const gone = new AbortController();
        req.raw.once('close', () => gone.abort());
        const view = await tasks.waitForEnd(req.tenant.id, task.id, waitS * 1000, gone.signal);
        if (ENDED.includes(view.status)) return reply.status(201).header('preference-applied', `wait=${waitS}`).send(view);
        return reply.status(202).send({ success: true, task_id: task.id, status: view.status });
      }
      return reply.status(202).send({ success: true, task_id: task.id, status: task.status });
    },
  );

  app.get<{ Querystring: { status?: string; kind?: string; cursor?: string; limit?: string } }>(
    '/v1/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'List tasks, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: STATUSES },
            kind: { type: 'string', maxLength: 64 },
            cursor: { type: 'string', maxLength: 64, description: 'next_cursor of the previous page' },
            limit: { type: 'string', pattern: '^[0-9]{1,3}$', description: '1..100, default 20' },
          },
        },
        response: { 200: listReply('Task', 'One page of tasks, newest first', true), ...errorReplies },
      },
    },
    async (req) => {
      const limit = req.query.limit === undefined ? 20 : Number(req.query.limit);
      if (limit < 1 || limit > 100) throw new HookwaveError('VALIDATION_ERROR', 'limit must be between 1 and 100', { field: 'limit' });
      if (req.query.cursor !== undefined && !isId('task', req.query.cursor)) {
        throw new HookwaveError('INVALID_CURSOR', 'cursor is not a next_cursor this API returned', { field: 'cursor' });
      }
      const page = await tasks.list({
        tenantId: req.tenant.id,
        status: req.query.status as TaskStatus | undefined,
        kind: req.query.kind,
        cursor: req.query.cursor,
        limit,
      });
      return { success: true, ...page };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/tasks/:id',
    { schema: { tags: ['tasks'], summary: 'Get a task with fresh download URLs', params: idParams, response: { 200: { $ref: 'Task#' }, ...errorReplies } } },
    async (req) => tasks.get(req.tenant.id, req.params.id),
  );

  app.post<{ Params: { id: string } }>(
    '/v1/tasks/:id/cancel',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Cancel a queued or running task',
        description: 'Running engines are stopped; the task ends canceled and a task.canceled event is sent.',
        params: idParams,
        response: { 200: createTaskReplySchema, 409: { $ref: 'Error#' }, ...errorReplies },
      },
    },
    async (req) => {
      const task = await tasks.cancel(req.tenant.id, req.params.id);
      return { success: true, task_id: task.id, status: task.status };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Delete a task: its files, its upload, and its personal fields',
        description:
          'Removes the output files and the uploaded input at once (local or bucket storage) and redacts `input`, `metadata` and `webhook_url`; ' +
          'the task keeps its id, status, costs and times, with `deleted_at`. A queued or running task is canceled first. Signed links to its files answer 410. ' +
          'The removal is recorded before it is done, so it completes even if this process stops halfway. Deleting again answers the same.',
        params: idParams,
        response: {
          200: plainReply('Deleted', { id: { type: 'string', description: 'The task id' }, deleted: { type: 'boolean', const: true, description: 'Always true' } }),
          ...errorReplies,
        },
      },
    },
    async (req) => {
      await tasks.delete(req.tenant.id, req.params.id);
      return { success: true, id: req.params.id, deleted: true };
    },
  );
}
