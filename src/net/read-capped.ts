import { StringDecoder } from 'node:string_decoder';
import type { Dispatcher } from 'undici';

/** Reads at most `cap` bytes of a body as UTF-8, then destroys the rest of the stream. */
export async function readCapped(body: Dispatcher.ResponseData['body'], cap: number): Promise<{ text: string; truncated: boolean }> {
  const decoder = new StringDecoder('utf8');
  let text = '';
  let taken = 0;
  let truncated = false;
  // Destroying an undici body emits RequestAbortedError; nobody else is listening by then.
  body.on('error', () => {});
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      const room = cap - taken;
      if (buf.length > room) {
        text += decoder.write(buf.subarray(0, room));
        truncated = true;
        break;
      }
      text += decoder.write(buf);
      taken += buf.length;
    }
  } finally {
    if (!body.destroyed) body.destroy();
  }
  // A character split at the cap is dropped rather than turned into U+FFFD.
  return { text: truncated ? text : text + decoder.end(), truncated };
}
