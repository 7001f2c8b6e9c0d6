/**
 * The SDK's hand-written types cannot drift from the server: each property of Task, Target and
 * Output in the OpenAPI document a running server publishes must exist in the SDK type, with the
 * same nullability, and the SDK type must have no property the document lacks.
 *
 * The key maps below are checked against the SDK types by the compiler (`satisfies` over the
 * exact keys), and against the served document by this test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES as SERVER_EVENT_TYPES } from '../src/domain/types.js';
import { EVENT_TYPES, type Output, type Target, type Task } from '../src/sdk/index.js';
import { startService, type TestService } from './helpers/service.js';

type Nullability<T> = { [K in keyof Required<T>]: null extends T[K] ? 'nullable' : 'not null' };

const taskKeys = {
  id: 'not null',
  kind: 'not null',
  status: 'not null',
  title: 'nullable',
  input: 'not null',
  params: 'not null',
  metadata: 'nullable',
  webhook_url: 'nullable',
  batch_id: 'nullable',
  targets: 'not null',
  cost: 'nullable',
  error: 'nullable',
  created_at: 'not null',
  updated_at: 'not null',
  completed_at: 'nullable',
} as const satisfies Nullability<Task>;

const targetKeys = {
  id: 'not null',
  name: 'not null',
  status: 'not null',
  progress: 'not null',
  params: 'not null',
  outputs: 'not null',
  duration: 'nullable',
  cost: 'nullable',
  error: 'nullable',
  info: 'nullable',
  started_at: 'nullable',
  finished_at: 'nullable',
} as const satisfies Nullability<Target>;

const outputKeys = {
  name: 'not null',
  format: 'not null',
  size: 'not null',
  duration: 'nullable',
  bitrate: 'nullable',
  sample_rate: 'nullable',
  channels: 'nullable',
  url: 'not null',
  url_expires_at: 'not null',
} as const satisfies Nullability<Output>;

// `satisfies` alone allows a map with fewer keys than the type when they are optional; this does not.
type Exact<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const exact: [Exact<typeof taskKeys, Task>, Exact<typeof targetKeys, Target>, Exact<typeof outputKeys, Output>] = [true, true, true];

interface SchemaProperty {
  type?: string | string[];
}
interface Spec {
  components: { schemas: Record<string, { properties: Record<string, SchemaProperty> }> };
}

let svc: TestService;
let spec: Spec;

beforeAll(async () => {
  svc = await startService();
  spec = (await (await fetch(`${svc.url}/openapi.json`)).json()) as Spec;
});
afterAll(() => svc.close());

function fromSpec(name: string): Record<string, string> {
  const schema = spec.components.schemas[name];
  if (!schema) throw new Error(`no ${name} schema in the OpenAPI document`);
  return Object.fromEntries(
    Object.entries(schema.properties).map(([k, p]) => {
      const types = Array.isArray(p.type) ? p.type : p.type ? [p.type] : [];
      return [k, types.includes('null') ? 'nullable' : 'not null'];
    }),
  );
}

describe('SDK types against the served OpenAPI document', () => {
  it.each([
    ['Task', taskKeys],
    ['Target', targetKeys],
    ['Output', outputKeys],
  ])('%s has the same properties, each as nullable as the server says', (name, keys) => {
    expect(exact).toEqual([true, true, true]);
    expect(keys).toEqual(fromSpec(name));
  });

  it('knows every event type and task status the server has', () => {
    expect([...EVENT_TYPES]).toEqual([...SERVER_EVENT_TYPES]);
    const served = spec.components.schemas.Task!.properties.status as { enum?: string[] };
    const statuses = { queued: 1, processing: 1, completed: 1, failed: 1, canceled: 1 } satisfies Record<Task['status'], 1>;
    expect(served.enum).toEqual(Object.keys(statuses));
  });
});
