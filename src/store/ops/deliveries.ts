/** The outbox: deliveries of events to webhook URLs, their claims and attempts. */
import type { AttemptRow, ClaimedDelivery, DeliveryRow } from '../../domain/types.js';
import type { OpNames } from './op-names.js';

export interface ListDeliveriesQuery {
  tenantId: string;
  status?: DeliveryRow['status'];
  endpointId?: string;
  taskId?: string;
  before?: string;
  limit: number;
}

export interface AttemptOutcome {
  /** null: the delivery ended without a request (its endpoint was deleted or disabled). */
  attempt: AttemptRow | null;
  /** The delivery after this attempt. */
  delivery: {
    id: string;
    status: DeliveryRow['status'];
    attempt_count: number;
    next_attempt_at: number | null;
    last_error: string | null;
    last_status_code: number | null;
    updated_at: number;
    delivered_at: number | null;
  };
}

/** A claimed delivery with what only the dispatcher needs to know about it. */
export interface DueDelivery extends ClaimedDelivery {
  /** Set by a redelivery or recovery: a failure of this attempt is final (one manual try). null: the retry schedule decides. */
  final_attempt: number | null;
  /** The one delivery let through when its endpoint's cooldown ended; the others wait for its outcome. */
  probe: boolean;
  /** Why it must fail without a request: its endpoint is gone. null: send it. */
  unavailable: 'endpoint deleted' | 'endpoint disabled' | null;
}

export interface DueClaim {
  deliveries: DueDelivery[];
  /** Due rows this claim took, including those held back for an open circuit: a full claim means more may be due. */
  taken: number;
}

export interface DeliveryOps {
  insertDeliveries(d: DeliveryRow[]): Promise<void>;
  /**
   * Claims up to `limit` due deliveries by pushing their next_attempt_at to `leaseUntil`. Those of an
   * endpoint whose circuit is open are held until it closes instead, and not returned; when an
   * endpoint's cooldown has ended, one of its deliveries is returned as the probe and the circuit
   * stays shut for the others until `leaseUntil` (or the probe's success).
   */
  /**
   * Leases due deliveries until `leaseUntil`. With `ordered`, a delivery whose task has an earlier
   * delivery still pending to the same receiver is not sent: it is parked until that one is due
   * (recordAttempts makes it due at once when that one ends), so a receiver gets each task's
   * events in the order they happened while other tasks and receivers go on in parallel.
   */
  claimDueDeliveries(now: number, limit: number, leaseUntil: number, ordered: boolean): Promise<DueClaim>;
  /** Makes claimed but unsent deliveries due at `dueAt` (a dispatcher shutting down, or deferring). */
  releaseDeliveries(ids: string[], dueAt: number): Promise<void>;
  /** Records attempts and their deliveries' new state, all in one transaction. */
  /** Returns how many later deliveries, parked behind the deliveries that ended here (ordered delivery), are due now. */
  recordAttempts(outcomes: AttemptOutcome[]): Promise<number>;
  /** The time the earliest pending delivery is due, or null. */
  nextDeliveryDueAt(): Promise<number | null>;
  listDeliveriesForTask(tenantId: string, taskId: string): Promise<DeliveryRow[]>;
  /** Newest first, with filters; `before` is the id of the last row of the previous page. */
  listDeliveries(q: ListDeliveriesQuery): Promise<DeliveryRow[]>;
  getDelivery(tenantId: string, id: string): Promise<DeliveryRow | null>;
  /** The attempts of these deliveries, by delivery and then attempt number. */
  listAttempts(deliveryIds: string[]): Promise<AttemptRow[]>;
  /**
   * Makes a delivery that has ended pending and due at `now` for one more attempt (it keeps its
   * event, so its webhook-id); false if absent or still pending.
   */
  requeueDelivery(tenantId: string, id: string, now: number): Promise<boolean>;
  /**
   * Retry now: makes a pending delivery that no dispatcher holds (no lease, or one that ran out)
   * due at `now`, keeping its attempt count, so a failure goes on with the retry schedule. If its
   * endpoint's circuit is open, the cooldown ends now too, so this delivery can be the probe.
   * 'leased': a dispatcher may be sending it right now; 'not-pending': it has ended; null: absent.
   */
  retryDeliveryNow(tenantId: string, id: string, now: number): Promise<'due' | 'leased' | 'not-pending' | null>;
  /** Whether the delivery log has any delivery of this endpoint id (it outlives a deleted endpoint). */
  hasEndpointDeliveries(tenantId: string, endpointId: string): Promise<boolean>;
  /** Requeues every failed delivery of an endpoint created at or after `since`, one more attempt each; returns how many. */
  requeueFailedDeliveries(tenantId: string, endpointId: string, since: number, now: number): Promise<number>;
  /** Pushes the endpoint's pending deliveries that are due before `until` to `until` (circuit open). */
  deferEndpointDeliveries(endpointId: string, until: number): Promise<void>;
  /** Fails the endpoint's pending deliveries (endpoint disabled or deleted). */
  failEndpointDeliveries(endpointId: string, reason: string, now: number): Promise<number>;
  /**
   * Row retention: deletes deliveries that ended (delivered or failed) before `endedBefore`, with
   * their attempts, examining up to `limit` in id order after `after` (null: from the first);
   * never a pending one. `next`: where the next call of this pass goes on, null when nothing is
   * left to examine. Idempotent.
   */
  pruneDeliveries(endedBefore: number, after: string | null, limit: number): Promise<{ deliveries: number; attempts: number; next: string | null }>;
}

export const DELIVERY_OPS: OpNames<DeliveryOps> = {
  insertDeliveries: true,
  claimDueDeliveries: true,
  releaseDeliveries: true,
  recordAttempts: true,
  nextDeliveryDueAt: true,
  listDeliveriesForTask: true,
  listDeliveries: true,
  getDelivery: true,
  listAttempts: true,
  requeueDelivery: true,
  retryDeliveryNow: true,
  hasEndpointDeliveries: true,
  requeueFailedDeliveries: true,
  deferEndpointDeliveries: true,
  failEndpointDeliveries: true,
  pruneDeliveries: true,
};
