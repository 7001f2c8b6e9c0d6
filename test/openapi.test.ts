/**
 * The API documents itself completely: every route the server registers is in /openapi.json with a
 * tag and a summary, every error code and every webhook event (with its body) is described, every
 * $ref resolves, and /docs shows Swagger UI without fetching anything from another host.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../src/domain/types.js';
import { startService, type TestService } from './helpers/service.js';

interface Operation {
  tags?: string[];
  summary?: string;
  requestBody?: { content: Record<string, { schema: unknown }> };
}
interface Spec {
  openapi: string;
  info: { description: string };
  paths: Record<string, Record<string, Operation>>;
  webhooks: Record<string, { post: Operation & { parameters: Array<{ name: string; in: string }> } }>;
  components: { schemas: Record<string, any> };
}

/** Routes deliberately left out of the document: the document itself, its UI, and the dashboard's page and assets. */
const UNDOCUMENTED = [/^\/openapi\.json$/, /^\/docs(\/|$)/, /^\/$/, /^\/assets\//];

let svc: TestService;
let spec: Spec;

beforeAll(async () => {
  svc = await startService();
  const res = await fetch(`${svc.url}/openapi.json`);
  expect(res.status).toBe(200);
  spec = (await res.json()) as Spec;
});
afterAll(() => svc.close());

/** `/v1/tasks/:id` → `/v1/tasks/{id}`, as OpenAPI writes paths. */
function openapiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** The ErrorCode union, read from the source so a code added there is noticed here. */
function errorCodesInSource(): string[] {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/errors.ts');
  const src = fs.readFileSync(file, 'utf8');
  const union = /export type ErrorCode =([\s\S]*?);/.exec(src)?.[1] ?? '';
  return [...union.matchAll(/\|\s*'([A-Z_]+)'/g)].map((m) => m[1]!);
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and has every registered route, each with tags and a summary', () => {
    expect(spec.openapi).toBe('3.1.0');
    const routes = svc.hw.api!.registeredRoutes.filter((r) => r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThan(20);
    const missing: string[] = [];
    const undescribed: string[] = [];
    for (const r of routes) {
      if (r.hidden) {
        expect(UNDOCUMENTED.some((re) => re.test(r.url)), `${r.method} ${r.url} is hidden from the document`).toBe(true);
        continue;
      }
      const op = spec.paths[openapiPath(r.url)]?.[r.method.toLowerCase()];
      if (!op) missing.push(`${r.method} ${r.url}`);
      else if (!op.tags?.length || !op.summary) undescribed.push(`${r.method} ${r.url}`);
    }
    expect(missing).toEqual([]);
    expect(undescribed).toEqual([]);
  });

  it('documents every error code, and error answers refer to them', () => {
    const codes = errorCodesInSource();
    expect(codes.length).toBeGreaterThan(20);
    const schema = spec.components.schemas.ErrorCode;
    expect(schema.enum).toEqual(codes);
    for (const code of codes) {
      expect(schema.description).toContain(`\`${code}\``);
      expect(spec.info.description).toContain(`\`${code}\``);
    }
    expect(spec.components.schemas.Error.properties.error.properties.code).toEqual({ $ref: '#/components/schemas/ErrorCode' });
    expect(spec.paths['/v1/tasks']!.post!).toMatchObject({ responses: { 400: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } } });
  });

  it('documents every webhook event with its body and signature headers', () => {
    expect(Object.keys(spec.webhooks).sort()).toEqual([...EVENT_TYPES].sort());
    for (const type of EVENT_TYPES) {
      const post = spec.webhooks[type]!.post;
      expect(post.summary).toBe(type);
      expect(post.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(['header:webhook-id', 'header:webhook-timestamp', 'header:webhook-signature']);
      const ref = (post.requestBody!.content['application/json']!.schema as { $ref: string }).$ref;
      const body = spec.components.schemas[ref.split('/').pop()!];
      expect(body.properties.type).toEqual({ type: 'string', const: type });
      expect(body.required).toEqual(['type', 'timestamp', 'data']);
      expect(body.properties.data.$ref).toBe(type === 'endpoint.disabled' ? '#/components/schemas/Endpoint' : '#/components/schemas/Task');
    }
  });

  it('has no $ref that points nowhere', () => {
    const refs = new Set<string>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.add(x);
          else walk(x);
        }
      }
    };
    walk(spec);
    expect(refs.size).toBeGreaterThan(5);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(spec.components.schemas[ref.split('/').pop()!], ref).toBeDefined();
    }
  });
});

describe('GET /docs', () => {
  it('serves Swagger UI with every script and style from this server, none from a CDN', async () => {
    const page = await fetch(`${svc.url}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(3);
    for (const a of assets) {
      expect(a, `${a} must be served locally`).not.toMatch(/^(https?:)?\/\//);
      const res = await fetch(new URL(a, `${svc.url}/docs`));
      expect(res.status, a).toBe(200);
      // Read to the end: an unread body keeps the connection busy and the server's close waiting.
      expect((await res.arrayBuffer()).byteLength, a).toBeGreaterThan(0);
    }
    const init = await (await fetch(`${svc.url}/docs/static/swagger-initializer.js`)).text();
    // Swagger UI's default validator badge would call validator.swagger.io.
    expect(init).toContain('validatorUrl: null');
    expect(init).toContain("url: resolveUrl('./json')");
    const json = (await (await fetch(`${svc.url}/docs/json`)).json()) as Spec;
    expect(Object.keys(json.paths)).toEqual(Object.keys(spec.paths));
  });
});
