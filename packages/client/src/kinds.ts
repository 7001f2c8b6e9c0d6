/**
 * Requests per kind: what `targets` and `params` the built-in engines take, so an editor completes
 * `format: 'mp3'` and the compiler refuses `format: 'mp4'` before the server has to. A kind served
 * by a model server the operator configured stays open (`Record<string, unknown>`): the client
 * cannot know its schema; `hw.kinds.list()` reads it from the server.
 *
 * Written by hand from the engines' JSON schemas (src/engines/ of the server);
 * test/client-kinds.test.ts holds every property, enum and presence here to the schemas
 * GET /v1/kinds publishes.
 */
import type { EventType, LoudnessTarget, TaskInput } from './types.js';

export const BUILT_IN_KINDS = ['extract', 'stems', 'generate'] as const;
export type BuiltInKind = (typeof BUILT_IN_KINDS)[number];

/** Containers/codecs every built-in kind writes. */
export const AUDIO_FORMATS = ['mp3', 'wav', 'flac', 'ogg', 'opus', 'm4a'] as const;
export type AudioFormat = (typeof AUDIO_FORMATS)[number];

/** Output sample rates, Hz (a format may accept fewer: mp3 and opus stop at 48 kHz). */
export const SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000] as const;
export type SampleRate = (typeof SAMPLE_RATES)[number];

export const STEMS = ['vocals', 'instrumental', 'drums', 'bass', 'other'] as const;
export type Stem = (typeof STEMS)[number];

/** How stems separates: `model`, the learned separator (the default; better on every stem), or `fast`, median-filter DSP, several times cheaper, for previews. */
export const STEM_METHODS = ['model', 'fast'] as const;
export type StemMethod = (typeof STEM_METHODS)[number];

/** Bits per second (8000..512000), or kilobits as "192k". Lossy formats only. */
export type Bitrate = number | `${number}k`;

/** An encoded audio output: what every built-in kind's targets have in common. */
export interface AudioTarget {
  format: AudioFormat;
  /** Output name, `[A-Za-z0-9._-]{1,64}`; unique within the task. */
  name?: string;
  bitrate?: Bitrate;
  sample_rate?: SampleRate;
  channels?: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
  /** Normalise the output to this loudness (EBU R128); the output's `loudness` says what it measures. */
  loudness?: LoudnessTarget;
}

/** kind "extract": the input's first audio stream, re-encoded. `name` defaults to the format. */
export type ExtractTarget = AudioTarget;

/** kind "stems": one stem of the input mix. `name` defaults to the stem. */
export interface StemsTarget extends AudioTarget {
  stem: Stem;
  /** Defaults to 1 for mono input, else 2. */
  channels?: 1 | 2;
}

/** kind "stems"'s task-level params. */
export interface StemsParams {
  /** Default `model`. */
  method?: StemMethod;
}

/** kind "generate": one rendering of the generated piece. */
export interface GenerateTarget extends AudioTarget {
  /** Default 2. */
  channels?: 1 | 2;
}

/** kind "generate"'s task-level params; every one has a default. */
export interface GenerateParams {
  /** Comma-separated tags: a genre, instruments and feel, e.g. "lofi, electric piano, vinyl crackle, chill". At most 1000 characters. */
  prompt?: string;
  /** Seconds, 1..600 (default 30). */
  duration?: number;
  /** Quarter notes per minute, 40..240 (default: from the genre). */
  bpm?: number;
  /** e.g. "A minor", "C# major", "Eb minor". */
  keyscale?: string;
  /** Beats per bar, 2..12 (default 4, or 3 for "waltz"). */
  timesignature?: number;
  /** 0..4294967295: the same seed and params give the same file. */
  seed?: number;
}

/** A task's input: a URL to fetch, or an upload made with `uploads.create` — one of them. */
export type InputSource = { url: string; upload_id?: never } | { upload_id: string; url?: never };

/** What every task request has, whatever its kind. */
export interface TaskRequestBase {
  /** Where this task's webhooks go (signed with the account's webhook secret), besides registered endpoints. */
  webhook_url?: string | null;
  /** Which events go to `webhook_url`; all by default. */
  webhook_events?: EventType[];
  /** Echoed back on the task and in its webhooks. */
  metadata?: Record<string, unknown> | null;
  title?: string | null;
  /** ISO 8601 time: canceled with DEADLINE_EXCEEDED if not ended by then. */
  deadline?: string;
}

/** Params of a kind that takes none. */
export type NoParams = Record<string, never>;

export interface ExtractTaskRequest extends TaskRequestBase {
  kind: 'extract';
  input: InputSource;
  targets: ExtractTarget[];
  params?: NoParams;
}

export interface StemsTaskRequest extends TaskRequestBase {
  kind: 'stems';
  input: InputSource;
  targets: StemsTarget[];
  params?: StemsParams;
}

export interface GenerateTaskRequest extends TaskRequestBase {
  kind: 'generate';
  /** Generators take no input. */
  input?: never;
  targets: GenerateTarget[];
  params?: GenerateParams;
}

/** A kind a model server serves: its targets and params are whatever its schemas (GET /v1/kinds) say. */
export interface ExternalTaskRequest<K extends string = string> extends TaskRequestBase {
  kind: K;
  input?: TaskInput;
  targets: Array<Record<string, unknown>>;
  params?: Record<string, unknown>;
}

interface BuiltInTaskRequests {
  extract: ExtractTaskRequest;
  stems: StemsTaskRequest;
  generate: GenerateTaskRequest;
}

/**
 * The request for kind K: a built-in kind's own type, or an open one for any other kind. A union of
 * kinds gives a union of requests, each told apart by its `kind`.
 */
export type TaskRequest<K extends string = BuiltInKind> = K extends BuiltInKind ? BuiltInTaskRequests[K] : ExternalTaskRequest<K>;
