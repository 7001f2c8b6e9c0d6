/**
 * Errors as typed values. Every error a user can see carries a stable machine-readable `code`,
 * a human message that names the field at fault, and the HTTP status it maps to.
 */
export type ErrorCode =
  // request errors
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'VALIDATION_ERROR'
  | 'INVALID_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNKNOWN_KIND'
  | 'INVALID_TARGET'
  | 'INVALID_URL'
  | 'URL_NOT_ALLOWED'
  | 'METADATA_TOO_LARGE'
  | 'PARAMS_TOO_LARGE'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'INVALID_CURSOR'
  | 'UPLOAD_NOT_FOUND'
  | 'BATCH_TOO_LARGE'
  | 'TASK_NOT_CANCELABLE'
  | 'DELIVERY_PENDING'
  | 'ENDPOINT_UNAVAILABLE'
  | 'SIGNATURE_INVALID'
  | 'URL_EXPIRED'
  | 'RATE_LIMITED'
  | 'REQUEST_TIMEOUT'
  | 'INTERNAL_ERROR'
  // target errors (reported in a target's `error`, not as HTTP statuses)
  | 'DOWNLOAD_FAILED'
  | 'INPUT_TOO_LARGE'
  | 'OUTPUT_TOO_LARGE'
  | 'NO_AUDIO_STREAM'
  | 'UNSUPPORTED_MEDIA'
  | 'ENGINE_FAILED'
  | 'WORKER_LOST'
  | 'TARGET_TIMEOUT'
  | 'CANCELED';

const STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  SIGNATURE_INVALID: 403,
  URL_EXPIRED: 403,
  NOT_FOUND: 404,
  IDEMPOTENCY_KEY_REUSED: 409,
  TASK_NOT_CANCELABLE: 409,
  DELIVERY_PENDING: 409,
  ENDPOINT_UNAVAILABLE: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REQUEST_TIMEOUT: 408,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
};

export class HookwaveError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown, status?: number) {
    super(message);
    this.name = 'HookwaveError';
    this.code = code;
    this.status = status ?? STATUS[code] ?? 400;
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
