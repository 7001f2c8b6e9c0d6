/** Runs hookwave as a real child process (the CLI from source), to kill it for real. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = path.join(root, 'src', 'cli', 'main.ts');
// The workspace packages from source too (see tsconfig.json's customConditions).
const nodeArgs = ['--import', 'tsx', '--conditions=hookwave-source'];

export function runCli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...nodeArgs, entry, ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs the CLI without blocking this process (runCli's spawnSync would freeze a service started in
 * the test itself, and the CLI would wait on it forever).
 */
export function runCliAsync(args: string[], env: Record<string, string> = {}, opts: { timeoutMs?: number } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = startCli(args, env);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.child.kill('SIGKILL');
      reject(new Error(`hookwave ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 60_000} ms\nstdout: ${child.stdout()}\nstderr: ${child.stderr()}`));
    }, opts.timeoutMs ?? 60_000);
    void child.exited.then((status) => {
      clearTimeout(timer);
      resolve({ status, stdout: child.stdout(), stderr: child.stderr() });
    });
  });
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** Resolves once stdout or stderr contains `text`. */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

/** Starts a long-running CLI command (listen, tail) to talk to while it runs. */
export function startCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [...nodeArgs, entry, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners: Array<() => void> = [];
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    [...listeners].forEach((l) => l());
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
    [...listeners].forEach((l) => l());
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForOutput(text, timeoutMs = 30_000) {
      const seen = () => (typeof text === 'string' ? (out + err).includes(text) : text.test(out + err));
      return new Promise((resolve, reject) => {
        if (seen()) return resolve();
        const timer = setTimeout(() => reject(new Error(`no "${String(text)}" in the output within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`)), timeoutMs);
        const check = () => {
          if (!seen()) return;
          clearTimeout(timer);
          listeners.splice(listeners.indexOf(check), 1);
          resolve();
        };
        listeners.push(check);
        void exited.then(() => {
          if (!seen()) {
            clearTimeout(timer);
            reject(new Error(`exited before printing "${String(text)}"\nstdout: ${out}\nstderr: ${err}`));
          }
        });
      });
    },
  };
}

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  logs: string[];
  exited: Promise<number | null>;
}

/** Starts `hookwave serve` and resolves once it logged its URL. */
export function spawnService(args: string[], env: Record<string, string>): Promise<ServiceProcess> {
  return spawnScript(entry, ['serve', '--port', '0', ...args], env);
}

/** Starts a TypeScript script that logs {"msg":"hookwave started","url":…} once it listens. */
export async function spawnScript(script: string, args: string[], env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    cwd: root,
    env: { ...process.env, HOOKWAVE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${logs.join('\n')}`)), 30_000);
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        logs.push(line);
        // A service logs a line per request: keep the recent ones for error messages, not them all.
        if (logs.length > 2000) logs.splice(0, 1000);
        try {
          const rec = JSON.parse(line) as { msg?: string; url?: string };
          if (rec.msg === 'hookwave started') {
            clearTimeout(timer);
            resolve(rec.url ?? '');
          }
        } catch {
          /* not a log line */
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    void exited.then((code) => reject(new Error(`service exited with ${code}:\n${logs.join('\n')}`)));
  });
  return { child, url, logs, exited };
}
