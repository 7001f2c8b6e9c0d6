/**
 * hookwave deliveries list|get|redeliver (or retry): the webhook delivery log, as Svix's and Stripe's
 * dashboards show it, from a terminal. `get` shows every attempt with what the receiver answered.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Attempt, Delivery, DeliveryStatus } from '@hookwave/client';
import { UsageError, clientFrom, note, printJson, println, remote, type RemoteFlags } from '../shared.js';
import { table, when } from '../table.js';

const STATUSES: DeliveryStatus[] = ['pending', 'delivered', 'failed'];

const COLUMNS = [
  { header: 'id', value: (d: Delivery) => d.id },
  { header: 'event', value: (d: Delivery) => d.event_type ?? '-' },
  { header: 'status', value: (d: Delivery) => d.status + (d.last_status_code ? ` (${d.last_status_code})` : '') },
  { header: 'attempts', value: (d: Delivery) => String(d.attempt_count) },
  { header: 'next', value: (d: Delivery) => (d.status === 'pending' ? when(d.next_attempt_at) : '-') },
  { header: 'task', value: (d: Delivery) => d.task_id ?? '-' },
  { header: 'url', value: (d: Delivery) => d.url },
];

const ATTEMPT_COLUMNS = [
  { header: '#', value: (a: Attempt) => String(a.attempt_number) },
  { header: 'at', value: (a: Attempt) => when(a.started_at) },
  { header: 'status', value: (a: Attempt) => (a.status_code === null ? 'no answer' : String(a.status_code)) },
  { header: 'ms', value: (a: Attempt) => String(Math.round(a.latency_ms)) },
  { header: 'answer or error', value: (a: Attempt) => (a.error ?? a.response_excerpt ?? '').replace(/\s+/g, ' ').slice(0, 80) },
];

function limitOption(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new InvalidArgumentError('--limit must be a whole number from 1 to 200');
  return n;
}

export function registerDeliveryCommands(program: Command): void {
  const deliveries = program.command('deliveries').description('the webhook delivery log: list, get (with attempts and the body sent), redeliver or retry now');

  remote(deliveries.command('list'))
    .description('list deliveries, newest first')
    .option('--status <status>', `only deliveries in this status (${STATUSES.join(', ')})`)
    .option('--endpoint <id>', 'only deliveries to this endpoint (ep_…)')
    .option('--task <id>', "only this task's deliveries (task_…)")
    .option('-n, --limit <n>', 'how many (1-200)', limitOption, 20)
    .option('--cursor <cursor>', 'the next page, as printed after the last one')
    .action(async (flags: RemoteFlags & { status?: string; endpoint?: string; task?: string; limit: number; cursor?: string }) => {
      if (flags.status !== undefined && !STATUSES.includes(flags.status as DeliveryStatus)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
      const page = await clientFrom(flags).deliveries.list({
        status: flags.status as DeliveryStatus | undefined,
        endpoint_id: flags.endpoint,
        task_id: flags.task,
        limit: flags.limit,
        cursor: flags.cursor,
      });
      if (flags.json) return printJson(page);
      println(table(COLUMNS, page.data, '(no deliveries)'));
      if (page.next_cursor) note(`more: hookwave deliveries list --cursor ${page.next_cursor}`);
    });

  remote(deliveries.command('get'))
    .description('show a delivery and each of its attempts, with what the receiver answered')
    .argument('<id>', 'delivery id (dlv_…)')
    .action(async (id: string, flags: RemoteFlags) => {
      const d = await clientFrom(flags).deliveries.get(id);
      if (flags.json) return printJson(d);
      println(`${d.id}  ${d.event_type ?? '-'}  ${d.status}  to ${d.url}`);
      println(`webhook-id ${d.event_id}${d.task_id ? `  task ${d.task_id}` : ''}${d.status === 'pending' && d.next_attempt_at ? `  next attempt ${when(d.next_attempt_at)}` : ''}`);
      println(table(ATTEMPT_COLUMNS, d.attempts ?? [], '(no attempts yet)'));
      if (d.request_body) println(`request body:\n${d.request_body}`);
    });

  remote(deliveries.command('redeliver'))
    .alias('retry')
    .description('send it now, same webhook-id: an ended one gets one more attempt; a pending one waiting for its next attempt goes out at once and keeps its retry schedule')
    .argument('<id>', 'delivery id (dlv_…)')
    .action(async (id: string, flags: RemoteFlags) => {
      const r = await clientFrom(flags).deliveries.redeliver(id);
      if (flags.json) printJson(r);
      else println(`${r.id} ${r.status}: it goes out now${r.final_attempt ? '' : ' (if it fails, the retry schedule goes on)'}`);
    });
}
