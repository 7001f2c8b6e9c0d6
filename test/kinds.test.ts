/**
 * GET /v1/kinds publishes what the server runs, so clients build requests from it instead of from a
 * list of their own: the built-in engines and a model server the operator configured, each with
 * valid JSON schemas that agree with what POST /v1/tasks accepts. The SDK's `hw.kinds.list()` and
 * `hookwave kinds` (a real process) read it.
 */
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hookwave, type JsonSchema, type Kind } from '@hookwave/client';
import { closedPort } from './helpers/closed-port.js';
import { runCliAsync } from './helpers/process.js';
import { startService, type TestService } from './helpers/service.js';

const echo = {
  kind: 'echo',
  url: 'http://127.0.0.1:9/work',
  description: 'Plays the input back louder',
  target_schema: { properties: { gain: { type: 'number', minimum: 0, maximum: 4, description: 'How much louder' } }, required: ['gain'] },
  params_schema: { type: 'object', additionalProperties: false, properties: { mood: { type: 'string', enum: ['calm', 'loud'] } } },
};
const muse = { kind: 'muse', url: 'http://127.0.0.1:9/compose', needs_input: false };

let svc: TestService;
let inputUrl: string;

beforeAll(async () => {
  // The API alone: no worker picks up the tasks these requests store.
  svc = await startService({ role: 'api', externalEngines: [echo, muse] });
  inputUrl = `http://127.0.0.1:${await closedPort()}/song.wav`;
});
afterAll(() => svc.close());

/** The smallest value a schema accepts, as a client that reads the schema would write it. */
function sample(schema: JsonSchema): unknown {
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === 'number' || type === 'integer') return (schema.minimum as number | undefined) ?? 1;
  if (type === 'string') return 'x';
  if (type === 'boolean') return true;
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = (schema.required ?? []) as string[];
  return Object.fromEntries(required.map((k) => [k, sample(properties[k] ?? {})]));
}

async function listed(): Promise<Kind[]> {
  const res = await svc.api('GET', '/v1/kinds');
  expect(res.status).toBe(200);
  return res.body.data as Kind[];
}

describe('GET /v1/kinds', () => {
  it('needs an API key', async () => {
    const res = await fetch(`${svc.url}/v1/kinds`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'UNAUTHORIZED' } });
  });

  it('lists the built-in kinds and the configured model servers, with every field the engines have', async () => {
    const kinds = await listed();
    expect(kinds.map((k) => [k.kind, k.needs_input, k.built_in])).toEqual([
      ['extract', true, true],
      ['stems', true, true],
      ['generate', false, true],
      ['echo', true, false],
      ['muse', false, false],
    ]);
    // Serialisation through the response schema drops nothing: the schemas arrive whole.
    expect(kinds).toEqual(svc.hw.engines.describe());
    const byKind = Object.fromEntries(kinds.map((k) => [k.kind, k]));
    expect(byKind.echo!.description).toBe('Plays the input back louder');
    expect(byKind.echo!.target_schema).toMatchObject({ required: ['format', 'gain'], properties: { gain: echo.target_schema.properties.gain, format: { enum: ['mp3', 'wav', 'flac', 'ogg', 'opus', 'm4a'] } } });
    expect(byKind.echo!.params_schema).toEqual(echo.params_schema);
    expect(byKind.stems!.target_schema).toMatchObject({ required: ['stem', 'format'], properties: { stem: { enum: ['vocals', 'instrumental', 'drums', 'bass', 'other'] } } });
    // The model server's address (and its token) is the operator's business.
    expect(JSON.stringify(kinds)).not.toContain('127.0.0.1:9');
  });

  it('publishes valid JSON schemas that agree with what POST /v1/tasks accepts and refuses', async () => {
    const ajv = new Ajv({ strict: true, allErrors: true });
    for (const k of await listed()) {
      for (const schema of [k.target_schema, k.params_schema]) expect(ajv.validateSchema(schema), `${k.kind}: ${ajv.errorsText()}`).toBe(true);
      const target = ajv.compile(k.target_schema);
      const params = ajv.compile(k.params_schema);
      const good = sample(k.target_schema) as Record<string, unknown>;
      expect(target(good), `${k.kind} ${JSON.stringify(good)}: ${ajv.errorsText(target.errors)}`).toBe(true);
      expect(params({})).toBe(true);
      const body = { kind: k.kind, ...(k.needs_input ? { input: { url: inputUrl } } : {}), targets: [good] };
      const accepted = await svc.api('POST', '/v1/tasks', body);
      expect(accepted.status, `${k.kind}: ${JSON.stringify(accepted.body)}`).toBe(202);

      const bad = { ...good, format: 'mp4' };
      expect(target(bad)).toBe(false);
      const refused = await svc.api('POST', '/v1/tasks', { ...body, targets: [bad] });
      expect(refused.status).toBe(400);
      expect(refused.body.error.details.field).toBe('targets[0].format');
    }
    const moodless = await svc.api('POST', '/v1/tasks', { kind: 'echo', input: { url: inputUrl }, targets: [{ format: 'mp3', gain: 2 }], params: { mood: 'sad' } });
    expect(moodless.status).toBe(400);
    expect(ajv.compile(echo.params_schema)({ mood: 'sad' })).toBe(false);
  });
});

describe('hw.kinds.list()', () => {
  it('returns what the API publishes, typed', async () => {
    const hw = new Hookwave({ baseUrl: svc.url, apiKey: svc.key });
    const kinds: Kind[] = await hw.kinds.list();
    expect(kinds).toEqual(await listed());
    const generate = kinds.find((k) => k.kind === 'generate')!;
    expect(generate.needs_input).toBe(false);
    expect(Object.keys(generate.params_schema.properties as object)).toContain('prompt');
  });
});

describe('hookwave kinds', () => {
  const env = () => ({ HOOKWAVE_URL: svc.url, HOOKWAVE_API_KEY: svc.key });

  it('prints a table with column headers, one row per kind', async () => {
    const r = await runCliAsync(['kinds'], env());
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['KIND', 'INPUT', 'SOURCE', 'TARGET NEEDS', 'DESCRIPTION']);
    expect(rows.map((l) => l.split(/\s{2,}/).slice(0, 4))).toEqual([
      ['extract', 'required', 'built-in', 'format'],
      ['stems', 'required', 'built-in', 'stem, format'],
      ['generate', 'none', 'built-in', 'format'],
      ['echo', 'required', 'model server', 'format, gain'],
      ['muse', 'none', 'model server', 'format'],
    ]);
    expect(rows[3]).toContain('Plays the input back louder');
  });

  it('shows the fields of one kind, and prints the API answer with --json', async () => {
    const one = await runCliAsync(['kinds', 'echo'], env());
    expect(one.status).toBe(0);
    const lines = one.stdout.split('\n');
    expect(lines[0]).toBe('echo: Plays the input back louder');
    expect(lines.find((l) => l.startsWith('gain'))!.split(/\s{2,}/)).toEqual(['gain', 'yes', 'number', 'How much louder']);
    expect(lines.find((l) => l.startsWith('mood'))!.split(/\s{2,}/)).toEqual(['mood', 'no', 'calm|loud']);

    const json = await runCliAsync(['kinds', '--json'], env());
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await listed());

    const unknown = await runCliAsync(['kinds', 'karaoke'], env());
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('kind "karaoke" is not one of: extract, stems, generate, echo, muse');
  });
});
