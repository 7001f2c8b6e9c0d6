/**
 * The transactional outbox: an event is written in the same transaction as the state change it
 * announces, together with one delivery per receiver — the task's own webhook_url (if it wants
 * this type) and every enabled endpoint of the tenant whose filter matches. The payload is frozen
 * here; the dispatcher only ever sends these bytes.
 */
import type { UrlSigner } from '../blobs/signed-url.js';
import { dueAtFor } from '../domain/circuit-breaker.js';
import { newId } from '../ids.js';
import type { Tx } from '../store/store.js';
import { taskView, type TaskView } from '../domain/task-view.js';
import { TASK_EVENT_TYPES, TEST_EVENT_TYPE, type DeliveryRow, type EndpointRow, type EventRow, type EventType, type TaskAggregate, type TaskRow } from '../domain/types.js';

export interface EventBody<T = TaskView> {
  type: EventType;
  timestamp: string;
  data: T;
}

/** Event types a task's own webhook_url receives: task-level events unless the task chose others. */
export function wantsEvent(task: TaskRow, type: EventType): boolean {
  return (task.webhook_events ?? TASK_EVENT_TYPES).includes(type as never);
}

export function endpointWants(endpoint: EndpointRow, type: EventType): boolean {
  return endpoint.enabled && (endpoint.events === null || endpoint.events.includes(type));
}

/** Stores one event and its deliveries. `taskUrl` is the task's own webhook URL, if it wants this event. */
async function emit(
  tx: Tx,
  tenantId: string,
  taskId: string | null,
  type: EventType,
  data: unknown,
  taskUrl: string | null,
  now: number,
  skipEndpoint?: string,
): Promise<EventRow> {
  const body = { type, timestamp: new Date(now).toISOString(), data };
  const event: EventRow = { id: newId('msg'), tenant_id: tenantId, task_id: taskId, type, payload: JSON.stringify(body), created_at: now };
  await tx.insertEvent(event);

  const receivers: Array<{ url: string; endpoint_id: string | null; due: number }> = [];
  if (taskUrl) receivers.push({ url: taskUrl, endpoint_id: null, due: now });
  for (const ep of await tx.listEndpoints(tenantId)) {
    // An open circuit holds new deliveries too, due exactly when it is (so its probe's success
    // releases them with the rest); the claim holds any that slip past, e.g. a circuit opening
    // while this transaction runs.
    const due = dueAtFor(ep.circuit_open_until, now);
    if (ep.id !== skipEndpoint && endpointWants(ep, type)) receivers.push({ url: ep.url, endpoint_id: ep.id, due });
  }
  if (receivers.length > 0) {
    await tx.insertDeliveries(receivers.map((r) => newDelivery(event, r, now)));
    tx.notifyAfterCommit('deliveries');
  }
  if (taskId) tx.notifyAfterCommit('events', taskId);
  return event;
}

function newDelivery(event: EventRow, r: { url: string; endpoint_id: string | null; due: number }, now: number): DeliveryRow {
  return {
    id: newId('dlv'),
    event_id: event.id,
    tenant_id: event.tenant_id,
    task_id: event.task_id,
    endpoint_id: r.endpoint_id,
    url: r.url,
    status: 'pending',
    attempt_count: 0,
    next_attempt_at: r.due,
    last_error: null,
    last_status_code: null,
    created_at: now,
    updated_at: now,
    delivered_at: null,
  };
}

/**
 * The tenant asked to see that an endpoint works: an `endpoint.test` event with one delivery, to
 * that endpoint alone and whatever its filter (never to a task's URL or the other endpoints).
 */
export async function emitTestEvent(tx: Tx, endpoint: EndpointRow, message: string, now: number): Promise<DeliveryRow> {
  const body = { type: TEST_EVENT_TYPE, timestamp: new Date(now).toISOString(), data: { endpoint_id: endpoint.id, message } };
  const event: EventRow = { id: newId('msg'), tenant_id: endpoint.tenant_id, task_id: null, type: TEST_EVENT_TYPE, payload: JSON.stringify(body), created_at: now };
  await tx.insertEvent(event);
  const delivery = newDelivery(event, { url: endpoint.url, endpoint_id: endpoint.id, due: dueAtFor(endpoint.circuit_open_until, now) }, now);
  await tx.insertDeliveries([delivery]);
  tx.notifyAfterCommit('deliveries');
  return delivery;
}

export function emitTaskEvent(tx: Tx, signer: UrlSigner, type: EventType, agg: TaskAggregate, now: number): Promise<EventRow> {
  const { task } = agg;
  const taskUrl = task.webhook_url && wantsEvent(task, type) ? task.webhook_url : null;
  return emit(tx, task.tenant_id, task.id, type, taskView(agg, signer, now), taskUrl, now);
}

/** An event about an endpoint (e.g. endpoint.disabled), sent to the tenant's other endpoints. */
export function emitEndpointEvent(tx: Tx, type: EventType, endpoint: EndpointRow, data: unknown, now: number): Promise<EventRow> {
  return emit(tx, endpoint.tenant_id, null, type, data, null, now, endpoint.id);
}
