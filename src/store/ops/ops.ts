/**
 * Ops: every store operation, as the union of the per-area interfaces, and the one way a store
 * exposes them. A dialect implements each area in its own class (`<dialect>/<area>-queries.ts`);
 * `defineOps` builds an object holding exactly the names the areas declare, each delegating to its
 * area's implementation, so helpers of those classes (statement caches, shared sub-queries) never
 * become store methods; `exposeOps` puts that object's functions on a store.
 */
import { DELIVERY_OPS, type DeliveryOps } from './deliveries.js';
import { ENDPOINT_OPS, type EndpointOps } from './endpoints.js';
import { EVENT_OPS, type EventOps } from './events.js';
import { KEY_OPS, type KeyOps } from './keys.js';
import { METRIC_OPS, type MetricOps } from './metrics.js';
import type { OpNames } from './op-names.js';
import { TASK_OPS, type TaskOps } from './tasks.js';
import { UPLOAD_OPS, type UploadOps } from './uploads.js';

export type Ops = KeyOps & TaskOps & DeliveryOps & EventOps & EndpointOps & UploadOps & MetricOps;

/** One implementation per area. */
export interface OpsAreas {
  keys: KeyOps;
  tasks: TaskOps;
  deliveries: DeliveryOps;
  events: EventOps;
  endpoints: EndpointOps;
  uploads: UploadOps;
  metrics: MetricOps;
}

/** An area's operations with plain (synchronous) results, as better-sqlite3 gives them. */
export type Sync<T> = { [K in keyof T]: T[K] extends (...args: infer P) => infer R ? (...args: P) => Awaited<R> : never };

export type SyncOpsAreas = { [A in keyof OpsAreas]: Sync<OpsAreas[A]> };

const AREAS: { [A in keyof OpsAreas]: OpNames<OpsAreas[A]> } = {
  keys: KEY_OPS,
  tasks: TASK_OPS,
  deliveries: DELIVERY_OPS,
  events: EVENT_OPS,
  endpoints: ENDPOINT_OPS,
  uploads: UPLOAD_OPS,
  metrics: METRIC_OPS,
};

/** Every operation name, by area. */
export const OP_NAMES_BY_AREA: { [A in keyof OpsAreas]: Array<keyof OpsAreas[A]> } = Object.fromEntries(
  Object.entries(AREAS).map(([area, names]) => [area, Object.keys(names)]),
) as { [A in keyof OpsAreas]: Array<keyof OpsAreas[A]> };

/** Every operation name of Ops. */
export const OP_NAMES: ReadonlyArray<keyof Ops> = Object.values(OP_NAMES_BY_AREA).flat() as Array<keyof Ops>;

type Method = (...args: unknown[]) => unknown;

/** The Ops of these area implementations, and nothing else. */
export function defineOps(areas: OpsAreas): Ops;
/** The Ops of synchronous area implementations, each call made async through `run`. */
export function defineOps(areas: SyncOpsAreas, run: <T>(fn: () => T) => Promise<T>): Ops;
export function defineOps(areas: OpsAreas | SyncOpsAreas, run?: <T>(fn: () => T) => Promise<T>): Ops {
  const ops: Record<string, Method> = {};
  for (const [area, names] of Object.entries(OP_NAMES_BY_AREA)) {
    const impl = areas[area as keyof OpsAreas] as unknown as Record<string, Method>;
    for (const name of names as string[]) {
      const method = impl[name];
      if (typeof method !== 'function') throw new Error(`the ${area} queries have no ${name}`);
      ops[name] = run ? (...args) => run(() => method.apply(impl, args)) : (...args) => method.apply(impl, args);
    }
  }
  return ops as unknown as Ops;
}

/** Gives `store` the operations of `ops` as its own methods (declare `interface XStore extends Ops {}` beside the class). */
export function exposeOps(store: object, ops: Ops): void {
  for (const name of OP_NAMES) Object.defineProperty(store, name, { value: ops[name], enumerable: false });
}
