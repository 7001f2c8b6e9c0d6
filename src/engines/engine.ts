/**
 * One interface for every kind of audio work: built-in ffmpeg/DSP engines and external model servers.
 * Adding a kind is one file that exports an Engine, plus one line in registry.ts.
 */
import type { ProducedOutput } from '../media/produced-output.js';
import type { JsonSchema } from '../schema/json-schema.js';
import type { OutputEstimate, OutputLimits } from './output-limits.js';

export type { ProducedOutput };

/** A target as the client asked for it, after validation against the engine's `targetSchema`. */
export type TargetSpec = Record<string, unknown>;

export interface EngineInput {
  /** Absolute path of the downloaded or uploaded input file on local disk (null without input, or with `inputAccess: 'url'`). */
  path: string | null;
  /**
   * A folder that lives as long as this input's local copy, shared by the task's targets that run in this
   * process (threads included): where one target leaves work the others can reuse (stems separates a
   * track once for all of them). Null without a local input.
   */
  sharedDir?: string | null;
}

export interface EngineRunContext {
  taskId: string;
  targetId: string;
  input: EngineInput;
  /** A URL another machine can fetch the input from (the task's input URL, or a signed URL of its upload); for engines that hand work to a server. */
  inputUrl: string | null;
  /** Task-level params (validated against `paramsSchema`). */
  params: Record<string, unknown>;
  /** This target's spec (validated against `targetSchema`). */
  target: TargetSpec;
  /** Every target of the task, this one included: an engine that does several targets' work in one pass plans for all. */
  taskTargets?: TargetSpec[];
  /** The target's name (from `targetName`). */
  targetName: string;
  /** Empty directory reserved for this run's outputs. */
  outDir: string;
  /** Aborted when the task is canceled or the worker shuts down; engines must stop promptly (kill ffmpeg). */
  signal: AbortSignal;
  /** Report progress 0..1; cheap to call often (the worker throttles writes). */
  progress: (fraction: number) => void;
  /** What one output may cost (the configured caps; DEFAULT_OUTPUT_LIMITS when not given). */
  limits?: OutputLimits;
}

export interface EngineResult {
  outputs: ProducedOutput[];
  /** Seconds of audio processed or produced; the basis of the target's cost. */
  duration: number | null;
  /** Facts worth reporting on the target (e.g. the seed a generator used). */
  info?: Record<string, unknown>;
}

export interface Engine {
  /** The task `kind` this engine serves. */
  readonly kind: string;
  readonly description: string;
  /** Whether a task of this kind needs an `input`. */
  readonly needsInput: boolean;
  /**
   * How `run` reaches the input: 'file' (the default) has the worker download or copy it to local disk first,
   * under the local size limit; 'url' is for engines that only hand `inputUrl` to another machine, which
   * fetches it itself, so a local copy would be wasted disk, time and a limit meant for local work.
   */
  readonly inputAccess?: 'file' | 'url';
  /** Where this engine was defined, for startup errors (e.g. a config entry); built-ins leave it out. */
  readonly source?: string;
  /** JSON schema of one entry of `targets`. */
  readonly targetSchema: JsonSchema;
  /** JSON schema of the task-level `params` object. */
  readonly paramsSchema: JsonSchema;
  /** The name a target is known by (unique within a task). */
  /** Set by engines that read `taskTargets` (the worker loads them only for these). */
  plansAcrossTargets?: boolean;
  targetName(target: TargetSpec, index: number): string;
  /**
   * Extra checks that a schema cannot express. Return an error message naming the field
   * (relative to the target, e.g. "sample_rate 44100 is not supported by opus"), or null.
   */
  checkTarget?(target: TargetSpec): { field: string; message: string } | null;
  /**
   * What a target's output will cost, from what is known at submit (the input's duration when it
   * is an upload): lets a request be refused before any work when it would exceed the output caps.
   */
  estimateOutput?(target: TargetSpec, params: Record<string, unknown>, input: { duration: number | null }): OutputEstimate;
  run(ctx: EngineRunContext): Promise<EngineResult>;
}
