/**
 * An engine reports progress as often as it likes; the store is written at most once per interval, and
 * the latest fraction is never held back longer than one interval. The clock here is vitest's: the
 * throttle is about time, so the test moves time itself instead of waiting for it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { throttleProgress } from '../src/worker/progress-throttle.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function throttled(intervalMs = 500) {
  const written: Array<{ at: number; fraction: number }> = [];
  const start = Date.now();
  const throttle = throttleProgress((fraction) => written.push({ at: Date.now() - start, fraction }), intervalMs);
  return { throttle, written };
}

describe('progress from an engine', () => {
  it('is written at once, then at most once per interval, ending on the latest fraction', () => {
    const { throttle, written } = throttled();
    throttle.report(0);
    for (let i = 1; i <= 9; i++) {
      vi.advanceTimersByTime(100);
      throttle.report(i / 10);
    }
    // 0.9 came at 900 ms; the interval that began at 500 ms ends at 1000 ms.
    vi.advanceTimersByTime(100);
    expect(written).toEqual([
      { at: 0, fraction: 0 },
      { at: 500, fraction: 0.4 },
      { at: 1000, fraction: 0.9 },
    ]);
  });

  it('reaches the store even when the engine goes quiet right after reporting it', () => {
    // The case a leading-edge throttle got wrong: a long last stretch with no report, and the
    // store still showing the fraction the target started with.
    const { throttle, written } = throttled();
    throttle.report(0.05);
    vi.advanceTimersByTime(20);
    throttle.report(0.6);
    vi.advanceTimersByTime(10_000);
    expect(written).toEqual([
      { at: 0, fraction: 0.05 },
      { at: 500, fraction: 0.6 },
    ]);
  });

  it('writes nothing after the run is over, not even a report still waiting for its interval', () => {
    const { throttle, written } = throttled();
    throttle.report(0.1);
    throttle.report(0.7);
    throttle.stop();
    throttle.report(0.9);
    vi.advanceTimersByTime(10_000);
    expect(written.map((w) => w.fraction)).toEqual([0.1]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('passes the end of the work (1) on at once', () => {
    const { throttle, written } = throttled();
    throttle.report(0.2);
    vi.advanceTimersByTime(50);
    throttle.report(0.8);
    throttle.report(1);
    expect(written).toEqual([
      { at: 0, fraction: 0.2 },
      { at: 50, fraction: 1 },
    ]);
    vi.advanceTimersByTime(10_000);
    expect(written).toHaveLength(2);
  });

  it('keeps fractions between 0 and 1, to the thousandth, ignores ones that are not numbers and skips repeats', () => {
    const { throttle, written } = throttled(100);
    throttle.report(-0.5);
    vi.advanceTimersByTime(100);
    throttle.report(Number.NaN);
    throttle.report(0.123456);
    vi.advanceTimersByTime(100);
    throttle.report(0.1234);
    vi.advanceTimersByTime(100);
    throttle.report(7);
    vi.advanceTimersByTime(100);
    expect(written.map((w) => w.fraction)).toEqual([0, 0.123, 1]);
  });
});
