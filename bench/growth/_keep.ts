// scratch (not committed): seeded + empty stores with APIs, kept until killed
import fs from 'node:fs';
import { BenchStore } from './bench-store.js';
import { DAY_MS, historyId } from './history.js';
const kind = process.argv[2] as 'sqlite' | 'postgres';
const tasks = Number(process.argv[3]);
const now = Date.now();
const out: any = {};
for (const [name, n, days] of [['empty', 1000, 1], ['seeded', tasks, 60]] as const) {
  const s = await BenchStore.create(kind, {});
  const replay = { tenantId: s.tenants.acme.id, taskId: historyId('task', now - (days * DAY_MS) / 3), at: now - (days * DAY_MS) / 3, events: 10 };
  await s.seed({ tasks: n, days, now }, replay);
  await s.startApi({ HOOKWAVE_TENANT_MAX_QUEUED: '0', HOOKWAVE_EVENT_RETENTION: 'off', HOOKWAVE_DELIVERY_RETENTION: 'off', HOOKWAVE_TASK_RETENTION: 'off' });
  out[name] = { url: s.api!.url, key: s.tenants.acme.key, acme: s.tenants.acme.id, schema: s.db.schema, dir: s.dataDir, replay: replay.taskId };
}
fs.writeFileSync('/tmp/keep.json', JSON.stringify(out, null, 1));
console.log(JSON.stringify(out));
setInterval(() => {}, 1 << 30);
