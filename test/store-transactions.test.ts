/**
 * The Store's transactions, on the database of this run: many callers at once commit together
 * (SQLite's group commit), yet a callback that throws fails alone and leaves nothing behind, and
 * wake-ups fire only for what was committed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { Tenant } from '../src/domain/types.js';
import { newId } from '../src/ids.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';
import { freshDatabase, type TestDatabase } from './helpers/database.js';
import { tempDir } from './helpers/service.js';
import { until } from './helpers/until.js';

let db: TestDatabase;
let store: Store;

beforeAll(async () => {
  db = freshDatabase();
  store = await openStore(loadConfig({ dataDir: tempDir(), databaseUrl: db.databaseUrl }));
});
afterAll(async () => {
  await store.close();
  await db.drop();
});

const tenant = (name: string): Tenant => ({ id: newId('ten'), name, webhook_secret: 'whsec_x', created_at: Date.now() });

describe('store.tx', () => {
  it('commits the callers of one moment together, and a failing one alone rolls back', async () => {
    const woken: string[] = [];
    const unsubscribe = store.subscribe('cancel', (payload) => woken.push(payload!));
    try {
      const ok1 = tenant('tx-ok-1');
      const bad = tenant('tx-bad');
      const ok2 = tenant('tx-ok-2');
      const dup = tenant('tx-ok-1'); // tenant names are unique: this one fails inside the database
      const settled = await Promise.allSettled([
        store.tx(async (tx) => {
          await tx.insertTenant(ok1);
          tx.notifyAfterCommit('cancel', 'ok1');
          return 'first';
        }),
        store.tx(async (tx) => {
          await tx.insertTenant(bad);
          tx.notifyAfterCommit('cancel', 'bad');
          throw new Error('changed my mind');
        }),
        store.tx(async (tx) => {
          await tx.insertTenant(ok2);
          tx.notifyAfterCommit('cancel', 'ok2');
          return 'third';
        }),
        store.tx(async (tx) => {
          tx.notifyAfterCommit('cancel', 'dup');
          await tx.insertTenant(dup);
        }),
      ]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
      expect((settled[0] as PromiseFulfilledResult<string>).value).toBe('first');
      expect((settled[1] as PromiseRejectedResult).reason.message).toBe('changed my mind');
      expect((settled[2] as PromiseFulfilledResult<string>).value).toBe('third');
      expect(String((settled[3] as PromiseRejectedResult).reason.message)).toMatch(/UNIQUE|duplicate key/i);

      expect(await store.getTenant(ok1.id)).toMatchObject({ name: 'tx-ok-1' });
      expect(await store.getTenant(ok2.id)).toMatchObject({ name: 'tx-ok-2' });
      expect(await store.getTenant(bad.id)).toBeNull();
      expect(await store.getTenant(dup.id)).toBeNull();
      // A wake-up committed after them all arrives after theirs (a channel delivers in commit order),
      // so once it is here, any wake-up of a rolled-back transaction would be too.
      await store.tx(async (tx) => {
        tx.notifyAfterCommit('cancel', 'later');
      });
      await until('the later wake-up', () => woken.includes('later'));
      expect(woken.filter((w) => w !== undefined && w !== 'later').sort()).toEqual(['ok1', 'ok2']);
    } finally {
      unsubscribe();
    }
  });
});
