/**
 * Where output files live. The embedded default is a directory under the data directory; a shared
 * directory or a bucket (scale-out) implements the same interface.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

export interface BlobStore {
  /** Moves a finished local file into the store under `key`; returns the stored size. */
  put(localPath: string, key: string): Promise<number>;
  /** A readable stream of the bytes (optionally a byte range, inclusive end). */
  open(key: string, range?: { start: number; end: number }): Promise<Readable>;
  size(key: string): Promise<number | null>;
  /** Deletes the blob under `prefix` and every blob below it (`prefix/…`), like `rm -r`. */
  remove(prefix: string): Promise<void>;
  /** Releases connections (a bucket client); the local store holds none. */
  close?(): Promise<void>;
}

export class LocalBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  private resolve(key: string): string {
    const full = path.resolve(this.root, key);
    // Keys are built by hookwave, but a store never reads outside its root whatever it is given.
    if (!full.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`blob key escapes the store: ${key}`);
    return full;
  }

  async put(localPath: string, key: string): Promise<number> {
    const dest = this.resolve(key);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    try {
      await fsp.rename(localPath, dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await fsp.copyFile(localPath, dest);
      await fsp.rm(localPath, { force: true });
    }
    return (await fsp.stat(dest)).size;
  }

  async open(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = this.resolve(key);
    await fsp.access(file);
    return fs.createReadStream(file, range ? { start: range.start, end: range.end } : {});
  }

  async size(key: string): Promise<number | null> {
    try {
      return (await fsp.stat(this.resolve(key))).size;
    } catch {
      return null;
    }
  }

  async remove(prefix: string): Promise<void> {
    await fsp.rm(this.resolve(prefix), { recursive: true, force: true });
  }
}
