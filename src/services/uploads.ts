/**
 * Inputs sent as files rather than URLs: streamed to the blob store (never held in memory), size
 * limited while streaming, sniffed with ffprobe so a task never starts on something that is not
 * audio or video, and deleted after `uploadTtlMs`.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore } from '../blobs/blob-store.js';
import { probe } from '../media/ffmpeg.js';
import { HookwaveError } from '../errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { UploadRow } from '../domain/types.js';

export interface UploadServiceDeps {
  store: Store;
  blobs: BlobStore;
  maxBytes: number;
  ttlMs: number;
  tmpDir: string;
}

export class UploadService {
  constructor(private readonly d: UploadServiceDeps) {}

  async create(tenantId: string, body: Readable, fileName: string | null, declaredSize?: number): Promise<UploadRow> {
    // Refuse before reading a byte when the client says up front that it is too large.
    if (declaredSize !== undefined && declaredSize > this.d.maxBytes) {
      throw new HookwaveError('PAYLOAD_TOO_LARGE', `upload is ${declaredSize} bytes; the limit is ${this.d.maxBytes}`, { limit: this.d.maxBytes });
    }
    const id = newId('upl');
    await fsp.mkdir(this.d.tmpDir, { recursive: true });
    const tmp = path.join(this.d.tmpDir, `${id}.part`);
    let size = 0;
    const max = this.d.maxBytes;
    const limiter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        cb(size > max ? new HookwaveError('PAYLOAD_TOO_LARGE', `upload is larger than the limit of ${max} bytes`, { limit: max }) : null, chunk);
      },
    });
    try {
      await pipeline(body, limiter, fs.createWriteStream(tmp));
      if (size === 0) throw new HookwaveError('VALIDATION_ERROR', 'the upload is empty; send the file as the request body', { field: 'body' });
      // What the bytes are, not what the name or content type claims.
      const probed = await probe(tmp);
      const now = Date.now();
      const key = `uploads/${tenantId}/${id}`;
      await this.d.blobs.put(tmp, key);
      const row: UploadRow = {
        id,
        tenant_id: tenantId,
        file_name: fileName,
        path: key,
        size,
        format: probed.formatName,
        duration: probed.duration,
        created_at: now,
        expires_at: now + this.d.ttlMs,
      };
      await this.d.store.insertUpload(row);
      return row;
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      if (err instanceof HookwaveError) throw err;
      // The client went away mid-body (closed, reset): its mistake or its network, not ours.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'ECONNABORTED' || (err as Error).message === 'aborted') {
        throw new HookwaveError('VALIDATION_ERROR', 'the upload was cut off before it ended', { field: 'body' });
      }
      throw err;
    }
  }

  /** Deletes expired uploads (rows and files); returns how many. */
  async sweep(now = Date.now(), log?: Logger): Promise<number> {
    let removed = 0;
    for (;;) {
      const expired = await this.d.store.listExpiredUploads(now, 100);
      if (expired.length === 0) return removed;
      for (const u of expired) {
        await this.d.blobs.remove(u.path).catch((err: unknown) => log?.warn({ err, upload_id: u.id }, 'removing an expired upload failed'));
        await this.d.store.deleteUpload(u.id);
        removed++;
      }
    }
  }
}

export function defaultUploadTmp(dataDir: string | null): string {
  return dataDir ? path.join(dataDir, 'work', 'uploads') : path.join(os.tmpdir(), 'hookwave-uploads');
}
