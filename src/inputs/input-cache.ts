/**
 * One local copy of a task's input per worker process, shared by the task's targets that run here
 * at the same time and removed when the last of them is done.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';

interface Entry {
  file: Promise<string>;
  users: number;
}

export class InputCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly dir: string) {}

  async acquire(taskId: string, fetch: (dest: string) => Promise<unknown>): Promise<string> {
    let entry = this.entries.get(taskId);
    if (!entry) {
      const folder = path.join(this.dir, taskId);
      const dest = path.join(folder, 'input');
      const file = fsp
        .mkdir(folder, { recursive: true })
        .then(() => fetch(dest))
        .then(() => dest);
      entry = { file, users: 0 };
      this.entries.set(taskId, entry);
      // A failed fetch must not be served to the next target that asks.
      file.catch(() => {
        if (this.entries.get(taskId) === entry) this.entries.delete(taskId);
        void fsp.rm(folder, { recursive: true, force: true });
      });
    }
    entry.users++;
    try {
      return await entry.file;
    } catch (err) {
      entry.users--;
      throw err;
    }
  }

  async release(taskId: string): Promise<void> {
    const entry = this.entries.get(taskId);
    if (!entry) return;
    entry.users--;
    if (entry.users > 0) return;
    this.entries.delete(taskId);
    await fsp.rm(path.join(this.dir, taskId), { recursive: true, force: true });
  }
}
