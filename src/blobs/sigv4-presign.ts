/**
 * Presigned S3 GET URLs (Signature Version 4, query-string form), computed synchronously.
 *
 * Why not @aws-sdk/s3-request-presigner on every URL: download URLs are rendered by taskView, which
 * is synchronous and also runs inside store transactions (webhook payloads are frozen in the
 * outbox), where only `tx` calls may be awaited. The SDK is still the authority on where the bucket
 * lives: the S3 store asks its presigner once at start for the URL layout (virtual-hosted or path
 * style, custom endpoint, region) and this module only signs paths under that base.
 */
import { createHash, createHmac } from 'node:crypto';

export interface PresignCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export interface PresignRequest {
  /** Scheme, host and any path before the object key, without a trailing slash: https://b.s3.eu-west-1.amazonaws.com, http://127.0.0.1:9000/b */
  base: URL;
  region: string;
  credentials: PresignCredentials;
  /** The full object key (bucket prefix included), not yet encoded. */
  objectKey: string;
  expiresSeconds: number;
  /** Signing time; whole seconds are used. */
  now: Date;
  /** Further signed query parameters, e.g. response-content-disposition. */
  query?: Record<string, string>;
}

/** RFC 3986 encoding as SigV4 wants it: everything except A-Z a-z 0-9 - _ . ~ is %XX. */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The object's path: S3 signs each key segment encoded once, slashes kept. */
export function objectPath(base: URL, objectKey: string): string {
  return `${base.pathname.replace(/\/+$/, '')}/${objectKey.split('/').map(uriEncode).join('/')}`;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function amzDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

export function presignGetObject(r: PresignRequest): string {
  const stamp = amzDate(new Date(Math.floor(r.now.getTime() / 1000) * 1000));
  const day = stamp.slice(0, 8);
  const scope = `${day}/${r.region}/s3/aws4_request`;
  const params: Array<[string, string]> = [
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD'],
    ['X-Amz-Credential', `${r.credentials.accessKeyId}/${scope}`],
    ['X-Amz-Date', stamp],
    ['X-Amz-Expires', String(r.expiresSeconds)],
    ['X-Amz-SignedHeaders', 'host'],
    ...Object.entries(r.query ?? {}),
  ];
  if (r.credentials.sessionToken) params.push(['X-Amz-Security-Token', r.credentials.sessionToken]);
  const query = params
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const path = objectPath(r.base, r.objectKey);
  // URL.host leaves out a default port, as the SDK's signer does.
  const canonical = ['GET', path, query, `host:${r.base.host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', stamp, scope, createHash('sha256').update(canonical, 'utf8').digest('hex')].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${r.credentials.secretAccessKey}`, day), r.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', signingKey).update(toSign, 'utf8').digest('hex');
  return `${r.base.protocol}//${r.base.host}${path}?${query}&X-Amz-Signature=${signature}`;
}
