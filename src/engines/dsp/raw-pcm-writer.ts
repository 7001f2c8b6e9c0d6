/**
 * Interleaved stereo float PCM into a raw file, batched into large writes and with backpressure, so a
 * separator that produces several stems at once holds a few buffers per stem, never a track.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { PcmBatcher } from './pcm-pipe.js';

export class RawPcmWriter {
  private readonly batcher = new PcmBatcher();
  private readonly stream: fs.WriteStream;

  constructor(path: string) {
    this.stream = fs.createWriteStream(path, { flags: 'wx' });
  }

  /** Copies `frames` frames of `data` (the caller may reuse it at once). */
  push(data: Float32Array, frames: number): void {
    this.batcher.push(data, 0, frames);
  }

  /** Hands the full buffers to the file; resolves when it can take more. */
  async drain(flush = false): Promise<void> {
    for (const buf of this.batcher.take(flush)) {
      const more = this.stream.write(buf, (err) => {
        if (!err) this.batcher.recycle(buf);
      });
      if (!more) await once(this.stream, 'drain');
    }
  }

  /** Writes what is left and closes the file; a write error rejects here. */
  async close(): Promise<void> {
    await this.drain(true);
    this.stream.end();
    await finished(this.stream);
  }

  /** Closes the file without waiting (after a failure; harmless after close). */
  destroy(): void {
    this.stream.destroy();
  }
}
