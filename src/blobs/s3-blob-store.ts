/**
 * Output and upload files in an S3-compatible bucket, so that every API and worker process, on any
 * machine, reads and writes the same files. Objects live under `<prefix><blob key>`, the same keys
 * the local store uses as paths under data/files.
 *
 * Bytes are streamed both ways: a file up to one part is sent as one PutObject from a file stream
 * with its length; a larger one goes up as a multipart upload (lib-storage), which holds at most
 * two parts in memory at a time.
 */
import { create as contentDisposition } from 'content-disposition';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Config } from '../config.js';
import { HookwaveError } from '../errors.js';
import type { BlobStore } from './blob-store.js';
import { contentTypeOfKey } from './content-types.js';
import type { BlobPresigner, SignedUrl } from './signed-url.js';
import { presignGetObject, type PresignCredentials } from './sigv4-presign.js';

export type S3Settings = Pick<Config, 's3Bucket' | 's3Endpoint' | 's3Region' | 's3Prefix' | 's3ForcePathStyle' | 's3Presign' | 's3PartSize'>;

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const statusOf = (err: unknown): number | undefined => (err as SdkError).$metadata?.httpStatusCode;
const isNotFound = (err: unknown): boolean => {
  const e = err as SdkError;
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || statusOf(err) === 404;
};

/** What a user sees when the bucket fails: the S3 error's name, never the bucket's layout. */
function storageError(operation: string, err: unknown): HookwaveError {
  if (err instanceof HookwaveError) return err;
  const e = err as SdkError;
  const what = e.name && e.name !== 'Error' ? e.name : (e.code ?? e.message ?? 'unknown error');
  const wrapped = new HookwaveError('INTERNAL_ERROR', `object storage failed to ${operation} a file (${what})`, { storage: 's3', operation, status: statusOf(err) ?? null });
  return Object.assign(wrapped, { cause: err });
}

/** Network failures and 5xx are worth another try; a refusal (4xx) is not. */
function retryable(err: unknown): boolean {
  const status = statusOf(err);
  return status === undefined || status >= 500 || status === 429 || Boolean((err as SdkError).$retryable);
}

export function checkBlobKey(key: string): void {
  // Keys are built by hookwave, but a store never addresses anything outside its prefix whatever it is given.
  if (key === '' || key.startsWith('/') || key.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) {
    throw new HookwaveError('INTERNAL_ERROR', `blob key is not a plain relative path: ${JSON.stringify(key)}`);
  }
}

export class S3BlobStore implements BlobStore {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
    /** Empty, or ends with '/'. */
    readonly prefix: string,
    private readonly partSize: number,
    /** Set when HOOKWAVE_S3_PRESIGN is on. */
    readonly presigner: BlobPresigner | null = null,
  ) {}

  objectKey(key: string): string {
    checkBlobKey(key);
    return this.prefix + key;
  }

  async put(localPath: string, key: string): Promise<number> {
    const Key = this.objectKey(key);
    const size = (await fsp.stat(localPath)).size;
    const ContentType = contentTypeOfKey(key);
    try {
      if (size <= this.partSize) {
        // A stream body cannot be replayed by the SDK's own retries, so each try opens the file again.
        for (let attempt = 1; ; attempt++) {
          try {
            await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: fs.createReadStream(localPath), ContentLength: size, ContentType }));
            break;
          } catch (err) {
            if (attempt >= 3 || !retryable(err)) throw err;
            await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
          }
        }
      } else {
        // Parts are buffers, so the SDK retries each one itself; a failed upload is aborted, leaving no parts behind.
        await new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key, Body: fs.createReadStream(localPath), ContentType },
          partSize: this.partSize,
          queueSize: 2,
        }).done();
      }
    } catch (err) {
      throw storageError('store', err);
    }
    await fsp.rm(localPath, { force: true });
    return size;
  }

  async open(key: string, range?: { start: number; end: number }): Promise<Readable> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }));
      return res.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new HookwaveError('NOT_FOUND', 'this file no longer exists');
      throw storageError('read', err);
    }
  }

  async size(key: string): Promise<number | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return res.ContentLength ?? null;
    } catch (err) {
      // Only a missing object is "no file"; a refused or unreachable bucket is an outage, not a 404.
      if (isNotFound(err)) return null;
      throw storageError('look up', err);
    }
  }

  async remove(prefix: string): Promise<void> {
    const Key = this.objectKey(prefix);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
      let token: string | undefined;
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${Key}/`, ContinuationToken: token }));
        const objects = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
        if (objects.length > 0) {
          const res = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: objects, Quiet: true } }));
          const failed = res.Errors?.[0];
          if (failed) throw Object.assign(new Error(failed.Message ?? 'delete failed'), { name: failed.Code ?? 'DeleteFailed' });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw storageError('delete', err);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/**
 * Presigned GETs straight to the bucket. Credentials come from the SDK's default chain; temporary
 * ones (instance roles, SSO, web identity) are refreshed in the background before they lapse, and a
 * URL never claims to live longer than the credentials that signed it.
 */
class S3Presigner implements BlobPresigner {
  private refreshing: Promise<void> | null = null;
  readonly origin: string;

  constructor(
    private readonly base: URL,
    private readonly region: string,
    private readonly prefix: string,
    private credentials: PresignCredentials,
    private readonly resolveCredentials: () => Promise<PresignCredentials>,
  ) {
    this.origin = base.origin;
  }

  presign(blobKey: string, fileName: string, ttlSeconds: number, now: number): SignedUrl {
    checkBlobKey(blobKey);
    const expiration = this.credentials.expiration?.getTime();
    if (expiration !== undefined && expiration - now < 15 * 60_000) this.refresh();
    const signedAt = Math.floor(now / 1000) * 1000;
    const url = presignGetObject({
      base: this.base,
      region: this.region,
      credentials: this.credentials,
      objectKey: this.prefix + blobKey,
      expiresSeconds: ttlSeconds,
      now: new Date(signedAt),
      // The same download name hookwave's own route gives.
      query: { 'response-content-disposition': contentDisposition(fileName) },
    });
    const expiresAt = Math.min(signedAt + ttlSeconds * 1000, expiration ?? Infinity);
    return { url, expiresAt: new Date(expiresAt) };
  }

  private refresh(): void {
    this.refreshing ??= this.resolveCredentials()
      .then((c) => {
        this.credentials = c;
      })
      .catch(() => undefined)
      .finally(() => {
        this.refreshing = null;
      });
  }
}

function startupError(message: string, setting: string, cause?: unknown): HookwaveError {
  return Object.assign(new HookwaveError('VALIDATION_ERROR', message, { setting }), cause === undefined ? {} : { cause });
}

/**
 * Builds the store. With `connect` (API and worker processes) it proves at start that the bucket is
 * there and these credentials may use it, so a wrong bucket, region, endpoint or key fails the
 * process now rather than the first task, and it prepares the presigner; a dispatcher-only process
 * never touches files and skips both.
 */
export async function openS3BlobStore(s: S3Settings, opts: { connect: boolean }): Promise<S3BlobStore> {
  const bucket = s.s3Bucket;
  if (!bucket) throw startupError('HOOKWAVE_STORAGE=s3 needs HOOKWAVE_S3_BUCKET', 'HOOKWAVE_S3_BUCKET');
  const where = s.s3Endpoint ?? 'AWS S3';
  const make = (region: string | undefined) =>
    new S3Client({
      region,
      endpoint: s.s3Endpoint ?? undefined,
      forcePathStyle: s.s3ForcePathStyle,
      // Each streamed download holds a socket until its reader is done; the SDK's default of 50 would make the 51st concurrent download wait.
      requestHandler: {
        connectionTimeout: 5_000,
        httpAgent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
        httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 256 }),
      },
    });
  let client = make(s.s3Region ?? undefined);
  let region: string;
  try {
    region = await client.config.region();
  } catch {
    // S3-compatible servers mostly ignore the region but SigV4 needs one; AWS itself needs the right one.
    if (!s.s3Endpoint) throw startupError('HOOKWAVE_STORAGE=s3 needs a region: set HOOKWAVE_S3_REGION (or AWS_REGION)', 'HOOKWAVE_S3_REGION');
    client.destroy();
    region = 'us-east-1';
    client = make(region);
  }
  const prefix = s.s3Prefix;

  try {
    if (opts.connect) {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (err) {
        const status = statusOf(err);
        const name = (err as SdkError).name ?? '';
        if (name === 'CredentialsProviderError') {
          throw startupError(`no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an instance/task role (${(err as SdkError).message ?? name})`, 'AWS_ACCESS_KEY_ID', err);
        }
        if (status === 404) throw startupError(`bucket "${bucket}" does not exist at ${where}; create it or fix HOOKWAVE_S3_BUCKET`, 'HOOKWAVE_S3_BUCKET', err);
        if (status === 301 || name === 'PermanentRedirect') throw startupError(`bucket "${bucket}" is in another region than "${region}"; set HOOKWAVE_S3_REGION`, 'HOOKWAVE_S3_REGION', err);
        if (status === 403 || status === 401) throw startupError(`${where} refused these credentials for bucket "${bucket}" (HTTP ${status}); check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and that they may list, read, write and delete in the bucket`, 'AWS_ACCESS_KEY_ID', err);
        if (status === undefined) throw startupError(`cannot reach ${where}: ${(err as SdkError).code ?? name} ${(err as SdkError).message ?? ''}`.trim(), 'HOOKWAVE_S3_ENDPOINT', err);
        throw startupError(`${where} answered HTTP ${status} (${name}) for bucket "${bucket}"`, 'HOOKWAVE_S3_BUCKET', err);
      }
    }

    let presigner: BlobPresigner | null = null;
    if (s.s3Presign && opts.connect) {
      const probeKey = 'hookwave-url-layout';
      // The SDK decides where the bucket is reached (virtual-hosted or path style, endpoint, region); ask it once.
      const sample = new URL(await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: probeKey }), { expiresIn: 60 }));
      if (!sample.pathname.endsWith(`/${probeKey}`)) throw startupError(`cannot tell how ${where} addresses objects (presigned sample ${sample.origin}${sample.pathname})`, 'HOOKWAVE_S3_ENDPOINT');
      const base = new URL(sample.origin + sample.pathname.slice(0, -probeKey.length - 1));
      const resolveCredentials = async (): Promise<PresignCredentials> => {
        const c = await client.config.credentials();
        return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: c.expiration };
      };
      presigner = new S3Presigner(base, region, prefix, await resolveCredentials(), resolveCredentials);
    }
    return new S3BlobStore(client, bucket, prefix, s.s3PartSize, presigner);
  } catch (err) {
    client.destroy();
    throw err;
  }
}
