/**
 * What the SQLite area queries share: one cache of prepared statements per connection, `atomic`,
 * and the conversions between rows and SQLite's columns (JSON as text, booleans as 0/1).
 * Statements are synchronous better-sqlite3 calls; SqliteStore makes them async (ops/ops.ts).
 */
import type Database from 'better-sqlite3';
import type { AttemptRow, EndpointRow, OutputRow, TargetRow, TaskRow } from '../../domain/types.js';

export type Row = Record<string, unknown>;

export const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));
export const parse = <T>(v: unknown): T => (v === null || v === undefined ? (null as T) : (JSON.parse(v as string) as T));

export function taskFromRow(r: Row): TaskRow {
  return {
    ...(r as unknown as TaskRow),
    input: parse(r.input),
    params: parse(r.params),
    metadata: parse(r.metadata),
    webhook_events: parse(r.webhook_events),
    error: parse(r.error),
  };
}

export function endpointFromRow(r: Row): EndpointRow {
  return { ...(r as unknown as EndpointRow), events: parse(r.events), enabled: r.enabled === 1 };
}

export function attemptFromRow(r: Row): AttemptRow {
  return { ...(r as unknown as AttemptRow), request_headers: parse(r.request_headers), response_headers: parse(r.response_headers) };
}

export function targetFromRow(r: Row): TargetRow {
  return { ...(r as unknown as TargetRow), spec: parse(r.spec), info: parse(r.info), error: parse(r.error) };
}

export function outputFromRow(r: Row): OutputRow {
  return { ...(r as unknown as OutputRow), loudness: parse(r.loudness), peaks: parse(r.peaks) };
}

/** `SET a = @a, b = @b` for the keys present in a patch; JSON columns are serialised. */
export function patchSql(patch: object, jsonColumns: string[]): { set: string; values: Row } {
  const values: Row = {};
  const parts: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    parts.push(`${k} = @${k}`);
    values[k] = jsonColumns.includes(k) ? json(v) : v;
  }
  return { set: parts.join(', '), values };
}

/** One connection's prepared statements, shared by all its area queries: each SQL text is prepared once. */
export class Statements {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {}

  prepare(sql: string): Database.Statement {
    let st = this.cache.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.cache.set(sql, st);
    }
    return st;
  }
}

/** Base of the area queries: their helpers stay off the store, which exposes only the Ops names. */
export abstract class SqliteQueries {
  protected readonly db: Database.Database;

  constructor(private readonly statements: Statements) {
    this.db = statements.db;
  }

  protected s(sql: string): Database.Statement {
    return this.statements.prepare(sql);
  }

  /** Runs `fn` atomically: inside the caller's transaction if one is open, else in its own. */
  protected atomic<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn)();
  }
}
