// scratch: seed a store and keep it for EXPLAIN
import { BenchStore } from './bench-store.js';
const kind = process.argv[2] as 'sqlite' | 'postgres';
const tasks = Number(process.argv[3]);
const s = await BenchStore.create(kind);
const t0 = performance.now();
const r = await s.seed({ tasks, days: 60, now: Date.now() });
console.log(JSON.stringify({ r, ms: performance.now() - t0, schema: s.db.schema, dir: s.dataDir, acme: s.tenants.acme.id }));
await s.store.close();
