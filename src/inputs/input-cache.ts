/**
 * One local copy of a task's input per worker process, shared by the task's targets that run here
 * at the same time and removed when the last of them is done.
 *
 * Each copy gets a folder of its own: a target that starts just after the previous copy's last
 * user let go fetches a new copy while the old folder is still being removed, and must not lose
 * its file to that removal.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';

interface Entry {
  folder: string;
  file: Promise<string>;
  users: number;
}

export class InputCache {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;

  constructor(private readonly dir: string) {}

  async acquire(taskId: string, fetch: (dest: string) => Promise<unknown>): Promise<string> {
    let entry = this.entries.get(taskId);
    if (!entry) {
      const folder = path.join(this.dir, `${taskId}.${++this.generation}`);
      const dest = path.join(folder, 'input');
      const file = fsp
        .mkdir(folder, { recursive: true })
        .then(() => fetch(dest))
        .then(() => dest);
      const created: Entry = { folder, file, users: 0 };
      entry = created;
      this.entries.set(taskId, created);
      // A failed fetch must not be served to the next target that asks.
      file.catch(() => {
        if (this.entries.get(taskId) === created) this.entries.delete(taskId);
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
    await fsp.rm(entry.folder, { recursive: true, force: true });
  }
}
