/**
 * Output and upload files in an S3-compatible bucket, as an operator running hookwave on several
 * machines sets it up: HOOKWAVE_STORAGE=s3, credentials from the SDK's default chain (here
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), and either hookwave-signed download URLs (streamed from
 * the bucket through GET /v1/files) or URLs presigned for the bucket itself.
 *
 * The bucket is a real S3-compatible server on loopback that checks SigV4 on every request
 * (test/helpers/s3-server.ts); the SDK is not mocked. Runs on SQLite and, with
 * HOOKWAVE_TEST_DATABASE=postgres, on PostgreSQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { presignGetObject } from '../src/blobs/sigv4-presign.js';
import { configFromEnv, loadConfig, type Config } from '../src/config.js';
import { probe } from '../src/media/ffmpeg.js';
import { HookwaveError } from '../src/errors.js';
import { freshDatabase, usePostgres, type TestDatabase } from './helpers/database.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { runCli, spawnService, type ServiceProcess } from './helpers/process.js';
import { startS3Server, type S3TestServer } from './helpers/s3-server.js';
import { callApi, startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

const BUCKET = 'hookwave-files';
const PREFIX = 'prod/';
const MIB = 1024 * 1024;

let s3: S3TestServer;
let files: FileServer;
let mediaDir: string;
let tone: string;
let longTone: string;
const savedEnv: Record<string, string | undefined> = {};

function setEnv(vars: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (!(k in savedEnv)) savedEnv[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

beforeAll(async () => {
  s3 = await startS3Server({ buckets: [BUCKET] });
  // The SDK's default credential chain finds these first; IMDS (a non-loopback address) is never asked.
  setEnv({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined, AWS_EC2_METADATA_DISABLED: 'true' });
  mediaDir = tempDir('hookwave-media-');
  tone = path.basename(await makeTone(mediaDir, { seconds: 3, format: 'wav' }));
  // 40 s of 16-bit stereo: 6.7 MiB, more than one 5 MiB part.
  longTone = await makeTone(mediaDir, { seconds: 40, frequency: 220, format: 'wav' });
  files = await startFileServer(mediaDir);
});
afterAll(async () => {
  await files?.close();
  await s3?.close();
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

function s3Settings(presign: boolean): Partial<Config> {
  return { storage: 's3', s3Bucket: BUCKET, s3Endpoint: s3.endpoint, s3Region: s3.region, s3Prefix: PREFIX, s3ForcePathStyle: true, s3Presign: presign, s3PartSize: 5 * MIB };
}

async function download(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

const waitDone = (svc: TestService, id: string): Promise<any> => waitForTask(svc, id);

/** The bucket key hookwave promises: <prefix><tenant>/<task>/<target>/<output id>.<format>. */
function outputKeyPattern(tenantId: string, taskId: string, targetId: string, format: string): RegExp {
  return new RegExp(`^${PREFIX}${tenantId}/${taskId}/${targetId}/out_[0-9a-z]+\\.${format}$`);
}

describe.each([
  { mode: 'hookwave-signed', presign: false },
  { mode: 'bucket-presigned', presign: true },
])('files in an S3 bucket, $mode download URLs', ({ presign }) => {
  let svc: TestService;
  let tenantId: string;

  beforeAll(async () => {
    svc = await startService(s3Settings(presign));
    tenantId = (await svc.api('GET', '/v1/account')).body.tenant_id;
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('stores an extract task\'s outputs in the bucket and serves them, with ranges, through the task\'s URLs', async () => {
    const created = await svc.api('POST', '/v1/tasks', {
      kind: 'extract',
      input: { url: files.url(tone) },
      targets: [{ format: 'mp3', bitrate: '128k' }, { format: 'flac', name: 'mono', channels: 1, sample_rate: 48000 }],
    });
    expect(created.status).toBe(202);
    const task = await waitDone(svc, created.body.task_id);
    expect(task.status).toBe('completed');

    for (const target of task.targets) {
      const out = target.outputs[0];
      // The object is in the bucket under the promised key, and only there.
      const key = s3.keys(BUCKET).find((k) => outputKeyPattern(tenantId, task.id, target.id, out.format).test(k));
      expect(key, `bucket keys: ${s3.keys(BUCKET).join(', ')}`).toBeDefined();
      const stored = s3.read(BUCKET, key!)!;
      expect(stored.length).toBe(out.size);

      const url = new URL(out.url);
      const expiresAt = Date.parse(out.url_expires_at);
      expect(expiresAt - Date.now()).toBeGreaterThan(3500_000);
      expect(expiresAt - Date.now()).toBeLessThanOrEqual(3600_000);
      if (presign) {
        // Straight to the bucket, for exactly as long as hookwave's own URLs would live.
        expect(`${url.origin}${url.pathname}`, 'a bucket URL needs the blob key: taskView passes output.path to signer.sign').toBe(`${s3.endpoint}/${BUCKET}/${key}`);
        const signedAt = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(url.searchParams.get('X-Amz-Date')!)!;
        const signedMs = Date.UTC(+signedAt[1]!, +signedAt[2]! - 1, +signedAt[3]!, +signedAt[4]!, +signedAt[5]!, +signedAt[6]!);
        expect(signedMs + Number(url.searchParams.get('X-Amz-Expires')) * 1000).toBe(expiresAt);
      } else {
        expect(out.url.startsWith(`${svc.url}/v1/files/`)).toBe(true);
      }

      const before = s3.log.length;
      const whole = await download(out.url);
      expect(whole.status).toBe(200);
      expect(whole.bytes.equals(stored)).toBe(true);
      expect(whole.headers.get('content-type')).toBe(out.format === 'mp3' ? 'audio/mpeg' : 'audio/flac');
      expect(whole.headers.get('content-disposition')).toBe(`attachment; filename=${out.file_name}`);

      const part = await download(out.url, { range: 'bytes=100-1123' });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 100-1123/${out.size}`);
      expect(part.bytes.equals(stored.subarray(100, 1124))).toBe(true);
      const tail = await download(out.url, { range: 'bytes=-10' });
      expect(tail.status).toBe(206);
      expect(tail.bytes.equals(stored.subarray(stored.length - 10))).toBe(true);

      // Who fetched the bytes: the browser itself with the presigned query, or hookwave with its own signed requests.
      const gets = s3.log.slice(before).filter((l) => l.operation === 'GetObject' && l.key === key);
      expect(gets.map((g) => [g.auth, g.range, g.status]), JSON.stringify(s3.log.slice(before))).toEqual([
        [presign ? 'query' : 'header', null, 200],
        [presign ? 'query' : 'header', 'bytes=100-1123', 206],
        [presign ? 'query' : 'header', presign ? 'bytes=-10' : `bytes=${out.size - 10}-${out.size - 1}`, 206],
      ]);
    }

    const local = path.join(svc.dataDir, 'downloaded.flac');
    fs.writeFileSync(local, (await download(task.targets[1].outputs[0].url)).bytes);
    const probed = await probe(local);
    expect(probed.audio?.channels).toBe(1);
    expect(probed.audio?.sampleRate).toBe(48000);
    expect(probed.duration).toBeCloseTo(3, 1);
    // Nothing was kept on this machine's disk.
    expect(fs.existsSync(path.join(svc.dataDir, 'files'))).toBe(false);
  });

  it("lets the dashboard's player and waveform load from the bucket only when URLs point there", async () => {
    const csp = (await fetch(`${svc.url}/`)).headers.get('content-security-policy')!;
    const bucketOrigin = new URL(s3.endpoint).origin;
    for (const directive of ['media-src', 'connect-src']) {
      const sources = csp.split('; ').find((d) => d.startsWith(directive))!.split(' ').slice(1);
      expect(sources).toEqual(presign ? ["'self'", bucketOrigin] : ["'self'"]);
    }
  });

  it('refuses a tampered, redirected or expired URL', async () => {
    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'wav' }] });
    const task = await waitDone(svc, created.body.task_id);
    const out = task.targets[0].outputs[0];
    const url = new URL(out.url);
    expect((await download(out.url)).status).toBe(200);

    const sigParam = presign ? 'X-Amz-Signature' : 'signature';
    const sig = url.searchParams.get(sigParam);
    expect(sig, `no ${sigParam} in ${out.url}`).not.toBeNull();
    const tampered = new URL(url);
    tampered.searchParams.set(sigParam, (sig![0] === 'a' ? 'b' : 'a') + sig!.slice(1));
    const longer = new URL(url);
    longer.searchParams.set(presign ? 'X-Amz-Expires' : 'expires', String(Number(url.searchParams.get(presign ? 'X-Amz-Expires' : 'expires')) + 3600));
    const elsewhere = new URL(url);
    // Another output's path under the same signature.
    elsewhere.pathname = elsewhere.pathname.replace(/out_[0-9a-z]+/, 'out_00000000000000000000000000');
    for (const bad of [tampered, longer, elsewhere]) {
      const res = await fetch(bad);
      const body = await res.text();
      expect(res.status, bad.toString()).toBe(403);
      expect(body).toMatch(presign ? /<Code>SignatureDoesNotMatch<\/Code>/ : /"code":"SIGNATURE_INVALID"/);
    }

    // A URL signed, correctly, two hours ago has expired an hour ago.
    const past = Date.now() - 2 * 3600_000;
    const outputId = presign ? null : /\/v1\/files\/(out_[0-9a-z]+)\//.exec(url.pathname)![1]!;
    const blobKey = presign ? decodeURIComponent(url.pathname).slice(`/${BUCKET}/${PREFIX}`.length) : undefined;
    const old = svc.hw.signer.sign(outputId ?? 'unused', `${out.name}.${out.format}`, past, blobKey);
    expect(old.expiresAt.getTime()).toBeLessThan(Date.now());
    const expired = await fetch(old.url);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toMatch(presign ? /<Code>AccessDenied<\/Code><Message>Request has expired/ : /"code":"URL_EXPIRED"/);
  });

  it('keeps an upload in the bucket (sent in parts), runs a task on it, and sweeps it when it expires', async () => {
    const body = fs.readFileSync(longTone);
    const res = await fetch(`${svc.url}/v1/uploads`, { method: 'POST', headers: { 'x-api-key': svc.key, 'content-type': 'audio/wav', 'x-file-name': 'long.wav' }, body });
    expect(res.status).toBe(201);
    const upload = (await res.json()) as any;
    const uploadKey = `${PREFIX}uploads/${tenantId}/${upload.upload_id}`;
    expect(s3.read(BUCKET, uploadKey)?.equals(body)).toBe(true);
    // 6.7 MiB in 5 MiB parts: a multipart upload, never the whole file in one request body.
    const ops = s3.log.filter((l) => l.key === uploadKey).map((l) => l.operation);
    expect(ops).toEqual(['CreateMultipartUpload', 'UploadPart', 'UploadPart', 'CompleteMultipartUpload']);
    expect(fs.readdirSync(path.join(svc.dataDir, 'work', 'uploads'))).toEqual([]);

    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { upload_id: upload.upload_id }, targets: [{ format: 'mp3', bitrate: '64k' }] });
    expect(created.status).toBe(202);
    const task = await waitDone(svc, created.body.task_id);
    expect(task.status, JSON.stringify(task.targets[0].error)).toBe('completed');
    const out = task.targets[0].outputs[0];
    expect(out.duration).toBeCloseTo(40, 0);
    const got = await download(out.url);
    expect(got.status).toBe(200);
    expect(got.bytes.length).toBe(out.size);
    expect(s3.keys(BUCKET).some((k) => outputKeyPattern(tenantId, task.id, task.targets[0].id, 'mp3').test(k))).toBe(true);

    // The sweep deletes the upload's object along with its row.
    expect(await svc.hw.uploads.sweep(Date.now() + 25 * 3600_000)).toBeGreaterThanOrEqual(1);
    expect(s3.keys(BUCKET)).not.toContain(uploadKey);
    expect(s3.log.filter((l) => l.key === uploadKey && l.operation === 'DeleteObject').map((l) => l.status)).toEqual([204]);
  });
});

describe('removing files from the bucket', () => {
  it('removes one object, or everything below a prefix, like the local store', async () => {
    const svc = await startService(s3Settings(false));
    try {
      const work = tempDir('hookwave-blobs-');
      const put = async (key: string, text: string) => {
        fs.writeFileSync(path.join(work, 'f'), text);
        expect(await svc.hw.blobs.put(path.join(work, 'f'), key)).toBe(text.length);
        expect(fs.existsSync(path.join(work, 'f'))).toBe(false);
      };
      await put('t1/task/a/out_1.wav', 'one');
      await put('t1/task/b/out_2.wav', 'two');
      await put('t1/task-other/out_3.wav', 'three');
      expect(await svc.hw.blobs.size('t1/task/a/out_1.wav')).toBe(3);
      expect(await svc.hw.blobs.size('t1/task/a/missing.wav')).toBeNull();
      await svc.hw.blobs.remove('t1/task');
      expect(s3.keys(BUCKET).filter((k) => k.startsWith(`${PREFIX}t1/`))).toEqual([`${PREFIX}t1/task-other/out_3.wav`]);
      await svc.hw.blobs.remove('t1/task-other/out_3.wav');
      expect(s3.keys(BUCKET).filter((k) => k.startsWith(`${PREFIX}t1/`))).toEqual([]);
      await expect(svc.hw.blobs.open('t1/task/a/out_1.wav')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(svc.hw.blobs.size('../escape')).rejects.toBeInstanceOf(HookwaveError);
    } finally {
      await svc.close();
    }
  });
});

describe('the presigned URL', () => {
  it('is the one the AWS SDK presigner computes for the same request and time', async () => {
    const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
    const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    try {
      const Key = `${PREFIX}t/some task/out_1 (final).mp3`;
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      const disposition = 'attachment; filename="out (final).mp3"';
      const fromSdk = new URL(await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key, ResponseContentDisposition: disposition }), { expiresIn: 900, signingDate: now }));
      // The SDK adds x-id=GetObject to its own URLs; sign the same parameter set to compare signatures.
      const ours = new URL(presignGetObject({ base: new URL(`${s3.endpoint}/${BUCKET}`), region: s3.region, credentials, objectKey: Key, expiresSeconds: 900, now, query: { 'response-content-disposition': disposition, 'x-id': 'GetObject' } }));
      expect(ours.pathname).toBe(fromSdk.pathname);
      expect(Object.fromEntries(ours.searchParams)).toEqual(Object.fromEntries(fromSdk.searchParams));
    } finally {
      client.destroy();
    }
  });
});

describe('storage settings that cannot work', () => {
  const configError = (overrides: Partial<Config>, env: Record<string, string> = {}) => {
    try {
      loadConfig(overrides, env);
    } catch (err) {
      expect(err).toBeInstanceOf(HookwaveError);
      expect((err as HookwaveError).code).toBe('VALIDATION_ERROR');
      return (err as Error).message;
    }
    throw new Error('no error');
  };

  it('names the setting at fault before anything starts', () => {
    expect(configError({ storage: 's3' })).toMatch(/HOOKWAVE_STORAGE=s3 needs HOOKWAVE_S3_BUCKET/);
    expect(configError({}, { HOOKWAVE_S3_BUCKET: 'b' })).toMatch(/HOOKWAVE_S3_BUCKET is set but HOOKWAVE_STORAGE is local/);
    expect(configError({}, { HOOKWAVE_S3_PRESIGN: 'true' })).toMatch(/HOOKWAVE_S3_PRESIGN is set but HOOKWAVE_STORAGE is local/);
    expect(configError({}, { HOOKWAVE_STORAGE: 'nfs' })).toMatch(/HOOKWAVE_STORAGE must be local\|s3, got "nfs"/);
    expect(configError({ storage: 's3', s3Bucket: 'b/sub' })).toMatch(/use HOOKWAVE_S3_PREFIX for a folder/);
    expect(configError({ storage: 's3', s3Bucket: 'b', s3Endpoint: 'minio:9000' })).toMatch(/HOOKWAVE_S3_ENDPOINT must be an http\(s\) URL/);
    expect(configError({ storage: 's3', s3Bucket: 'b', s3Prefix: '/abs' })).toMatch(/HOOKWAVE_S3_PREFIX must be a relative key prefix/);
    expect(configError({ storage: 's3', s3Bucket: 'b', s3PartSize: MIB })).toMatch(/HOOKWAVE_S3_PART_SIZE must be whole bytes between 5 MiB and 5 GiB/);
    expect(configError({ storage: 's3', s3Bucket: 'b', s3Presign: true, fileUrlTtl: 8 * 24 * 3600 })).toMatch(/at most 604800 s \(7 days\)/);

    const env = configFromEnv({ HOOKWAVE_STORAGE: 's3', HOOKWAVE_S3_BUCKET: 'b', HOOKWAVE_S3_ENDPOINT: 'http://127.0.0.1:9000', HOOKWAVE_S3_REGION: 'eu-west-3', HOOKWAVE_S3_PREFIX: 'hw', HOOKWAVE_S3_FORCE_PATH_STYLE: '1', HOOKWAVE_S3_PRESIGN: 'true', HOOKWAVE_S3_PART_SIZE: String(8 * MIB) });
    expect(loadConfig(env, {})).toMatchObject({ storage: 's3', s3Bucket: 'b', s3Endpoint: 'http://127.0.0.1:9000', s3Region: 'eu-west-3', s3Prefix: 'hw/', s3ForcePathStyle: true, s3Presign: true, s3PartSize: 8 * MIB });
  });

  it('fails at start, saying why, when the bucket is missing, the credentials are refused or the endpoint is down', async () => {
    const startError = async (overrides: Partial<Config>) => {
      const err = await startService(overrides).then(
        async (svc) => {
          await svc.close();
          return null;
        },
        (e: unknown) => e as HookwaveError,
      );
      expect(err).toBeInstanceOf(HookwaveError);
      return err!.message;
    };
    expect(await startError({ ...s3Settings(false), s3Bucket: 'no-such-bucket' })).toMatch(/bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+/);

    setEnv({ AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    try {
      expect(await startError(s3Settings(true))).toMatch(/refused these credentials for bucket "hookwave-files" \(HTTP 403\)/);
    } finally {
      setEnv({ AWS_SECRET_ACCESS_KEY: s3.secretAccessKey });
    }

    const down = await startS3Server();
    const downEndpoint = down.endpoint;
    await down.close();
    expect(await startError({ ...s3Settings(false), s3Endpoint: downEndpoint })).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });
});

/**
 * The point of a bucket: an API and a worker on different machines, sharing nothing but the
 * database and the bucket. On PostgreSQL each process has its own data directory; SQLite is one
 * file, so there the two processes share the directory that holds it, and the bucket holds the files.
 */
describe('an API process and a worker process that share only the database and the bucket', () => {
  let db: TestDatabase;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let key: string;
  let apiDir: string;
  let workerDir: string;

  beforeAll(async () => {
    db = freshDatabase();
    apiDir = tempDir();
    workerDir = usePostgres ? tempDir() : apiDir;
    const common = { ...db.env, HOOKWAVE_DEV: '1', HOOKWAVE_POLL_INTERVAL_MS: '200' };
    const created = runCli(['keys', 'create', '--tenant', 'acme', '--json'], { ...common, HOOKWAVE_DATA_DIR: apiDir });
    expect(created.status, created.stderr).toBe(0);
    key = (JSON.parse(created.stdout) as { key: string }).key;
    const storage = {
      HOOKWAVE_STORAGE: 's3',
      HOOKWAVE_S3_BUCKET: BUCKET,
      HOOKWAVE_S3_ENDPOINT: s3.endpoint,
      HOOKWAVE_S3_REGION: s3.region,
      HOOKWAVE_S3_PREFIX: 'split/',
      HOOKWAVE_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    [api, worker] = await Promise.all([
      spawnService(['--role', 'api'], { ...common, ...storage, HOOKWAVE_DATA_DIR: apiDir }),
      spawnService(['--role', 'worker'], { ...common, ...storage, HOOKWAVE_DATA_DIR: workerDir }),
    ]);
  }, 60_000);
  afterAll(async () => {
    for (const p of [api, worker]) {
      if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      await p?.exited;
    }
    await db?.drop();
  });

  it('serves, from the API, the output the worker stored', async () => {
    const created = await callApi(api.url, key, 'POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'flac' }] });
    expect(created.status).toBe(202);
    const task = await until(
      'the task to end',
      async () => {
        const t = (await callApi(api.url, key, 'GET', `/v1/tasks/${created.body.task_id}`)).body;
        return (t.status === 'completed' || t.status === 'failed') && t;
      },
      30_000,
      50,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\napi:\n${api.logs.join('\n')}\nworker:\n${worker.logs.join('\n')}`);
    });
    expect(task.status, JSON.stringify(task.targets[0].error)).toBe('completed');
    const out = task.targets[0].outputs[0];
    const stored = s3.keys(BUCKET).filter((k) => k.startsWith('split/') && k.includes(task.id));
    expect(stored).toHaveLength(1);
    const got = await download(out.url, { range: 'bytes=0-3' });
    expect(got.status).toBe(206);
    expect(got.bytes.toString('latin1')).toBe('fLaC');
    expect(fs.existsSync(path.join(apiDir, 'files'))).toBe(false);
    expect(fs.existsSync(path.join(workerDir, 'files'))).toBe(false);
    // The worker wrote the object, the API read it: each with its own signed requests.
    const ops = s3.log.filter((l) => l.key === stored[0]).map((l) => `${l.operation}:${l.status}`);
    expect(ops).toEqual(['PutObject:200', 'HeadObject:200', 'GetObject:206']);
  });
});
