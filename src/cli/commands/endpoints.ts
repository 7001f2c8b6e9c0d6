/** hookwave endpoints list|create|update|enable|disable|delete|rotate: the tenant's registered webhook receivers. */
import type { Command } from 'commander';
import { EVENT_TYPES, type Endpoint, type EndpointInput, type EventType } from '@hookwave/client';
import { UsageError, clientFrom, printJson, println, remote, type RemoteFlags } from '../shared.js';
import { table, when } from '../table.js';

const COLUMNS = [
  { header: 'id', value: (e: Endpoint) => e.id },
  { header: 'state', value: (e: Endpoint) => (e.enabled ? 'enabled' : `disabled${e.disabled_reason ? ` (${e.disabled_reason})` : ''}`) },
  { header: 'events', value: (e: Endpoint) => (e.events ? e.events.join(',') : 'all') },
  { header: 'created', value: (e: Endpoint) => when(e.created_at) },
  { header: 'url', value: (e: Endpoint) => e.url + (e.description ? `  "${e.description}"` : '') },
];

function line(e: Endpoint): string {
  const state = e.enabled ? 'enabled ' : 'disabled';
  return `${e.id}  ${state}  ${e.url}  ${e.events ? e.events.join(',') : 'all events'}${e.description ? `  "${e.description}"` : ''}${e.disabled_reason ? `  (${e.disabled_reason})` : ''}`;
}

/** `task.completed,task.failed` → those types; `all` → null (no filter), for update. */
function parseEvents(raw: string, allowAll: boolean): EventType[] | null {
  if (allowAll && raw.trim() === 'all') return null;
  const events = raw.split(',').map((s) => s.trim()).filter(Boolean) as EventType[];
  if (events.length === 0) throw new UsageError(`--events needs at least one of ${EVENT_TYPES.join(', ')}${allowAll ? ', or "all"' : ''}`);
  for (const t of events) if (!EVENT_TYPES.includes(t)) throw new UsageError(`--events: "${t}" is not one of ${EVENT_TYPES.join(', ')}`);
  return events;
}

export function registerEndpointCommands(program: Command): void {
  const endpoints = program.command('endpoints').description('manage registered webhook endpoints (each with its own signing secret)');

  remote(endpoints.command('list'))
    .description("list the tenant's endpoints")
    .action(async (flags: RemoteFlags) => {
      const list = await clientFrom(flags).endpoints.list();
      if (flags.json) printJson(list);
      else println(table(COLUMNS, list, '(no endpoints; add one with `hookwave endpoints create <url>`)'));
    });

  remote(endpoints.command('create'))
    .description('register an endpoint; prints its signing secret once')
    .argument('<url>', 'https URL that receives signed events')
    .option('--events <types>', `only these event types, comma-separated (default all: ${EVENT_TYPES.join(', ')})`)
    .option('--description <text>', 'what it is for')
    .action(async (url: string, flags: RemoteFlags & { events?: string; description?: string }) => {
      const events = flags.events === undefined ? undefined : (parseEvents(flags.events, false) ?? undefined);
      const e = await clientFrom(flags).endpoints.create({ url, events, description: flags.description });
      if (flags.json) printJson(e);
      else println(`${line(e)}\nsigning secret (shown once): ${e.secret}`);
    });

  // --url is the endpoint's new URL here, like the API's `url` field, so the server is --server.
  remote(endpoints.command('update'), '--server')
    .description('change the URL, event filter or description of an endpoint (what is not given stays as it is)')
    .argument('<id>', 'endpoint id (ep_…)')
    .option('--url <url>', "the endpoint's new https URL (the server is --server or HOOKWAVE_URL for this command)")
    .option('--events <types>', `only these event types, comma-separated, or "all" (${EVENT_TYPES.join(', ')})`)
    .option('--description <text>', 'new description ("" clears it)')
    .action(async (id: string, flags: Omit<RemoteFlags, 'url'> & { server: string; url?: string; events?: string; description?: string }) => {
      const patch: EndpointInput = {};
      if (flags.url !== undefined) patch.url = flags.url;
      if (flags.events !== undefined) patch.events = parseEvents(flags.events, true);
      if (flags.description !== undefined) patch.description = flags.description === '' ? null : flags.description;
      if (Object.keys(patch).length === 0) throw new UsageError('give at least one of --url, --events, --description');
      const e = await clientFrom({ ...flags, url: flags.server }, '--server').endpoints.update(id, patch);
      if (flags.json) printJson(e);
      else println(line(e));
    });

  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    remote(endpoints.command(name))
      .description(enabled ? 'enable an endpoint: deliveries resume, with its failure count and circuit reset' : 'disable an endpoint: no new deliveries are made to it until it is enabled')
      .argument('<id>', 'endpoint id (ep_…)')
      .action(async (id: string, flags: RemoteFlags) => {
        const e = await clientFrom(flags).endpoints.update(id, { enabled });
        if (flags.json) printJson(e);
        else println(line(e));
      });
  }

  remote(endpoints.command('delete'))
    .description('delete an endpoint; its pending deliveries fail')
    .argument('<id>', 'endpoint id (ep_…)')
    .action(async (id: string, flags: RemoteFlags) => {
      const r = await clientFrom(flags).endpoints.delete(id);
      if (flags.json) printJson(r);
      else println(`deleted ${id}`);
    });

  remote(endpoints.command('test'))
    .description('send the endpoint a signed endpoint.test event (to it alone, whatever its filter); see it with `hookwave deliveries get`')
    .argument('<id>', 'endpoint id (ep_…)')
    .option('--message <text>', 'sent as data.message')
    .action(async (id: string, flags: RemoteFlags & { message?: string }) => {
      const r = await clientFrom(flags).endpoints.test(id, { message: flags.message });
      if (flags.json) printJson(r);
      else println(`${r.id} ${r.status}: endpoint.test goes out to ${id} now (hookwave deliveries get ${r.id})`);
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
