/**
 * hookwave submit <kind> [file-or-url] --target … [--wait] [--out DIR] [--no-download]
 *
 * A local file is uploaded first (POST /v1/uploads) and the task refers to it by upload_id. With
 * --wait the outputs are downloaded once the task ends, into --out or else ./<task id>, so waiting
 * always ends with the files at hand (signed URLs expire; a folder per task never mixes runs). The
 * task id is printed as soon as the task is stored, so an interrupted or timed-out wait never
 * loses it: the task keeps running and `hookwave submit` is not needed again to get its result.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { Hookwave, Task, TaskRequest, Upload } from '@hookwave/client';
import { follow, printSummary, type DownloadedFile } from '../follow.js';
import {
  EXIT,
  Interrupted,
  UsageError,
  barsWanted,
  clientFrom,
  collect,
  formatBytes,
  interruptSignal,
  multiBar,
  note,
  parseKeyValue,
  printJson,
  println,
  remote,
  type RemoteFlags,
} from '../shared.js';

interface SubmitFlags extends RemoteFlags {
  target: string[];
  param: string[];
  webhookUrl?: string;
  title?: string;
  metadata?: string;
  idempotencyKey?: string;
  wait?: boolean;
  out?: string;
  /** false with --no-download. */
  download: boolean;
  timeout?: string;
}

const EXAMPLES = `
Examples:
  hookwave submit extract ./interview.mov --target mp3 --target wav:name=master,sample_rate=48000 --wait --out ./audio
  hookwave submit extract ./song.flac -t ogg --wait          # downloads into ./task_…/
  hookwave submit extract https://example.com/talk.mp4 --target mp3:bitrate=192k --webhook-url https://my.app/hooks/hookwave
  hookwave submit extract ./song.flac -t ogg --json | jq -r .task_id
  hookwave submit stems ./song.mp3 -t vocals -t instrumental:format=mp3 --wait
  hookwave submit generate -p duration=30 -p prompt="warm synth pad" --wait   # mp3 unless -t says otherwise`;

const STEMS = ['vocals', 'instrumental', 'drums', 'bass', 'other'];

/** What a kind's targets default to where the command line leaves them out. */
const DEFAULTS: Record<string, { targets?: Array<Record<string, unknown>>; format?: string }> = {
  // A song with no --target is wanted as something to listen to.
  generate: { targets: [{ format: 'mp3' }] },
  // `-t vocals` is a stem, as lossless as the input allows unless a format is given.
  stems: { format: 'wav' },
};

/**
 * `mp3` → {format:"mp3"}; `wav:name=master,sample_rate=48000` → {format:"wav", name:"master",
 * sample_rate:48000}; `stem=vocals,format=wav` as is. For stems, `vocals` or `vocals:format=mp3`
 * name the stem.
 */
export function parseTarget(spec: string, kind = ''): Record<string, unknown> {
  const colon = spec.indexOf(':');
  const head = colon < 0 ? spec : spec.slice(0, colon);
  const out: Record<string, unknown> = {};
  let rest: string;
  if (head.includes('=')) {
    rest = spec;
  } else {
    if (!head.trim()) throw new UsageError(`--target "${spec}" needs a format before ":", e.g. wav:sample_rate=48000`);
    if (kind === 'stems' && STEMS.includes(head.trim())) out.stem = head.trim();
    else out.format = head.trim();
    rest = colon < 0 ? '' : spec.slice(colon + 1);
  }
  for (const pair of rest.split(',').filter((p) => p.trim() !== '')) {
    const [k, v] = parseKeyValue(pair, `--target "${spec}": option`);
    out[k] = v;
  }
  const fallback = DEFAULTS[kind]?.format;
  if (fallback && out.format === undefined) out.format = fallback;
  return out;
}

export function registerSubmit(program: Command): void {
  remote(program.command('submit'))
    .description('create a task from a local file (uploaded first) or a URL; with --wait follow its progress, then download the outputs')
    .argument('<kind>', 'kind of work, e.g. extract')
    .argument('[file-or-url]', 'a local file to upload, or an http(s) URL the server downloads')
    .option('-t, --target <spec>', 'an output to produce: FORMAT[:key=value,...] or key=value,... (repeatable)', collect, [])
    .option('-p, --param <key=value>', 'a task parameter (repeatable)', collect, [])
    .option('--webhook-url <url>', 'https URL that receives the signed task events')
    .option('--title <title>', 'a title to find the task by')
    .option('--metadata <json>', 'a JSON object echoed back in the task and its webhooks')
    .option('--idempotency-key <key>', 'makes retrying this command safe: the same key returns the same task')
    .option('-w, --wait', 'wait until the task ends, with a progress bar per target, then download the outputs (exit 3 if it fails or is canceled)')
    .option('-o, --out <dir>', 'download the outputs into DIR (implies --wait; default ./<task id>)')
    .option('--no-download', 'with --wait: leave the outputs on the server (their signed URLs are printed)')
    .option('--timeout <seconds>', 'with --wait: stop waiting after this long (the task keeps running; exit 1)')
    .addHelpText('after', EXAMPLES)
    .action(async (kind: string, input: string | undefined, flags: SubmitFlags) => {
      process.exitCode = await submit(kind, input, flags);
    });
}

async function submit(kind: string, input: string | undefined, flags: SubmitFlags): Promise<number> {
  const json = Boolean(flags.json);
  const targets = flags.target.length > 0 ? flags.target.map((t) => parseTarget(t, kind)) : (DEFAULTS[kind]?.targets ?? []);
  if (targets.length === 0) throw new UsageError(kind === 'stems' ? 'give at least one --target, e.g. -t vocals -t instrumental' : 'give at least one --target, e.g. --target mp3');
  const params = Object.fromEntries(flags.param.map((p) => parseKeyValue(p, '--param')));
  let metadata: Record<string, unknown> | undefined;
  if (flags.metadata !== undefined) {
    try {
      metadata = JSON.parse(flags.metadata) as Record<string, unknown>;
    } catch {
      throw new UsageError('--metadata must be a JSON object, e.g. \'{"order":42}\'');
    }
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw new UsageError('--metadata must be a JSON object');
  }
  let timeoutMs: number | undefined;
  if (flags.timeout !== undefined) {
    const s = Number(flags.timeout);
    if (!Number.isFinite(s) || s <= 0) throw new UsageError('--timeout must be a number of seconds above 0');
    timeoutMs = s * 1000;
  }
  const isUrl = input !== undefined && /^https?:\/\//i.test(input);
  if (input !== undefined && !isUrl) {
    const stat = await fsp.stat(input).catch(() => null);
    if (!stat?.isFile()) throw new UsageError(`"${input}" is neither an http(s) URL nor a file`);
  }
  if (flags.out !== undefined && !flags.download) throw new UsageError('--out and --no-download contradict each other: choose one');
  const wait = Boolean(flags.wait) || flags.out !== undefined;
  const client = clientFrom(flags);
  const interrupt = interruptSignal();
  let taskId: string | null = null;
  try {
    const body: TaskRequest<string> = { kind, targets };
    if (Object.keys(params).length > 0) body.params = params;
    if (flags.webhookUrl) body.webhook_url = flags.webhookUrl;
    if (flags.title) body.title = flags.title;
    if (metadata) body.metadata = metadata;
    let upload: Upload | null = null;
    if (input !== undefined) {
      if (isUrl) body.input = { url: input };
      else {
        upload = await uploadFile(client, input, json, interrupt.signal);
        body.input = { upload_id: upload.upload_id };
      }
    }
    const created = await client.tasks.create(body, { idempotencyKey: flags.idempotencyKey, signal: interrupt.signal });
    taskId = created.task_id;
    if (!wait) {
      if (json) printJson({ task_id: created.task_id, status: created.status, upload_id: upload?.upload_id ?? null });
      else println(`${created.task_id} ${created.status}`);
      return EXIT.OK;
    }
    if (!json) note(`${created.task_id} ${created.status} — waiting (Ctrl-C stops waiting, not the task)`);
    const task = await follow(client, created.task_id, { json, timeoutMs, signal: interrupt.signal });
    const dir = flags.download ? path.resolve(flags.out ?? task.id) : null;
    const files = dir ? await downloadOutputs(task, dir, json, interrupt.signal) : [];
    if (json) printJson({ task_id: task.id, status: task.status, task, out_dir: files.length > 0 ? dir : null, files });
    else printSummary(task, files, dir);
    return task.status === 'completed' ? EXIT.OK : EXIT.TASK_FAILED;
  } catch (err) {
    if (interrupt.signal.aborted && interrupt.signal.reason instanceof Interrupted) {
      note(taskId ? `stopped waiting; task ${taskId} keeps running (GET /v1/tasks/${taskId})` : 'interrupted; no task was created');
      return EXIT.INTERRUPTED;
    }
    throw err;
  } finally {
    interrupt.dispose();
  }
}

async function uploadFile(client: Hookwave, file: string, json: boolean, signal: AbortSignal): Promise<Upload> {
  const size = (await fsp.stat(file)).size;
  const name = path.basename(file);
  if (!barsWanted(json)) {
    if (!json) note(`uploading ${name} (${formatBytes(size)})`);
    const u = await client.uploads.create(file, { signal });
    if (!json) note(`uploaded ${name} as ${u.upload_id}`);
    return u;
  }
  const bars = multiBar(' upload {name} |{bar}| {percentage}% {sent}/{size}');
  const bar = bars.create(size, 0, { name, sent: formatBytes(0), size: formatBytes(size) });
  try {
    return await client.uploads.create(file, { signal, onProgress: (sent) => bar.update(sent, { sent: formatBytes(sent) }) });
  } finally {
    bars.stop();
  }
}

function safeFileName(name: string): string {
  const cleaned = path.basename(name).replace(/[^A-Za-z0-9._-]/g, '_');
  return cleaned && !/^\.+$/.test(cleaned) ? cleaned : 'output';
}

/** Downloads every output through its signed URL; each file appears under its final name only once complete. */
async function downloadOutputs(task: Task, dir: string, json: boolean, signal: AbortSignal): Promise<DownloadedFile[]> {
  const outputs = task.targets.flatMap((t) => t.outputs.map((o) => ({ target: t.name, o })));
  if (outputs.length === 0) return [];
  await fsp.mkdir(dir, { recursive: true });
  if (!json) note(`downloading ${outputs.length} output${outputs.length === 1 ? '' : 's'} into ${dir}${path.sep}`);
  const bars = barsWanted(json) ? multiBar(' download {name} |{bar}| {percentage}% {size}') : null;
  const used = new Set<string>();
  const files: DownloadedFile[] = [];
  try {
    for (const { target, o } of outputs) {
      // The server names files after the input (song-vocals.wav); older servers send no file_name.
      let fileName = safeFileName(o.file_name ?? `${o.name}.${o.format}`);
      if (used.has(fileName)) fileName = safeFileName(`${target}-${fileName}`);
      used.add(fileName);
      const dest = path.join(dir, fileName);
      const bar = bars?.create(o.size, 0, { name: fileName, size: formatBytes(o.size) });
      const res = await fetch(o.url, { signal });
      if (!res.ok || !res.body) throw new Error(`downloading ${fileName} failed: HTTP ${res.status} ${(await res.text().catch(() => '')).slice(0, 200)}`);
      let got = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          got += chunk.length;
          bar?.update(got);
          cb(null, chunk);
        },
      });
      const part = `${dest}.part`;
      try {
        await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), count, fs.createWriteStream(part), { signal });
        await fsp.rename(part, dest);
      } catch (err) {
        await fsp.rm(part, { force: true });
        throw err;
      }
      if (!bars && !json) note(`downloaded ${dest} (${formatBytes(got)})`);
      files.push({ target, name: o.name, format: o.format, path: path.resolve(dest), size: got });
    }
  } finally {
    bars?.stop();
  }
  return files;
}
