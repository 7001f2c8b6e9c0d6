/**
 * One local copy of a task's input per worker process, shared by the task's targets that run here
 * and removed a while (`lingerMs`) after the last of them is done: targets of one task are claimed
 * one after another as slots free up, and the next one should find the input, and whatever work the
 * previous ones left beside it (stems' separation), still there rather than fetch and redo it.
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
  /** Set while nobody uses it: removes it when it fires. */
  expiry: NodeJS.Timeout | null;
}

export class InputCache {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;

  constructor(
    private readonly dir: string,
    private readonly lingerMs = 60_000,
  ) {}

  async acquire(taskId: string, fetch: (dest: string) => Promise<unknown>): Promise<string> {
    let entry = this.entries.get(taskId);
    if (!entry) {
      const folder = path.join(this.dir, `${taskId}.${++this.generation}`);
      const dest = path.join(folder, 'input');
      const file = fsp
        .mkdir(folder, { recursive: true })
        .then(() => fetch(dest))
        .then(() => dest);
      const created: Entry = { folder, file, users: 0, expiry: null };
      entry = created;
      this.entries.set(taskId, created);
      // A failed fetch must not be served to the next target that asks.
      file.catch(() => {
        if (this.entries.get(taskId) === created) this.entries.delete(taskId);
        void fsp.rm(folder, { recursive: true, force: true });
      });
    }
    if (entry.expiry) clearTimeout(entry.expiry);
    entry.expiry = null;
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
    if (this.lingerMs <= 0) return this.remove(taskId, entry);
    // Unref'd: a lingering copy never keeps a process alive; close() removes what is left.
    entry.expiry = setTimeout(() => void this.remove(taskId, entry), this.lingerMs).unref();
  }

  /** Removes every copy now (worker shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.entries].map(([taskId, entry]) => this.remove(taskId, entry)));
  }

  private async remove(taskId: string, entry: Entry): Promise<void> {
    if (entry.expiry) clearTimeout(entry.expiry);
    if (this.entries.get(taskId) === entry) this.entries.delete(taskId);
    await fsp.rm(entry.folder, { recursive: true, force: true }).catch(() => undefined);
  }
}
