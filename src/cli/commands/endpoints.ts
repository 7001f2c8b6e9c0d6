/** hookwave endpoints list|create|delete|rotate: the tenant's registered webhook receivers. */
import type { Command } from 'commander';
import { EVENT_TYPES, type Endpoint, type EventType } from '../../sdk/types.js';
import { UsageError, clientFrom, printJson, println, remote, type RemoteFlags } from '../shared.js';

function line(e: Endpoint): string {
  const state = e.enabled ? 'enabled ' : 'disabled';
  return `${e.id}  ${state}  ${e.url}  ${e.events ? e.events.join(',') : 'all events'}${e.description ? `  "${e.description}"` : ''}${e.disabled_reason ? `  (${e.disabled_reason})` : ''}`;
}

export function registerEndpointCommands(program: Command): void {
  const endpoints = program.command('endpoints').description('manage registered webhook endpoints (each with its own signing secret)');

  remote(endpoints.command('list'))
    .description("list the tenant's endpoints")
    .action(async (flags: RemoteFlags) => {
      const list = await clientFrom(flags).endpoints.list();
      if (flags.json) printJson(list);
      else println(list.map(line).join('\n') || '(no endpoints)');
    });

  remote(endpoints.command('create'))
    .description('register an endpoint; prints its signing secret once')
    .argument('<url>', 'https URL that receives signed events')
    .option('--events <types>', `only these event types, comma-separated (default all: ${EVENT_TYPES.join(', ')})`)
    .option('--description <text>', 'what it is for')
    .action(async (url: string, flags: RemoteFlags & { events?: string; description?: string }) => {
      let events: EventType[] | undefined;
      if (flags.events) {
        events = flags.events.split(',').map((s) => s.trim()).filter(Boolean) as EventType[];
        for (const t of events) if (!EVENT_TYPES.includes(t)) throw new UsageError(`--events: "${t}" is not one of ${EVENT_TYPES.join(', ')}`);
      }
      const e = await clientFrom(flags).endpoints.create({ url, events, description: flags.description });
      if (flags.json) printJson(e);
      else println(`${line(e)}\nsigning secret (shown once): ${e.secret}`);
    });

  remote(endpoints.command('delete'))
    .description('delete an endpoint; its pending deliveries fail')
    .argument('<id>', 'endpoint id (ep_…)')
    .action(async (id: string, flags: RemoteFlags) => {
      const r = await clientFrom(flags).endpoints.delete(id);
      if (flags.json) printJson(r);
      else println(`deleted ${id}`);
    });

  remote(endpoints.command('rotate'))
    .description('rotate the signing secret; the old one stays valid for the overlap window (24 h by default)')
    .argument('<id>', 'endpoint id (ep_…)')
    .action(async (id: string, flags: RemoteFlags) => {
      const e = await clientFrom(flags).endpoints.rotateSecret(id);
      if (flags.json) printJson(e);
      else println(`new signing secret of ${id} (shown once): ${e.secret}\nthe previous secret stays valid until ${e.previous_secret_expires_at ?? 'now'}`);
    });
}
