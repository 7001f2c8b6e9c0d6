/**
 * The dispatcher's per-receiver queues and slots (src/webhooks/receiver-slots.ts), without a
 * network: who may start a request now, and what goes back to the outbox.
 */
import { describe, expect, it } from 'vitest';
import { newId } from '../src/ids.js';
import type { DueDelivery } from '../src/store/store.js';
import { ReceiverSlots, SLOW_MS, receiverKey } from '../src/webhooks/receiver-slots.js';

const t0 = 1_700_000_000_000;
const LEASE = t0 + 60_000;

const delivery = (to: { endpoint_id?: string; url?: string }): DueDelivery => ({
  id: newId('dlv'),
  event_id: newId('msg'),
  tenant_id: 'ten_x',
  endpoint_id: to.endpoint_id ?? null,
  url: to.url ?? 'https://hooks.example.com/in',
  attempt_count: 0,
  payload: '{}',
  event_created_at: t0,
  secrets: ['whsec_x'],
  final_attempt: null,
  probe: false,
  unavailable: null,
});

function queue(slots: ReceiverSlots, n: number, to: { endpoint_id?: string; url?: string }): DueDelivery[] {
  const ds = Array.from({ length: n }, () => delivery(to));
  for (const d of ds) slots.enqueue(d, LEASE);
  return ds;
}

describe('receiver slots', () => {
  it('count registered endpoints by id and task URLs by origin', () => {
    expect(receiverKey(delivery({ endpoint_id: 'ep_1', url: 'https://a.example.com/x' }))).toBe('ep_1');
    expect(receiverKey(delivery({ url: 'https://a.example.com/x?y=1' }))).toBe('https://a.example.com');
    expect(receiverKey(delivery({ url: 'https://a.example.com' }))).toBe('https://a.example.com');
  });

  it('give a receiver nobody has heard from a few slots, and its full share once it answers fast', () => {
    const slots = new ReceiverSlots({ total: 64, fast: 32, slow: 4 });
    const ds = queue(slots, 40, { endpoint_id: 'ep_new' });
    const first = slots.take(t0, 1000).start;
    expect(first.map((s) => s.delivery.id)).toEqual(ds.slice(0, 4).map((d) => d.id));
    expect(slots.inflight).toBe(4);
    slots.ended('ep_new', ds[0]!.id, true, 20, t0 + 20);
    slots.release('ep_new');
    // In order, up to 32 in flight: the 3 still running and 29 more.
    expect(slots.take(t0 + 20, 1000).start.map((s) => s.delivery.id)).toEqual(ds.slice(4, 33).map((d) => d.id));
    expect(slots.inflight).toBe(32);
    expect(slots.queued).toBe(7);
  });

  it('let receivers that have not earned full slots share half of all slots', () => {
    const slots = new ReceiverSlots({ total: 8, fast: 8, slow: 4 });
    for (const ep of ['ep_a', 'ep_b', 'ep_c']) queue(slots, 10, { endpoint_id: ep });
    const started = slots.take(t0, 1000).start;
    expect(started).toHaveLength(4);
    expect(new Set(started.map((s) => s.key))).toEqual(new Set(['ep_a']));
    // A receiver that answers fast still gets the other half.
    const mixed = new ReceiverSlots({ total: 8, fast: 8, slow: 4 });
    const warm = queue(mixed, 1, { endpoint_id: 'ep_ok' })[0]!;
    mixed.take(t0, 1000);
    mixed.ended('ep_ok', warm.id, true, 5, t0 + 5);
    mixed.release('ep_ok');
    for (const ep of ['ep_a', 'ep_b', 'ep_ok']) queue(mixed, 10, { endpoint_id: ep });
    const shares = mixed.take(t0 + 5, 1000).start.map((s) => s.key);
    expect(shares.filter((k) => k === 'ep_ok')).toHaveLength(4);
    expect(shares.filter((k) => k !== 'ep_ok')).toHaveLength(4);
  });

  it('send back what a slow receiver has queued beyond its share, and keep a fast one waiting in line', () => {
    const slots = new ReceiverSlots({ total: 64, fast: 2, slow: 4 });
    const ds = queue(slots, 10, { endpoint_id: 'ep_slow' });
    expect(slots.take(t0, 1000).start).toHaveLength(2);
    expect(slots.take(t0 + 10, 1000)).toEqual({ start: [], defer: [] });
    // Its requests have run for SLOW_MS without an answer: all but 2 of the 8 waiting go back.
    const { defer } = slots.take(t0 + SLOW_MS, 1000);
    expect(defer).toEqual(ds.slice(4).map((d) => d.id));
    expect(slots.queued).toBe(2);
    expect(slots.sendable(t0 + SLOW_MS)).toBe(0);
  });

  it('drop a delivery whose lease would run out before its request could, rather than send it twice', () => {
    const slots = new ReceiverSlots({ total: 64, fast: 32, slow: 4 });
    queue(slots, 1, { url: 'https://a.example.com/' });
    expect(slots.take(LEASE - 500, 1000)).toEqual({ start: [], defer: [] });
    expect([slots.queued, slots.inflight]).toEqual([0, 0]);
  });

  it("hand back one receiver's queue when its circuit opens, and everything at shutdown", () => {
    const slots = new ReceiverSlots({ total: 64, fast: 32, slow: 1 });
    const a = queue(slots, 3, { endpoint_id: 'ep_a' });
    const b = queue(slots, 2, { endpoint_id: 'ep_b' });
    slots.take(t0, 1000);
    expect(slots.drop('ep_a')).toEqual(a.slice(1).map((d) => d.id));
    expect(slots.drop('ep_a')).toEqual([]);
    expect(slots.dropAll()).toEqual(b.slice(1).map((d) => d.id));
    expect(slots.queued).toBe(0);
  });
});
