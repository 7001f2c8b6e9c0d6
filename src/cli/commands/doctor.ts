/**
 * hookwave doctor: is this machine ready to serve? Checks what a newcomer's first hour trips on
 * (Node version, ffmpeg, the database, storage, dev mode, the public URL), with the server's own
 * settings (HOOKWAVE_* and flags), changing nothing: no migrations run, no database is created.
 * Exits 1 when a check fails, naming what to fix.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config.js';
import { toolInfo, useTools } from '../../media/ffmpeg.js';
import { LocalBlobStore } from '../../blobs/blob-store.js';
import { openS3BlobStore } from '../../blobs/s3-blob-store.js';
import { openStore, sqliteFile } from '../../store/open-store.js';
import { EXIT, printJson, println } from '../shared.js';
import { table } from '../table.js';

type Status = 'ok' | 'warn' | 'fail';

interface Check {
  check: string;
  status: Status;
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

const MIN_NODE = [22, 19];

function nodeCheck(): Check {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const ok = major > MIN_NODE[0]! || (major === MIN_NODE[0] && minor >= MIN_NODE[1]!);
  return ok
    ? { check: 'node', status: 'ok', detail: `Node.js ${process.versions.node}` }
    : { check: 'node', status: 'fail', detail: `Node.js ${process.versions.node}`, fix: `use Node.js ${MIN_NODE.join('.')} or newer (22 or 24 LTS)` };
}

async function toolChecks(cfg: Config): Promise<Check[]> {
  const out: Check[] = [];
  try {
    useTools({ ffmpeg: cfg.ffmpegPath, ffprobe: cfg.ffprobePath });
    for (const [name, where] of Object.entries(toolInfo())) {
      try {
        const { stdout } = await promisify(execFile)(where.path, ['-version'], { timeout: 10_000 });
        out.push({ check: name, status: 'ok', detail: `${stdout.split('\n')[0]!.split(' Copyright')[0]} (${where.source}: ${where.path})` });
      } catch (err) {
        out.push({ check: name, status: 'fail', detail: `${where.path} does not run: ${(err as Error).message.split('\n')[0]}`, fix: `install ffmpeg (apt-get install ffmpeg) or set HOOKWAVE_${name.toUpperCase()}` });
      }
    }
  } catch (err) {
    out.push({ check: 'ffmpeg', status: 'fail', detail: (err as Error).message, fix: 'install ffmpeg (apt-get install ffmpeg) or set HOOKWAVE_FFMPEG and HOOKWAVE_FFPROBE' });
  }
  return out;
}

async function databaseCheck(cfg: Config): Promise<Check> {
  const what = cfg.databaseUrl ? 'PostgreSQL' : `SQLite ${sqliteFile(cfg)}`;
  if (!cfg.databaseUrl && !fs.existsSync(sqliteFile(cfg))) {
    return { check: 'database', status: 'warn', detail: `${what} does not exist yet`, fix: '`hookwave serve` creates it (with this --data-dir / HOOKWAVE_DATA_DIR)' };
  }
  try {
    const store = await openStore(cfg, { migrate: false });
    try {
      const pending = await store.pendingMigrations();
      return pending === 0
        ? { check: 'database', status: 'ok', detail: `${what}: reachable, migrated` }
        : { check: 'database', status: 'warn', detail: `${what}: reachable, ${pending} migration(s) pending`, fix: 'start `hookwave serve` once: it migrates on start' };
    } finally {
      await store.close();
    }
  } catch (err) {
    const message = (err as Error).message.split('\n')[0]!;
    return { check: 'database', status: 'fail', detail: `${what}: ${message}`, fix: cfg.databaseUrl ? 'check HOOKWAVE_DATABASE_URL and that PostgreSQL is running' : 'check that the data directory is readable and writable' };
  }
}

async function storageCheck(cfg: Config): Promise<Check> {
  const probe = path.join(os.tmpdir(), `hookwave-doctor-${process.pid}`);
  const key = `.doctor/${process.pid}`;
  await fsp.writeFile(probe, 'hookwave doctor');
  try {
    if (cfg.storage === 's3') {
      const s3 = await openS3BlobStore(cfg, { connect: true });
      try {
        await s3.put(probe, key);
        await s3.remove(key);
      } finally {
        await s3.close?.();
      }
      return { check: 'storage', status: 'ok', detail: `S3 bucket ${cfg.s3Bucket}${cfg.s3Endpoint ? ` at ${cfg.s3Endpoint}` : ''}: writable` };
    }
    const root = path.join(cfg.dataDir, 'files');
    const local = new LocalBlobStore(root);
    await local.put(probe, key);
    await local.remove('.doctor');
    return { check: 'storage', status: 'ok', detail: `${path.resolve(root)}: writable` };
  } catch (err) {
    return { check: 'storage', status: 'fail', detail: (err as Error).message.split('\n')[0]!, fix: cfg.storage === 's3' ? 'check HOOKWAVE_S3_* and the credentials' : 'make the data directory writable, or choose another with --data-dir' };
  } finally {
    await fsp.rm(probe, { force: true });
  }
}

function modeChecks(cfg: Config): Check[] {
  const loopback = /^(127\.|localhost$|::1$)/.test(cfg.host);
  return [
    cfg.dev
      ? { check: 'dev mode', status: 'warn', detail: 'on: http:// and loopback webhook and input URLs are allowed', fix: 'never in production: unset HOOKWAVE_DEV / drop --dev' }
      : { check: 'dev mode', status: 'ok', detail: 'off' },
    cfg.publicUrl
      ? { check: 'public URL', status: 'ok', detail: cfg.publicUrl }
      : loopback
        ? { check: 'public URL', status: 'ok', detail: `not set; download links use the request's host (listening on ${cfg.host})` }
        : { check: 'public URL', status: 'warn', detail: 'not set while listening beyond loopback', fix: 'set HOOKWAVE_PUBLIC_URL (or --public-url) to the URL clients reach this server at' },
  ];
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check that this machine can serve: Node.js, ffmpeg, database, storage, dev mode, public URL (exit 1 if something must be fixed)')
    .option('-d, --data-dir <dir>', 'data directory (HOOKWAVE_DATA_DIR, default ./data)')
    .option('--dev', 'check as `serve --dev` would run')
    .option('--json', 'print JSON')
    .action(async (flags: { dataDir?: string; dev?: boolean; json?: boolean }) => {
      let cfg: Config;
      try {
        cfg = loadConfig({ dataDir: flags.dataDir, dev: flags.dev ? true : undefined });
      } catch (err) {
        const check: Check = { check: 'settings', status: 'fail', detail: (err as Error).message, fix: 'correct the HOOKWAVE_* setting named above' };
        report([check], Boolean(flags.json));
        return;
      }
      const checks = [nodeCheck(), ...(await toolChecks(cfg)), await databaseCheck(cfg), await storageCheck(cfg), ...modeChecks(cfg)];
      report(checks, Boolean(flags.json));
    });
}

function report(checks: Check[], json: boolean): void {
  const failed = checks.some((c) => c.status === 'fail');
  if (json) printJson({ ok: !failed, checks });
  else {
    const columns = [
      { header: 'check', value: (c: Check) => c.check },
      { header: 'status', value: (c: Check) => c.status },
      { header: 'detail', value: (c: Check) => c.detail },
    ];
    println(table(columns, checks, ''));
    const todo = checks.filter((c) => c.fix);
    if (todo.length > 0) println(['', 'to do:', ...todo.map((c) => `  ${c.check}: ${c.fix}`)].join('\n'));
  }
  process.exitCode = failed ? EXIT.ERROR : EXIT.OK;
}
