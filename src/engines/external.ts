/**
 * Bring your own model server: a kind whose work is done by an HTTP service the operator runs (a
 * Demucs or MusicGen container, say). The contract is in docs/external-engines.md:
 *
 *   POST <url>  {task_id, target_id, kind, input: {url} | null, params, target}
 *   200         {outputs: [{name?, format, url}], duration?}
 *   4xx/5xx     {error: {code, message}}   (5xx, timeouts and connection errors are retried)
 *
 * Output URLs on the model server's own origin are fetched directly (it is operator-configured
 * and usually private); any other output URL goes through the URL guard like every outbound fetch.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Agent, request, type Dispatcher } from 'undici';
import type { ExternalEngineConfig } from '../config.js';
import { HookwaveError, type ErrorCode } from '../errors.js';
import { USER_AGENT } from '../version.js';
import { readCapped, type UrlGuard } from '../webhooks/url-guard.js';
import type { Engine, EngineRunContext, EngineResult } from './engine.js';
import { EXTRACT_FORMATS } from './extract.js';
import { describeOutput } from './ffmpeg.js';

const PASSED_THROUGH: ErrorCode[] = ['NO_AUDIO_STREAM', 'UNSUPPORTED_MEDIA', 'INPUT_TOO_LARGE', 'DOWNLOAD_FAILED', 'INVALID_TARGET'];
const MAX_OUTPUT_BYTES = 2 * 1024 * 1024 * 1024;

/** The JSON answer lists outputs by URL; anything near this size is not a well-formed answer. */
const MAX_ANSWER_BYTES = 1024 * 1024;

interface ServerAnswer {
  outputs?: Array<{ name?: string; format?: string; url?: string }>;
  duration?: number;
  info?: Record<string, unknown>;
  error?: { code?: string; message?: string };
}

export function createExternalEngine(cfg: ExternalEngineConfig, guard: UrlGuard): Engine {
  const origin = new URL(cfg.url).origin;
  const direct: Dispatcher = new Agent({ connections: 16 });
  const timeoutMs = cfg.timeout_ms ?? 10 * 60_000;
  const retries = cfg.retries ?? 2;

  async function call(ctx: EngineRunContext): Promise<ServerAnswer> {
    const body = JSON.stringify({
      task_id: ctx.taskId,
      target_id: ctx.targetId,
      kind: cfg.kind,
      input: ctx.inputUrl ? { url: ctx.inputUrl } : null,
      params: ctx.params,
      target: { name: ctx.targetName, ...ctx.target },
    });
    let lastError = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 1000 * 2 ** (attempt - 1)));
      if (ctx.signal.aborted) throw new HookwaveError('CANCELED', 'canceled');
      try {
        const res = await request(cfg.url, {
          method: 'POST',
          body,
          dispatcher: direct,
          signal: ctx.signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          headers: {
            'content-type': 'application/json',
            'user-agent': USER_AGENT,
            // The same target retried is the same work: a model server may deduplicate on it.
            'idempotency-key': ctx.targetId,
            ...(cfg.token ? { authorization: `Bearer ${cfg.token}` } : {}),
          },
        });
        const { text, truncated } = await readCapped(res.body, MAX_ANSWER_BYTES);
        if (truncated) throw new HookwaveError('ENGINE_FAILED', `the model server's answer is larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB (outputs go by URL, not inline)`);
        let answer: ServerAnswer;
        try {
          answer = JSON.parse(text) as ServerAnswer;
        } catch {
          answer = { error: { message: text.slice(0, 500) } };
        }
        if (res.statusCode >= 200 && res.statusCode < 300) return answer;
        const message = `model server answered HTTP ${res.statusCode}: ${answer.error?.message ?? 'no message'}`;
        if (res.statusCode < 500) {
          const code = PASSED_THROUGH.includes(answer.error?.code as ErrorCode) ? (answer.error!.code as ErrorCode) : 'ENGINE_FAILED';
          throw new HookwaveError(code, message, { engine_code: answer.error?.code ?? null });
        }
        lastError = message;
      } catch (err) {
        if (err instanceof HookwaveError) throw err;
        if (ctx.signal.aborted) throw new HookwaveError('CANCELED', 'canceled');
        lastError = `model server unreachable: ${(err as Error).message}`;
      }
    }
    throw new HookwaveError('ENGINE_FAILED', `${lastError} (after ${retries + 1} calls)`);
  }

  async function fetchOutput(url: string, dest: string, signal: AbortSignal): Promise<void> {
    const sameOrigin = new URL(url, cfg.url).origin === origin;
    if (!sameOrigin) guard.checkUrl(url, 'outputs[].url');
    const res = await request(new URL(url, cfg.url), { dispatcher: sameOrigin ? direct : guard.dispatcher, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new HookwaveError('ENGINE_FAILED', `fetching a model server output answered HTTP ${res.statusCode}`);
    }
    let size = 0;
    res.body.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_OUTPUT_BYTES) res.body.destroy(new HookwaveError('ENGINE_FAILED', 'a model server output is larger than 2 GiB'));
    });
    await pipeline(res.body, fs.createWriteStream(dest), { signal });
  }

  return {
    kind: cfg.kind,
    description: cfg.description ?? `work done by the model server at ${origin}`,
    needsInput: cfg.needs_input ?? true,
    targetSchema: {
      type: 'object',
      required: ['format'],
      properties: {
        ...((cfg.target_schema?.properties as Record<string, unknown> | undefined) ?? {}),
        name: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' },
        format: { type: 'string', enum: [...EXTRACT_FORMATS] },
      },
      ...(cfg.target_schema?.required ? { required: ['format', ...(cfg.target_schema.required as string[])] } : {}),
      additionalProperties: cfg.target_schema ? (cfg.target_schema.additionalProperties ?? false) : true,
    },
    paramsSchema: cfg.params_schema ?? { type: 'object' },
    targetName: (t) => (typeof t.name === 'string' ? t.name : String(t.format)),
    async run(ctx: EngineRunContext): Promise<EngineResult> {
      ctx.progress(0.05);
      const answer = await call(ctx);
      if (!Array.isArray(answer.outputs) || answer.outputs.length === 0) {
        throw new HookwaveError('ENGINE_FAILED', 'the model server answered without outputs');
      }
      ctx.progress(0.8);
      const outputs = [];
      for (const [i, o] of answer.outputs.entries()) {
        if (!o.url) throw new HookwaveError('ENGINE_FAILED', `outputs[${i}] of the model server has no url`);
        const format = o.format ?? String(ctx.target.format);
        const name = o.name && /^[A-Za-z0-9._-]{1,64}$/.test(o.name) ? o.name : answer.outputs.length === 1 ? ctx.targetName : `${ctx.targetName}-${i}`;
        const dest = path.join(ctx.outDir, `${name}.${format}`);
        await fetchOutput(o.url, dest, ctx.signal);
        outputs.push(await describeOutput(dest, name, format));
      }
      ctx.progress(1);
      return { outputs, duration: typeof answer.duration === 'number' ? answer.duration : (outputs[0]?.duration ?? null), info: answer.info };
    },
  };
}
