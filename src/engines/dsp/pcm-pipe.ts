/**
 * Raw float PCM through ffmpeg pipes: a decoder whose stdout we read and an encoder whose stdin we write with
 * backpressure. Audio never sits in memory as a whole track; either process failing, or the abort signal,
 * kills both, and nothing settles before both have exited (so a canceled run leaves no ffmpeg behind).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { endianness } from 'node:os';
import { HookwaveError } from '../../errors.js';
import { AnalysisReader, ffmpegFailure, ffmpegPath, inlineAnalysisArgs, STDERR_TAIL_CHARS, type AudioAnalysis } from '../../media/ffmpeg.js';

/** Every in-process DSP stage works on interleaved stereo float32 at this rate. */
export const PCM_RATE = 44100;
export const PCM_CHANNELS = 2;
const BYTES_PER_FRAME = 4 * PCM_CHANNELS;
const RAW = ['-f', 'f32le', '-ar', String(PCM_RATE), '-ac', String(PCM_CHANNELS)];

// f32le bytes are read straight into Float32Arrays; a big-endian host would need byte swapping.
if (endianness() !== 'LE') throw new Error('hookwave DSP engines need a little-endian host');


class FfmpegProcess {
  readonly child: ChildProcess;
  readonly closed: Promise<void>;
  private stderrTail = '';
  private spawnError: Error | null = null;
  private code: number | null = null;
  private signalName: NodeJS.Signals | null = null;
  /** Set when we killed it, so its death is not mistaken for the cause of a failure. */
  private killedByUs = false;

  /**
   * `analysis`: the process also writes 16-bit stereo PCM to pipe:3 for it, and logs at info level, where the
   * measuring filters print what they found when they close (see `log`).
   */
  constructor(
    readonly role: 'decoder' | 'encoder',
    args: string[],
    analysis?: AnalysisReader,
  ) {
    const stdio: ['pipe' | 'ignore', 'pipe' | 'ignore', 'pipe', 'pipe' | 'ignore'] = [
      role === 'decoder' ? 'ignore' : 'pipe',
      role === 'decoder' ? 'pipe' : 'ignore',
      'pipe',
      analysis ? 'pipe' : 'ignore',
    ];
    this.child = spawn(ffmpegPath(), ['-nostdin', '-hide_banner', '-loglevel', analysis ? 'info' : 'error', ...args], { stdio });
    if (analysis) (this.child.stdio[3] as NodeJS.ReadableStream).on('data', analysis.onPcm);
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    this.child.on('error', (err) => {
      this.spawnError = err;
    });
    // 'close' rather than 'exit': the pipes are drained too, so the caller sees every byte before settling.
    this.closed = new Promise((resolve) => {
      this.child.on('close', (code, sig) => {
        this.code = code;
        this.signalName = sig;
        resolve();
      });
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.killedByUs = true;
      this.child.kill('SIGKILL');
    }
  }

  /** Exited through our kill rather than by itself (it may have exited with its own error before the kill landed). */
  diedByOurHand(): boolean {
    return this.killedByUs && this.code === null;
  }

  /** The end of its log (the last STDERR_TAIL_CHARS characters). */
  log(): string {
    return this.stderrTail;
  }

  /** After `closed`: why it failed, or null when it exited cleanly (or because we killed it). */
  failure(): HookwaveError | null {
    if (this.spawnError) return new HookwaveError('ENGINE_FAILED', `could not start ffmpeg: ${this.spawnError.message}`);
    if (this.code === 0 || this.diedByOurHand()) return null;
    return ffmpegFailure(`ffmpeg ${this.role}`, this.code, this.signalName, this.stderrTail);
  }
}

export interface PcmPipelineOptions {
  /**
   * Decoder input options (e.g. `['-i', path, '-vn', '-map', '0:a:0']`), or null when the PCM is made in-process.
   * Its output is always interleaved stereo f32le at PCM_RATE.
   */
  decoderArgs: string[] | null;
  /**
   * Encoder output options and path; its input is interleaved stereo f32le at PCM_RATE on stdin. Null when
   * the body keeps what it makes itself (io.write then refuses).
   */
  encoderArgs: string[] | null;
  signal: AbortSignal;
}

export interface MeasuredPcmPipelineOptions extends PcmPipelineOptions {
  encoderArgs: string[];
  /**
   * The filter chain the encoder's args run (EncoderPlan.filters) when it writes a wav sample for sample
   * (EncoderPlan.analysableInline): the encoder then also measures what it writes, as inlineAnalysisArgs
   * says, and no second ffmpeg has to decode the file for describeOutput.
   */
  filters: readonly string[];
}

export interface PcmIo {
  /** Decoded bytes in arbitrary chunk sizes (see `pcmFrames`), or null without a decoder. */
  input: AsyncIterable<Buffer> | null;
  /**
   * Hands interleaved f32le bytes to the encoder; resolves once it can take more. The pipe keeps a reference
   * until the bytes are flushed, then calls `flushed` (to recycle the buffer); until then it must not change.
   */
  write(chunk: Buffer, flushed?: () => void): Promise<void>;
}

/** Longest stretch of synthesis or separation between two turns of the event loop. */
const YIELD_EVERY_MS = 20;

function canceled(): HookwaveError {
  return new HookwaveError('CANCELED', 'canceled');
}

/** Runs `body` between a decoder and an encoder; settles only after both processes are gone. */
export async function runPcmPipeline<T>(options: PcmPipelineOptions, body: (io: PcmIo) => Promise<T>): Promise<T> {
  return (await pipeline(options, body)).result;
}

/** runPcmPipeline, and the loudness and peaks of what the encoder wrote, measured in the encoding process. */
export async function runMeasuredPcmPipeline(options: MeasuredPcmPipelineOptions, body: (io: PcmIo) => Promise<void>): Promise<AudioAnalysis> {
  const analysis = new AnalysisReader();
  const { encoderLog } = await pipeline({ ...options, encoderArgs: [...options.encoderArgs, ...inlineAnalysisArgs(options.filters)] }, body, analysis);
  return analysis.finish(encoderLog);
}

/** `analysis`: the encoder measures what it writes (its last output is an analysis); `encoderLog` has what it found. */
async function pipeline<T>(options: PcmPipelineOptions, body: (io: PcmIo) => Promise<T>, analysis?: AnalysisReader): Promise<{ result: T; encoderLog: string }> {
  const { signal } = options;
  if (signal.aborted) throw canceled();
  const stop = new AbortController();
  const encoder = options.encoderArgs ? new FfmpegProcess('encoder', [...RAW, '-i', 'pipe:0', ...options.encoderArgs], analysis) : null;
  const decoder = options.decoderArgs ? new FfmpegProcess('decoder', [...options.decoderArgs, ...RAW, 'pipe:1']) : null;
  const procs = [decoder, encoder].filter((p): p is FfmpegProcess => p !== null);

  const halt = () => {
    if (!stop.signal.aborted) stop.abort();
    for (const p of procs) p.kill();
  };
  signal.addEventListener('abort', halt, { once: true });
  // A process dying early (bad input, encoder rejecting options) must not leave the other one waiting on a pipe.
  for (const p of procs) void p.closed.then(() => p.failure() && halt());

  const stdin = encoder?.child.stdin ?? null;
  // EPIPE when the encoder died; the failure itself is reported from its exit status.
  stdin?.on('error', halt);

  let lastYield = performance.now();
  const io: PcmIo = {
    input: decoder ? decoder.child.stdout! : null,
    async write(chunk, flushed) {
      if (stop.signal.aborted) throw stop.signal.reason;
      if (!stdin) throw new Error('this pipeline has no encoder to write to');
      const more = stdin.write(chunk, (err) => {
        if (!err) flushed?.();
      });
      if (!more) {
        await once(stdin, 'drain', { signal: stop.signal });
        lastYield = performance.now();
      } else if (performance.now() - lastYield > YIELD_EVERY_MS) {
        // A pipe with room never makes us wait, so a synthesiser could render a whole song in one
        // macrotask; this lets a cancel (and the thread's messages) in between.
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    },
  };

  let result: T | undefined;
  let bodyError: unknown = null;
  try {
    result = await body(io);
    stdin?.end();
  } catch (err) {
    bodyError = err;
    halt();
  }
  await Promise.all(procs.map((p) => p.closed));
  signal.removeEventListener('abort', halt);
  if (signal.aborted) throw canceled();
  // The decoder's complaint explains an encoder that saw a short stream, not the other way round.
  const failure = decoder?.failure() ?? encoder?.failure() ?? null;
  if (failure) throw failure;
  if (bodyError) throw bodyError;
  if (procs.some((p) => p.diedByOurHand())) throw new HookwaveError('ENGINE_FAILED', 'ffmpeg stopped unexpectedly');
  return { result: result as T, encoderLog: encoder?.log() ?? '' };
}

/**
 * Whole interleaved stereo frames from a byte stream whose chunks may split a sample. Each yielded array is a
 * view into one reused buffer, valid until the next iteration.
 */
export async function* pcmFrames(input: AsyncIterable<Buffer>): AsyncGenerator<Float32Array> {
  let staging = new Uint8Array(1 << 17);
  let carry = 0;
  for await (const chunk of input) {
    const total = carry + chunk.length;
    if (total > staging.length) {
      const bigger = new Uint8Array(total * 2);
      bigger.set(staging.subarray(0, carry));
      staging = bigger;
    }
    staging.set(chunk, carry);
    const whole = total - (total % BYTES_PER_FRAME);
    if (whole > 0) yield new Float32Array(staging.buffer, 0, whole / 4);
    carry = total - whole;
    staging.copyWithin(0, whole, total);
  }
}

/**
 * Collects interleaved stereo float output into buffers of a fixed size for the encoder pipe, so a write is
 * a few hundred kilobytes rather than one hop; `take` hands over the full ones. Buffers come back through
 * `recycle` once the pipe has flushed them, so a long track churns no memory for the garbage collector.
 */
export class PcmBatcher {
  private current: Float32Array;
  private fill = 0;
  private full: Buffer[] = [];
  private readonly pool: ArrayBuffer[] = [];

  constructor(private readonly framesPerBuffer = 16384) {
    this.current = this.fresh();
  }

  /** Appends `frames` interleaved frames from `data` starting at frame `from`. */
  push(data: Float32Array, from: number, frames: number): void {
    let src = from * PCM_CHANNELS;
    let left = frames * PCM_CHANNELS;
    while (left > 0) {
      const n = Math.min(left, this.current.length - this.fill);
      this.current.set(data.subarray(src, src + n), this.fill);
      this.fill += n;
      src += n;
      left -= n;
      if (this.fill === this.current.length) this.rotate();
    }
  }

  /** Full buffers so far, plus the partial one when `flush`. */
  take(flush = false): Buffer[] {
    if (flush && this.fill > 0) this.rotate();
    const out = this.full;
    this.full = [];
    return out;
  }

  /** Gives back a buffer from `take` that the pipe no longer holds. */
  recycle(buf: Buffer): void {
    if (buf.buffer.byteLength === this.framesPerBuffer * PCM_CHANNELS * 4 && this.pool.length < 8) this.pool.push(buf.buffer as ArrayBuffer);
  }

  private fresh(): Float32Array {
    const reused = this.pool.pop();
    return reused ? new Float32Array(reused) : new Float32Array(this.framesPerBuffer * PCM_CHANNELS);
  }

  private rotate(): void {
    this.full.push(Buffer.from(this.current.buffer, 0, this.fill * 4));
    // Never the array just handed over: the pipe holds it until flushed.
    this.current = this.fresh();
    this.fill = 0;
  }
}
