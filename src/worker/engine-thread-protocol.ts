/** The messages between the engine pool (engine-threads.ts) and an engine thread (engine-thread.ts). */
import type { EngineResult, EngineRunContext } from '../engines/engine.js';
import type { ErrorCode } from '../errors.js';

/** What the thread is started with. */
export interface ThreadSetup {
  tools: { ffmpeg: string | null; ffprobe: string | null };
  /** Directory of the stems model (spec.json, .onnx, .sha256); absent or null: the one shipped in the package. */
  stemsModel?: string | null;
}

/** The part of a run's context that crosses to the thread: plain data, no functions, no signal. */
export type ThreadRunContext = Omit<EngineRunContext, 'signal' | 'progress'>;

export type ThreadRequest =
  | { type: 'run'; id: number; kind: string; ctx: ThreadRunContext }
  | { type: 'abort'; id: number; reason: string };

export interface ThreadError {
  code: ErrorCode;
  message: string;
  details?: unknown;
  /** For the log only (ffmpeg's stderr, a stack): never shown to users. */
  diagnostic?: string;
}

export type ThreadReply =
  | { type: 'progress'; id: number; fraction: number }
  | { type: 'done'; id: number; result: EngineResult }
  | { type: 'failed'; id: number; error: ThreadError };
