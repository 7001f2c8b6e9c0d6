/**
 * Errors as typed values, and the one catalogue of them. Every error a user can see carries a
 * stable machine-readable `code`, a human message that names the field at fault, and the HTTP
 * status it maps to. ERROR_CATALOGUE is the single place a code is defined: the OpenAPI document
 * (api/openapi.ts) is generated from it, and test/errors.test.ts holds docs/errors.md to it and
 * checks that every code in it is really raised somewhere in src/.
 */

export interface ErrorEntry {
  /** The HTTP status of an answer with this code; null when it is only ever reported in a task's or target's `error`. */
  readonly status: number | null;
  /** Whether it can also end a target (reported in `targets[].error` and the task's `error`, not as an HTTP answer). */
  readonly target: boolean;
  /** What it means. */
  readonly description: string;
  /** What a client should do about it. */
  readonly action: string;
}

const entry = (status: number | null, target: boolean, description: string, action: string): ErrorEntry => ({ status, target, description, action });

/** Request errors first (in the order a request meets them), then the errors only a target reports. */
export const ERROR_CATALOGUE = {
  UNAUTHORIZED: entry(401, false, 'No API key, or a key that is unknown or revoked.', 'Send `X-API-Key: <key>` or `Authorization: Bearer <key>` with a key that works; `hookwave keys list` on the server shows which are revoked.'),
  NOT_FOUND: entry(404, false, 'No such route, or no such task/endpoint/delivery/batch/file for this tenant.', 'Check the id and that it belongs to the tenant of the key; do not retry.'),
  VALIDATION_ERROR: entry(400, false, 'A field is missing, mistyped or out of range; `details.field` names it. Also malformed HTTP (400).', 'Fix the field named in `details.field` and send again; retrying the same request fails the same way.'),
  INVALID_JSON: entry(400, false, 'The body is not valid JSON (or is empty, or shorter than its Content-Length).', 'Send one JSON object as the body.'),
  UNSUPPORTED_MEDIA_TYPE: entry(415, false, 'The body is not application/json (or, for uploads, not a file type).', 'Send JSON with `Content-Type: application/json`; upload files as `application/octet-stream`, `audio/*` or `video/*`.'),
  PAYLOAD_TOO_LARGE: entry(413, false, 'The body is larger than the limit (431 when the request headers are).', 'Send a smaller body: upload a large input with POST /v1/uploads, or split a batch; shorten headers and URLs.'),
  UNKNOWN_KIND: entry(400, true, '`kind` is not one this server runs; `details.allowed` lists them. As a target error: the worker that claimed it has no engine for the kind.', 'Use one of `details.allowed` (GET /v1/kinds lists them with their schemas).'),
  INVALID_TARGET: entry(400, true, 'A target does not fit its kind, or two targets share a name. As a target error: the model server refused the target.', 'Fix the target named in `details.field` against the kind’s `target_schema` (GET /v1/kinds).'),
  INVALID_URL: entry(400, true, 'A URL cannot be parsed or uses a scheme that is not allowed. As a target error: a redirect of the input URL led to such a URL.', 'Send an absolute https:// URL (http:// only against a server started with --dev).'),
  URL_NOT_ALLOWED: entry(400, true, 'A URL points at a private, loopback or otherwise non-public address. As a target error: the input URL (or a redirect of it) resolved to one when downloaded.', 'Use a publicly reachable URL; for a local receiver use `hookwave listen`, or have the operator allow the network (HOOKWAVE_ALLOW_CIDRS).'),
  METADATA_TOO_LARGE: entry(400, false, '`metadata` is larger than the limit as JSON.', 'Keep metadata small (ids and labels); store the rest on your side.'),
  PARAMS_TOO_LARGE: entry(400, false, 'params, targets and title of a task are larger than 32 KiB as JSON together (webhook bodies stay small).', 'Send fewer or smaller targets and params.'),
  IDEMPOTENCY_KEY_REUSED: entry(409, false, 'The Idempotency-Key was used before with a different body.', 'Use a new key for a different request; send the same body to get the first answer again.'),
  INVALID_CURSOR: entry(400, false, '`cursor` is not a `next_cursor` this API returned.', 'Pass `next_cursor` from the previous page exactly as it came, or leave `cursor` out to start over.'),
  UPLOAD_NOT_FOUND: entry(400, false, '`input.upload_id` is not an upload of this tenant that is still kept.', 'Upload the file again (uploads expire) and use the new `upload_id`.'),
  BATCH_TOO_LARGE: entry(400, false, 'A batch has more tasks than allowed.', 'Split it into batches of at most `details.limit` tasks.'),
  TASK_NOT_CANCELABLE: entry(409, false, 'The task has already ended.', 'Nothing to do: GET the task for how it ended.'),
  DELIVERY_PENDING: entry(409, false, 'The delivery is being sent right now; sending it again as well would deliver it twice.', 'Wait for this attempt’s outcome (GET the delivery), then redeliver if it is still needed.'),
  ENDPOINT_UNAVAILABLE: entry(409, false, 'The endpoint is disabled (enable it first) or deleted; nothing can be sent to it again. `details.reason` says which.', 'Enable the endpoint (PATCH `enabled: true`) and redeliver; a deleted endpoint is gone for good.'),
  SIGNATURE_INVALID: entry(403, false, 'A signed download URL was altered.', 'Use the download URL exactly as the task gave it.'),
  GONE: entry(410, false, 'The file was deleted: its task was deleted (DELETE /v1/tasks/{id}) or its output outlived HOOKWAVE_OUTPUT_RETENTION.', 'Nothing to fetch any more; run the task again if the output is still wanted, and download outputs within the retention period.'),
  URL_EXPIRED: entry(403, false, 'A signed download URL has expired; GET the task for a fresh one.', 'GET /v1/tasks/{id} and download from the fresh `url`.'),
  RATE_LIMITED: entry(429, false, 'The tenant has as many tasks queued as it may (HOOKWAVE_TENANT_MAX_QUEUED); `details.limit`, `details.queued` and `details.retry_after` say how it stands.', 'Retry after the number of seconds in the Retry-After header, or cancel queued tasks that are no longer needed.'),
  REQUEST_TIMEOUT: entry(408, false, 'The request body did not arrive in time (HOOKWAVE_BODY_TIMEOUT_MS), an upload paused too long or crawled below the minimum rate (HOOKWAVE_UPLOAD_IDLE_MS, HOOKWAVE_UPLOAD_MIN_RATE), or the headers did not arrive; the connection is closed.', 'Send the request again on a new connection, without pausing mid-body.'),
  INTERNAL_ERROR: entry(500, true, 'Our fault (or the object storage’s); the request id in the logs tells more.', 'Retry later with the same Idempotency-Key; if it persists, give the operator the time and request id.'),
  OUTPUT_TOO_LARGE: entry(400, true, 'The output would exceed, or reached, the per-output cap on bytes (HOOKWAVE_MAX_OUTPUT_BYTES) or seconds (HOOKWAVE_MAX_OUTPUT_SECONDS): refused at submit when known in advance, else a target error.', 'Ask for a lossy format, fewer channels or a lower sample rate, or send a shorter input.'),
  DOWNLOAD_FAILED: entry(null, true, 'The input could not be downloaded (or its upload expired).', 'Check that the input URL answers 200 to a GET from the server, then submit again.'),
  INPUT_TOO_LARGE: entry(null, true, 'The input is larger than the limit.', 'Send a smaller (or compressed) input.'),
  NO_AUDIO_STREAM: entry(null, true, 'The input has no audio stream.', 'Send a file that has sound in it.'),
  UNSUPPORTED_MEDIA: entry(null, true, 'The input is not a media file ffmpeg can read, or is in a container that is not accepted.', 'Send audio or video in a common container (mp3, wav, flac, ogg, m4a, mp4, webm, mkv).'),
  ENGINE_FAILED: entry(null, true, 'The engine failed; `message` says how.', 'Submit again; if it fails the same way, report the task id to the operator.'),
  WORKER_LOST: entry(null, true, 'Its worker stopped mid-run too many times.', 'Submit again; the operator should look at why workers stop (memory, crashes).'),
  TARGET_TIMEOUT: entry(null, true, 'It ran longer than the limit.', 'Send a shorter input, or ask the operator for a longer HOOKWAVE_TARGET_TIMEOUT_MS.'),
  CANCELED: entry(null, true, 'Canceled by the client (or the engine was stopped).', 'Nothing to do; submit again if it is still wanted.'),
  DEADLINE_EXCEEDED: entry(null, true, 'The task had not ended by its deadline (`Cancel-After` or `deadline`) and was canceled; running work was stopped.', 'Submit again with a later deadline, or none; a queue position far down the line (GET /v1/tasks/:id `queue_position`) says when a deadline cannot be met.'),
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export class HookwaveError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  /** `status` overrides the catalogue's for the rare answer that needs another (431 for oversized headers). */
  constructor(code: ErrorCode, message: string, details?: unknown, status?: number) {
    super(message);
    this.name = 'HookwaveError';
    this.code = code;
    this.status = status ?? ERROR_CATALOGUE[code].status ?? 400;
    this.details = details;
  }

  toJSON(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) };
  }
}

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export function isHookwaveError(err: unknown): err is HookwaveError {
  return err instanceof HookwaveError;
}
