/**
 * Thin, cancelable wrappers around the ffmpeg and ffprobe binaries.
 * The system binaries are preferred: the npm-bundled builds are from 2018 and lack newer codecs and fixes.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { HookwaveError } from '../errors.js';
import type { ProducedOutput } from './produced-output.js';
import { readOutputHeader, type HeaderFacts } from './output-header.js';
import { parseEbur128Summary, type Loudness } from './loudness.js';
import { PeakMeter } from './peaks.js';

export type ToolSource = 'configured' | 'system' | 'bundled';

export interface ToolLocation {
  path: string;
  source: ToolSource;
}

type Tool = 'ffmpeg' | 'ffprobe';

const require = createRequire(import.meta.url);
const located = new Map<Tool, ToolLocation>();

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

/**
 * Binaries the operator chose (HOOKWAVE_FFMPEG / HOOKWAVE_FFPROBE, through the config); null keeps
 * the search. A path that is not an executable stops startup instead of failing every target.
 */
export function useTools(paths: Record<Tool, string | null>): void {
  for (const name of ['ffmpeg', 'ffprobe'] as const) {
    const chosen = paths[name];
    if (chosen === null) continue;
    try {
      accessSync(chosen, constants.X_OK);
    } catch {
      throw new Error(`HOOKWAVE_${name.toUpperCase()} is "${chosen}", which is not an executable file`);
    }
    located.set(name, { path: chosen, source: 'configured' });
  }
}

function locate(name: Tool): ToolLocation {
  let found = located.get(name);
  if (!found) {
    const system = onPath(name);
    found = system ? { path: system, source: 'system' } : { path: (require(`@${name}-installer/${name}`) as { path: string }).path, source: 'bundled' };
    located.set(name, found);
  }
  return found;
}

export function ffmpegPath(): string {
  return locate('ffmpeg').path;
}

export function ffprobePath(): string {
  return locate('ffprobe').path;
}

/** Which binaries are in use, for the startup log. */
export function toolInfo(): Record<Tool, ToolLocation> {
  return { ffmpeg: locate('ffmpeg'), ffprobe: locate('ffprobe') };
}

/**
 * The demuxers an input may be opened with: real audio and video containers, nothing that reads
 * other files or devices. ffmpeg otherwise picks the demuxer by probing the content, so a 5-line
 * HLS playlist uploaded as song.mp3 would be followed to any readable file on the machine (another
 * tenant's output included); playlists (hls, dash), concat/ffconcat, sdp/rtp, image2 patterns,
 * lavfi and the like must never be chosen. A name matches any alias of a demuxer ("mov" covers
 * mov,mp4,m4a,3gp,3g2,mj2; "matroska" covers webm).
 */
export const INPUT_DEMUXERS = [
  // audio
  'aac', 'ac3', 'aiff', 'amr', 'amrnb', 'amrwb', 'ape', 'au', 'caf', 'dsf', 'dts', 'dtshd', 'eac3', 'flac', 'loas',
  'mlp', 'mp3', 'mpc', 'mpc8', 'ogg', 'tak', 'truehd', 'tta', 'voc', 'w64', 'wav', 'wv', 'xwma',
  // video containers that carry audio
  'asf', 'avi', 'flv', 'matroska', 'mov', 'mpeg', 'mpegts', 'mxf', 'nut', 'rm',
] as const;
const INPUT_DEMUXER_LIST = INPUT_DEMUXERS.join(',');

/**
 * ffmpeg/ffprobe options that open one untrusted file and nothing else: only the allowed demuxers,
 * only the file itself (the protocol list also stops a demuxer from reaching the network), and
 * the path given as a `file:` URL so no part of it can be read as a protocol or an image pattern.
 */
export function untrustedInput(path: string): string[] {
  return ['-protocol_whitelist', 'file,pipe', '-format_whitelist', INPUT_DEMUXER_LIST, '-i', `file:${path}`];
}

/** Formats that point at other files or streams: named in the message, so the user knows what to send instead. */
const REFERENCING_FORMATS = new Set(['hls', 'dash', 'concat', 'ffconcat', 'sdp', 'rtp', 'rtsp', 'image2', 'image2pipe', 'lavfi', 'webm_dash_manifest', 'mpjpeg', 'ffmetadata']);

/**
 * What a failed probe tells the user, as a sentence: never ffmpeg's raw stderr, which names paths
 * on this machine.
 */
function unreadable(stderr: string): HookwaveError {
  const refused = /\[([a-z0-9_]+)[^\]]*\] Format not on whitelist/.exec(stderr)?.[1];
  if (refused && REFERENCING_FORMATS.has(refused)) {
    return new HookwaveError('UNSUPPORTED_MEDIA', `input is a ${refused} file, which refers to other files or streams and is not accepted: send the audio or video file itself`, { format: refused });
  }
  if (refused) {
    return new HookwaveError('UNSUPPORTED_MEDIA', `input is in the ${refused} format, which is not accepted: send audio or video in a common container (mp3, wav, flac, ogg, m4a/mp4, webm/mkv, …)`, { format: refused });
  }
  return new HookwaveError('UNSUPPORTED_MEDIA', 'input is not a readable audio or video file: its contents are not in a known audio or video format');
}

export interface AudioStreamInfo {
  codec: string;
  sampleRate: number | null;
  channels: number | null;
  bitrate: number | null;
  duration: number | null;
}

export interface ProbeResult {
  formatName: string;
  duration: number | null;
  bitrate: number | null;
  size: number | null;
  /** The first audio stream, the one `-map 0:a:0` selects. */
  audio: AudioStreamInfo | null;
  /** True for real video streams; embedded cover art does not count. */
  hasVideo: boolean;
}

export interface ProbeOptions {
  signal?: AbortSignal;
  /** Throw NO_AUDIO_STREAM when the file has no audio (default true). */
  requireAudio?: boolean;
}

interface FfprobeJson {
  format?: { format_name?: string; duration?: string; bit_rate?: string; size?: string };
  streams?: Array<{
    codec_type?: string;
    codec_name?: string;
    sample_rate?: string;
    channels?: number;
    bit_rate?: string;
    duration?: string;
    disposition?: { attached_pic?: number };
  }>;
}

function num(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : null;
}

function positive(value: unknown): number | null {
  const n = num(value);
  return n ? n : null;
}

function bitrateOf(value: unknown): number | null {
  const n = num(value);
  // libvorbis files without a nominal bitrate report (uint32)-1 or -2.
  return n !== null && n > 0 && n < 0xfffffff0 ? n : null;
}

function canceled(): HookwaveError {
  return new HookwaveError('CANCELED', 'canceled');
}

export function probe(path: string, options: ProbeOptions | AbortSignal = {}): Promise<ProbeResult> {
  const { signal, requireAudio = true } = options instanceof AbortSignal ? { signal: options } : options;
  if (signal?.aborted) return Promise.reject(canceled());
  const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...untrustedInput(path)];
  return new Promise((resolve, reject) => {
    execFile(
      ffprobePath(),
      args,
      { signal, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (signal?.aborted) return reject(canceled());
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
          return reject(new HookwaveError('ENGINE_FAILED', `could not run ffprobe: ${err.message}`));
        }
        if (err) return reject(unreadable(stderr));
        let json: FfprobeJson;
        try {
          json = JSON.parse(stdout) as FfprobeJson;
        } catch {
          return reject(unreadable(''));
        }
        const streams = json.streams ?? [];
        if (!json.format || streams.length === 0) {
          return reject(new HookwaveError('UNSUPPORTED_MEDIA', 'input is not a readable audio or video file: it has no streams'));
        }
        const a = streams.find((s) => s.codec_type === 'audio');
        const result: ProbeResult = {
          formatName: json.format.format_name ?? 'unknown',
          duration: num(json.format.duration),
          bitrate: bitrateOf(json.format.bit_rate),
          size: num(json.format.size),
          audio: a
            ? {
                codec: a.codec_name ?? 'unknown',
                sampleRate: positive(a.sample_rate),
                channels: positive(a.channels),
                bitrate: bitrateOf(a.bit_rate),
                duration: num(a.duration) ?? num(json.format.duration),
              }
            : null,
          hasVideo: streams.some((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1),
        };
        if (requireAudio && !result.audio) {
          const kinds = [...new Set(streams.map((s) => s.codec_type ?? 'unknown'))].join(', ');
          return reject(new HookwaveError('NO_AUDIO_STREAM', `input has no audio stream (found: ${kinds})`));
        }
        // ffprobe "finds" 0 Hz, 0-channel mp3 streams in large random files; nothing can decode those.
        if (requireAudio && (!result.audio?.sampleRate || !result.audio.channels)) {
          const codec = result.audio?.codec ?? 'unknown';
          return reject(new HookwaveError('UNSUPPORTED_MEDIA', `input is not a readable audio or video file: no decodable ${codec} audio found`));
        }
        resolve(result);
      },
    );
  });
}

export interface RunFfmpegOptions {
  signal?: AbortSignal;
  /** Seconds of output written so far, from `-progress`. */
  onProgress?: (seconds: number) => void;
  /**
   * Log at info level and resolve with the end of ffmpeg's log: filters that measure (ebur128,
   * loudnorm) print what they found there, at info level, when they close.
   */
  report?: boolean;
  /** Receives what ffmpeg writes to `pipe:3` (decoded PCM an output option sends there). */
  onPcm?: (chunk: Buffer) => void;
}

export const STDERR_TAIL_CHARS = 8192;
const STDERR_TAIL_LINES = 5;

/**
 * ENGINE_FAILED for an ffmpeg that failed: a sentence for the user (ffmpeg's own words name paths
 * on this machine, so they stay out of it) and the stderr tail as `diagnostic`, for the log only
 * (HookwaveError's JSON carries code, message and details, never other fields).
 */
export function ffmpegFailure(role: string, code: number | null, sig: NodeJS.Signals | null, stderrTail: string): HookwaveError {
  const tail = stderrTail
    .split('\n')
    .map((l) => l.replace(/ @ 0x[0-9a-f]+\]/, ']').trim())
    .filter(Boolean)
    .slice(-STDERR_TAIL_LINES)
    .join('\n');
  const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
  const why = /Invalid data found|Error while decoding|corrupt|invalid frame/i.test(tail)
    ? ': the input is damaged or truncated partway through'
    : /No space left on device/.test(tail)
      ? ': the server ran out of disk space'
      : '';
  return Object.assign(new HookwaveError('ENGINE_FAILED', `${role} ${how}${why}`), { diagnostic: tail });
}

export function runFfmpeg(args: string[], options: RunFfmpegOptions = {}): Promise<string> {
  const { signal, onProgress, report = false, onPcm } = options;
  if (signal?.aborted) return Promise.reject(canceled());
  const fullArgs = ['-nostdin', '-hide_banner', '-loglevel', report ? 'info' : 'error', '-progress', 'pipe:1', '-nostats', ...args];
  return new Promise((resolve, reject) => {
    // stdout carries -progress, so PCM, when asked for, goes through a fourth pipe.
    const child = spawn(ffmpegPath(), fullArgs, { stdio: ['ignore', 'pipe', 'pipe', onPcm ? 'pipe' : 'ignore'] });
    const stdout = child.stdout!;
    const stderr = child.stderr!;
    if (onPcm) (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => onPcm(chunk));
    let stderrTail = '';
    let pending = '';
    let lastSeconds = -1;
    let spawnError: Error | null = null;

    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });

    stdout.setEncoding('utf8');
    stdout.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        // out_time_ms is also in microseconds (a long-standing ffmpeg misnomer); older builds only print it.
        const m = /^out_time_(?:us|ms)=(\d+)/.exec(line);
        if (!m || !onProgress) continue;
        const seconds = Number(m[1]) / 1e6;
        if (seconds > lastSeconds) {
          lastSeconds = seconds;
          onProgress(seconds);
        }
      }
    });
    stderr.setEncoding('utf8');
    stderr.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    child.on('error', (err) => {
      spawnError = err;
    });
    // 'close' (not 'exit') so the process is gone and its pipes drained before we settle.
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(canceled());
      if (spawnError) return reject(new HookwaveError('ENGINE_FAILED', `could not start ffmpeg: ${spawnError.message}`));
      if (code === 0) return resolve(report ? stderrTail : '');
      reject(ffmpegFailure('ffmpeg', code, sig, stderrTail));
    });
  });
}

/**
 * Describe a finished output file for the API: size from disk, the rest from the file's own header
 * where it states it exactly (wav, flac: the same numbers ffprobe gives, without a process), else
 * from ffprobe; its loudness and peaks from one decode pass (analyseAudio), unless the caller
 * analysed the very same file already (normalising does, to check it reached its target).
 */
export async function describeOutput(path: string, name: string, format: string, options: { signal?: AbortSignal; analysis?: AudioAnalysis } = {}): Promise<ProducedOutput> {
  const { size } = await stat(path);
  const facts = (await readOutputHeader(path, format, size)) ?? (await probedFacts(path));
  const { loudness, peaks } = options.analysis ?? (await analyseAudio(path, options.signal));
  return { name, format, path, size, duration: facts.duration, bitrate: facts.bitrate, sample_rate: facts.sampleRate, channels: facts.channels, loudness, peaks };
}

/** What one decode of a finished file tells: its loudness, and its waveform peaks. */
export interface AudioAnalysis {
  loudness: Loudness;
  peaks: number[];
}

const ANALYSIS_FILTER = 'ebur128=peak=true:framelog=verbose';
/** The analysed samples go on, as 16-bit stereo, to a side pipe for the peaks. */
const ANALYSIS_PIPE = ['-ac', '2', '-c:a', 'pcm_s16le', '-f', 's16le', 'pipe:3'];

/**
 * A file's loudness as ffmpeg's ebur128 filter measures it (integrated, loudness range, true peak
 * at 4x oversampling) and its waveform peaks (media/peaks.ts, from the same decoded samples, as
 * 16-bit stereo on a side pipe): one decode pass. The file is opened like any untrusted input,
 * since model servers' outputs are measured too.
 */
export function analyseAudio(path: string, signal?: AbortSignal): Promise<AudioAnalysis> {
  return runAnalysed([...untrustedInput(path), '-map', '0:a:0', '-af', ANALYSIS_FILTER, ...ANALYSIS_PIPE], { signal });
}

/**
 * A second output for an ffmpeg that encodes a 16-bit PCM wav, measuring what the wav is given: the same
 * filters and the same conversion to 16 bits, then analyseAudio's own. The file holds exactly those samples,
 * so the numbers are the ones analyseAudio would find in it, without another process decoding it again.
 * Only for an encode that does not resample (a resampler would run twice). `select` repeats the first
 * output's stream selection (-map, -t), which ffmpeg applies per output.
 */
export function inlineAnalysisArgs(filters: readonly string[], select: readonly string[] = []): string[] {
  return [...select, '-af', [...filters, 'aformat=sample_fmts=s16', ANALYSIS_FILTER].join(','), ...ANALYSIS_PIPE];
}

/** Runs ffmpeg whose last output is an analysis (analyseAudio's, or inlineAnalysisArgs' beside an encode). */
export async function runAnalysed(args: string[], options: Omit<RunFfmpegOptions, 'report' | 'onPcm'> = {}): Promise<AudioAnalysis> {
  const analysis = new AnalysisReader();
  const log = await runFfmpeg(args, { ...options, report: true, onPcm: analysis.onPcm });
  return analysis.finish(log);
}

/**
 * The node side of an analysis output (analyseAudio's, or inlineAnalysisArgs' beside an encode): takes the
 * 16-bit stereo PCM ffmpeg sends to pipe:3 for the peaks, and reads the loudness from its log at the end.
 */
export class AnalysisReader {
  private readonly meter = new PeakMeter(2);
  readonly onPcm = (chunk: Buffer): void => this.meter.write(chunk);

  /** `log`: the analysing process's log at info level, through its end (the ebur128 summary). */
  finish(log: string): AudioAnalysis {
    return { loudness: parseEbur128Summary(log), peaks: this.meter.finish() };
  }
}

async function probedFacts(path: string): Promise<Record<keyof HeaderFacts, number | null>> {
  const probed = await probe(path);
  const audio = probed.audio;
  return {
    duration: audio?.duration ?? probed.duration,
    bitrate: audio?.bitrate ?? probed.bitrate,
    sampleRate: audio?.sampleRate ?? null,
    channels: audio?.channels ?? null,
  };
}
