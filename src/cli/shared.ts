/** What every remote command shares: where the server is, the key, output modes, errors and exit codes. */
import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { Hookwave, HookwaveApiError, HookwaveConnectionError, HookwaveTimeoutError } from '@hookwave/client';

export const EXIT = { OK: 0, ERROR: 1, USAGE: 2, TASK_FAILED: 3, INTERRUPTED: 130 } as const;

/** What each exit code means, for --help: a code added to EXIT without a line here does not compile. */
const EXIT_MEANINGS: Record<keyof typeof EXIT, string> = {
  OK: 'success',
  ERROR: 'error (the server refused the request, could not be reached, or a wait timed out)',
  USAGE: 'invalid usage (unknown option, missing argument, bad value, no API key)',
  TASK_FAILED: 'submit --wait: the task ended failed or canceled',
  INTERRUPTED: 'submit: interrupted (Ctrl-C, SIGTERM) while uploading or waiting; a task already created keeps running',
};

export const EXIT_CODES_HELP = `
Exit codes:
${(Object.keys(EXIT) as Array<keyof typeof EXIT>).map((k) => `  ${String(EXIT[k]).padEnd(5)}${EXIT_MEANINGS[k]}`).join('\n')}
Remote commands read the server from --url or HOOKWAVE_URL (default http://127.0.0.1:8080;
--server in endpoints update, whose --url is the endpoint's) and the key from --api-key or
HOOKWAVE_API_KEY. Every command takes --json for scripts.`;

/** Bad usage: exits 2 with the message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface RemoteFlags {
  url: string;
  apiKey?: string;
  json?: boolean;
}

/**
 * --url, --api-key (with their environment variables) and --json. A command whose own --url means
 * something else (endpoints update) takes the server as `--server` (flags.server) instead.
 */
export function remote(cmd: Command, serverFlag: '--url' | '--server' = '--url'): Command {
  return cmd
    .addOption(new Option(`${serverFlag} <url>`, 'hookwave server URL').env('HOOKWAVE_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--api-key <key>', 'API key').env('HOOKWAVE_API_KEY'))
    .option('--json', 'print JSON (one object, or one object per line for streams)');
}

export function clientFrom(flags: RemoteFlags, serverFlag = '--url'): Hookwave {
  if (!flags.apiKey) throw new UsageError('missing API key: pass --api-key or set HOOKWAVE_API_KEY (make one with `hookwave keys create --tenant NAME`)');
  let url: URL;
  try {
    url = new URL(flags.url);
  } catch {
    throw new UsageError(`${serverFlag} "${flags.url}" is not a URL, e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${serverFlag} must be http:// or https://, got ${url.protocol}//`);
  return new Hookwave({ baseUrl: flags.url, apiKey: flags.apiKey });
}

export function printJson(value: unknown, pretty = true): void {
  process.stdout.write((pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value)) + '\n');
}

export function println(text: string): void {
  process.stdout.write(text + '\n');
}

/** Human progress notes go to stderr, so stdout stays the result (and clean JSON with --json). */
export function note(text: string): void {
  process.stderr.write(text + '\n');
}

/** Progress bars only on a terminal; pipes and CI logs get plain lines instead. */
export function barsWanted(json: boolean | undefined): boolean {
  return !json && Boolean(process.stderr.isTTY);
}

export function multiBar(format: string): cliProgress.MultiBar {
  return new cliProgress.MultiBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: false, barsize: 30, autopadding: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** `a=1,b=x,c=true` → { a: 1, b: 'x', c: true }; JSON objects and arrays are taken as they are. */
export function parseValue(raw: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw === 'null') return null;
  if (/^[[{]/.test(raw)) {
    try {
      return JSON.parse(raw);
    } catch {
      /* a plain string that starts with a bracket */
    }
  }
  return raw;
}

export function parseKeyValue(pair: string, what: string): [string, unknown] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new UsageError(`${what} "${pair}" must look like key=value`);
  return [pair.slice(0, eq).trim(), parseValue(pair.slice(eq + 1).trim())];
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** One line (or JSON object) for an error, and the exit code it deserves. */
export function describeError(err: unknown): { code: number; text: string; json: Record<string, unknown> } {
  if (err instanceof UsageError) return { code: EXIT.USAGE, text: err.message, json: { code: 'USAGE', message: err.message } };
  if (err instanceof HookwaveApiError) {
    const field = (err.details as { field?: unknown } | undefined)?.field;
    const hint = err.status === 401 ? ' — check --api-key / HOOKWAVE_API_KEY' : '';
    return {
      code: EXIT.ERROR,
      text: `${err.message} (${err.code}, HTTP ${err.status}${typeof field === 'string' ? `, field ${field}` : ''})${hint}`,
      json: { code: err.code, status: err.status, message: err.message, details: err.details },
    };
  }
  if (err instanceof HookwaveConnectionError) return { code: EXIT.ERROR, text: err.message, json: { code: 'CONNECTION_FAILED', message: err.message } };
  if (err instanceof HookwaveTimeoutError) return { code: EXIT.ERROR, text: err.message, json: { code: 'WAIT_TIMEOUT', message: err.message, task_id: err.taskId } };
  const message = err instanceof Error ? err.message : String(err);
  return { code: EXIT.ERROR, text: message, json: { code: 'ERROR', message } };
}

export function reportError(err: unknown, json: boolean): number {
  const d = describeError(err);
  process.stderr.write(json ? JSON.stringify({ error: d.json }) + '\n' : `error: ${d.text}\n`);
  return d.code;
}

/** An AbortSignal for Ctrl-C / SIGTERM, so long commands stop cleanly. */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => controller.abort(new Interrupted(sig));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}
