/** The kinds this installation serves. Adding a kind: write an Engine, add it here. */
import type { JsonSchema } from '../schema/json-schema.js';
import type { Engine } from './engine.js';
import { extractEngine } from './extract.js';
import { generateEngine } from './generate.js';
import { stemsEngine } from './stems.js';

export class EngineRegistry {
  private readonly engines = new Map<string, Engine>();

  /** Throws when two engines claim one kind: the later one would silently take over the earlier one's tasks. */
  constructor(engines: Engine[]) {
    for (const e of engines) {
      const existing = this.engines.get(e.kind);
      if (existing) {
        const where = (x: Engine) => x.source ?? `the built-in "${x.kind}" engine`;
        throw new Error(`two engines serve kind "${e.kind}": ${where(existing)} and ${where(e)}; every kind needs its own name`);
      }
      this.engines.set(e.kind, e);
    }
  }

  get(kind: string): Engine | undefined {
    return this.engines.get(kind);
  }

  kinds(): string[] {
    return [...this.engines.keys()];
  }

  all(): Engine[] {
    return [...this.engines.values()];
  }

  /** What GET /v1/kinds publishes: every kind with what a client needs to build a request for it. */
  describe(): KindDescription[] {
    return this.all().map((e) => ({
      kind: e.kind,
      description: e.description,
      needs_input: e.needsInput,
      built_in: e.source === undefined,
      target_schema: e.targetSchema,
      params_schema: e.paramsSchema,
    }));
  }
}

export interface KindDescription {
  kind: string;
  description: string;
  needs_input: boolean;
  /** False for a model server configured in HOOKWAVE_EXTERNAL_ENGINES (its address is not published). */
  built_in: boolean;
  target_schema: JsonSchema;
  params_schema: JsonSchema;
}

export function builtinEngines(): EngineRegistry {
  return new EngineRegistry([extractEngine, stemsEngine, generateEngine]);
}
