/**
 * JSON schemas of the API's bodies and answers. Fastify validates requests and serialises answers
 * with them, and @fastify/swagger publishes them as the OpenAPI document: one source for all three.
 *
 * Serialisation keeps only the properties a schema names, so a field a handler adds without adding
 * it here never reaches the client: test/openapi.test.ts compares answers with the domain views.
 * `required` lists what is always present; packages/client/src/types.ts is checked against both
 * (test/sdk-types.test.ts).
 */
import { EVENT_TYPES, TEST_EVENT_TYPE } from '../domain/types.js';

const STATUSES = ['queued', 'processing', 'completed', 'failed', 'canceled'] as const;

const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: [type, 'null'], ...extra });
const free = (description: string) => ({ type: 'object', additionalProperties: true, description });
const time = (description: string) => ({ type: 'string', format: 'date-time', description });
const nullableTime = (description: string) => nullable('string', { format: 'date-time', description });

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['success', 'error'],
  properties: {
    success: { type: 'boolean', const: false, description: 'Always false on an error answer' },
    error: {
      type: 'object',
      required: ['code', 'message'],
      description: 'What went wrong',
      properties: {
        code: { type: 'string', description: 'Stable machine-readable code, e.g. VALIDATION_ERROR' },
        message: { type: 'string', description: 'What went wrong, naming the field at fault' },
        details: { description: 'More about it, e.g. `field` (the field at fault) or `allowed` (the values that are)' },
      },
    },
  },
} as const;

export const storedErrorSchema = nullable('object', {
  required: ['code', 'message'],
  description: 'Why it failed; null unless it failed or was canceled',
  properties: {
    code: { type: 'string', description: 'An ErrorCode, e.g. DOWNLOAD_FAILED' },
    message: { type: 'string', description: 'What went wrong' },
    details: { description: 'More about it, when there is more' },
  },
});

export const outputSchema = {
  $id: 'Output',
  type: 'object',
  description: 'One file a target produced',
  required: ['name', 'file_name', 'format', 'size', 'duration', 'bitrate', 'sample_rate', 'channels', 'loudness', 'peaks', 'url', 'url_expires_at', 'expires_at'],
  properties: {
    name: { type: 'string', description: 'Output name: the target name, or the name a model server gave it' },
    file_name: {
      type: 'string',
      description:
        'The name its download gets, after the task\'s input: `song.mp3` for an extract of song.wav to mp3, `song-vocals.wav` for its vocals (`{input}-{name}.{format}`; just `{input}.{format}` when the name is the format). Without an input: the title, else the task id',
    },
    format: { type: 'string', description: 'File format, e.g. mp3' },
    size: { type: 'integer', description: 'Size in bytes' },
    duration: nullable('number', { description: 'Length in seconds' }),
    bitrate: nullable('integer', { description: 'Bits per second' }),
    sample_rate: nullable('integer', { description: 'Samples per second, e.g. 48000' }),
    channels: nullable('integer', { description: 'Audio channels' }),
    loudness: nullable('object', {
      description: "EBU R128 / ITU-R BS.1770 loudness of the file, as ffmpeg's ebur128 filter measures it; null for outputs made before it was measured",
      required: ['integrated_lufs', 'true_peak_dbtp', 'range_lu'],
      properties: {
        integrated_lufs: { type: 'number', description: 'Integrated loudness, LUFS (-70 for silence)' },
        true_peak_dbtp: nullable('number', { description: 'Highest true peak of any channel, dBTP; null for digital silence' }),
        range_lu: { type: 'number', description: 'Loudness range, LU' },
        normalization: {
          type: 'string',
          enum: ['linear', 'dynamic', 'none'],
          description:
            "Only when the target asked for a `loudness`: `linear` (one gain, dynamics untouched), `dynamic` (loudnorm's dynamic mode: one gain would have put true peaks over the ceiling) or `none` (silent audio, nothing to normalise)",
        },
      },
    }),
    peaks: nullable('array', {
      items: { type: 'number', minimum: 0, maximum: 1 },
      maxItems: 256,
      description:
        'Waveform peaks, to draw a waveform without downloading the audio: the loudest sample (absolute, any channel, 0..1 of full scale) of each of 256 equal slices of the file, in order (fewer for a file under ~1.5 s). null for outputs made before they were measured',
    }),
    url: { type: 'string', description: 'Signed download URL; GET the task again for a fresh one' },
    url_expires_at: time('When `url` stops working'),
    expires_at: nullableTime('When the file is deleted (HOOKWAVE_OUTPUT_RETENTION after it was made, or when its task is deleted); its links then answer 410. null: kept until its task is deleted'),
  },
} as const;

export const targetSchema = {
  $id: 'Target',
  type: 'object',
  description: 'One output the task was asked for, and how far it got',
  required: ['id', 'name', 'status', 'progress', 'params', 'outputs', 'duration', 'cost', 'error', 'info', 'started_at', 'finished_at'],
  properties: {
    id: { type: 'string', description: 'Target id (tgt_…)' },
    name: { type: 'string', description: 'Its name, unique within the task (defaults to the format)' },
    status: { type: 'string', enum: [...STATUSES], description: 'Where it stands' },
    progress: { type: 'number', minimum: 0, maximum: 1, description: 'Share done, 0..1' },
    params: free('The target as the client asked for it'),
    outputs: { type: 'array', items: { $ref: 'Output#' }, description: 'The files it produced (empty until it completes)' },
    duration: nullable('number', { description: 'Seconds of input it processed, the basis of its cost' }),
    cost: nullable('number', { description: 'What it cost; null until it ends' }),
    error: storedErrorSchema,
    info: nullable('object', { additionalProperties: true, description: 'What the engine reports about the result, e.g. analysis values' }),
    started_at: nullableTime('When a worker started it'),
    finished_at: nullableTime('When it ended'),
  },
} as const;

export const taskSchema = {
  $id: 'Task',
  type: 'object',
  description: 'A task with its targets; the same shape as the `data` of task webhooks',
  required: ['id', 'kind', 'status', 'title', 'input', 'params', 'metadata', 'webhook_url', 'webhook_events', 'batch_id', 'targets', 'cost', 'error', 'created_at', 'updated_at', 'completed_at', 'deadline', 'deleted_at', 'pruned_at', 'queue_position'],
  properties: {
    id: { type: 'string', description: 'Task id (task_…)' },
    kind: { type: 'string', description: 'Kind of work, e.g. extract' },
    status: { type: 'string', enum: [...STATUSES], description: 'completed when every target completed; failed when any failed' },
    title: nullable('string', { description: 'The title the client gave it' }),
    input: free('`url` or `upload_id`, as the client sent it'),
    params: free('Task-level parameters, as the client sent them'),
    metadata: nullable('object', { additionalProperties: true, description: 'The client’s own data, echoed back' }),
    webhook_url: nullable('string', { description: 'Where its events are POSTed (besides registered endpoints)' }),
    webhook_events: nullable('array', { items: { type: 'string', enum: [...EVENT_TYPES] }, description: 'The event types its webhook_url gets; null for the default (task.completed, task.failed, task.canceled)' }),
    batch_id: nullable('string', { description: 'The batch it was created in, if any' }),
    targets: { type: 'array', items: { $ref: 'Target#' }, description: 'Its targets, in the order they were asked for' },
    cost: nullable('number', { description: 'Sum of its targets’ costs; null until it ends' }),
    error: storedErrorSchema,
    created_at: time('When it was stored'),
    updated_at: time('When it last changed'),
    completed_at: nullableTime('When it ended'),
    deadline: nullableTime('When it is canceled with DEADLINE_EXCEEDED if it has not ended (Cancel-After header or deadline field)'),
    deleted_at: nullableTime('When the client deleted it (DELETE /v1/tasks/{id}): its files are removed and input, metadata and webhook_url redacted'),
    pruned_at: nullableTime(
      'When row retention reduced it to a tombstone (HOOKWAVE_TASK_RETENTION after it ended, once its files were gone): it keeps id, kind, status, cost, error and times; targets are empty, title, input, params, metadata and webhook_url emptied',
    ),
    queue_position: {
      type: ['integer', 'null'],
      description: 'Queued targets (of every tenant) that start before this task under fair claiming, 0 = next in line; an estimate, given by GET /v1/tasks/{id} while the task is queued, else null',
    },
  },
} as const;

export { createTaskBodySchema } from '../domain/task-body.js';

export const taskCreatedSchema = {
  $id: 'TaskCreated',
  type: 'object',
  description: 'A stored task (create), or one whose cancel was recorded',
  required: ['success', 'task_id', 'status'],
  properties: {
    success: { type: 'boolean', const: true, description: 'Always true on a 2xx answer' },
    task_id: { type: 'string', description: 'Task id (task_…); GET /v1/tasks/{id} reads it' },
    status: { type: 'string', enum: [...STATUSES], description: 'Its status now' },
  },
} as const;

/** Kept by name for the task routes, which refer to it. */
export const createTaskReplySchema = { $ref: 'TaskCreated#' } as const;

const endpointProperties = {
  id: { type: 'string', description: 'Endpoint id (ep_…)' },
  url: { type: 'string', description: 'https URL that receives the signed events' },
  description: nullable('string', { description: 'What it is for, as the tenant wrote it' }),
  events: nullable('array', { items: { type: 'string', enum: [...EVENT_TYPES] }, description: 'Event types it receives; null = all' }),
  enabled: { type: 'boolean', description: 'Whether events are delivered to it' },
  disabled_reason: nullable('string', { description: 'Why it is disabled: by the tenant, or by hookwave after failing for days or answering 410' }),
  consecutive_failures: { type: 'integer', description: 'Deliveries that failed in a row; a success resets it' },
  failing_since: nullableTime('Start of the current run of failures'),
  circuit_open_until: nullableTime('Deliveries to it are paused until then after repeated failures; null while they flow'),
  previous_secret_expires_at: nullableTime('After a rotation, deliveries are signed with the previous secret too until then'),
  created_at: time('When it was registered'),
  updated_at: time('When it last changed'),
} as const;
const endpointRequired = Object.keys(endpointProperties);

export const endpointSchema = {
  $id: 'Endpoint',
  type: 'object',
  description: 'A standing webhook receiver of the tenant, with its own secret and event filter',
  required: endpointRequired,
  properties: endpointProperties,
} as const;

export const endpointWithSecretSchema = {
  $id: 'EndpointWithSecret',
  type: 'object',
  description: 'An endpoint with its signing secret: only the create and rotate-secret answers carry it',
  required: [...endpointRequired, 'secret'],
  properties: {
    ...endpointProperties,
    secret: { type: 'string', description: 'Signing secret (whsec_…); not shown again, so store it now' },
  },
} as const;

const headerMap = (description: string) => nullable('object', { additionalProperties: { type: 'string' }, description });

export const attemptSchema = {
  $id: 'Attempt',
  type: 'object',
  description: 'One try at delivering an event',
  required: ['attempt_number', 'started_at', 'status_code', 'latency_ms', 'request_headers', 'response_headers', 'response_excerpt', 'error'],
  properties: {
    attempt_number: { type: 'integer', description: '1 for the first try; retries and redeliveries count on' },
    started_at: time('When the request was sent'),
    status_code: nullable('integer', { description: 'HTTP status the receiver answered; null when there was no answer' }),
    latency_ms: { type: 'number', description: 'Milliseconds until the answer (or the failure)' },
    request_headers: headerMap('Headers sent, signature headers included'),
    response_headers: headerMap('Headers of the answer; null when there was no answer'),
    response_excerpt: nullable('string', { description: 'The start of the answer body (at most 16 KB)' }),
    error: nullable('string', { description: 'Why the try failed without an HTTP answer that counts: timeout, refused connection, redirect…' }),
  },
} as const;

export const deliverySchema = {
  $id: 'Delivery',
  type: 'object',
  description: 'One event on its way to one receiver',
  required: [
    'id',
    'event_id',
    'event_type',
    'task_id',
    'endpoint_id',
    'url',
    'status',
    'attempt_count',
    'next_attempt_at',
    'last_status_code',
    'last_error',
    'created_at',
    'delivered_at',
  ],
  properties: {
    id: { type: 'string', description: 'Delivery id (dlv_…)' },
    event_id: { type: 'string', description: 'The event id (msg_…), sent as webhook-id: the same on every attempt and redelivery' },
    event_type: nullable('string', { enum: [...EVENT_TYPES, TEST_EVENT_TYPE, null], description: 'The event’s type; null if the event is no longer stored' }),
    task_id: nullable('string', { description: 'The task the event is about; null for endpoint events' }),
    endpoint_id: nullable('string', { description: 'The registered endpoint it goes to; null for the task’s own webhook_url' }),
    url: { type: 'string', description: 'Where it is POSTed' },
    status: { type: 'string', enum: ['pending', 'delivered', 'failed'], description: 'pending while attempts remain, delivered after a 2xx, failed after the last try' },
    attempt_count: { type: 'integer', description: 'Attempts made so far' },
    next_attempt_at: nullableTime('When the next attempt is due; null unless pending'),
    last_status_code: nullable('integer', { description: 'HTTP status of the last attempt; null when it got no answer' }),
    last_error: nullable('string', { description: 'Why the last attempt failed' }),
    created_at: time('When the event was queued for this receiver'),
    delivered_at: nullableTime('When a 2xx answer came'),
    attempts: { type: 'array', items: { $ref: 'Attempt#' }, description: 'Every attempt, first to last; only in single-delivery answers and a task’s delivery list' },
    request_body: nullable('string', {
      description: 'The exact JSON bytes every attempt POSTs (and signs): the event’s payload, frozen when the event was stored; only in single-delivery answers',
    }),
  },
} as const;

export const batchResultSchema = {
  $id: 'BatchResult',
  description: 'What became of one item of a batch: its task, or the error it alone failed with',
  oneOf: [
    {
      type: 'object',
      title: 'Accepted item',
      required: ['index', 'success', 'task_id', 'status'],
      properties: {
        index: { type: 'integer', description: 'Position of the item in `tasks`' },
        success: { type: 'boolean', const: true, description: 'The task was stored' },
        task_id: { type: 'string', description: 'Task id (task_…)' },
        status: { type: 'string', enum: [...STATUSES], description: 'Its status now' },
      },
    },
    {
      type: 'object',
      title: 'Rejected item',
      required: ['index', 'success', 'error'],
      properties: {
        index: { type: 'integer', description: 'Position of the item in `tasks`' },
        success: { type: 'boolean', const: false, description: 'Nothing was stored for this item' },
        error: {
          type: 'object',
          required: ['code', 'message'],
          description: 'The error a task create with this body would answer',
          properties: {
            code: { type: 'string', description: 'An ErrorCode' },
            message: { type: 'string', description: 'What went wrong, naming the item and field' },
            details: { description: 'More about it; `field` is the field at fault, e.g. tasks[2].targets' },
          },
        },
      },
    },
  ],
} as const;

export const batchCreatedSchema = {
  $id: 'BatchCreated',
  type: 'object',
  description: 'A stored batch and what became of each item',
  required: ['success', 'batch_id', 'accepted', 'rejected', 'results'],
  properties: {
    success: { type: 'boolean', const: true, description: 'Always true: the batch was stored, whatever became of its items' },
    batch_id: { type: 'string', description: 'Batch id (bat_…)' },
    accepted: { type: 'integer', description: 'Items whose task was stored' },
    rejected: { type: 'integer', description: 'Items refused, each with its error in `results`' },
    results: { type: 'array', items: { $ref: 'BatchResult#' }, description: 'One per item, in order' },
  },
} as const;

export const batchSchema = {
  $id: 'Batch',
  type: 'object',
  description: 'A batch with counts by status, cost so far and its tasks',
  required: ['id', 'status', 'webhook_url', 'item_count', 'task_count', 'counts', 'cost', 'tasks', 'created_at'],
  properties: {
    id: { type: 'string', description: 'Batch id (bat_…)' },
    status: { type: 'string', enum: ['processing', 'ended'], description: 'processing while any of its tasks is queued or processing, then ended' },
    webhook_url: nullable('string', { description: 'The webhook URL its tasks share (an item may name its own)' }),
    item_count: { type: 'integer', description: 'Items the request had' },
    task_count: { type: 'integer', description: 'Tasks created (items that were not rejected)' },
    counts: {
      type: 'object',
      description: 'Tasks by status',
      required: [...STATUSES],
      properties: Object.fromEntries(STATUSES.map((s) => [s, { type: 'integer', description: `Tasks ${s}` }])),
    },
    cost: { type: 'number', description: 'Sum of its tasks’ costs so far' },
    tasks: {
      type: 'array',
      description: 'Its tasks, oldest first',
      items: {
        type: 'object',
        required: ['id', 'kind', 'status', 'title', 'error'],
        properties: {
          id: { type: 'string', description: 'Task id (task_…)' },
          kind: { type: 'string', description: 'Kind of work' },
          status: { type: 'string', enum: [...STATUSES], description: 'Where it stands' },
          title: nullable('string', { description: 'Its title' }),
          error: storedErrorSchema,
        },
      },
    },
    created_at: time('When the batch was stored'),
  },
} as const;

export const uploadSchema = {
  $id: 'Upload',
  type: 'object',
  description: 'A stored input file',
  required: ['upload_id', 'file_name', 'size', 'format', 'duration', 'expires_at'],
  properties: {
    upload_id: { type: 'string', description: 'Upload id (upl_…); pass it as input.upload_id of a task' },
    file_name: nullable('string', { description: 'The X-File-Name sent with it' }),
    size: { type: 'integer', description: 'Size in bytes' },
    format: nullable('string', { description: 'Container format ffprobe found, e.g. wav' }),
    duration: nullable('number', { description: 'Length in seconds, as ffprobe found it' }),
    expires_at: time('When it is deleted; tasks must be created before then'),
  },
} as const;

export const accountSchema = {
  $id: 'Account',
  type: 'object',
  description: 'The tenant an API key belongs to',
  required: ['tenant_id', 'name', 'webhook_secret'],
  properties: {
    tenant_id: { type: 'string', description: 'Tenant id (ten_…)' },
    name: { type: 'string', description: 'Tenant name, as given to `hookwave keys create --tenant`' },
    webhook_secret: { type: 'string', description: 'Signs the webhooks sent to tasks’ own webhook_url (registered endpoints have their own secrets)' },
  },
} as const;

export const apiKeySchema = {
  $id: 'ApiKey',
  type: 'object',
  description: 'An API key of the tenant, by its prefix: keys are stored only as hashes, so the key itself is never shown again',
  required: ['id', 'prefix', 'created_at', 'revoked_at', 'current'],
  properties: {
    id: { type: 'string', description: 'Key id (key_…); `hookwave keys revoke` takes it' },
    prefix: { type: 'string', description: 'The first characters of the key (hw_ and 8 more), to tell keys apart' },
    created_at: time('When it was created'),
    revoked_at: nullableTime('When it was revoked; null while it works'),
    current: { type: 'boolean', description: 'True for the key this request was made with' },
  },
} as const;

export const kindSchema = {
  $id: 'Kind',
  type: 'object',
  description: 'A kind of work this server runs, with the JSON schemas its requests are validated against',
  required: ['kind', 'description', 'needs_input', 'built_in', 'target_schema', 'params_schema'],
  properties: {
    kind: { type: 'string', description: 'The `kind` of a task, e.g. extract' },
    description: { type: 'string', description: 'What it does' },
    needs_input: { type: 'boolean', description: 'Whether a task of this kind needs an `input` (url or upload_id); false for generators' },
    built_in: { type: 'boolean', description: 'False for a model server the operator configured (HOOKWAVE_EXTERNAL_ENGINES)' },
    target_schema: free('JSON Schema (draft-07) of one entry of `targets`'),
    params_schema: free('JSON Schema of the task-level `params` object'),
  },
} as const;

export const sharedSchemas = [
  errorSchema,
  outputSchema,
  targetSchema,
  taskSchema,
  taskCreatedSchema,
  endpointSchema,
  endpointWithSecretSchema,
  attemptSchema,
  deliverySchema,
  batchResultSchema,
  batchCreatedSchema,
  batchSchema,
  uploadSchema,
  accountSchema,
  apiKeySchema,
  kindSchema,
];

const success = { type: 'boolean', const: true, description: 'Always true on a 2xx answer' } as const;

/** `{ success: true, ...<the shared schema's fields> }`: how single resources are answered. */
export function resourceReply(id: string, description: string) {
  return { description, allOf: [{ $ref: `${id}#` }, { type: 'object', required: ['success'], properties: { success } }] } as const;
}

/** `{ success: true, data: [...] }`, with `next_cursor` for paged lists. */
export function listReply(id: string, description: string, paged = false) {
  return {
    type: 'object',
    description,
    required: paged ? ['success', 'data', 'next_cursor'] : ['success', 'data'],
    properties: {
      success,
      data: { type: 'array', items: { $ref: `${id}#` }, description },
      ...(paged ? { next_cursor: nullable('string', { description: 'Pass as `cursor` for the next page; null on the last page' }) } : {}),
    },
  } as const;
}

/** An answer with a few fields of its own (besides `success`), each described. */
export function plainReply(description: string, properties: Record<string, Record<string, unknown>>) {
  return { type: 'object', description, required: ['success', ...Object.keys(properties)], properties: { success, ...properties } } as const;
}

export const errorReplies = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
} as const;
