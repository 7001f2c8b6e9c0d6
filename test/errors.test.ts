/**
 * One error catalogue: src/errors.ts defines every code with its status and meaning, and nothing
 * else may drift from it. docs/errors.md lists exactly its codes with the same words, the served
 * OpenAPI document publishes exactly its codes, every code is raised somewhere in src/ (a code no
 * code path raises is a promise the API does not keep), and real answers carry its statuses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodeLine } from '../src/api/openapi.js';
import { ERROR_CATALOGUE, ERROR_CODES, type ErrorCode } from '../src/errors.js';
import { startService, type TestService } from './helpers/service.js';

const ROOT = path.resolve(import.meta.dirname, '..');

let svc: TestService;
beforeAll(async () => {
  svc = await startService();
});
afterAll(() => svc.close());

/** The rows of the table in docs/errors.md, cell by cell. */
function docRows(): string[][] {
  const text = fs.readFileSync(path.join(ROOT, 'docs/errors.md'), 'utf8');
  return text
    .split('\n')
    .filter((l) => /^\| `[A-Z_]+` \|/.test(l))
    .map((l) => l.slice(1, -1).split(' | ').map((c) => c.trim()));
}

/** Every .ts file under src/ except the catalogue itself and the SDK (the client raises nothing for the server). */
function serverSources(): Array<{ file: string; text: string }> {
  const src = path.join(ROOT, 'src');
  return fs
    .readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => f !== path.join(src, 'errors.ts') && !f.startsWith(path.join(src, 'sdk') + path.sep))
    .map((file) => ({ file: path.relative(ROOT, file), text: fs.readFileSync(file, 'utf8') }));
}

/**
 * Where a code is raised: `new HookwaveError('CODE'`, a stored error `{ code: 'CODE'` (worker,
 * cancel), Fastify's errors mapped to ours (`FST_ERR_…: ['CODE'`), or codes a model server may pass
 * through (external.ts PASSED_THROUGH).
 */
function raisedIn(code: ErrorCode, sources: Array<{ file: string; text: string }>): string[] {
  const patterns = [
    new RegExp(`HookwaveError\\(\\s*'${code}'`),
    new RegExp(`code:\\s*'${code}'`),
    new RegExp(`FST_ERR_\\w+:\\s*\\[\\s*'${code}'`),
    new RegExp(`PASSED_THROUGH: ErrorCode\\[\\] = \\[[^\\]]*'${code}'`),
  ];
  return sources.filter((s) => patterns.some((p) => p.test(s.text))).map((s) => s.file);
}

describe('the error catalogue', () => {
  it('is what docs/errors.md lists, code by code, in the same order and words', () => {
    const rows = docRows();
    expect(rows.map((r) => r[0])).toEqual(ERROR_CODES.map((c) => `\`${c}\``));
    for (const [cell, status, where, meaning, action] of rows) {
      const e = ERROR_CATALOGUE[cell!.slice(1, -1) as ErrorCode];
      expect({ status, where, meaning, action }, cell).toEqual({
        status: e.status === null ? '—' : String(e.status),
        where: e.status === null ? 'target' : e.target ? 'answer, target' : 'answer',
        meaning: e.description,
        action: e.action,
      });
    }
  });

  it('is what the served OpenAPI document publishes', async () => {
    const spec = (await svc.api('GET', '/openapi.json')).body as { info: { description: string }; components: { schemas: Record<string, { enum: string[]; description: string }> } };
    const schema = spec.components.schemas.ErrorCode!;
    expect(schema.enum).toEqual(ERROR_CODES);
    expect(schema.description).toBe(ERROR_CODES.map((c) => errorCodeLine(c)).join('\n'));
    for (const code of ERROR_CODES) expect(spec.info.description).toContain(errorCodeLine(code, 'HTTP '));
    expect(spec.info.description).not.toContain('FORBIDDEN');
  });

  it('has no code that nothing raises', () => {
    const sources = serverSources();
    const unraised = ERROR_CODES.filter((c) => raisedIn(c, sources).length === 0);
    expect(unraised).toEqual([]);
    for (const code of ERROR_CODES) {
      const e = ERROR_CATALOGUE[code];
      expect(e.description.length, code).toBeGreaterThan(10);
      expect(e.action.length, code).toBeGreaterThan(10);
      // A code that is never an HTTP answer must be something a target reports.
      if (e.status === null) expect(e.target, code).toBe(true);
    }
  });

  it('gives real answers the status it lists', async () => {
    const answers: Array<[string, Promise<{ status: number; body: any }>]> = [
      ['no key', fetch(`${svc.url}/v1/tasks`).then(async (r) => ({ status: r.status, body: await r.json() }))],
      ['unknown route', svc.api('GET', '/v1/nothing')],
      ['unknown task', svc.api('GET', '/v1/tasks/task_00000000000000000000000000')],
      ['bad target', svc.api('POST', '/v1/tasks', { kind: 'generate', targets: [{ format: 'mp4' }] })],
      ['no targets', svc.api('POST', '/v1/tasks', { kind: 'generate', targets: [] })],
      ['unknown kind', svc.api('POST', '/v1/tasks', { kind: 'nope', targets: [{}] })],
      ['not JSON', svc.api('POST', '/v1/tasks', '{', { 'content-type': 'application/json' })],
      ['plain text', svc.api('POST', '/v1/tasks', 'hello', { 'content-type': 'text/plain' })],
      ['bad cursor', svc.api('GET', '/v1/tasks?cursor=zzz')],
    ];
    const seen = new Set<string>();
    for (const [what, answer] of answers) {
      const { status, body } = await answer;
      const code = body.error.code as ErrorCode;
      expect(ERROR_CODES, what).toContain(code);
      expect(status, `${what}: ${code}`).toBe(ERROR_CATALOGUE[code].status);
      seen.add(code);
    }
    expect([...seen].sort()).toEqual(['INVALID_CURSOR', 'INVALID_JSON', 'INVALID_TARGET', 'NOT_FOUND', 'UNAUTHORIZED', 'UNKNOWN_KIND', 'UNSUPPORTED_MEDIA_TYPE', 'VALIDATION_ERROR'].sort());
  });
});
