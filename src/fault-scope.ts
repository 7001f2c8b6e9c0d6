/**
 * Faults stay inside the piece of work that caused them.
 *
 * A library bug can throw from a socket or timer callback (undici's `assert(!this.paused)` on a
 * server that closed mid-body did, nodejs/undici#5360), where no `try` of ours can catch it; by
 * default Node then ends the process, and every tenant's work with it. Each piece of work (a
 * target's run, a delivery batch) therefore runs inside a fault scope held in AsyncLocalStorage:
 * callbacks keep the async context they were created in, so an uncaught exception raised on behalf
 * of a target reaches us with that target's scope, and only that target fails.
 *
 * A fault outside any scope means the process itself is in an unknown state: it is logged and the
 * process exits, as Node would (nothing is lost: work is leased and events are in the outbox).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './logger.js';

export interface FaultScope {
  /** Names the work in logs, e.g. "target tgt_…". */
  readonly label: string;
  /** Called at most once per fault; must end the work (abort it) without throwing. */
  fail(err: unknown): void;
}

const scopes = new AsyncLocalStorage<FaultScope>();
const loggers = new Set<Logger>();
let capturing = false;

/** Runs `fn` (and everything it schedules) inside `scope`. */
export function withinFaultScope<T>(scope: FaultScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

function onFault(err: unknown, kind: 'uncaught exception' | 'unhandled rejection'): void {
  const scope = scopes.getStore();
  const logger = loggers.values().next().value;
  if (scope) {
    logger?.error({ err, work: scope.label }, `${kind} in one piece of work: that work fails, the process stays up`);
    try {
      scope.fail(err);
    } catch (failErr) {
      logger?.error({ err: failErr, work: scope.label }, 'failing the work after a fault threw too');
    }
    return;
  }
  logger?.fatal({ err }, `${kind} outside any piece of work: exiting (leases and the outbox make the restart lose nothing)`);
  // As Node itself would: the reason for the exit reaches stderr whatever the log level.
  if (!logger?.isLevelEnabled('fatal')) process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

const onException = (err: unknown) => onFault(err, 'uncaught exception');
const onRejection = (reason: unknown) => onFault(reason, 'unhandled rejection');

/**
 * Installs the process-wide handlers while at least one hookwave runtime is running in this
 * process (tests start several); the returned function uninstalls this runtime's share.
 * The capture callback (rather than an 'uncaughtException' listener) keeps a handled fault from
 * also reaching other listeners, such as a test runner's, as a crash.
 */
export function installFaultHandlers(logger: Logger): () => void {
  if (loggers.size === 0) {
    // Someone else (the domain module, an embedding application) may own the capture callback.
    capturing = !process.hasUncaughtExceptionCaptureCallback();
    if (capturing) process.setUncaughtExceptionCaptureCallback(onException);
    else process.on('uncaughtException', onException);
    process.on('unhandledRejection', onRejection);
  }
  loggers.add(logger);
  return () => {
    if (!loggers.delete(logger) || loggers.size > 0) return;
    if (capturing) process.setUncaughtExceptionCaptureCallback(null);
    else process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
