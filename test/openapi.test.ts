/**
 * The API documents itself completely: every route the server registers is in /openapi.json with a
 * tag and a summary, every error code and every webhook event (with its body) is described, every
 * $ref resolves, and /docs shows Swagger UI without fetching anything from another host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryView } from '../src/domain/delivery-view.js';
import { sharedSchemas } from '../src/api/schemas.js';
import { BatchService } from '../src/services/batches.js';
import { endpointView } from '../src/domain/endpoint-view.js';
import { EVENT_TYPES } from '../src/domain/types.js';
import { ERROR_CODES } from '../src/errors.js';
import { startReceiver } from './helpers/receiver.js';
import { startService, waitForTask, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';
import { closedPort } from './helpers/closed-port.js';

interface Operation {
  tags?: string[];
  summary?: string;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
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
    // Generated from the catalogue; test/errors.test.ts holds the words to it.
    const codes = ERROR_CODES;
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
    expect(Object.keys(spec.webhooks).sort()).toEqual([...EVENT_TYPES, 'endpoint.test'].sort());
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
    // The test event is sent only when asked for, and says so; its data is the endpoint and the message.
    const test = spec.webhooks['endpoint.test']!.post as { description?: string };
    expect(test.description).toMatch(/POSTed to the one endpoint it was asked for/);
    expect(spec.components.schemas.Event_endpoint_test.properties.data.required).toEqual(['endpoint_id', 'message']);
  });

  it('documents the 2xx answer of every /v1 route, server-sent event streams aside', () => {
    const undocumented: string[] = [];
    for (const [p, ops] of Object.entries(spec.paths)) {
      // Event streams answer text/event-stream, and files are the files themselves.
      if (!p.startsWith('/v1/') || p.endsWith('/events') || p.startsWith('/v1/files/')) continue;
      for (const [method, op] of Object.entries(ops)) {
        const ok = Object.entries(op.responses ?? {}).filter(([status]) => /^2/.test(status));
        if (ok.length === 0 || ok.some(([, r]) => !r.content?.['application/json']?.schema || !r.description || r.description === 'Default Response')) {
          undocumented.push(`${method.toUpperCase()} ${p}`);
        }
      }
    }
    expect(undocumented).toEqual([]);
    expect(spec.paths['/v1/endpoints']!.get!.responses!['200']!.content!['application/json']!.schema).toMatchObject({
      properties: { data: { items: { $ref: '#/components/schemas/Endpoint' } } },
    });
    expect(spec.paths['/v1/keys']!.get!.responses!['200']!.content!['application/json']!.schema).toMatchObject({
      properties: { data: { items: { $ref: '#/components/schemas/ApiKey' } } },
    });
  });

  it('describes every field of every shared schema', () => {
    const undescribed: string[] = [];
    const walk = (node: any, where: string): void => {
      if (!node || typeof node !== 'object') return;
      for (const [k, p] of Object.entries<any>(node.properties ?? {})) {
        // A bare $ref is described by the schema it names (Error.error.code → ErrorCode).
        if (!(typeof p.description === 'string' && p.description !== '') && !(p.$ref && Object.keys(p).length === 1)) undescribed.push(`${where}.${k}`);
        walk(p, `${where}.${k}`);
      }
      if (node.items) walk(node.items, `${where}[]`);
      (node.oneOf ?? []).forEach((v: unknown, i: number) => walk(v, `${where}|${i}`));
    };
    for (const { $id } of sharedSchemas) {
      expect(spec.components.schemas[$id], $id).toBeDefined();
      walk(spec.components.schemas[$id], $id);
    }
    expect(undescribed).toEqual([]);
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



// Fastify serialises answers through the response schemas and silently drops what they do not name,
// so each answer is compared with what the domain builds for it, field by field.
describe('answers serialised through the schemas', () => {
  it('keep every field of endpoints, deliveries with their attempts, batches and the account', async () => {
    const store = svc.hw.store;
    const tenant = (await store.getTenantByName('acme'))!;
    const rx = await startReceiver();
    try {
      const created = await svc.api('POST', '/v1/endpoints', { url: rx.url, description: 'serialised', events: ['task.failed'] });
      expect(created.status).toBe(201);
      let row = (await store.getEndpoint(tenant.id, created.body.id))!;
      expect(created.body).toEqual({ success: true, ...endpointView(row), secret: row.secret });
      const rotated = await svc.api('POST', `/v1/endpoints/${row.id}/rotate-secret`);
      row = (await store.getEndpoint(tenant.id, row.id))!;
      expect(rotated.body.previous_secret_expires_at).not.toBeNull();
      expect(rotated.body).toEqual({ success: true, ...endpointView(row), secret: row.secret });
      expect((await svc.api('GET', `/v1/endpoints/${row.id}`)).body).toEqual({ success: true, ...endpointView(row) });
      expect((await svc.api('PATCH', `/v1/endpoints/${row.id}`, { description: 'patched' })).body).toEqual({
        success: true,
        ...endpointView((await store.getEndpoint(tenant.id, row.id))!),
      });

      const input = `http://127.0.0.1:${await closedPort()}/missing.wav`;
      const task = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: input }, targets: [{ format: 'mp3' }], webhook_url: rx.url });
      expect(task.status).toBe(202);
      expect(task.body).toEqual({ success: true, task_id: expect.stringMatching(/^task_/), status: 'queued' });
      expect((await waitForTask(svc, task.body.task_id)).status).toBe('failed');
      const rows = await until('both deliveries to be delivered', async () => {
        const list = await store.listDeliveriesForTask(tenant.id, task.body.task_id);
        return list.length === 2 && list.every((d) => d.status === 'delivered') ? list : null;
      });
      const views = await Promise.all(rows.map(async (d) => deliveryView(d, await store.listAttempts([d.id]), (await store.getEvent(tenant.id, d.event_id))!.type)));
      expect(views.every((v) => v.attempts!.length === 1 && v.attempts![0]!.request_headers !== null)).toBe(true);
      expect((await svc.api('GET', `/v1/tasks/${task.body.task_id}/deliveries`)).body).toEqual({ success: true, data: views });
      const event = (await store.getEvent(tenant.id, rows[0]!.event_id))!;
      expect((await svc.api('GET', `/v1/deliveries/${rows[0]!.id}`)).body).toEqual({ success: true, ...views[0], request_body: event.payload });
      const listed = await svc.api('GET', `/v1/deliveries?task_id=${task.body.task_id}`);
      expect(listed.body).toEqual({ success: true, data: views.map(({ attempts: _omitted, ...v }) => v).reverse(), next_cursor: null });

      const batch = await svc.api('POST', '/v1/batches', { tasks: [{ kind: 'extract', input: { url: input }, targets: [{ format: 'ogg' }] }, { kind: 'nope', targets: [{}] }] });
      expect(batch.status).toBe(202);
      expect(batch.body).toMatchObject({ success: true, accepted: 1, rejected: 1 });
      expect(batch.body.results).toEqual([
        { index: 0, success: true, task_id: expect.stringMatching(/^task_/), status: 'queued' },
        { index: 1, success: false, error: { code: 'UNKNOWN_KIND', message: expect.stringContaining('tasks[1]'), details: expect.objectContaining({ field: 'tasks[1].kind' }) } },
      ]);
      await waitForTask(svc, batch.body.results[0].task_id);
      const summary = await new BatchService(store, svc.hw.tasks).summary(tenant.id, batch.body.batch_id);
      expect(summary.tasks[0]!.error).not.toBeNull();
      expect((await svc.api('GET', `/v1/batches/${batch.body.batch_id}`)).body).toEqual({ success: true, ...summary });

      expect((await svc.api('GET', '/v1/account')).body).toEqual({ success: true, tenant_id: tenant.id, name: tenant.name, webhook_secret: tenant.webhook_secret });
      expect((await svc.api('DELETE', `/v1/endpoints/${row.id}`)).body).toEqual({ success: true, id: row.id, deleted: true });
    } finally {
      await rx.close();
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
