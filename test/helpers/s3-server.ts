/**
 * A small S3-compatible server on loopback, for tests: exactly the operations hookwave's bucket store
 * uses, with AWS Signature Version 4 checked on every request the way S3 checks it.
 *
 * Why not an npm fake: s3rver 3.7.1 (unmaintained since 2021) accepts header-signed requests with a
 * wrong secret; its maintained fork @20minutes/s3rver checks signatures but rejects every path-style
 * bucket-level request today's @aws-sdk/client-s3 signs (ListObjectsV2, DeleteObjects, HeadBucket:
 * the SDK signs "/bucket/", the fork "/bucket") and the SDK's default streaming-checksum uploads;
 * fauxqs has no authentication and needs Node 22.5. No MinIO binary or Docker is available here.
 *
 * Covered: HeadBucket, ListObjectsV2 (prefix, continuation), DeleteObjects, PutObject (plain,
 * signed-payload and aws-chunked with a CRC32 trailer, as the SDK sends them), multipart upload
 * (create, part, complete with S3's 5 MiB minimum part, abort), GetObject and HeadObject with a
 * Range and response-content-* overrides, DeleteObject. Authentication: the Authorization header and
 * presigned query strings (with their expiry); anonymous requests are refused like on a private
 * bucket. Payload hashes and CRC32 checksums are verified. Path-style addressing only.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';

export interface S3ServerOptions {
  accessKeyId?: string;
  secretAccessKey?: string;
  region?: string;
  buckets?: string[];
}

export interface S3RequestLog {
  method: string;
  operation: string;
  bucket: string | null;
  key: string | null;
  auth: 'header' | 'query' | 'none';
  status: number;
  /** The S3 error code, when the request was refused. */
  error: string | null;
  range: string | null;
}

interface StoredObject {
  file: string;
  size: number;
  etag: string;
  contentType: string;
  lastModified: Date;
}

interface MultipartUpload {
  bucket: string;
  key: string;
  contentType: string;
  parts: Map<number, { file: string; size: number; etag: string; md5: Buffer }>;
}

export interface S3TestServer {
  /** http://127.0.0.1:<port>; use path-style addressing. */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  log: S3RequestLog[];
  createBucket(name: string): void;
  keys(bucket: string): string[];
  /** The stored bytes, read straight from the server's storage (not through the API). */
  read(bucket: string, key: string): Buffer | null;
  close(): Promise<void>;
}

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MIN_PART = 5 * 1024 * 1024;
const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
const xmlUnescape = (s: string) =>
  s.replace(/&(lt|gt|amp|apos|quot|#(\d+)|#x([0-9a-fA-F]+));/g, (_, name: string, dec?: string, hex?: string) =>
    dec ? String.fromCodePoint(Number(dec)) : hex ? String.fromCodePoint(parseInt(hex, 16)) : ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' } as Record<string, string>)[name]!,
  );
const uriEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');

function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : NaN;
}

/** `aws-chunked` bodies: `<hex size>[;ext]\r\n<bytes>\r\n` … `0\r\n<trailers>\r\n\r\n`. */
class AwsChunkedDecoder extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  readonly trailers: Record<string, string> = {};

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      this.drain();
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private line(): string | null {
    const i = this.buf.indexOf('\r\n');
    if (i < 0) return null;
    const text = this.buf.subarray(0, i).toString('latin1');
    this.buf = this.buf.subarray(i + 2);
    return text;
  }

  private drain(): void {
    for (;;) {
      if (this.state === 'size') {
        const l = this.line();
        if (l === null) return;
        const size = parseInt(l.split(';')[0]!, 16);
        if (!Number.isInteger(size) || size < 0) throw new S3Error(400, 'IncompleteBody', 'bad aws-chunked chunk header');
        if (size === 0) this.state = 'trailer';
        else {
          this.remaining = size;
          this.state = 'data';
        }
      } else if (this.state === 'data') {
        if (this.buf.length === 0) return;
        const n = Math.min(this.remaining, this.buf.length);
        this.push(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        this.remaining -= n;
        if (this.remaining === 0) this.state = 'data-end';
      } else if (this.state === 'data-end') {
        if (this.buf.length < 2) return;
        if (this.buf[0] !== 13 || this.buf[1] !== 10) throw new S3Error(400, 'IncompleteBody', 'aws-chunked chunk is longer than its header says');
        this.buf = this.buf.subarray(2);
        this.state = 'size';
      } else if (this.state === 'trailer') {
        const l = this.line();
        if (l === null) return;
        if (l === '') this.state = 'done';
        else {
          const c = l.indexOf(':');
          this.trailers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
        }
      } else return;
    }
  }

  override _flush(cb: TransformCallback): void {
    cb(this.state === 'done' ? null : new S3Error(400, 'IncompleteBody', 'the aws-chunked body ended early'));
  }
}

export async function startS3Server(opts: S3ServerOptions = {}): Promise<S3TestServer> {
  const accessKeyId = opts.accessKeyId ?? 'HOOKWAVETESTKEY';
  const secretAccessKey = opts.secretAccessKey ?? randomBytes(20).toString('base64url');
  const region = opts.region ?? 'us-east-1';
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'hookwave-s3-'));
  const buckets = new Map<string, Map<string, StoredObject>>();
  const uploads = new Map<string, MultipartUpload>();
  const log: S3RequestLog[] = [];
  for (const b of opts.buckets ?? []) buckets.set(b, new Map());
  const newFile = () => path.join(dir, randomBytes(12).toString('hex'));

  function authenticate(req: http.IncomingMessage, rawPath: string, rawQuery: string): { auth: 'header' | 'query'; payloadHash: string } {
    const query = parseQuery(rawQuery);
    const header = req.headers.authorization;
    const presigned = query.some(([k]) => k === 'X-Amz-Algorithm');
    if (!header && !presigned) throw new S3Error(403, 'AccessDenied', 'Anonymous access is not allowed on this bucket');
    if (header && presigned) throw new S3Error(400, 'InvalidArgument', 'Only one auth mechanism allowed');
    let credential: string, signedHeaders: string, signature: string, stamp: string, payloadHash: string;
    if (header) {
      const m = /^AWS4-HMAC-SHA256 (.+)$/.exec(header);
      if (!m) throw new S3Error(400, 'InvalidArgument', 'Unsupported Authorization Type');
      const parts = Object.fromEntries(m[1]!.split(/,\s*/).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
      if (!parts.Credential || !parts.SignedHeaders || !parts.Signature) throw new S3Error(400, 'AuthorizationHeaderMalformed', 'Authorization needs Credential, SignedHeaders and Signature');
      [credential, signedHeaders, signature] = [parts.Credential, parts.SignedHeaders, parts.Signature];
      stamp = String(req.headers['x-amz-date'] ?? '');
      payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
      if (!payloadHash) throw new S3Error(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
      if (Math.abs(Date.now() - parseAmzDate(stamp)) > 15 * 60_000 || Number.isNaN(parseAmzDate(stamp))) throw new S3Error(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large');
    } else {
      const q = Object.fromEntries(query);
      if (q['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256') throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
      if (!q['X-Amz-Credential'] || !q['X-Amz-SignedHeaders'] || !q['X-Amz-Signature'] || !q['X-Amz-Date'] || !q['X-Amz-Expires']) {
        throw new S3Error(400, 'AuthorizationQueryParametersError', 'Query-string authentication requires X-Amz-Credential, X-Amz-SignedHeaders, X-Amz-Signature, X-Amz-Date and X-Amz-Expires');
      }
      [credential, signedHeaders, signature, stamp] = [q['X-Amz-Credential'], q['X-Amz-SignedHeaders'], q['X-Amz-Signature'], q['X-Amz-Date']];
      payloadHash = q['X-Amz-Content-Sha256'] ?? 'UNSIGNED-PAYLOAD';
      const expires = Number(q['X-Amz-Expires']);
      if (!Number.isInteger(expires) || expires < 1 || expires > 604800) throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires must be 1..604800 seconds');
      const signedAt = parseAmzDate(stamp);
      if (Number.isNaN(signedAt)) throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Date must be yyyyMMddTHHmmssZ');
      // Checked only once the signature holds (below): a forged expiry must read as a bad signature, as on S3.
      if (Date.now() > signedAt + expires * 1000) {
        verify();
        throw new S3Error(403, 'AccessDenied', 'Request has expired');
      }
    }
    verify();
    return { auth: header ? 'header' : 'query', payloadHash };

    function verify(): void {
      const [key, day, scopeRegion, service, terminator] = credential.split('/');
      if (key !== accessKeyId) throw new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records');
      if (day !== stamp.slice(0, 8) || scopeRegion !== region || service !== 's3' || terminator !== 'aws4_request') {
        throw new S3Error(400, 'AuthorizationHeaderMalformed', `credential scope ${day}/${scopeRegion}/${service}/${terminator} is wrong; expecting ${stamp.slice(0, 8)}/${region}/s3/aws4_request`);
      }
      const names = signedHeaders.split(';');
      if (!names.includes('host')) throw new S3Error(403, 'AccessDenied', 'host must be a signed header');
      const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
      const canonicalQuery = query
        .filter(([k]) => !(presigned && k === 'X-Amz-Signature'))
        .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
        .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join('&');
      // S3 signs the path as sent: no normalisation, no second encoding.
      const canonical = [req.method, rawPath, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
      const toSign = ['AWS4-HMAC-SHA256', stamp, credential.split('/').slice(1).join('/'), sha256Hex(canonical)].join('\n');
      const signingKey = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day!), region), 's3'), 'aws4_request');
      const expected = Buffer.from(createHmac('sha256', signingKey).update(toSign, 'utf8').digest('hex'));
      const given = Buffer.from(signature);
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
        throw new S3Error(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided');
      }
    }
  }

  /** Streams the body to a file, undoing aws-chunked and checking the signed hash and any CRC32. */
  async function receive(req: http.IncomingMessage, payloadHash: string): Promise<{ file: string; size: number; md5: Buffer }> {
    const file = newFile();
    const chunked = payloadHash.startsWith('STREAMING-');
    if (chunked && payloadHash !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') throw new S3Error(501, 'NotImplemented', `${payloadHash} bodies are not supported by this test server`);
    const decoder = chunked ? new AwsChunkedDecoder() : null;
    const md5 = createHash('md5');
    const sha = /^[0-9a-f]{64}$/i.test(payloadHash) ? createHash('sha256') : null;
    let crc = 0;
    let size = 0;
    const tap = new PassThrough();
    tap.on('data', (c: Buffer) => {
      md5.update(c);
      sha?.update(c);
      crc = zlib.crc32(c, crc);
      size += c.length;
    });
    try {
      await pipeline(decoder ? [req, decoder, tap, fs.createWriteStream(file)] : [req, tap, fs.createWriteStream(file)]);
      if (sha && sha.digest('hex') !== payloadHash.toLowerCase()) throw new S3Error(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed');
      const declared = req.headers['x-amz-decoded-content-length'];
      if (chunked && declared !== undefined && Number(declared) !== size) throw new S3Error(400, 'IncompleteBody', 'x-amz-decoded-content-length does not match the body');
      const crcGiven = decoder?.trailers['x-amz-checksum-crc32'] ?? req.headers['x-amz-checksum-crc32'];
      if (crcGiven !== undefined) {
        const crcBytes = Buffer.alloc(4);
        crcBytes.writeUInt32BE(crc >>> 0);
        if (crcBytes.toString('base64') !== crcGiven) throw new S3Error(400, 'BadDigest', 'The CRC32 you specified did not match the calculated checksum');
      }
      return { file, size, md5: md5.digest() };
    } catch (err) {
      await fsp.rm(file, { force: true });
      throw err;
    }
  }

  async function readBody(req: http.IncomingMessage, payloadHash: string): Promise<string> {
    const got = await receive(req, payloadHash);
    try {
      return await fsp.readFile(got.file, 'utf8');
    } finally {
      await fsp.rm(got.file, { force: true });
    }
  }

  function bucketOf(name: string): Map<string, StoredObject> {
    const b = buckets.get(name);
    if (!b) throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist');
    return b;
  }

  function xml(res: http.ServerResponse, status: number, body: string): void {
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text) }).end(text);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, entry: S3RequestLog): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q < 0 ? '' : rawUrl.slice(q + 1);
    const params = new Map(parseQuery(rawQuery));
    const segs = rawPath.split('/').slice(1);
    const bucket = segs[0] ? decodeURIComponent(segs[0]) : null;
    const key = segs.length > 1 && segs.slice(1).join('/') !== '' ? segs.slice(1).map(decodeURIComponent).join('/') : null;
    entry.bucket = bucket;
    entry.key = key;
    entry.range = (req.headers.range as string | undefined) ?? null;

    entry.operation = operationOf(req.method ?? 'GET', key, params);
    const { auth, payloadHash } = authenticate(req, rawPath, rawQuery);
    entry.auth = auth;
    if (!bucket) throw new S3Error(501, 'NotImplemented', 'ListBuckets is not supported by this test server');
    const m = req.method ?? 'GET';

    if (key === null) {
      if (m === 'HEAD') {
        bucketOf(bucket);
        res.writeHead(200).end();
        return;
      }
      if (m === 'GET' && params.get('list-type') === '2') {
        const objects = bucketOf(bucket);
        const prefix = params.get('prefix') ?? '';
        const max = Math.min(Number(params.get('max-keys') ?? 1000), 1000);
        const token = params.get('continuation-token');
        const after = token ? Buffer.from(token, 'base64url').toString('utf8') : (params.get('start-after') ?? '');
        const all = [...objects.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
        const page = all.slice(0, max);
        const truncated = all.length > page.length;
        const enc = params.get('encoding-type') === 'url' ? (k: string) => k.split('/').map(uriEncode).join('/') : (k: string) => k;
        const contents = page
          .map((k) => {
            const o = objects.get(k)!;
            return `<Contents><Key>${xmlEscape(enc(k))}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${xmlEscape(o.etag)}</ETag><Size>${o.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
          })
          .join('');
        const next = truncated ? `<NextContinuationToken>${Buffer.from(page[page.length - 1]!).toString('base64url')}</NextContinuationToken>` : '';
        xml(res, 200, `<ListBucketResult xmlns="${XMLNS}"><Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(enc(prefix))}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${next}${contents}</ListBucketResult>`);
        return;
      }
      if (m === 'POST' && params.has('delete')) {
        const objects = bucketOf(bucket);
        // S3 refuses a multi-object delete without an integrity header.
        if (!req.headers['content-md5'] && !Object.keys(req.headers).some((h) => h.startsWith('x-amz-checksum-'))) throw new S3Error(400, 'InvalidRequest', 'Missing required header for this request: Content-MD5');
        const body = await readBody(req, payloadHash);
        const keys = [...body.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((x) => xmlUnescape(x[1]!));
        const quiet = /<Quiet>\s*true\s*<\/Quiet>/.test(body);
        for (const k of keys) {
          const o = objects.get(k);
          objects.delete(k);
          if (o) await fsp.rm(o.file, { force: true });
        }
        xml(res, 200, `<DeleteResult xmlns="${XMLNS}">${quiet ? '' : keys.map((k) => `<Deleted><Key>${xmlEscape(k)}</Key></Deleted>`).join('')}</DeleteResult>`);
        return;
      }
      throw new S3Error(501, 'NotImplemented', `${m} on a bucket with ?${rawQuery} is not supported by this test server`);
    }

    const objects = bucketOf(bucket);
    const uploadId = params.get('uploadId');
    if (m === 'POST' && params.has('uploads')) {
      const id = randomBytes(16).toString('hex');
      uploads.set(id, { bucket, key, contentType: String(req.headers['content-type'] ?? 'application/octet-stream'), parts: new Map() });
      xml(res, 200, `<InitiateMultipartUploadResult xmlns="${XMLNS}"><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
      return;
    }
    if (uploadId !== undefined) {
      const up = uploads.get(uploadId);
      if (!up || up.bucket !== bucket || up.key !== key) throw new S3Error(404, 'NoSuchUpload', 'The specified multipart upload does not exist');
      if (m === 'PUT') {
        const n = Number(params.get('partNumber'));
        if (!Number.isInteger(n) || n < 1 || n > 10000) throw new S3Error(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000');
        const got = await receive(req, payloadHash);
        const old = up.parts.get(n);
        if (old) await fsp.rm(old.file, { force: true });
        const etag = `"${got.md5.toString('hex')}"`;
        up.parts.set(n, { file: got.file, size: got.size, etag, md5: got.md5 });
        res.writeHead(200, { etag }).end();
        return;
      }
      if (m === 'POST') {
        const body = await readBody(req, payloadHash);
        const listed = [...body.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((p) => ({
          n: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(p[1]!)?.[1]),
          etag: xmlUnescape(/<ETag>([\s\S]*?)<\/ETag>/.exec(p[1]!)?.[1] ?? ''),
        }));
        if (listed.length === 0) throw new S3Error(400, 'MalformedXML', 'CompleteMultipartUpload lists no parts');
        const chosen = listed.map((p, i) => {
          const part = up.parts.get(p.n);
          if (!part || part.etag !== p.etag) throw new S3Error(400, 'InvalidPart', `part ${p.n} was not uploaded or its ETag differs`);
          if (i > 0 && p.n <= listed[i - 1]!.n) throw new S3Error(400, 'InvalidPartOrder', 'parts must be listed in ascending order');
          if (i < listed.length - 1 && part.size < MIN_PART) throw new S3Error(400, 'EntityTooSmall', `part ${p.n} is ${part.size} bytes; every part but the last must be at least 5 MiB`);
          return part;
        });
        const file = newFile();
        const out = fs.createWriteStream(file);
        for (const part of chosen) await pipeline(fs.createReadStream(part.file), out, { end: false });
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
        const etag = `"${createHash('md5').update(Buffer.concat(chosen.map((p) => p.md5))).digest('hex')}-${chosen.length}"`;
        await replace(objects, key, { file, size: chosen.reduce((s, p) => s + p.size, 0), etag, contentType: up.contentType, lastModified: new Date() });
        for (const part of up.parts.values()) await fsp.rm(part.file, { force: true });
        uploads.delete(uploadId);
        xml(res, 200, `<CompleteMultipartUploadResult xmlns="${XMLNS}"><Location>${xmlEscape(`/${bucket}/${key}`)}</Location><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(etag)}</ETag></CompleteMultipartUploadResult>`);
        return;
      }
      if (m === 'DELETE') {
        for (const part of up.parts.values()) await fsp.rm(part.file, { force: true });
        uploads.delete(uploadId);
        res.writeHead(204).end();
        return;
      }
    }
    if (m === 'PUT') {
      if (req.headers['x-amz-copy-source']) throw new S3Error(501, 'NotImplemented', 'CopyObject is not supported by this test server');
      const got = await receive(req, payloadHash);
      const etag = `"${got.md5.toString('hex')}"`;
      await replace(objects, key, { file: got.file, size: got.size, etag, contentType: String(req.headers['content-type'] ?? 'application/octet-stream'), lastModified: new Date() });
      res.writeHead(200, { etag }).end();
      return;
    }
    if (m === 'GET' || m === 'HEAD') {
      const o = objects.get(key);
      if (!o) {
        if (m === 'HEAD') {
          entry.error = 'NoSuchKey';
          res.writeHead(404).end();
          return;
        }
        throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist');
      }
      const headers: Record<string, string | number> = {
        'accept-ranges': 'bytes',
        'content-type': params.get('response-content-type') ?? o.contentType,
        etag: o.etag,
        'last-modified': o.lastModified.toUTCString(),
      };
      const disposition = params.get('response-content-disposition');
      if (disposition) headers['content-disposition'] = disposition;
      const range = parseRange(req.headers.range, o.size);
      if (range === 'invalid') throw new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable');
      if (range) {
        res.writeHead(206, { ...headers, 'content-length': range.end - range.start + 1, 'content-range': `bytes ${range.start}-${range.end}/${o.size}` });
      } else {
        res.writeHead(200, { ...headers, 'content-length': o.size });
      }
      if (m === 'HEAD') {
        res.end();
        return;
      }
      await pipeline(fs.createReadStream(o.file, range ?? {}), res);
      return;
    }
    if (m === 'DELETE') {
      const o = objects.get(key);
      objects.delete(key);
      if (o) await fsp.rm(o.file, { force: true });
      res.writeHead(204).end();
      return;
    }
    throw new S3Error(501, 'NotImplemented', `${m} on an object is not supported by this test server`);
  }

  async function replace(objects: Map<string, StoredObject>, key: string, o: StoredObject): Promise<void> {
    const old = objects.get(key);
    objects.set(key, o);
    if (old) await fsp.rm(old.file, { force: true });
  }

  const server = http.createServer((req, res) => {
    const entry: S3RequestLog = { method: req.method ?? '', operation: 'unknown', bucket: null, key: null, auth: 'none', status: 0, error: null, range: null };
    log.push(entry);
    // Logged when the status is sent, not when the body has drained: a client may read the log as soon as it has the bytes.
    const writeHead = res.writeHead.bind(res) as (status: number, headers?: http.OutgoingHttpHeaders) => http.ServerResponse;
    res.writeHead = ((status: number, headers?: http.OutgoingHttpHeaders) => {
      entry.status = status;
      return writeHead(status, headers);
    }) as typeof res.writeHead;
    handle(req, res, entry)
      .catch((err: unknown) => {
        const e = err instanceof S3Error ? err : new S3Error(500, 'InternalError', (err as Error).message);
        entry.status = e.status;
        entry.error = e.code;
        if (res.headersSent) {
          res.destroy();
          return;
        }
        // Refused before the body was read: drop the rest rather than answer a half-sent request.
        res.setHeader('connection', 'close');
        if (req.method === 'HEAD') res.writeHead(e.status).end();
        else xml(res, e.status, `<Error><Code>${e.code}</Code><Message>${xmlEscape(e.message)}</Message><RequestId>${randomBytes(8).toString('hex')}</RequestId></Error>`);
        req.resume();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    accessKeyId,
    secretAccessKey,
    log,
    createBucket: (name) => void (buckets.has(name) || buckets.set(name, new Map())),
    keys: (bucket) => [...(buckets.get(bucket)?.keys() ?? [])].sort(),
    read(bucket, key) {
      const o = buckets.get(bucket)?.get(key);
      return o ? fs.readFileSync(o.file) : null;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Named before authentication, so a refused request is logged as what it tried. */
function operationOf(method: string, key: string | null, params: Map<string, string>): string {
  if (key === null) {
    if (method === 'HEAD') return 'HeadBucket';
    if (method === 'GET' && params.get('list-type') === '2') return 'ListObjectsV2';
    if (method === 'POST' && params.has('delete')) return 'DeleteObjects';
    return 'unknown';
  }
  if (method === 'POST' && params.has('uploads')) return 'CreateMultipartUpload';
  if (params.has('uploadId')) return ({ PUT: 'UploadPart', POST: 'CompleteMultipartUpload', DELETE: 'AbortMultipartUpload' } as Record<string, string>)[method] ?? 'unknown';
  return ({ PUT: 'PutObject', GET: 'GetObject', HEAD: 'HeadObject', DELETE: 'DeleteObject' } as Record<string, string>)[method] ?? 'unknown';
}

/** Decoded (name, value) pairs in order; `a` alone is ("a", ""). */
function parseQuery(raw: string): Array<[string, string]> {
  if (!raw) return [];
  return raw.split('&').filter(Boolean).map((pair) => {
    const i = pair.indexOf('=');
    const k = i < 0 ? pair : pair.slice(0, i);
    const v = i < 0 ? '' : pair.slice(i + 1);
    return [decodeURIComponent(k), decodeURIComponent(v)];
  });
}

function parseRange(header: string | string[] | undefined, size: number): { start: number; end: number } | 'invalid' | null {
  if (typeof header !== 'string') return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}
