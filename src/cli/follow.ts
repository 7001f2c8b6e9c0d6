/**
 * Following a task to its end from a terminal: one progress bar per target (with an ETA from the
 * progress rate) or a line per target state on a pipe; then a summary of its outputs. Shared by
 * `submit --wait` and `tasks wait`.
 */
import path from 'node:path';
import type { Hookwave, TargetProgress, Task } from '@hookwave/client';
import { barsWanted, formatBytes, multiBar, note, println } from './shared.js';

export interface DownloadedFile {
  target: string;
  name: string;
  format: string;
  path: string;
  size: number;
}

/** Waits for the task, drawing one bar per target (or printing a line per target state on a pipe). */
export async function follow(client: Hookwave, id: string, opts: { json: boolean; timeoutMs?: number; signal: AbortSignal }): Promise<Task> {
  const initial = await client.tasks.get(id, { signal: opts.signal });
  const width = Math.max(...initial.targets.map((t) => t.name.length));
  const last = new Map<string, string>(initial.targets.map((t) => [t.id, t.status]));
  let onProgress: (p: TargetProgress) => void;
  let stop = () => {};
  if (barsWanted(opts.json)) {
    // ETA from the progress rate cli-progress measures over the last updates.
    const bars = multiBar(' {name} |{bar}| {percentage}% {state} | ETA {eta_formatted}');
    const byId = new Map(initial.targets.map((t) => [t.id, bars.create(100, Math.round(t.progress * 100), { name: t.name.padEnd(width), state: t.status })]));
    onProgress = (p) => byId.get(p.target_id)?.update(Math.round(p.progress * 100), { state: p.status });
    stop = () => bars.stop();
  } else {
    onProgress = (p) => {
      if (opts.json || last.get(p.target_id) === p.status) return;
      last.set(p.target_id, p.status);
      note(`  ${p.name.padEnd(width)}  ${p.status}`);
    };
  }
  try {
    return await client.tasks.wait(id, { timeoutMs: opts.timeoutMs, signal: opts.signal, onProgress });
  } finally {
    stop();
  }
}

export function printSummary(task: Task, files: DownloadedFile[], dir: string | null): void {
  const seconds = task.completed_at ? ` in ${((Date.parse(task.completed_at) - Date.parse(task.created_at)) / 1000).toFixed(1)} s` : '';
  println(`${task.id} ${task.status}${seconds}${task.cost !== null ? `, cost ${task.cost}` : ''}`);
  if (dir && files.length > 0) println(`outputs in ${dir}${path.sep}`);
  const width = Math.max(...task.targets.map((t) => t.name.length));
  for (const t of task.targets) {
    const mine = files.filter((f) => f.target === t.name);
    if (t.status === 'failed' || t.status === 'canceled') {
      println(`  ${t.name.padEnd(width)}  ${t.status}${t.error ? `  ${t.error.code}: ${t.error.message}` : ''}`);
    } else if (mine.length > 0) {
      for (const f of mine) println(`  ${t.name.padEnd(width)}  ${t.status}  ${f.path}  ${formatBytes(f.size)}`);
    } else {
      for (const o of t.outputs) println(`  ${t.name.padEnd(width)}  ${t.status}  ${o.url}`);
      if (t.outputs.length === 0) println(`  ${t.name.padEnd(width)}  ${t.status}`);
    }
  }
  if (task.status !== 'completed' && task.error) println(`  error: ${task.error.code}: ${task.error.message}`);
}
