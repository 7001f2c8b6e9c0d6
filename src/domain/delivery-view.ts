/**
 * A webhook delivery as the API shows it (the delivery log), and the error that names one.
 */
import { HookwaveError } from '../errors.js';
import type { AttemptRow, DeliveryRow } from './types.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface AttemptView {
  attempt_number: number;
  started_at: string | null;
  status_code: number | null;
  latency_ms: number;
  request_headers: Record<string, string> | null;
  response_headers: Record<string, string> | null;
  response_excerpt: string | null;
  error: string | null;
}

export interface DeliveryView {
  id: string;
  event_id: string;
  event_type: string | null;
  task_id: string | null;
  endpoint_id: string | null;
  url: string;
  status: DeliveryRow['status'];
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string | null;
  delivered_at: string | null;
  /** Only where the reply lists attempts (one delivery, a task's deliveries). */
  attempts?: AttemptView[];
  /** Only in a single delivery's answer: the exact bytes every attempt sent (and signed); null if the event is no longer stored. */
  request_body?: string | null;
}

/** `attempts` null: the view leaves them out (lists of deliveries). */
export function deliveryView(d: DeliveryRow, attempts: AttemptRow[] | null, eventType: string | null): DeliveryView {
  return {
    id: d.id,
    event_id: d.event_id,
    event_type: eventType,
    task_id: d.task_id,
    endpoint_id: d.endpoint_id,
    url: d.url,
    status: d.status,
    attempt_count: d.attempt_count,
    next_attempt_at: d.status === 'pending' ? iso(d.next_attempt_at) : null,
    last_status_code: d.last_status_code,
    last_error: d.last_error,
    created_at: iso(d.created_at),
    delivered_at: iso(d.delivered_at),
    ...(attempts
      ? {
          attempts: attempts.map((a) => ({
            attempt_number: a.attempt_number,
            started_at: iso(a.started_at),
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            request_headers: a.request_headers,
            response_headers: a.response_headers,
            response_excerpt: a.response_excerpt,
            error: a.error,
          })),
        }
      : {}),
  };
}

export function deliveryNotFound(id: string): HookwaveError {
  return new HookwaveError('NOT_FOUND', `delivery ${id} does not exist (ended deliveries are deleted after the delivery retention period)`, { field: 'id' });
}
