/**
 * Fetches a task's input URL to a local file, through the URL guard (every hop, every connection),
 * with a size limit and an overall timeout. Redirects are followed by hand, at most five, each
 * target URL checked again, because real inputs often sit behind a CDN or presigned-URL redirect.
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { request } from 'undici';
import { HookwaveError, isHookwaveError } from '../errors.js';
import { USER_AGENT } from '../version.js';
import { isGuardRefusal, type UrlGuard } from '../net/url-guard.js';

export interface DownloadOptions {
  guard: UrlGuard;
  maxBytes: number;
  timeoutMs: number;
  signal: AbortSignal;
}

const MAX_REDIRECTS = 5;

export async function downloadInput(url: string, dest: string, opts: DownloadOptions): Promise<number> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = AbortSignal.any([opts.signal, timeout]);
  let current = url;
  // Its own connections: nothing shared with other tenants' downloads, and closed with this one.
  const dispatcher = opts.guard.newAgent({ keepAliveTimeout: 1 });
  try {
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      opts.guard.checkUrl(current, 'input.url');
      const res = await request(current, {
        method: 'GET',
        dispatcher,
        signal,
        headers: { 'user-agent': USER_AGENT },
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
      if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
        await res.body.dump();
        current = new URL(String(res.headers.location), current).toString();
        continue;
      }
      if (res.statusCode < 200 || res.statusCode >= 300) {
        await res.body.dump();
        throw new HookwaveError('DOWNLOAD_FAILED', `input URL answered HTTP ${res.statusCode}`, { status_code: res.statusCode });
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBytes) {
        res.body.destroy();
        throw tooLarge(opts.maxBytes);
      }
      let received = 0;
      const limiter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          received += chunk.length;
          cb(received > opts.maxBytes ? tooLarge(opts.maxBytes) : null, chunk);
        },
      });
      await pipeline(res.body, limiter, fs.createWriteStream(dest), { signal });
      return received;
    }
    throw new HookwaveError('DOWNLOAD_FAILED', `input URL redirected more than ${MAX_REDIRECTS} times`);
  } catch (err) {
    await fs.promises.rm(dest, { force: true });
    if (err instanceof HookwaveError) throw err;
    // A fault in this download's callbacks (see fault-scope.ts) aborts with the error to report.
    if (opts.signal.aborted && isHookwaveError(opts.signal.reason)) throw opts.signal.reason;
    if (opts.signal.aborted) throw new HookwaveError('CANCELED', 'the task was canceled while its input was downloading');
    if (isGuardRefusal(err)) throw new HookwaveError('URL_NOT_ALLOWED', `input URL refused: ${(err as Error).message}`);
    if (timeout.aborted) throw new HookwaveError('DOWNLOAD_FAILED', `input download took longer than ${opts.timeoutMs} ms`);
    throw new HookwaveError('DOWNLOAD_FAILED', `input download failed: ${(err as Error).message}`);
  } finally {
    void dispatcher.destroy().catch(() => undefined);
  }
}

function tooLarge(max: number): HookwaveError {
  return new HookwaveError('INPUT_TOO_LARGE', `input is larger than the limit of ${max} bytes`, { limit: max });
}
