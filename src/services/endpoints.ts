/**
 * Registered endpoints: a tenant's standing webhook receivers (AudioShake's account-level webhook,
 * Svix/Stripe endpoints), each with its own secret, event filter and health.
 */
import { HookwaveError } from '../errors.js';
import { newId } from '../ids.js';
import type { EndpointPatch, Store } from '../store/store.js';
import type { UrlGuard } from '../net/url-guard.js';
import { newWebhookSecret } from '../net/webhook-signature.js';
import { EVENT_TYPES, type DeliveryRow, type EndpointRow, type EventType } from '../domain/types.js';
import { emitTestEvent } from './outbox.js';
import { endpointNotFound, endpointUnavailable } from '../domain/endpoint-view.js';
import { HEALTHY } from '../domain/circuit-breaker.js';

export interface EndpointInput {
  url?: string;
  description?: string | null;
  events?: string[] | null;
  enabled?: boolean;
}

export class EndpointService {
  constructor(
    private readonly store: Store,
    private readonly guard: UrlGuard,
    private readonly rotationOverlapMs: number,
  ) {}

  private checkEvents(events: string[] | null | undefined): EventType[] | null | undefined {
    events?.forEach((type, i) => {
      if (!EVENT_TYPES.includes(type as EventType)) {
        throw new HookwaveError('VALIDATION_ERROR', `events[${i}] "${type}" is not one of: ${EVENT_TYPES.join(', ')}`, { field: `events[${i}]` });
      }
    });
    return events as EventType[] | null | undefined;
  }

  async create(tenantId: string, input: EndpointInput & { url: string }): Promise<EndpointRow> {
    this.guard.checkUrl(input.url, 'url');
    const now = Date.now();
    const row: EndpointRow = {
      id: newId('ep'),
      tenant_id: tenantId,
      url: input.url,
      description: input.description ?? null,
      events: this.checkEvents(input.events) ?? null,
      secret: newWebhookSecret(),
      previous_secret: null,
      previous_secret_until: null,
      enabled: input.enabled ?? true,
      disabled_reason: null,
      ...HEALTHY,
      created_at: now,
      updated_at: now,
    };
    await this.store.insertEndpoint(row);
    return row;
  }

  list(tenantId: string): Promise<EndpointRow[]> {
    return this.store.listEndpoints(tenantId);
  }

  async get(tenantId: string, id: string): Promise<EndpointRow> {
    const e = await this.store.getEndpoint(tenantId, id);
    if (!e) throw endpointNotFound(id);
    return e;
  }

  async update(tenantId: string, id: string, input: EndpointInput): Promise<EndpointRow> {
    const current = await this.get(tenantId, id);
    if (input.url !== undefined) this.guard.checkUrl(input.url, 'url');
    const now = Date.now();
    const patch: EndpointPatch = { updated_at: now };
    if (input.url !== undefined) patch.url = input.url;
    if (input.description !== undefined) patch.description = input.description;
    if (input.events !== undefined) patch.events = this.checkEvents(input.events) ?? null;
    if (input.enabled !== undefined) {
      patch.enabled = input.enabled;
      // Re-enabling starts with a clean slate: no streak, no open circuit.
      if (input.enabled) Object.assign(patch, { disabled_reason: null, ...HEALTHY });
      else patch.disabled_reason = 'disabled by the tenant';
    }
    await this.store.tx(async (tx) => {
      await tx.updateEndpoint(id, patch);
      if (input.enabled === false && current.enabled) await tx.failEndpointDeliveries(id, 'endpoint disabled', now);
    });
    return this.get(tenantId, id);
  }

  async remove(tenantId: string, id: string): Promise<void> {
    await this.get(tenantId, id);
    await this.store.tx(async (tx) => {
      await tx.failEndpointDeliveries(id, 'endpoint deleted', Date.now());
      await tx.deleteEndpoint(tenantId, id);
    });
  }

  /** A new secret at once; the old one keeps signing (as a second signature) for the overlap window. */
  async rotateSecret(tenantId: string, id: string): Promise<EndpointRow> {
    const current = await this.get(tenantId, id);
    const now = Date.now();
    await this.store.updateEndpoint(id, {
      secret: newWebhookSecret(),
      previous_secret: current.secret,
      previous_secret_until: now + this.rotationOverlapMs,
      updated_at: now,
    });
    return this.get(tenantId, id);
  }

  /** Sends the endpoint a signed `endpoint.test` event (to it alone, whatever its filter); returns its delivery. */
  async sendTest(tenantId: string, id: string, message: string): Promise<DeliveryRow> {
    const ep = await this.get(tenantId, id);
    if (!ep.enabled) throw endpointUnavailable(id, 'disabled');
    return this.store.tx((tx) => emitTestEvent(tx, ep, message, Date.now()));
  }

  /** Replays every failed delivery to the endpoint since `since`, one attempt each; returns how many. */
  async recover(tenantId: string, id: string, since: number): Promise<number> {
    const ep = await this.store.getEndpoint(tenantId, id);
    if (!ep) {
      // Its deliveries outlive a deleted endpoint, so they tell "deleted" from "never existed".
      throw (await this.store.hasEndpointDeliveries(tenantId, id)) ? endpointUnavailable(id, 'deleted') : endpointNotFound(id);
    }
    if (!ep.enabled) throw endpointUnavailable(id, 'disabled');
    const count = await this.store.requeueFailedDeliveries(tenantId, id, since, Date.now());
    if (count > 0) this.store.notify('deliveries');
    return count;
  }
}
