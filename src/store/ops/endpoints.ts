/** Webhook endpoints and their health (failing streak, circuit). */
import type { EndpointRow } from '../../domain/types.js';
import type { FailingStreak } from '../../domain/circuit-breaker.js';
import type { OpNames } from './op-names.js';

export interface EndpointPatch {
  url?: string;
  description?: string | null;
  events?: EndpointRow['events'];
  secret?: string;
  previous_secret?: string | null;
  previous_secret_until?: number | null;
  enabled?: boolean;
  disabled_reason?: string | null;
  consecutive_failures?: number;
  failing_since?: number | null;
  circuit_open_until?: number | null;
  updated_at: number;
}

/** An endpoint's failing streak after one more failure was counted. */
export type EndpointFailure = FailingStreak;

export interface EndpointOps {
  insertEndpoint(e: EndpointRow): Promise<void>;
  getEndpoint(tenantId: string, id: string): Promise<EndpointRow | null>;
  /** Lock-free read by id alone, for the dispatcher. */
  getEndpointById(id: string): Promise<EndpointRow | null>;
  listEndpoints(tenantId: string): Promise<EndpointRow[]>;
  updateEndpoint(id: string, patch: EndpointPatch): Promise<void>;
  /** Counts one more failure of an enabled endpoint, atomically; null when it is disabled or gone. */
  recordEndpointFailure(id: string, now: number): Promise<EndpointFailure | null>;
  /**
   * Ends the failing streak and closes the circuit of those endpoints that were failing (the others
   * are not written), and makes the deliveries their open circuit held due at `now`; returns how many.
   */
  resetEndpointHealth(ids: string[], now: number): Promise<number>;
  deleteEndpoint(tenantId: string, id: string): Promise<boolean>;
}

export const ENDPOINT_OPS: OpNames<EndpointOps> = {
  insertEndpoint: true,
  getEndpoint: true,
  getEndpointById: true,
  listEndpoints: true,
  updateEndpoint: true,
  recordEndpointFailure: true,
  resetEndpointHealth: true,
  deleteEndpoint: true,
};
