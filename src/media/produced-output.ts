import type { Loudness } from './loudness.js';

/** What an engine produced for one target: a file on local disk plus what ffprobe says about it. */
export interface ProducedOutput {
  /** Output name shown to users, e.g. "vocals" or "audio". */
  name: string;
  /** Container/codec family: mp3, wav, flac, ogg, opus, m4a. */
  format: string;
  /** Absolute path of the finished file inside `EngineRunContext.outDir`. */
  path: string;
  size: number;
  duration: number | null;
  bitrate: number | null;
  sample_rate: number | null;
  channels: number | null;
  /** EBU R128 loudness of the file as ffmpeg's ebur128 measures it; null when it could not be measured. */
  loudness: Loudness | null;
  /** Waveform peaks (media/peaks.ts); null when they could not be measured. */
  peaks: number[] | null;
}
