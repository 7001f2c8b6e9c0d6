/** A text/event-stream parser over a fetch body, as EventSource reads it (which Node does not ship). */

export interface SseMessage {
  /** The `id:` of the message, or null for unnumbered ones (hookwave's `progress`). */
  id: string | null;
  event: string;
  data: string;
  /** A `retry:` the server asked for, ms. */
  retry: number | null;
}

export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      // Normalise CRLF and CR line ends; the spec allows all three.
      buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let sep: number;
      while ((sep = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        const msg = parseBlock(block);
        if (msg) yield msg;
      }
    }
  } finally {
    // The consumer may stop early (a final event); the connection must not linger.
    await reader.cancel().catch(() => undefined);
  }
}

function parseBlock(block: string): SseMessage | null {
  const msg: SseMessage = { id: null, event: 'message', data: '', retry: null };
  let hasData = false;
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') msg.id = value;
    else if (field === 'event') msg.event = value;
    else if (field === 'retry' && /^\d+$/.test(value)) msg.retry = Number(value);
    else if (field === 'data') {
      msg.data += (hasData ? '\n' : '') + value;
      hasData = true;
    }
  }
  // A block with only `retry:` still matters to the reader; comments alone do not.
  return hasData || msg.retry !== null ? msg : null;
}
