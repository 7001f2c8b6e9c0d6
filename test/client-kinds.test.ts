/**
 * The client's per-kind request types (packages/client/src/kinds.ts) are written by hand; this holds
 * them to the schemas the server publishes on GET /v1/kinds, so an engine that gains an option, a
 * format or a stem fails here until the client knows it too.
 *
 * Each type is described below by a map the compiler checks against the type (every property, its
 * JSON type and whether it is optional — nothing more, nothing less), and this test checks the same
 * map against the served schema; enums are compared with the client's exported lists, which the
 * compiler holds to the literal unions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIO_FORMATS,
  BUILT_IN_KINDS,
  Hookwave,
  SAMPLE_RATES,
  STEM_METHODS,
  STEMS,
  type AudioFormat,
  type BuiltInKind,
  type ExtractTaskRequest,
  type ExtractTarget,
  type GenerateParams,
  type GenerateTarget,
  type GenerateTaskRequest,
  type JsonSchema,
  type Kind,
  type LoudnessTarget,
  type NoParams,
  type SampleRate,
  type Stem,
  type StemMethod,
  type StemsParams,
  type StemsTarget,
  type StemsTaskRequest,
} from '@hookwave/client';
import { startService, type TestService } from './helpers/service.js';

type JsonType<V> = [V] extends [string] ? 'string' : [V] extends [number] ? 'number' : [V] extends [boolean] ? 'boolean' : [V] extends [object] ? 'object' : 'number|string';
type Described<T> = { [K in keyof T]-?: `${{} extends Pick<T, K> ? 'optional' : 'required'} ${JsonType<NonNullable<T[K]>>}` };
/** A map naming every property of T with its presence and JSON type, and no other (the `never` part). */
const described =
  <T>() =>
  <const M extends Described<T> & { [K in Exclude<keyof M, keyof T>]: never }>(m: M): M =>
    m;
/** A list with every member of the union T, checked by the compiler. */
const every =
  <T>() =>
  <const A extends readonly T[]>(a: A & ([Exclude<T, A[number]>] extends [never] ? unknown : { missing: Exclude<T, A[number]> })): A =>
    a;
/** Whether the request type R requires `input`, as a value the compiler checks. */
const needsInput = <R>(v: {} extends Pick<R, 'input' & keyof R> ? false : true) => v;
/** `params` of a kind that takes none: the client's type must be NoParams. */
const noParams = <P>(..._: [NonNullable<P>] extends [NoParams] ? [] : [never]) => ({});

type Channels<T extends { channels?: number }> = NonNullable<T['channels']>;

const client: Record<BuiltInKind, { needsInput: boolean; target: Record<string, string>; params: Record<string, string>; channels: readonly number[] }> = {
  extract: {
    needsInput: needsInput<ExtractTaskRequest>(true),
    target: described<ExtractTarget>()({ format: 'required string', name: 'optional string', bitrate: 'optional number|string', sample_rate: 'optional number', channels: 'optional number', loudness: 'optional object' }),
    params: noParams<ExtractTaskRequest['params']>(),
    channels: every<Channels<ExtractTarget>>()([1, 2, 3, 4, 5, 6, 7, 8]),
  },
  stems: {
    needsInput: needsInput<StemsTaskRequest>(true),
    target: described<StemsTarget>()({ stem: 'required string', format: 'required string', name: 'optional string', bitrate: 'optional number|string', sample_rate: 'optional number', channels: 'optional number', loudness: 'optional object' }),
    params: described<StemsParams>()({ method: 'optional string' }),
    channels: every<Channels<StemsTarget>>()([1, 2]),
  },
  generate: {
    needsInput: needsInput<GenerateTaskRequest>(false),
    target: described<GenerateTarget>()({ format: 'required string', name: 'optional string', bitrate: 'optional number|string', sample_rate: 'optional number', channels: 'optional number', loudness: 'optional object' }),
    params: described<GenerateParams>()({ prompt: 'optional string', duration: 'optional number', bpm: 'optional number', keyscale: 'optional string', timesignature: 'optional number', seed: 'optional number' }),
    channels: every<Channels<GenerateTarget>>()([1, 2]),
  },
};
const formats = every<AudioFormat>()(AUDIO_FORMATS);
const stems = every<Stem>()(STEMS);
const sampleRates = every<SampleRate>()(SAMPLE_RATES);
const stemMethods = every<StemMethod>()(STEM_METHODS);
const loudness = described<LoudnessTarget>()({ integrated: 'required number', true_peak: 'optional number' });

/** A schema's properties as the maps above write them. */
function describeSchema(schema: JsonSchema): Record<string, string> {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = (schema.required ?? []) as string[];
  const jsonType = (p: JsonSchema): string => {
    const types = Array.isArray(p.oneOf) ? (p.oneOf as JsonSchema[]).map((o) => o.type) : [p.type];
    return [...new Set(types.map((t) => (t === 'integer' ? 'number' : String(t))))].sort().join('|');
  };
  return Object.fromEntries(Object.entries(properties).map(([name, p]) => [name, `${required.includes(name) ? 'required' : 'optional'} ${jsonType(p)}`]));
}

const prop = (schema: JsonSchema, name: string) => ((schema.properties ?? {}) as Record<string, JsonSchema>)[name]!;

let svc: TestService;
let kinds: Kind[];

beforeAll(async () => {
  svc = await startService({ role: 'api' });
  kinds = await new Hookwave({ baseUrl: svc.url, apiKey: svc.key }).kinds.list();
});
afterAll(() => svc.close());

describe('the client knows every built-in kind as the server publishes it', () => {
  it('names the same built-in kinds', () => {
    expect(kinds.filter((k) => k.built_in).map((k) => k.kind).sort()).toEqual([...BUILT_IN_KINDS].sort());
  });

  for (const kind of BUILT_IN_KINDS) {
    it(`${kind}: the same target options, params, input and enums`, () => {
      const served = kinds.find((k) => k.kind === kind)!;
      const ours = client[kind];
      expect(ours.needsInput).toBe(served.needs_input);
      expect(ours.target).toEqual(describeSchema(served.target_schema));
      expect(ours.params).toEqual(describeSchema(served.params_schema));
      expect(loudness).toEqual(describeSchema(prop(served.target_schema, 'loudness')));
      expect(formats).toEqual(prop(served.target_schema, 'format').enum);
      expect(sampleRates).toEqual(prop(served.target_schema, 'sample_rate').enum);
      const channels = prop(served.target_schema, 'channels');
      expect(ours.channels).toEqual(Array.from({ length: (channels.maximum as number) - (channels.minimum as number) + 1 }, (_, i) => (channels.minimum as number) + i));
      if (kind === 'stems') {
        expect(stems).toEqual(prop(served.target_schema, 'stem').enum);
        expect(stemMethods).toEqual(prop(served.params_schema, 'method').enum);
      }
    });
  }
});
