/**
 * Reads what an output's own header says for the two formats that state it exactly (WAV's fmt and
 * data chunks, FLAC's STREAMINFO), so describing such an output needs no ffprobe process: with a
 * dynamically linked ffmpeg each process start costs ~90 ms of CPU, a third of a short task. Every
 * other format, or a header we do not fully understand, answers null and the caller asks ffprobe.
 */
import { open } from 'node:fs/promises';

export interface HeaderFacts {
  /** Seconds of audio. */
  duration: number;
  /** Bits per second, as ffprobe reports it (the codec's rate for PCM, file size over duration for FLAC). */
  bitrate: number;
  sampleRate: number;
  channels: number;
}

/** ffmpeg writes its encoder tag before the data chunk; anything beyond this is not a header we wrote. */
const HEAD_BYTES = 4096;

export async function readOutputHeader(path: string, format: string, fileSize: number): Promise<HeaderFacts | null> {
  if (format !== 'wav' && format !== 'flac') return null;
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(HEAD_BYTES, fileSize));
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    return format === 'wav' ? wavFacts(head, fileSize) : flacFacts(head, fileSize);
  } finally {
    await file.close();
  }
}

const PCM = 1;
const EXTENSIBLE = 0xfffe;

function wavFacts(b: Buffer, fileSize: number): HeaderFacts | null {
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE') return null;
  let fmt: { channels: number; sampleRate: number; byteRate: number; blockAlign: number; bits: number } | null = null;
  for (let at = 12; at + 8 <= b.length; ) {
    const id = b.toString('latin1', at, at + 4);
    const size = b.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ') {
      if (body + 16 > b.length) return null;
      const tag = b.readUInt16LE(body);
      if (tag !== PCM && tag !== EXTENSIBLE) return null;
      fmt = { channels: b.readUInt16LE(body + 2), sampleRate: b.readUInt32LE(body + 4), byteRate: b.readUInt32LE(body + 8), blockAlign: b.readUInt16LE(body + 12), bits: b.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      // A size of 0 or 0xFFFFFFFF is a stream that was never finalised (or RF64): ask ffprobe.
      if (!fmt || size === 0 || size === 0xffffffff || body + size > fileSize) return null;
      if (!fmt.channels || !fmt.sampleRate || !fmt.blockAlign || fmt.byteRate !== fmt.sampleRate * fmt.blockAlign) return null;
      return {
        duration: micro(Math.floor(size / fmt.blockAlign) / fmt.sampleRate),
        bitrate: fmt.sampleRate * fmt.channels * fmt.bits,
        sampleRate: fmt.sampleRate,
        channels: fmt.channels,
      };
    }
    at = body + size + (size % 2); // chunks are padded to even sizes
  }
  return null;
}

const STREAMINFO = 0;

function flacFacts(b: Buffer, fileSize: number): HeaderFacts | null {
  // "fLaC", then the first metadata block, which must be STREAMINFO (34 bytes).
  if (b.length < 8 + 34 || b.toString('latin1', 0, 4) !== 'fLaC' || (b[4]! & 0x7f) !== STREAMINFO || b.readUIntBE(5, 3) !== 34) return null;
  const si = 8;
  // Bytes 10..17 of STREAMINFO: sample rate (20 bits), channels - 1 (3), bits - 1 (5), total samples (36).
  const sampleRate = (b[si + 10]! << 12) | (b[si + 11]! << 4) | (b[si + 12]! >> 4);
  const channels = ((b[si + 12]! >> 1) & 0x07) + 1;
  const totalSamples = (b[si + 13]! & 0x0f) * 2 ** 32 + b.readUInt32BE(si + 14);
  // Zero samples means the encoder could not seek back to fill it in: unknown, not empty.
  if (!sampleRate || totalSamples === 0) return null;
  const duration = totalSamples / sampleRate;
  // What libavformat derives for a container without a bit rate: file size over the duration
  // in microseconds, rounded.
  const durationUs = Math.round(duration * 1e6);
  return { duration: micro(duration), bitrate: Math.round((fileSize * 8 * 1e6) / durationUs), sampleRate, channels };
}

/** ffprobe prints durations to the microsecond; the API has always shown them so. */
const micro = (seconds: number): number => Math.round(seconds * 1e6) / 1e6;
