/** Reads a text/event-stream response into events, as a browser's EventSource would. */
export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/**
 * Reads the stream at `url` until `opts.until` says stop, the server ends it, or `timeoutMs` passes.
 * `opts.onOpen` runs once the server has answered 200: it is following the stream from then on.
 */
export async function readSse(url: string, headers: Record<string, string>, opts: { until?: (e: SseEvent) => boolean; timeoutMs?: number; onOpen?: () => void } = {}): Promise<SseEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs ?? 20_000);
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  if (res.status !== 200) throw new Error(`SSE answered ${res.status}: ${await res.text()}`);
  opts.onOpen?.();
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let sep: number;
      while ((sep = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        const e: SseEvent = { id: null, event: 'message', data: '' };
        let hasData = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const [field, ...rest] = line.split(':');
          const value = rest.join(':').replace(/^ /, '');
          if (field === 'id') e.id = value;
          else if (field === 'event') e.event = value;
          else if (field === 'data') {
            e.data += (hasData ? '\n' : '') + value;
            hasData = true;
          }
        }
        if (!hasData) continue;
        events.push(e);
        if (opts.until?.(e)) {
          controller.abort();
          return events;
        }
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  return events;
}
