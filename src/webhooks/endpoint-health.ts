/**
 * Keeps a failing endpoint from costing healthy ones: after `circuitBreakerThreshold` consecutive
 * failures its circuit opens and its pending deliveries wait (cooldown doubling up to an hour);
 * when they come due again they are the probe. A success closes the circuit. An endpoint failing
 * without a single success for `endpointDisableAfterMs` (5 days), or answering 410 Gone, is
 * disabled, and the tenant's other endpoints get an `endpoint.disabled` event.
 */
import type { Config } from '../config.js';
import { endpointView } from '../domain/endpoints.js';
import { emitEndpointEvent } from '../domain/outbox.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';

const MAX_COOLDOWN_MS = 3600_000;

export class EndpointHealth {
  /** Failures seen per endpoint in this process; the database holds the shared truth. */
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly logger: Logger,
  ) {}

  async succeeded(endpointId: string): Promise<void> {
    const known = this.failures.get(endpointId);
    if (known === 0) return;
    this.failures.set(endpointId, 0);
    const ep = await this.store.getEndpointById(endpointId);
    if (ep && (ep.consecutive_failures > 0 || ep.circuit_open_until !== null)) {
      await this.store.updateEndpoint(endpointId, { consecutive_failures: 0, failing_since: null, circuit_open_until: null, updated_at: Date.now() });
    }
  }

  async failed(endpointId: string, gone: boolean): Promise<void> {
    const ep = await this.store.getEndpointById(endpointId);
    if (!ep || !ep.enabled) return;
    const now = Date.now();
    if (gone) return this.disable(endpointId, 'the endpoint answered 410 Gone', now);
    const failures = ep.consecutive_failures + 1;
    const failingSince = ep.failing_since ?? now;
    this.failures.set(endpointId, failures);
    if (now - failingSince >= this.config.endpointDisableAfterMs) {
      return this.disable(endpointId, `failing without a success since ${new Date(failingSince).toISOString()}`, now);
    }
    const threshold = this.config.circuitBreakerThreshold;
    let circuitOpenUntil = ep.circuit_open_until;
    if (failures >= threshold && (circuitOpenUntil === null || circuitOpenUntil <= now)) {
      const cooldown = Math.min(MAX_COOLDOWN_MS, this.config.circuitCooldownMs * 2 ** Math.min(10, Math.floor((failures - threshold) / threshold)));
      circuitOpenUntil = now + cooldown;
      this.logger.warn({ endpoint_id: endpointId, failures, reopen_at: new Date(circuitOpenUntil).toISOString() }, 'endpoint circuit opened');
    }
    await this.store.tx(async (tx) => {
      await tx.updateEndpoint(endpointId, { consecutive_failures: failures, failing_since: failingSince, circuit_open_until: circuitOpenUntil, updated_at: now });
      if (circuitOpenUntil !== null && circuitOpenUntil > now) await tx.deferEndpointDeliveries(endpointId, circuitOpenUntil);
    });
  }

  /** Whether the endpoint's circuit is open (its deliveries should wait). */
  async openUntil(endpointId: string): Promise<number | null> {
    const ep = await this.store.getEndpointById(endpointId);
    return ep?.circuit_open_until && ep.circuit_open_until > Date.now() ? ep.circuit_open_until : null;
  }

  private async disable(endpointId: string, reason: string, now: number): Promise<void> {
    this.logger.warn({ endpoint_id: endpointId, reason }, 'endpoint disabled');
    await this.store.tx(async (tx) => {
      await tx.updateEndpoint(endpointId, { enabled: false, disabled_reason: reason, circuit_open_until: null, updated_at: now });
      await tx.failEndpointDeliveries(endpointId, `endpoint disabled: ${reason}`, now);
      const ep = await tx.getEndpointById(endpointId);
      if (ep) await emitEndpointEvent(tx, 'endpoint.disabled', ep, endpointView(ep, now), now);
    });
    this.failures.delete(endpointId);
  }
}
