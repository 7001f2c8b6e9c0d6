/**
 * Bring your own model server: a kind whose work is done by an HTTP service the operator runs (a
 * Demucs or MusicGen container, say). The contract is in docs/external-engines.md:
 *
 *   POST <url>  {task_id, target_id, kind, input: {url} | null, params, target}
 *   200         {outputs: [{name?, format, url}], duration?, info?}
 *   4xx/5xx     {error: {code, message}}   (5xx, timeouts and connection errors are retried)
 *
 * The model server fetches the input itself from `input.url`, so the worker never copies it
 * (`inputAccess: 'url'`). Output URLs on the model server's own origin are fetched directly (it is
 * operator-configured and usually private); any other output URL goes through the URL guard like
 * every outbound fetch.
 *
 * Everything in the answer is untrusted: a bad answer fails the target with ENGINE_FAILED. Nothing
 * the server says ends up in a file path: outputs are saved as `output-<index>.<format>` with the
 * format checked against the list and the container checked with ffprobe.
 */
import fs from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import type { ExternalEngineConfig } from '../config.js';
import { validateSchema } from '../schema/validation.js';
import { HookwaveError, isHookwaveError, type ErrorCode } from '../errors.js';
import { USER_AGENT } from '../version.js';
import { readCapped } from '../net/read-capped.js';
import type { UrlGuard } from '../net/url-guard.js';
import type { Engine, EngineRunContext, EngineResult, ProducedOutput } from './engine.js';
import { DEFAULT_OUTPUT_LIMITS, outputTooBig, type OutputLimits } from './output-limits.js';
import { EXTRACT_FORMATS, type ExtractFormat } from './extract.js';
import { analyseAudio, probe } from '../media/ffmpeg.js';

const PASSED_THROUGH: ErrorCode[] = ['NO_AUDIO_STREAM', 'UNSUPPORTED_MEDIA', 'INPUT_TOO_LARGE', 'DOWNLOAD_FAILED', 'INVALID_TARGET'];

/** The JSON answer lists outputs by URL; anything near this size is not a well-formed answer. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export const DEFAULT_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_RETRIES = 2;
/** A day: longer than any target may run (the worker's own target timeout stops it first). */
const MAX_TIMEOUT_MS = 24 * 3600_000;
/** Backoff doubles per retry; ten retries already wait 17 minutes in all. */
const MAX_RETRIES = 10;

/** Kinds appear in URLs, cost settings and metric labels; keep them to one safe spelling. */
export const EXTERNAL_KIND_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
/** The same rule as a target's `name` (see the target schema below): safe in a download file name. */
const OUTPUT_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

const CONFIG_FIELDS = ['kind', 'url', 'description', 'needs_input', 'timeout_ms', 'retries', 'token', 'target_schema', 'params_schema'];

/** ffprobe `format_name` entries that each output format may have (m4a reports "mov,mp4,m4a,3gp,3g2,mj2"). */
const CONTAINERS: Record<ExtractFormat, string[]> = {
  mp3: ['mp3'],
  wav: ['wav'],
  flac: ['flac'],
  ogg: ['ogg'],
  opus: ['ogg'],
  m4a: ['mp4', 'm4a', 'mov'],
};

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value from config or an answer, quoted and cut short for a message. */
function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** How a config entry is named in errors: by its kind, else by where it points (credentials left out). */
function entryName(raw: unknown): string {
  if (isObject(raw) && typeof raw.kind === 'string' && raw.kind !== '') return `HOOKWAVE_EXTERNAL_ENGINES entry "${raw.kind}"`;
  if (isObject(raw) && typeof raw.url === 'string') {
    try {
      const u = new URL(raw.url);
      return `HOOKWAVE_EXTERNAL_ENGINES entry with url ${u.origin}${u.pathname} (no kind)`;
    } catch {
      // fall through: the url is broken too
    }
  }
  return 'a HOOKWAVE_EXTERNAL_ENGINES entry';
}

/** Compiles a schema the way task validation will, so a broken one stops startup rather than every request. */
function compiles(schema: Json): string | null {
  try {
    validateSchema(schema, {}, 'probe');
  } catch (err) {
    // A HookwaveError means it compiled and merely rejected the empty probe value.
    if (!isHookwaveError(err)) return (err as Error).message;
  }
  return null;
}

/**
 * Checks one configured model server and throws an error naming the entry and the field, so a typo
 * stops startup instead of silently using a default or failing every task of the kind.
 */
export function checkExternalEngineConfig(raw: unknown): ExternalEngineConfig {
  const entry = entryName(raw);
  const fail = (field: string, problem: string): never => {
    throw new Error(`${entry}: ${field} ${problem}`);
  };
  if (!isObject(raw)) throw new Error(`${entry} must be a JSON object, got ${show(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!CONFIG_FIELDS.includes(key)) fail(key, `is not a known field (known: ${CONFIG_FIELDS.join(', ')})`);
  }
  if (typeof raw.kind !== 'string' || !EXTERNAL_KIND_PATTERN.test(raw.kind)) {
    fail('kind', `must be 1 to 64 lower-case letters, digits, "-" or "_", starting with a letter; got ${show(raw.kind)}`);
  }
  if (typeof raw.url !== 'string') fail('url', `must be an http(s) URL; got ${show(raw.url)}`);
  let url: URL | null = null;
  try {
    url = new URL(raw.url as string);
  } catch {
    fail('url', `is not a valid URL: ${show(raw.url)}`);
  }
  if (url!.protocol !== 'http:' && url!.protocol !== 'https:') fail('url', `must use http or https, not ${url!.protocol}`);
  if (url!.username || url!.password) fail('url', 'must not contain a user name or password (put a credential in "token")');
  if (raw.description !== undefined && typeof raw.description !== 'string') fail('description', `must be a string; got ${show(raw.description)}`);
  if (raw.needs_input !== undefined && typeof raw.needs_input !== 'boolean') fail('needs_input', `must be true or false; got ${show(raw.needs_input)}`);
  if (raw.timeout_ms !== undefined) {
    const t = raw.timeout_ms;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_TIMEOUT_MS) fail('timeout_ms', `must be a whole number of ms from 1 to ${MAX_TIMEOUT_MS}; got ${show(t)}`);
  }
  if (raw.retries !== undefined) {
    const r = raw.retries;
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r > MAX_RETRIES) fail('retries', `must be a whole number from 0 to ${MAX_RETRIES}; got ${show(r)}`);
  }
  // It goes into a header: control characters or spaces would break (or smuggle) the request.
  if (raw.token !== undefined && (typeof raw.token !== 'string' || !/^[\x21-\x7e]+$/.test(raw.token))) {
    fail('token', 'must be a non-empty string of printable ASCII without spaces');
  }
  for (const field of ['target_schema', 'params_schema'] as const) {
    const schema = raw[field];
    if (schema === undefined) continue;
    if (!isObject(schema)) fail(field, `must be a JSON schema object; got ${show(schema)}`);
    const s = schema as Json;
    if (s.properties !== undefined && !isObject(s.properties)) fail(`${field}.properties`, 'must be an object');
    if (s.required !== undefined && !(Array.isArray(s.required) && s.required.every((x) => typeof x === 'string'))) fail(`${field}.required`, 'must be an array of field names');
    const problem = compiles(s);
    if (problem) fail(field, `is not a valid JSON schema: ${problem}`);
  }
  return raw as unknown as ExternalEngineConfig;
}

function engineFailed(message: string, details?: unknown): HookwaveError {
  return new HookwaveError('ENGINE_FAILED', message, details);
}

function canceled(): HookwaveError {
  return new HookwaveError('CANCELED', 'canceled');
}

interface PlannedOutput {
  /** "outputs[2]", for messages. */
  at: string;
  name: string;
  format: ExtractFormat;
  url: string;
  file: string;
}

/** Validates the outputs of an answer before anything is fetched. */
function planOutputs(answer: Json, ctx: EngineRunContext): PlannedOutput[] {
  const list = answer.outputs;
  if (!Array.isArray(list) || list.length === 0) throw engineFailed('the model server answered without outputs');
  const bad = (problem: string) => engineFailed(`the model server's answer is invalid: ${problem}`);
  const byName = new Map<string, string>();
  return list.map((o: unknown, i) => {
    const at = `outputs[${i}]`;
    if (!isObject(o)) throw bad(`${at} is not an object`);
    if (typeof o.url !== 'string' || o.url === '') throw bad(`${at}.url is missing`);
    const format = o.format ?? ctx.target.format;
    if (typeof format !== 'string' || !(EXTRACT_FORMATS as readonly string[]).includes(format)) {
      throw bad(`${at}.format ${show(o.format)} is not one of: ${EXTRACT_FORMATS.join(', ')}`);
    }
    let name: string;
    if (o.name === undefined || o.name === null) name = list.length === 1 ? ctx.targetName : `${ctx.targetName}-${i}`;
    else if (typeof o.name === 'string' && OUTPUT_NAME_PATTERN.test(o.name)) name = o.name;
    else throw bad(`${at}.name ${show(o.name)} is not a valid output name (1 to 64 of A-Z a-z 0-9 . _ -)`);
    const clash = byName.get(name);
    if (clash) throw bad(`${at} has the same name "${name}" as ${clash}; each output of a target needs its own name`);
    byName.set(name, at);
    return { at, name, format: format as ExtractFormat, url: o.url, file: path.join(ctx.outDir, `output-${i}.${format}`) };
  });
}

/** What ffprobe says about a fetched output, which must really be audio in the container its format names. */
async function describeFetched(o: PlannedOutput, signal: AbortSignal): Promise<ProducedOutput> {
  let probed;
  try {
    probed = await probe(o.file, { signal });
  } catch (err) {
    if (isHookwaveError(err) && (err.code === 'UNSUPPORTED_MEDIA' || err.code === 'NO_AUDIO_STREAM')) {
      throw engineFailed(`${o.at} of the model server is not readable audio: ${err.message.replace(/^input (is not a readable audio or video file: )?/, '')}`);
    }
    throw err;
  }
  const containers = probed.formatName.split(',');
  if (!CONTAINERS[o.format].some((c) => containers.includes(c))) {
    throw engineFailed(`${o.at} of the model server claims format "${o.format}" but the file is ${probed.formatName} (${probed.audio!.codec})`);
  }
  const audio = probed.audio!;
  const { loudness, peaks } = await analyseAudio(o.file, signal);
  return {
    name: o.name,
    format: o.format,
    path: o.file,
    size: (await stat(o.file)).size,
    duration: audio.duration ?? probed.duration,
    bitrate: audio.bitrate ?? probed.bitrate,
    sample_rate: audio.sampleRate,
    channels: audio.channels,
    loudness,
    peaks,
  };
}

export function createExternalEngine(raw: ExternalEngineConfig, guard: UrlGuard): Engine {
  const cfg = checkExternalEngineConfig(raw);
  const endpoint = new URL(cfg.url);
  const origin = endpoint.origin;
  const direct: Dispatcher = new Agent({ connections: 16 });
  const timeoutMs = cfg.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  const retries = cfg.retries ?? DEFAULT_RETRIES;
  const needsInput = cfg.needs_input ?? true;

  async function call(ctx: EngineRunContext): Promise<Json> {
    const body = JSON.stringify({
      task_id: ctx.taskId,
      target_id: ctx.targetId,
      kind: cfg.kind,
      input: ctx.inputUrl ? { url: ctx.inputUrl } : null,
      params: ctx.params,
      target: { name: ctx.targetName, ...ctx.target },
    });
    let lastError = '';
    let lastCode: string | null = null;
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        if (attempt > 0) await sleep(1000 * 2 ** (attempt - 1), undefined, { signal: ctx.signal });
        if (ctx.signal.aborted) throw canceled();
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
        if (truncated) throw engineFailed(`the model server's answer is larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB (outputs go by URL, not inline)`);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        const answer = isObject(parsed) ? parsed : null;
        if (res.statusCode >= 200 && res.statusCode < 300) {
          if (!answer) throw engineFailed(`the model server answered HTTP ${res.statusCode} without a JSON object`);
          return answer;
        }
        const error = answer && isObject(answer.error) ? answer.error : null;
        const serverCode = typeof error?.code === 'string' ? error.code.slice(0, 100) : null;
        const serverMessage = typeof error?.message === 'string' ? error.message.slice(0, 500) : answer ? 'no message' : text.slice(0, 200) || 'no message';
        const message = `model server answered HTTP ${res.statusCode}: ${serverMessage}`;
        if (res.statusCode < 500) {
          const code = PASSED_THROUGH.includes(serverCode as ErrorCode) ? (serverCode as ErrorCode) : 'ENGINE_FAILED';
          throw new HookwaveError(code, message, { engine_code: serverCode });
        }
        lastError = message;
        lastCode = serverCode;
      } catch (err) {
        if (ctx.signal.aborted) throw canceled();
        if (isHookwaveError(err)) throw err;
        const code = (err as { code?: unknown }).code;
        lastError =
          code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
            ? `the model server did not answer within ${timeoutMs} ms`
            : `model server unreachable: ${(err as Error).message}`;
        lastCode = null;
      }
    }
    const calls = retries + 1;
    throw engineFailed(`${lastError} (gave up after ${calls} ${calls === 1 ? 'call' : 'calls'})`, { calls, engine_code: lastCode });
  }

  async function fetchOutput(o: PlannedOutput, signal: AbortSignal, limits: OutputLimits): Promise<void> {
    let target: URL;
    try {
      target = new URL(o.url, cfg.url);
    } catch {
      throw engineFailed(`the model server's answer is invalid: ${o.at}.url ${show(o.url)} is not a URL`);
    }
    const sameOrigin = target.origin === origin;
    if (!sameOrigin) {
      try {
        guard.checkUrl(o.url, `${o.at}.url`);
      } catch (err) {
        throw isHookwaveError(err) ? engineFailed(`the model server's answer is invalid: ${err.message}`) : err;
      }
    }
    try {
      const res = await request(target, { dispatcher: sameOrigin ? direct : guard.dispatcher, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw engineFailed(`fetching ${o.at} from the model server answered HTTP ${res.statusCode}`);
      }
      let size = 0;
      res.body.on('data', (c: Buffer) => {
        size += c.length;
        if (size >= limits.outputBytes) res.body.destroy(outputTooBig(limits));
      });
      await pipeline(res.body, fs.createWriteStream(o.file, { flags: 'wx' }), { signal });
    } catch (err) {
      if (signal.aborted) throw canceled();
      if (isHookwaveError(err)) throw err;
      throw engineFailed(`fetching ${o.at} from the model server failed: ${(err as Error).message}`);
    }
  }

  return {
    kind: cfg.kind,
    // Published to every tenant by GET /v1/kinds: where the model server lives stays with the operator.
    description: cfg.description ?? `work done by a model server (kind "${cfg.kind}")`,
    source: `HOOKWAVE_EXTERNAL_ENGINES entry "${cfg.kind}" (${origin}${endpoint.pathname})`,
    needsInput,
    inputAccess: 'url',
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
      if (needsInput && !ctx.inputUrl) throw new HookwaveError('DOWNLOAD_FAILED', "the task's input is gone (an upload expires some time after it was made)");
      ctx.progress(0.05);
      const answer = await call(ctx);
      const planned = planOutputs(answer, ctx);
      if (answer.duration != null && !(typeof answer.duration === 'number' && Number.isFinite(answer.duration) && answer.duration >= 0)) {
        throw engineFailed(`the model server's answer is invalid: duration ${show(answer.duration)} is not a number of seconds`);
      }
      if (answer.info != null && !isObject(answer.info)) throw engineFailed(`the model server's answer is invalid: info ${show(answer.info)} is not an object`);
      ctx.progress(0.8);
      const outputs: ProducedOutput[] = [];
      for (const o of planned) {
        await fetchOutput(o, ctx.signal, ctx.limits ?? DEFAULT_OUTPUT_LIMITS);
        outputs.push(await describeFetched(o, ctx.signal));
      }
      ctx.progress(1);
      return {
        outputs,
        duration: typeof answer.duration === 'number' ? answer.duration : (outputs[0]?.duration ?? null),
        ...(isObject(answer.info) ? { info: answer.info } : {}),
      };
    },
  };
}
