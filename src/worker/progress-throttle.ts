/**
 * Engines report progress as often as they like (every chunk, every ffmpeg status line); whoever passes
 * it on (the store, an engine thread's message port) takes at most one report per interval.
 *
 * The first report of an interval goes out at once and the latest one at the interval's end, so what
 * is passed on is never more than one interval behind the engine. Dropping the trailing report, as a
 * leading-edge throttle does, leaves a target that runs a little longer than the interval showing the
 * fraction it had when it started. A report of 1 (the work is done) goes out at once.
 */
export interface ProgressThrottle {
  report(fraction: number): void;
  /** The run is over: a report still waiting for its interval to end is dropped, and so are later ones. */
  stop(): void;
}

export function throttleProgress(send: (fraction: number) => void, intervalMs: number): ProgressThrottle {
  let sentAt = -Infinity;
  let sent: number | null = null;
  let pending: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  const flush = () => {
    timer = null;
    if (stopped || pending === null) return;
    const fraction = pending;
    pending = null;
    if (fraction === sent) return;
    sent = fraction;
    sentAt = Date.now();
    send(fraction);
  };

  return {
    report(raw) {
      if (stopped || !Number.isFinite(raw)) return;
      pending = Math.round(Math.max(0, Math.min(1, raw)) * 1000) / 1000;
      const wait = pending === 1 ? 0 : sentAt + intervalMs - Date.now();
      if (wait <= 0) {
        if (timer) clearTimeout(timer);
        flush();
      } else if (!timer) timer = setTimeout(flush, wait);
    },
    stop() {
      stopped = true;
      pending = null;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
