/**
 * A registered endpoint as the API shows it, and the errors that name one.
 */
import { HookwaveError } from '../errors.js';
import { circuitState } from './circuit-breaker.js';
import type { EndpointRow, EventType } from './types.js';

export interface EndpointView {
  id: string;
  url: string;
  description: string | null;
  events: EventType[] | null;
  enabled: boolean;
  disabled_reason: string | null;
  consecutive_failures: number;
  failing_since: string | null;
  circuit_open_until: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function endpointView(e: EndpointRow, now = Date.now()): EndpointView {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    enabled: e.enabled,
    disabled_reason: e.disabled_reason,
    consecutive_failures: e.consecutive_failures,
    failing_since: iso(e.failing_since),
    circuit_open_until: circuitState(e.circuit_open_until, now) === 'open' ? iso(e.circuit_open_until) : null,
    previous_secret_expires_at: e.previous_secret_until !== null && e.previous_secret_until > now ? iso(e.previous_secret_until) : null,
    created_at: iso(e.created_at)!,
    updated_at: iso(e.updated_at)!,
  };
}

export function endpointNotFound(id: string): HookwaveError {
  return new HookwaveError('NOT_FOUND', `endpoint ${id} does not exist`, { field: 'id' });
}

/** Nothing can be sent again to an endpoint that is deleted or disabled (re-enable it first). */
export function endpointUnavailable(id: string, reason: 'deleted' | 'disabled'): HookwaveError {
  const hint = reason === 'deleted' ? 'its deliveries cannot be sent again' : 'enable it first (PATCH enabled: true)';
  return new HookwaveError('ENDPOINT_UNAVAILABLE', `endpoint ${id} is ${reason}; ${hint}`, { endpoint_id: id, reason });
}
