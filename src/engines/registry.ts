/** The kinds this installation serves. Adding a kind: write an Engine, add it here. */
import type { Engine } from './engine.js';
import { extractEngine } from './extract.js';
import { generateEngine } from './generate.js';
import { stemsEngine } from './stems.js';

export class EngineRegistry {
  private readonly engines = new Map<string, Engine>();

  constructor(engines: Engine[]) {
    for (const e of engines) this.engines.set(e.kind, e);
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
}

export function builtinEngines(): EngineRegistry {
  return new EngineRegistry([extractEngine, stemsEngine, generateEngine]);
}
