/**
 * hookwave tasks list|get|cancel|wait: the tenant's tasks, as `stripe` or `replicate` list theirs.
 * `wait` follows a task someone else (or an interrupted `submit --wait`) started, to its end.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Task, TaskStatus } from '@hookwave/client';
import { follow, printSummary } from '../follow.js';
import { EXIT, Interrupted, UsageError, clientFrom, interruptSignal, note, printJson, println, remote, type RemoteFlags } from '../shared.js';
import { table, when } from '../table.js';

const STATUSES: TaskStatus[] = ['queued', 'processing', 'completed', 'failed', 'canceled'];

function percent(t: Task): string {
  if (t.status !== 'processing') return '';
  const done = t.targets.reduce((sum, g) => sum + g.progress, 0) / Math.max(1, t.targets.length);
  return ` ${Math.round(done * 100)}%`;
}

const COLUMNS = [
  { header: 'id', value: (t: Task) => t.id },
  { header: 'kind', value: (t: Task) => t.kind },
  { header: 'status', value: (t: Task) => t.status + percent(t) },
  { header: 'targets', value: (t: Task) => t.targets.map((g) => g.name).join(',') },
  { header: 'created', value: (t: Task) => when(t.created_at) },
  { header: 'title', value: (t: Task) => t.title ?? (t.error ? `${t.error.code}: ${t.error.message}` : '') },
];

function limitOption(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError('--limit must be a whole number from 1 to 100');
  return n;
}

export function registerTaskCommands(program: Command): void {
  const tasks = program.command('tasks').description("the tenant's tasks: list, get, cancel, delete, wait");

  remote(tasks.command('list'))
    .description('list tasks, newest first')
    .option('--status <status>', `only tasks in this status (${STATUSES.join(', ')})`)
    .option('--kind <kind>', 'only tasks of this kind')
    .option('-n, --limit <n>', 'how many (1-100)', limitOption, 20)
    .option('--cursor <cursor>', 'the next page, as printed after the last one')
    .action(async (flags: RemoteFlags & { status?: string; kind?: string; limit: number; cursor?: string }) => {
      if (flags.status !== undefined && !STATUSES.includes(flags.status as TaskStatus)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
      const page = await clientFrom(flags).tasks.list({ status: flags.status as TaskStatus | undefined, kind: flags.kind, limit: flags.limit, cursor: flags.cursor });
      if (flags.json) return printJson(page);
      println(table(COLUMNS, page.data, '(no tasks)'));
      if (page.next_cursor) note(`more: hookwave tasks list --cursor ${page.next_cursor}`);
    });

  remote(tasks.command('get'))
    .description('show a task: its targets, their outputs (signed URLs) and errors')
    .argument('<id>', 'task id (task_…)')
    .action(async (id: string, flags: RemoteFlags) => {
      const task = await clientFrom(flags).tasks.get(id);
      if (flags.json) return printJson(task);
      printSummary(task, [], null);
    });

  remote(tasks.command('cancel'))
    .description('cancel a queued or running task (running engines are stopped)')
    .argument('<id>', 'task id (task_…)')
    .action(async (id: string, flags: RemoteFlags) => {
      const r = await clientFrom(flags).tasks.cancel(id);
      if (flags.json) printJson(r);
      else println(`${r.task_id} ${r.status}`);
    });

  remote(tasks.command('delete'))
    .description("delete a task's files (outputs, uploaded input) now and redact its input, metadata and webhook URL; a running task is canceled first")
    .argument('<id>', 'task id (task_…)')
    .action(async (id: string, flags: RemoteFlags) => {
      const r = await clientFrom(flags).tasks.delete(id);
      if (flags.json) printJson(r);
      else println(`deleted ${r.id}`);
    });

  remote(tasks.command('wait'))
    .description('wait until a task ends, with a progress bar per target (exit 3 if it fails or is canceled)')
    .argument('<id>', 'task id (task_…)')
    .option('--timeout <seconds>', 'stop waiting after this long (the task keeps running; exit 1)')
    .action(async (id: string, flags: RemoteFlags & { timeout?: string }) => {
      let timeoutMs: number | undefined;
      if (flags.timeout !== undefined) {
        const s = Number(flags.timeout);
        if (!Number.isFinite(s) || s <= 0) throw new UsageError('--timeout must be a number of seconds above 0');
        timeoutMs = s * 1000;
      }
      const interrupt = interruptSignal();
      try {
        const task = await follow(clientFrom(flags), id, { json: Boolean(flags.json), timeoutMs, signal: interrupt.signal });
        if (flags.json) printJson(task);
        else printSummary(task, [], null);
        process.exitCode = task.status === 'completed' ? EXIT.OK : EXIT.TASK_FAILED;
      } catch (err) {
        if (interrupt.signal.aborted && interrupt.signal.reason instanceof Interrupted) {
          note(`stopped waiting; task ${id} keeps running`);
          process.exitCode = EXIT.INTERRUPTED;
          return;
        }
        throw err;
      } finally {
        interrupt.dispose();
      }
    });
}
