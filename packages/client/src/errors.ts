/** What the SDK throws. Every class carries enough to act on without parsing a message. */
import type { Task } from './types.js';

/** The API answered with an error: `{ success: false, error: { code, message, details } }`. */
export class HookwaveApiError extends Error {
  override readonly name = 'HookwaveApiError';
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** Stable machine-readable code, e.g. VALIDATION_ERROR, NOT_FOUND (see the OpenAPI document's ErrorCode). */
    readonly code: string,
    message: string,
    /** Often `{ field }`, naming the request field at fault. */
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The server could not be reached, or the connection broke before an answer. */
export class HookwaveConnectionError extends Error {
  override readonly name = 'HookwaveConnectionError';
  constructor(
    message: string,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * `tasks.wait` gave up before the task ended. The task keeps running on the server: wait again
 * with the same `taskId`, or GET it later — nothing is lost.
 */
export class HookwaveTimeoutError extends Error {
  override readonly name = 'HookwaveTimeoutError';
  constructor(
    readonly taskId: string,
    readonly timeoutMs: number,
  ) {
    super(`task ${taskId} did not end within ${timeoutMs} ms; it keeps running — wait for it again or GET /v1/tasks/${taskId} later`);
  }
}

/** A webhook whose signature, timestamp or headers do not check out. Answer it with 401. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  readonly status = 401;
}

/**
 * `run` waited for a task that ended failed or canceled. `task` is the ended task: each target's
 * `error` says why, and targets that completed still have their outputs.
 */
export class HookwaveTaskFailedError extends Error {
  override readonly name = 'HookwaveTaskFailedError';
  /** The task's error code (e.g. ENGINE_FAILED, INPUT_UNREACHABLE), or CANCELED. */
  readonly code: string;
  constructor(readonly task: Task & { status: 'failed' | 'canceled' }) {
    const code = task.status === 'canceled' ? 'CANCELED' : (task.error?.code ?? task.targets.find((t) => t.error)?.error?.code ?? 'FAILED');
    const why = task.status === 'canceled' ? 'was canceled' : `failed: ${task.error?.message ?? task.targets.find((t) => t.error)?.error?.message ?? code}`;
    super(`task ${task.id} ${why}`);
    this.code = code;
  }
}
