/**
 * Keeps a failing endpoint from costing healthy ones: after `circuitBreakerThreshold` consecutive
 * failures its circuit opens and its deliveries, pending and new, are held in the outbox; when the
 * cooldown ends exactly one of them goes out as the probe (the claim takes it, see
 * Ops.claimDueDeliveries) while the rest wait for its outcome. A success closes the circuit and
 * releases them; a failed probe opens it again, for as long as the endpoint has been failing
 * (at least `circuitCooldownMs`, at most an hour), so the pause about doubles each time. An
 * endpoint failing without a single success for `endpointDisableAfterMs` (5 days), or answering
 * 410 Gone, is disabled, and the tenant's other endpoints get an `endpoint.disabled` event.
 *
 * The database holds the only state: every dispatcher process counts into the same row with
 * atomic statements, so concurrent failures all count and a success anywhere ends the streak.
 */
import type { Config } from '../config.js';
import { endpointView } from '../domain/endpoint-view.js';
import { emitEndpointEvent } from '../services/outbox.js';
import type { Logger } from '../logger.js';
import type { Store, Tx } from '../store/store.js';

const MAX_COOLDOWN_MS = 3600_000;

export class EndpointHealth {
  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly logger: Logger,
  ) {}

  /** Ends the failing streaks of endpoints that just answered 2xx; writes only those that were failing. */
  async succeeded(endpointIds: string[]): Promise<void> {
    const released = await this.store.resetEndpointHealth(endpointIds, Date.now());
    if (released > 0) this.store.notify('deliveries');
  }

  /**
   * Counts a failed attempt. Returns when the endpoint's circuit is open until, if it is (the
   * caller holds back what it has queued for the endpoint), else null.
   */
  failed(endpointId: string, opts: { gone: boolean; probe: boolean }): Promise<number | null> {
    const now = Date.now();
    return this.store.tx(async (tx) => {
      // Also takes the endpoint's row lock (PostgreSQL), so what follows decides on fresh counts.
      const streak = await tx.recordEndpointFailure(endpointId, now);
      if (!streak) return null;
      if (opts.gone) return this.disable(tx, endpointId, 'the endpoint answered 410 Gone', now);
      if (now - streak.failing_since >= this.config.endpointDisableAfterMs) {
        return this.disable(tx, endpointId, `failing without a success since ${new Date(streak.failing_since).toISOString()}`, now);
      }
      const failures = streak.consecutive_failures;
      if (failures < this.config.circuitBreakerThreshold) return null;
      const open = streak.circuit_open_until;
      // Requests that were already in flight when the circuit opened do not extend it; only a
      // failed probe (or a failure once the cooldown is over) opens it again.
      if (open !== null && open > now && !opts.probe) return open;
      const cooldown = Math.min(MAX_COOLDOWN_MS, Math.max(this.config.circuitCooldownMs, now - streak.failing_since));
      const until = now + cooldown;
      await tx.updateEndpoint(endpointId, { circuit_open_until: until, updated_at: now });
      await tx.deferEndpointDeliveries(endpointId, until);
      this.logger.warn({ endpoint_id: endpointId, failures, reopen_at: new Date(until).toISOString() }, 'endpoint circuit opened');
      return until;
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
