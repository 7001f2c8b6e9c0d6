/**
 * The circuit breaker's rules as pure functions (src/domain/circuit-breaker.ts): what a failing
 * endpoint's streak does to its deliveries, without a database, a dispatcher or a clock.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_COOLDOWN_MS,
  admitClaimed,
  afterFailure,
  circuitState,
  dueAtFor,
  probeCandidates,
  type BreakerPolicy,
  type FailingStreak,
} from '../src/domain/circuit-breaker.js';

const SECOND = 1000;
const DAY = 24 * 3600 * SECOND;
const policy: BreakerPolicy = { threshold: 5, cooldownMs: 30 * SECOND, disableAfterMs: 5 * DAY };
const now = Date.parse('2025-06-01T12:00:00Z');
const streak = (failures: number, failingForMs: number, openUntil: number | null = null): FailingStreak => ({
  consecutive_failures: failures,
  failing_since: now - failingForMs,
  circuit_open_until: openUntil,
});
const plain = { gone: false, probe: false };

describe('the state of a circuit', () => {
  it('is closed without an open-until, open until then, and cooled once that time has come', () => {
    expect(circuitState(null, now)).toBe('closed');
    expect(circuitState(now + 1, now)).toBe('open');
    expect(circuitState(now, now)).toBe('cooled');
    expect(circuitState(now - 1, now)).toBe('cooled');
  });

  it('makes a delivery stored while it is open due when it is, and any other at once', () => {
    expect(dueAtFor(null, now)).toBe(now);
    expect(dueAtFor(now + 5000, now)).toBe(now + 5000);
    expect(dueAtFor(now - 5000, now)).toBe(now);
  });
});

describe('a failure', () => {
  it('only counts until the streak reaches the threshold', () => {
    expect(afterFailure(streak(4, 10 * SECOND), plain, now, policy)).toEqual({ action: 'none' });
  });

  it('opens the circuit at the threshold, for the cooldown at least', () => {
    expect(afterFailure(streak(5, 10 * SECOND), plain, now, policy)).toEqual({ action: 'open', until: now + 30 * SECOND });
  });

  it('opens it for as long as the endpoint has been failing, so the pause about doubles, up to an hour', () => {
    expect(afterFailure(streak(9, 90 * SECOND), plain, now, policy)).toEqual({ action: 'open', until: now + 90 * SECOND });
    expect(afterFailure(streak(40, 3 * 3600 * SECOND), plain, now, policy)).toEqual({ action: 'open', until: now + MAX_COOLDOWN_MS });
  });

  it('of a request already in flight when the circuit opened does not extend it', () => {
    const open = now + 20 * SECOND;
    expect(afterFailure(streak(6, 60 * SECOND, open), plain, now, policy)).toEqual({ action: 'stay-open', until: open });
  });

  it('of the probe opens the circuit again', () => {
    const shutForProbe = now + 15 * SECOND; // the claim shut it again until the probe's lease
    expect(afterFailure(streak(6, 60 * SECOND, shutForProbe), { gone: false, probe: true }, now, policy)).toEqual({ action: 'open', until: now + 60 * SECOND });
  });

  it('once the cooldown is over opens it again, probe or not', () => {
    expect(afterFailure(streak(6, 60 * SECOND, now - 1), plain, now, policy)).toEqual({ action: 'open', until: now + 60 * SECOND });
  });

  it('answered 410 Gone disables the endpoint at once, whatever the streak', () => {
    expect(afterFailure(streak(1, 0), { gone: true, probe: false }, now, policy)).toEqual({ action: 'disable', reason: 'the endpoint answered 410 Gone' });
  });

  it('after failing without a success for the disable period disables the endpoint', () => {
    const verdict = afterFailure(streak(900, 5 * DAY), plain, now, policy);
    expect(verdict).toEqual({ action: 'disable', reason: `failing without a success since ${new Date(now - 5 * DAY).toISOString()}` });
    expect(afterFailure(streak(900, 5 * DAY - 1), plain, now, policy).action).toBe('open');
  });
});

describe('a claim', () => {
  const row = (id: string, endpoint_id: string | null, circuit_open_until: number | null) => ({ id, endpoint_id, circuit_open_until });

  it('tries to take the probe of each endpoint whose cooldown has ended, once', () => {
    const rows = [row('d1', 'ep_cool', now - 1), row('d2', 'ep_cool', now - 1), row('d3', 'ep_open', now + 1), row('d4', 'ep_ok', null), row('d5', null, null)];
    expect(probeCandidates(rows, now)).toEqual(['ep_cool']);
  });

  it('sends what no circuit holds, nothing of an open circuit, and one probe of a cooled one whose probe it took', () => {
    const rows = [
      row('d1', null, null),
      row('d2', 'ep_ok', null),
      row('d3', 'ep_open', now + 5000),
      row('d4', 'ep_cool', now),
      row('d5', 'ep_cool', now),
      row('d6', 'ep_other_took_it', now),
    ];
    const admitted = admitClaimed(rows, now, new Set(['ep_cool']));
    expect(admitted.map(({ row: r, probe }) => [r.id, probe])).toEqual([
      ['d1', false],
      ['d2', false],
      ['d4', true],
    ]);
  });
});
