#!/usr/bin/env node
/**
 * The `hookwave` command. Exit codes (EXIT in shared.ts, explained by `--help`): 0 success, 1 failure,
 * 2 bad usage, 3 task failed (submit --wait), 130 interrupted.
 * Server-side commands (serve, keys, secret) are here; client commands live in commands/.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { Config, Role } from '../config.js';
import { loadConfig } from '../config.js';
import { createApiKey } from '../services/tenants.js';
import { startHookwave } from '../runtime.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { VERSION } from '../version.js';
import { registerEndpointCommands } from './commands/endpoints.js';
import { registerEventCommands } from './commands/events.js';
import { registerKindCommands } from './commands/kinds.js';
import { registerSubmit } from './commands/submit.js';
import { registerTaskCommands } from './commands/tasks.js';
import { registerDeliveryCommands } from './commands/deliveries.js';
import { registerDoctor } from './commands/doctor.js';
import { EXIT, EXIT_CODES_HELP, reportError } from './shared.js';
import { table, when } from './table.js';

// Under `npm run hookwave -- …` npm runs this from the package's folder and says in INIT_CWD
// where the user stands: paths the user gives (./song.wav, --out, --data-dir) are theirs.
if (process.env.npm_lifecycle_event === 'hookwave' && process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);

interface ServeFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  role?: Role;
  dev?: boolean;
  publicUrl?: string;
}

function configFlags(flags: ServeFlags): Partial<Config> {
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new InvalidArgumentError(`--port must be 0..65535`);
  return {
    port,
    host: flags.host,
    dataDir: flags.dataDir,
    role: flags.role,
    dev: flags.dev ? true : undefined,
    publicUrl: flags.publicUrl,
  };
}

async function serve(overrides: Partial<Config>): Promise<void> {
  const hw = await startHookwave(overrides);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    hw.logger.info({ signal }, 'shutting down: finishing requests, handing running targets back');
    hw.close().then(
      () => process.exit(0),
      (err: unknown) => {
        hw.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function addServeOptions(cmd: Command): Command {
  return cmd
    .option('-p, --port <port>', 'port to listen on (HOOKWAVE_PORT, default 8080)')
    .option('--host <host>', 'address to listen on (HOOKWAVE_HOST, default 127.0.0.1)')
    .option('-d, --data-dir <dir>', 'database and files directory (HOOKWAVE_DATA_DIR, default ./data)')
    .option('--public-url <url>', 'base URL clients use to reach this server, for download links (HOOKWAVE_PUBLIC_URL)')
    .option('--dev', 'development mode: allow http:// and loopback webhook/input URLs (HOOKWAVE_DEV=1)');
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text + '\n');
}

/** Opens the server's store for one command and closes it afterwards, whatever happened. */
async function withStore<T>(dataDir: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(loadConfig({ dataDir }));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const program = new Command()
  .name('hookwave')
  .description('Self-hosted asynchronous audio work with signed, durable webhooks')
  .version(VERSION)
  .addHelpText('after', `${EXIT_CODES_HELP}\nServer settings also come from HOOKWAVE_* environment variables (see README).`);

addServeOptions(program.command('serve'))
  .description('run the API, worker and dispatcher (or one --role) in this process')
  .option('--role <role>', 'all | api | worker | dispatcher', (v) => {
    if (!['all', 'api', 'worker', 'dispatcher'].includes(v)) throw new InvalidArgumentError('role must be all, api, worker or dispatcher');
    return v;
  })
  .action((flags: ServeFlags) => serve(configFlags(flags)));

addServeOptions(program.command('worker'))
  .description('run only the worker (leases targets and runs engines)')
  .action((flags: ServeFlags) => serve({ ...configFlags(flags), role: 'worker' }));

addServeOptions(program.command('dispatcher'))
  .description('run only the webhook dispatcher')
  .action((flags: ServeFlags) => serve({ ...configFlags(flags), role: 'dispatcher' }));

const keys = program.command('keys').description('manage API keys');

keys
  .command('create')
  .description("create an API key for a tenant (the tenant is created on first use); prints the key once, and the tenant's webhook signing secret")
  .requiredOption('-t, --tenant <name>', 'tenant name')
  .option('-d, --data-dir <dir>', 'data directory')
  .option('--json', 'print JSON')
  .action(async (flags: { tenant: string; dataDir?: string; json?: boolean }) => {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(flags.tenant)) throw new InvalidArgumentError('--tenant must be 1-64 letters, digits, ".", "_" or "-"');
    await withStore(flags.dataDir, async (store) => {
      const { key, apiKey, tenant } = await createApiKey(store, flags.tenant);
      print(
        !!flags.json,
        { key, key_id: apiKey.id, prefix: apiKey.prefix, tenant: tenant.name, tenant_id: tenant.id, webhook_secret: tenant.webhook_secret },
        [
          `API key for tenant "${tenant.name}" (shown once; store it now):`,
          `  ${key}`,
          `Webhook signing secret of "${tenant.name}" (verify webhook-signature with it):`,
          `  ${tenant.webhook_secret}`,
        ].join('\n'),
      );
    });
  });

keys
  .command('list')
  .description('list API keys (prefixes only; keys are stored hashed)')
  .option('-t, --tenant <name>', 'only this tenant')
  .option('-d, --data-dir <dir>', 'data directory')
  .option('--json', 'print JSON')
  .action(async (flags: { tenant?: string; dataDir?: string; json?: boolean }) => {
    await withStore(flags.dataDir, async (store) => {
      const tenant = flags.tenant ? await store.getTenantByName(flags.tenant) : null;
      if (flags.tenant && !tenant) throw new Error(`no tenant named "${flags.tenant}"`);
      const rows = await store.listApiKeys(tenant?.id);
      const view = rows.map((k) => ({
        id: k.id,
        prefix: k.prefix,
        tenant: k.tenant_name,
        created_at: new Date(k.created_at).toISOString(),
        revoked_at: k.revoked_at ? new Date(k.revoked_at).toISOString() : null,
      }));
      type View = (typeof view)[number];
      const columns = [
        { header: 'id', value: (k: View) => k.id },
        { header: 'prefix', value: (k: View) => `${k.prefix}…` },
        { header: 'tenant', value: (k: View) => k.tenant },
        { header: 'created', value: (k: View) => when(k.created_at) },
        { header: 'revoked', value: (k: View) => when(k.revoked_at) },
      ];
      print(!!flags.json, view, table(columns, view, '(no keys; make one with `hookwave keys create --tenant NAME`)'));
    });
  });

keys
  .command('revoke <id-or-prefix>')
  .description('revoke an API key at once')
  .option('-d, --data-dir <dir>', 'data directory')
  .option('--json', 'print JSON')
  .action(async (idOrPrefix: string, flags: { dataDir?: string; json?: boolean }) => {
    await withStore(flags.dataDir, async (store) => {
      if (!(await store.revokeApiKey(idOrPrefix, Date.now()))) throw new Error(`no active key with id or prefix "${idOrPrefix}"`);
      print(!!flags.json, { revoked: idOrPrefix }, `revoked ${idOrPrefix}`);
    });
  });

program
  .command('secret')
  .description("print a tenant's webhook signing secret")
  .requiredOption('-t, --tenant <name>', 'tenant name')
  .option('-d, --data-dir <dir>', 'data directory')
  .option('--json', 'print JSON')
  .action(async (flags: { tenant: string; dataDir?: string; json?: boolean }) => {
    await withStore(flags.dataDir, async (store) => {
      const tenant = await store.getTenantByName(flags.tenant);
      if (!tenant) throw new Error(`no tenant named "${flags.tenant}"`);
      print(!!flags.json, { tenant: tenant.name, webhook_secret: tenant.webhook_secret }, tenant.webhook_secret);
    });
  });

program
  .command('vacuum')
  .description('SQLite: rewrite the database file once so row retention can give space back (for files made before it); run while hookwave is stopped')
  .option('-d, --data-dir <dir>', 'data directory')
  .option('--json', 'print JSON')
  .action(async (flags: { dataDir?: string; json?: boolean }) => {
    await withStore(flags.dataDir, async (store) => {
      if (!(store instanceof SqliteStore)) {
        print(!!flags.json, { vacuumed: false }, 'PostgreSQL: nothing to do; autovacuum reuses the space of pruned rows (tables tuned by migration 009)');
        return;
      }
      const { bytesBefore, bytesAfter } = await store.vacuum();
      const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
      print(!!flags.json, { vacuumed: true, bytes_before: bytesBefore, bytes_after: bytesAfter }, `vacuumed: ${mb(bytesBefore)} → ${mb(bytesAfter)}; freed space now goes back to the filesystem after each row retention pass`);
    });
  });

registerSubmit(program);
registerTaskCommands(program);
registerDeliveryCommands(program);
registerEventCommands(program);
registerEndpointCommands(program);
registerKindCommands(program);
registerDoctor(program);

// Commander's own usage errors (unknown option, missing argument) exit 2, in every subcommand too.
(function exitOverride(cmd: Command) {
  cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE));
  cmd.commands.forEach(exitOverride);
})(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const json = process.argv.includes('--json');
  if (err instanceof InvalidArgumentError) {
    process.stderr.write(json ? JSON.stringify({ error: { code: 'USAGE', message: err.message } }) + '\n' : `error: ${err.message}\n`);
    process.exit(EXIT.USAGE);
  }
  process.exit(reportError(err, json));
});
