/**
 * Polls `fn` until it gives something truthy and returns it, or throws after `timeoutMs` saying
 * what never happened: how a test waits for something that happens in another process or later.
 */
export async function until<T>(what: string | (() => string), fn: () => T | false | null | undefined | Promise<T | false | null | undefined>, timeoutMs = 20_000, everyMs = 30): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
