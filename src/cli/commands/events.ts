/**
 * hookwave listen --forward-to URL: like `stripe listen`, for developing a webhook receiver on a
 * machine the server cannot reach. Reads the tenant's event stream (GET /v1/events), signs each
 * event again — same webhook-id, fresh timestamp, the tenant's webhook secret or --secret — and
 * POSTs the exact webhook body to the local URL, one at a time so the order is kept.
 *
 * hookwave tail: the same stream, printed.
 */
import type { Command } from 'commander';
import { EVENT_TYPES, type EventType, type Hookwave, type StreamedEvent } from '@hookwave/client';
import { VERSION } from '../../version.js';
import { signatureHeaders } from '../../net/webhook-signature.js';
import { EXIT, Interrupted, UsageError, clientFrom, interruptSignal, note, printJson, println, remote, type RemoteFlags } from '../shared.js';

interface StreamFlags extends RemoteFlags {
  events?: string;
  since?: string;
}

interface ListenFlags extends StreamFlags {
  forwardTo: string;
  secret?: string;
  timeout: string;
}

function parseEvents(list: string | undefined): Set<EventType> | null {
  if (!list) return null;
  const types = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const t of types) if (!EVENT_TYPES.includes(t as EventType)) throw new UsageError(`--events: "${t}" is not one of ${EVENT_TYPES.join(', ')}`);
  return new Set(types as EventType[]);
}

function streamOptions(cmd: Command): Command {
  return cmd
    .option('--events <types>', `only these event types, comma-separated (${EVENT_TYPES.join(', ')})`)
    .option('--since <event-id>', 'start after this event id (a webhook-id) instead of from now on');
}

/** Reads the tenant's events until Ctrl-C, calling `each` one event at a time. */
async function consume(client: Hookwave, flags: StreamFlags, onOpen: (first: boolean) => void, each: (e: StreamedEvent) => Promise<void>): Promise<number> {
  const only = parseEvents(flags.events);
  const interrupt = interruptSignal();
  let opened = 0;
  try {
    for await (const e of client.events.stream({ signal: interrupt.signal, lastEventId: flags.since, onOpen: () => onOpen(opened++ === 0) })) {
      if (only && !only.has(e.type)) continue;
      await each(e);
    }
    return EXIT.OK;
  } catch (err) {
    if (interrupt.signal.aborted && interrupt.signal.reason instanceof Interrupted) return EXIT.OK;
    throw err;
  } finally {
    interrupt.dispose();
  }
}

export function registerEventCommands(program: Command): void {
  streamOptions(remote(program.command('listen')))
    .description("forward the tenant's events to a local URL, signed like real webhooks (for developing a receiver)")
    .requiredOption('-f, --forward-to <url>', 'where to POST each event, e.g. http://localhost:3000/hook')
    .option('--secret <whsec>', "signing secret (default: the tenant's webhook secret, from GET /v1/account)")
    .option('--timeout <seconds>', 'how long the local server may take to answer', '10')
    .addHelpText('after', '\nExample:\n  hookwave listen --forward-to http://localhost:3000/hook\n\nRuns until Ctrl-C. Prints one line per event with the local answer.')
    .action(async (flags: ListenFlags) => {
      process.exitCode = await listen(flags);
    });

  streamOptions(remote(program.command('tail')))
    .description("print the tenant's events as they happen")
    .addHelpText('after', '\nRuns until Ctrl-C. With --json prints one event per line: {id, type, timestamp, data}.')
    .action(async (flags: StreamFlags) => {
      process.exitCode = await tail(flags);
    });
}

async function listen(flags: ListenFlags): Promise<number> {
  let target: URL;
  try {
    target = new URL(flags.forwardTo);
  } catch {
    throw new UsageError(`--forward-to "${flags.forwardTo}" is not a URL, e.g. http://localhost:3000/hook`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new UsageError('--forward-to must be http:// or https://');
  const timeoutMs = Number(flags.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout must be a number of seconds above 0');
  if (flags.secret !== undefined && !flags.secret.startsWith('whsec_')) throw new UsageError('--secret must be a webhook secret (whsec_…)');
  const client = clientFrom(flags);
  const account = flags.secret ? null : await client.account.get();
  const secret = flags.secret ?? account!.webhook_secret;
  const json = Boolean(flags.json);

  return consume(
    client,
    flags,
    (first) => {
      if (first) note(`Ready: forwarding ${account ? `${account.name}'s ` : ''}events to ${target.href} (signing secret ${secret}). Ctrl-C to stop.`);
      else note('reconnected to the event stream');
    },
    async (e) => {
      const timestamp = Math.floor(Date.now() / 1000);
      const headers = { 'content-type': 'application/json', 'user-agent': `hookwave-cli/${VERSION}`, ...signatureHeaders([secret], e.id, timestamp, e.payload) };
      const started = performance.now();
      let status: number | null = null;
      let error: string | null = null;
      try {
        const res = await fetch(target, { method: 'POST', headers, body: e.payload, signal: AbortSignal.timeout(timeoutMs) });
        status = res.status;
        await res.arrayBuffer().catch(() => undefined);
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        error = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (cause?.code ?? cause?.message ?? (err as Error).message);
      }
      const ms = Math.round(performance.now() - started);
      if (json) {
        printJson({ id: e.id, type: e.type, task_id: e.body.type === 'endpoint.disabled' ? null : e.body.data.id, status, error, duration_ms: ms }, false);
      } else {
        const answer = status !== null ? `${status}` : `failed: ${error}`;
        println(`${new Date().toISOString()}  ${e.type.padEnd(21)}  ${e.body.data.id}  ->  ${answer} (${ms} ms)`);
      }
    },
  );
}

async function tail(flags: StreamFlags): Promise<number> {
  const client = clientFrom(flags);
  const json = Boolean(flags.json);
  return consume(
    client,
    flags,
    (first) => note(first ? "Listening for the tenant's events. Ctrl-C to stop." : 'reconnected to the event stream'),
    async (e) => {
      if (json) return printJson({ id: e.id, ...e.body }, false);
      if (e.body.type === 'endpoint.disabled') {
        println(`${e.body.timestamp}  ${e.type.padEnd(21)}  ${e.body.data.id}  ${e.body.data.url}  ${e.body.data.disabled_reason ?? ''}`);
        return;
      }
      const t = e.body.data;
      const targets = t.targets.map((x) => `${x.name}:${x.status}`).join(' ');
      println(`${e.body.timestamp}  ${e.type.padEnd(21)}  ${t.id}  ${t.kind}  ${t.status}  ${targets}`);
    },
  );
}
