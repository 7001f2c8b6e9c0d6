/**
 * The SDK's hand-written types cannot drift from the server: for every component schema of the
 * OpenAPI document a running server publishes that the SDK has a type for, each property must exist
 * in the SDK type with the same nullability and presence (required or optional), and the SDK type
 * must have no property the document lacks. A component the SDK has no type for must say so below.
 *
 * The key maps below are checked against the SDK types by the compiler (`satisfies` over the
 * exact keys), and against the served document by this test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES as SERVER_EVENT_TYPES } from '../src/domain/types.js';
import {
  EVENT_TYPES,
  type Account,
  type ApiKey,
  type Attempt,
  type Batch,
  type BatchItemResult,
  type CreateBatchResponse,
  type CreateTaskResponse,
  type Delivery,
  type DeliveryStatus,
  type Endpoint,
  type EndpointDisabledEvent,
  type EndpointTestEvent,
  type Kind,
  type EndpointWithSecret,
  type Loudness,
  type Output,
  type StoredError,
  type Target,
  type Task,
  type TaskEvent,
  type TaskStatus,
  type Upload,
} from '@hookwave/client';
import { startService, type TestService } from './helpers/service.js';

type Presence<T, K extends keyof T> = {} extends Pick<T, K> ? 'optional ' : '';
type Shape<T> = { [K in keyof T]-?: `${Presence<T, K>}${null extends T[K] ? 'nullable' : 'not null'}` };
/** A map that names every key of T (Shape makes each one required) and no other (the `never` part). */
const shape =
  <T>() =>
  <const M extends Shape<T> & { [K in Exclude<keyof M, keyof T>]: never }>(m: M): M =>
    m;

const R = 'not null';
const N = 'nullable';

const taskKeys = shape<Task>()({
  id: R,
  kind: R,
  status: R,
  title: N,
  input: R,
  params: R,
  metadata: N,
  webhook_url: N,
  webhook_events: N,
  batch_id: N,
  targets: R,
  cost: N,
  error: N,
  created_at: R,
  updated_at: R,
  completed_at: N,
  deadline: N,
  deleted_at: N,
  pruned_at: N,
  queue_position: N,
});
const targetKeys = shape<Target>()({
  id: R,
  name: R,
  status: R,
  progress: R,
  params: R,
  outputs: R,
  duration: N,
  cost: N,
  error: N,
  info: N,
  started_at: N,
  finished_at: N,
});
const outputKeys = shape<Output>()({ name: R, file_name: R, format: R, size: R, duration: N, bitrate: N, sample_rate: N, channels: N, loudness: N, peaks: N, url: R, url_expires_at: R, expires_at: N });
const loudnessKeys = shape<Loudness>()({ integrated_lufs: R, true_peak_dbtp: N, range_lu: R, normalization: 'optional not null' });
const storedErrorKeys = shape<StoredError>()({ code: R, message: R, details: 'optional nullable' });
const taskCreatedKeys = shape<CreateTaskResponse>()({ success: R, task_id: R, status: R });
const endpointKeys = shape<Endpoint>()({
  id: R,
  url: R,
  description: N,
  events: N,
  enabled: R,
  disabled_reason: N,
  consecutive_failures: R,
  failing_since: N,
  circuit_open_until: N,
  previous_secret_expires_at: N,
  created_at: R,
  updated_at: R,
});
const endpointWithSecretKeys = shape<EndpointWithSecret>()({ ...endpointKeys, secret: R });
const attemptKeys = shape<Attempt>()({
  attempt_number: R,
  started_at: R,
  status_code: N,
  latency_ms: R,
  request_headers: N,
  response_headers: N,
  response_excerpt: N,
  error: N,
});
const deliveryKeys = shape<Delivery>()({
  id: R,
  event_id: R,
  event_type: N,
  task_id: N,
  endpoint_id: N,
  url: R,
  status: R,
  attempt_count: R,
  next_attempt_at: N,
  last_status_code: N,
  last_error: N,
  created_at: R,
  delivered_at: N,
  attempts: 'optional not null',
  request_body: 'optional nullable',
});
const acceptedKeys = shape<Extract<BatchItemResult, { success: true }>>()({ index: R, success: R, task_id: R, status: R });
const rejectedKeys = shape<Extract<BatchItemResult, { success: false }>>()({ index: R, success: R, error: R });
const batchCreatedKeys = shape<CreateBatchResponse>()({ success: R, batch_id: R, accepted: R, rejected: R, results: R });
const batchKeys = shape<Batch>()({ id: R, status: R, webhook_url: N, item_count: R, task_count: R, counts: R, cost: R, tasks: R, created_at: R });
const batchTaskKeys = shape<Batch['tasks'][number]>()({ id: R, kind: R, status: R, title: N, error: N });
const countKeys = shape<Batch['counts']>()({ queued: R, processing: R, completed: R, failed: R, canceled: R });
const uploadKeys = shape<Upload>()({ upload_id: R, file_name: N, size: R, format: N, duration: N, expires_at: R });
const accountKeys = shape<Account>()({ tenant_id: R, name: R, webhook_secret: R });
const apiKeyKeys = shape<ApiKey>()({ id: R, prefix: R, created_at: R, revoked_at: N, current: R });
const kindKeys = shape<Kind>()({ kind: R, description: R, needs_input: R, built_in: R, target_schema: R, params_schema: R });
const taskEventKeys = shape<TaskEvent>()({ type: R, timestamp: R, data: R });
const endpointEventKeys = shape<EndpointDisabledEvent>()({ type: R, timestamp: R, data: R });
const testEventKeys = shape<EndpointTestEvent>()({ type: R, timestamp: R, data: R });
const testEventDataKeys = shape<EndpointTestEvent['data']>()({ endpoint_id: R, message: R });

/** Components the SDK deliberately has no interface for, and why. */
const NOT_IN_SDK: Record<string, string> = {
  Error: 'error answers become HookwaveApiError (status, code, message, details)',
  ErrorCode: 'HookwaveApiError.code is a string, so a client keeps working when the server adds a code',
};

interface SchemaNode {
  type?: string | string[];
  $ref?: string;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  oneOf?: SchemaNode[];
}
interface Spec {
  components: { schemas: Record<string, SchemaNode> };
}

let svc: TestService;
let spec: Spec;

beforeAll(async () => {
  svc = await startService();
  spec = (await (await fetch(`${svc.url}/openapi.json`)).json()) as Spec;
});
afterAll(() => svc.close());

function component(name: string): SchemaNode {
  const schema = spec.components.schemas[name];
  if (!schema) throw new Error(`no ${name} schema in the OpenAPI document`);
  return schema;
}

/** The document's view of an object schema, in the key maps' words. */
function shapeOf(schema: SchemaNode | undefined): Record<string, string> {
  if (!schema?.properties) throw new Error(`not an object schema: ${JSON.stringify(schema)}`);
  const required = new Set(schema.required ?? []);
  return Object.fromEntries(
    Object.entries(schema.properties).map(([k, p]) => {
      const types = Array.isArray(p.type) ? p.type : p.type ? [p.type] : [];
      // A schema with neither a type nor a $ref (`details: {}`) admits null too.
      const nullable = types.includes('null') || (types.length === 0 && !p.$ref);
      return [k, `${required.has(k) ? '' : 'optional '}${nullable ? 'nullable' : 'not null'}`];
    }),
  );
}

const taskEventNames = SERVER_EVENT_TYPES.filter((t) => t !== 'endpoint.disabled').map((t) => `Event_${t.replace(/\./g, '_')}`);

/** [what, the schema in the document, the SDK type's key map] */
function pairs(): Array<[string, () => SchemaNode | undefined, Record<string, string>]> {
  return [
    ['Task', () => component('Task'), taskKeys],
    ['Task.error (StoredError)', () => component('Task').properties?.error, storedErrorKeys],
    ['Target', () => component('Target'), targetKeys],
    ['Output', () => component('Output'), outputKeys],
    ['Output.loudness (Loudness)', () => component('Output').properties?.loudness, loudnessKeys],
    ['TaskCreated (CreateTaskResponse)', () => component('TaskCreated'), taskCreatedKeys],
    ['Endpoint', () => component('Endpoint'), endpointKeys],
    ['EndpointWithSecret', () => component('EndpointWithSecret'), endpointWithSecretKeys],
    ['Attempt', () => component('Attempt'), attemptKeys],
    ['Delivery', () => component('Delivery'), deliveryKeys],
    ['BatchResult, accepted (BatchItemResult)', () => component('BatchResult').oneOf?.[0], acceptedKeys],
    ['BatchResult, rejected (BatchItemResult)', () => component('BatchResult').oneOf?.[1], rejectedKeys],
    ['BatchResult, rejected error (StoredError)', () => component('BatchResult').oneOf?.[1]?.properties?.error, storedErrorKeys],
    ['BatchCreated (CreateBatchResponse)', () => component('BatchCreated'), batchCreatedKeys],
    ['Batch', () => component('Batch'), batchKeys],
    ['Batch.tasks[]', () => component('Batch').properties?.tasks?.items, batchTaskKeys],
    ['Batch.counts', () => component('Batch').properties?.counts, countKeys],
    ['Upload', () => component('Upload'), uploadKeys],
    ['Account', () => component('Account'), accountKeys],
    ['ApiKey', () => component('ApiKey'), apiKeyKeys],
    ['Kind', () => component('Kind'), kindKeys],
    ...taskEventNames.map((n): [string, () => SchemaNode, Record<string, string>] => [`${n} (TaskEvent)`, () => component(n), taskEventKeys]),
    ['Event_endpoint_disabled (EndpointDisabledEvent)', () => component('Event_endpoint_disabled'), endpointEventKeys],
    ['Event_endpoint_test (EndpointTestEvent)', () => component('Event_endpoint_test'), testEventKeys],
    ['Event_endpoint_test.data', () => component('Event_endpoint_test').properties?.data, testEventDataKeys],
  ];
}

/** Which component each pair covers: every other component must be in NOT_IN_SDK. */
const COVERED = [
  'Task',
  'Target',
  'Output',
  'TaskCreated',
  'Endpoint',
  'EndpointWithSecret',
  'Attempt',
  'Delivery',
  'BatchResult',
  'BatchCreated',
  'Batch',
  'Upload',
  'Account',
  'ApiKey',
  'Kind',
  'EventType',
  ...taskEventNames,
  'Event_endpoint_disabled',
  'Event_endpoint_test',
];

describe('SDK types against the served OpenAPI document', () => {
  it.each(pairs())('%s has the same properties, each as nullable and as optional as the server says', (_name, schema, keys) => {
    expect(keys).toEqual(shapeOf(schema()));
  });

  it('has a type for every component, or says why not', () => {
    const names = Object.keys(spec.components.schemas).sort();
    expect(names).toEqual([...COVERED, ...Object.keys(NOT_IN_SDK)].sort());
  });

  it('knows every event type, task, delivery and batch status the server has', () => {
    expect([...EVENT_TYPES]).toEqual([...SERVER_EVENT_TYPES]);
    expect(component('EventType').enum).toEqual([...EVENT_TYPES]);
    expect(component('Endpoint').properties!.events!.items!.enum).toEqual([...EVENT_TYPES]);
    expect(component('Delivery').properties!.event_type!.enum).toEqual([...EVENT_TYPES, 'endpoint.test', null]);

    const taskStatuses = Object.keys({ queued: 1, processing: 1, completed: 1, failed: 1, canceled: 1 } satisfies Record<TaskStatus, 1>);
    for (const served of [
      component('Task').properties!.status,
      component('Target').properties!.status,
      component('TaskCreated').properties!.status,
      component('BatchResult').oneOf![0]!.properties!.status,
      component('Batch').properties!.tasks!.items!.properties!.status,
    ]) {
      expect(served!.enum).toEqual(taskStatuses);
    }
    expect(Object.keys(component('Batch').properties!.counts!.properties!)).toEqual(taskStatuses);
    const deliveryStatuses = { pending: 1, delivered: 1, failed: 1 } satisfies Record<DeliveryStatus, 1>;
    expect(component('Delivery').properties!.status!.enum).toEqual(Object.keys(deliveryStatuses));
    const batchStatuses = { processing: 1, ended: 1 } satisfies Record<Batch['status'], 1>;
    expect(component('Batch').properties!.status!.enum).toEqual(Object.keys(batchStatuses));
  });

  it('refers to the same shapes the SDK nests', () => {
    expect(component('Task').properties!.targets!.items!.$ref).toBe('#/components/schemas/Target');
    expect(component('Target').properties!.outputs!.items!.$ref).toBe('#/components/schemas/Output');
    expect(component('Delivery').properties!.attempts!.items!.$ref).toBe('#/components/schemas/Attempt');
    expect(component('BatchCreated').properties!.results!.items!.$ref).toBe('#/components/schemas/BatchResult');
    for (const n of taskEventNames) expect(component(n).properties!.data!.$ref).toBe('#/components/schemas/Task');
    expect(component('Event_endpoint_disabled').properties!.data!.$ref).toBe('#/components/schemas/Endpoint');
  });
});
