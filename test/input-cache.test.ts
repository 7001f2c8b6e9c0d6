/**
 * The worker's per-task input copy: the targets of a task that run in one worker share one
 * download, also when one starts a little after the previous one ended (the copy lingers), and a
 * target that starts just as the previous copy is removed still gets its file.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputCache } from '../src/inputs/input-cache.js';
import { tempDir } from './helpers/service.js';
import { until } from './helpers/until.js';

const write = (content: string) => async (dest: string) => fsp.writeFile(dest, content);

describe('input cache', () => {
  it('downloads once for targets that run together', async () => {
    const cache = new InputCache(tempDir(), 0);
    let fetches = 0;
    const fetch = async (dest: string) => {
      fetches++;
      await fsp.writeFile(dest, 'audio');
    };
    const [a, b] = await Promise.all([cache.acquire('task_1', fetch), cache.acquire('task_1', fetch)]);
    expect(a).toBe(b);
    expect(fetches).toBe(1);
    await cache.release('task_1');
    expect(fs.existsSync(a)).toBe(true);
    await cache.release('task_1');
    expect(fs.existsSync(a)).toBe(false);
  });

  it('keeps the copy a while for the next target of the task, then removes it; close removes the rest', async () => {
    const cache = new InputCache(tempDir(), 300);
    let fetches = 0;
    const fetch = async (dest: string) => {
      fetches++;
      await fsp.writeFile(dest, 'audio');
    };
    const first = await cache.acquire('task_1', fetch);
    await fsp.writeFile(path.join(path.dirname(first), 'work-left-by-the-first'), 'stems');
    await cache.release('task_1');
    const second = await cache.acquire('task_1', fetch);
    expect(second).toBe(first);
    expect(fetches).toBe(1);
    expect(fs.existsSync(path.join(path.dirname(second), 'work-left-by-the-first'))).toBe(true);
    await cache.release('task_1');
    await until('the lingering copy is removed', () => !fs.existsSync(second));

    const other = await cache.acquire('task_2', fetch);
    await cache.release('task_2');
    await cache.close();
    expect(fs.existsSync(other)).toBe(false);
  });

  it('keeps the file of a target that starts while the previous copy is being removed', async () => {
    const cache = new InputCache(tempDir(), 0);
    for (let i = 0; i < 50; i++) {
      await cache.acquire('task_1', write('first'));
      const removing = cache.release('task_1');
      const next = await cache.acquire('task_1', write(`second ${i}`));
      await removing;
      expect(fs.readFileSync(next, 'utf8')).toBe(`second ${i}`);
      await cache.release('task_1');
    }
  });

  it('fetches again after a failed fetch, and a failed acquire needs no release', async () => {
    const dir = tempDir();
    const cache = new InputCache(dir, 0);
    await expect(cache.acquire('task_1', async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    const file = await cache.acquire('task_1', write('retry'));
    expect(fs.readFileSync(file, 'utf8')).toBe('retry');
    await cache.release('task_1');
    expect(fs.readdirSync(dir).filter((f) => fs.readdirSync(path.join(dir, f)).length > 0)).toEqual([]);
  });
});
