/**
 * Applies the circuit breaker's rules (domain/circuit-breaker.ts) to an endpoint's stored state:
 * counts a failure and opens the circuit or disables the endpoint as they say, or ends the
 * failing streak on a success. When an endpoint is disabled, the tenant's other endpoints get an
 * `endpoint.disabled` event.
 *
 * The database holds the only state: every dispatcher process counts into the same row with
 * atomic statements, so concurrent failures all count and a success anywhere ends the streak.
 */
import type { Config } from '../config.js';
import { afterFailure, type BreakerPolicy } from '../domain/circuit-breaker.js';
import { endpointView } from '../domain/endpoint-view.js';
import { emitEndpointEvent } from '../services/outbox.js';
import type { Logger } from '../logger.js';
import type { Store, Tx } from '../store/store.js';

export class EndpointHealth {
  private readonly policy: BreakerPolicy;

  constructor(
    private readonly store: Store,
    config: Config,
    private readonly logger: Logger,
  ) {
    this.policy = { threshold: config.circuitBreakerThreshold, cooldownMs: config.circuitCooldownMs, disableAfterMs: config.endpointDisableAfterMs };
  }

  /** Ends the failing streaks of endpoints that just answered 2xx; writes only those that were failing. */
  async succeeded(endpointIds: string[]): Promise<void> {
    const released = await this.store.resetEndpointHealth(endpointIds, Date.now());
    if (released > 0) this.store.notify('deliveries');
  }

  /**
   * Counts a failed attempt. Returns when the endpoint's circuit is open until, if it is (the
   * caller holds back what it has queued for the endpoint), else null.
   */
  failed(endpointId: string, failure: { gone: boolean; probe: boolean }): Promise<number | null> {
    const now = Date.now();
    return this.store.tx(async (tx) => {
      // Also takes the endpoint's row lock (PostgreSQL), so what follows decides on fresh counts.
      const streak = await tx.recordEndpointFailure(endpointId, now);
      if (!streak) return null;
      const verdict = afterFailure(streak, failure, now, this.policy);
      switch (verdict.action) {
        case 'none':
          return null;
        case 'disable':
          return this.disable(tx, endpointId, verdict.reason, now);
        case 'stay-open':
          return verdict.until;
        case 'open':
          await tx.updateEndpoint(endpointId, { circuit_open_until: verdict.until, updated_at: now });
          await tx.deferEndpointDeliveries(endpointId, verdict.until);
          this.logger.warn({ endpoint_id: endpointId, failures: streak.consecutive_failures, reopen_at: new Date(verdict.until).toISOString() }, 'endpoint circuit opened');
          return verdict.until;
      }
    });
  }

  private async disable(tx: Tx, endpointId: string, reason: string, now: number): Promise<null> {
    this.logger.warn({ endpoint_id: endpointId, reason }, 'endpoint disabled');
    await tx.updateEndpoint(endpointId, { enabled: false, disabled_reason: reason, circuit_open_until: null, updated_at: now });
    await tx.failEndpointDeliveries(endpointId, `endpoint disabled: ${reason}`, now);
    const ep = await tx.getEndpointById(endpointId);
    if (ep) await emitEndpointEvent(tx, 'endpoint.disabled', ep, endpointView(ep, now), now);
    return null;
  }
}
