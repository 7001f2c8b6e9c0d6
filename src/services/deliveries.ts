/**
 * The delivery log: every event sent to every receiver with each attempt, and replay. Reads cost
 * a fixed number of queries whatever the page size (attempts and event types are read for the
 * whole page at once).
 */
import { deliveryNotFound, deliveryView, type DeliveryView } from '../domain/delivery-view.js';
import { endpointUnavailable } from '../domain/endpoint-view.js';
import type { AttemptRow, DeliveryRow } from '../domain/types.js';
import { HookwaveError } from '../errors.js';
import type { Store } from '../store/store.js';
import { notFound } from './tasks.js';

export interface ListDeliveries {
  tenantId: string;
  status?: DeliveryRow['status'];
  endpointId?: string;
  taskId?: string;
  cursor?: string;
  limit: number;
}

export class DeliveryService {
  constructor(private readonly store: Store) {}

  /** A task's deliveries, oldest first, each with its attempts. */
  async forTask(tenantId: string, taskId: string): Promise<DeliveryView[]> {
    const task = await this.store.getTask(tenantId, taskId);
    if (!task) throw notFound(taskId);
    return this.views(tenantId, await this.store.listDeliveriesForTask(tenantId, task.id), true);
  }

  /** A page of deliveries, newest first, without attempts. */
  async list(q: ListDeliveries): Promise<{ data: DeliveryView[]; next_cursor: string | null }> {
    const rows = await this.store.listDeliveries({ tenantId: q.tenantId, status: q.status, endpointId: q.endpointId, taskId: q.taskId, before: q.cursor, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    return { data: await this.views(q.tenantId, page, false), next_cursor: rows.length > q.limit ? page[page.length - 1]!.id : null };
  }

  /** One delivery with all its attempts. */
  async get(tenantId: string, id: string): Promise<DeliveryView> {
    const d = await this.store.getDelivery(tenantId, id);
    if (!d) throw deliveryNotFound(id);
    const [view, event] = await Promise.all([this.views(tenantId, [d], true), this.store.getEvent(tenantId, d.event_id)]);
    // The payload is frozen when the event is stored; every attempt signs and sends exactly these bytes.
    return { ...view[0]!, request_body: event?.payload ?? null };
  }

  /**
   * "Resend" as Svix and Stripe users know it: one action whatever the delivery's state.
   * - Ended (delivered or failed): one more attempt now, with the same webhook-id; its failure is
   *   final (a manual try).
   * - Pending and waiting for its next attempt (retry now): sent at once, keeping its attempt count,
   *   so a failure goes on with the retry schedule; an open circuit of its endpoint ends now, so it
   *   goes out as the probe.
   * Never one a dispatcher holds right now (it would go out twice): DELIVERY_PENDING. Never one
   * whose endpoint is disabled or deleted: ENDPOINT_UNAVAILABLE.
   */
  async redeliver(tenantId: string, id: string): Promise<'requeued' | 'retrying'> {
    const d = await this.store.getDelivery(tenantId, id);
    if (!d) throw deliveryNotFound(id);
    if (d.endpoint_id !== null) {
      const ep = await this.store.getEndpoint(tenantId, d.endpoint_id);
      if (!ep || !ep.enabled) throw endpointUnavailable(d.endpoint_id, ep ? 'disabled' : 'deleted');
    }
    const inFlight = () => new HookwaveError('DELIVERY_PENDING', `delivery ${d.id} is being sent right now; its outcome decides what comes next`, { status: 'pending' });
    const now = Date.now();
    // The status read above is advisory; each store call decides atomically (a concurrent claim or redeliver loses).
    let result: 'requeued' | 'retrying';
    if (d.status === 'pending') {
      const r = await this.store.retryDeliveryNow(tenantId, d.id, now);
      if (r === 'leased') throw inFlight();
      if (r === null) throw deliveryNotFound(id);
      result = 'retrying';
      // It ended meanwhile: requeue it as an ended one.
      if (r === 'not-pending') {
        if (!(await this.store.requeueDelivery(tenantId, d.id, now))) throw inFlight();
        result = 'requeued';
      }
    } else {
      // Refused: pending again by now (a concurrent redeliver), or just pruned by row retention.
      if (!(await this.store.requeueDelivery(tenantId, d.id, now))) throw (await this.store.getDelivery(tenantId, d.id)) ? inFlight() : deliveryNotFound(id);
      result = 'requeued';
    }
    this.store.notify('deliveries');
    return result;
  }

  private async views(tenantId: string, rows: DeliveryRow[], withAttempts: boolean): Promise<DeliveryView[]> {
    if (rows.length === 0) return [];
    const [types, attempts] = await Promise.all([
      this.store.listEventTypes(tenantId, [...new Set(rows.map((d) => d.event_id))]),
      withAttempts ? this.store.listAttempts(rows.map((d) => d.id)) : Promise.resolve([]),
    ]);
    const typeOf = new Map(types.map((e) => [e.id, e.type]));
    const attemptsOf = new Map<string, AttemptRow[]>();
    for (const a of attempts) {
      const list = attemptsOf.get(a.delivery_id);
      if (list) list.push(a);
      else attemptsOf.set(a.delivery_id, [a]);
    }
    return rows.map((d) => deliveryView(d, withAttempts ? (attemptsOf.get(d.id) ?? []) : null, typeOf.get(d.event_id) ?? null));
  }
}
