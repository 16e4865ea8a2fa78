/**
 * The OpenAPI document (issue 17 item 1): generated from the routes' schemas, valid OpenAPI
 * 3.1, complete (every route the plugin registers under the API prefix, plus /livez, /readyz
 * and /metrics), every operation described (operationId, summary, tags, a 2xx schema, 4xx as
 * ErrorResponse), shared schemas once as components; responses serialised through schemas;
 * the docs page served from the same origin only.
 *
 * The checks run over every route present when the suite runs, so they hold for routes
 * added later without editing this file.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { validate } from '@readme/openapi-parser';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { kApiPrefix, ultraPerformancePlugin } from '../lib/server/index.js';
import { kSharedSchemas } from '../lib/server/schemas/common.js';
import { startServer, type TestServer } from './helpers/server.js';

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Json[];
  parameters?: Json[];
  requestBody?: Json;
  responses?: Record<string, { content?: Record<string, { schema?: Json }> }>;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  components: { schemas: Record<string, Json>; securitySchemes?: Json };
  security?: Json[];
  paths: Record<string, Record<string, Operation>>;
}

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
const kProbes = ['/livez', '/readyz', '/metrics'];
const kHttpMethods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** A route as registered, HEAD twins of GET routes left out. */
interface Registered {
  method: string;
  url: string;
  schema: (Json & { hide?: boolean; response?: Record<string, Json> }) | undefined;
  config: { auth?: boolean; rateLimit?: unknown } | undefined;
}

/** The plugin on its own Fastify instance, listening on loopback, with every route it registers recorded. */
async function startCollecting(): Promise<{ app: FastifyInstance; origin: string; routes: Registered[]; schemas: Record<string, Json> }> {
  const routes: Registered[] = [];
  const app = Fastify();
  // schemas added with addSchema in any context (the route modules' own), by $id
  const instances: FastifyInstance[] = [app];
  app.addHook('onRegister', (instance) => {
    instances.push(instance);
  });
  app.addHook('onRoute', (route: RouteOptions) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, url: route.url, schema: route.schema as Registered['schema'], config: route.config as Registered['config'] });
    }
  });
  await app.register(ultraPerformancePlugin);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const schemas: Record<string, Json> = {};
  for (const instance of instances) Object.assign(schemas, instance.getSchemas());
  return { app, origin: `http://127.0.0.1:${address.port}`, routes, schemas };
}

/** `/jobs/:id` as OpenAPI writes it: `/jobs/{id}`. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Routes the document must describe: the API's and the probes, whatever else the plugin serves. */
function documented(route: Registered): boolean {
  return route.url.startsWith(`${kApiPrefix}/`) || kProbes.includes(route.url);
}

function operations(doc: OpenApiDocument): [string, string, Operation][] {
  const out: [string, string, Operation][] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) if (kHttpMethods.has(method)) out.push([path, method, op]);
  }
  return out;
}

/** Every `$ref` string anywhere under `node`. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const v of node) refs(v, out);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

const kErrorRef = '#/components/schemas/ErrorResponse';
/** The shared schemas by `$id`. */
const kShared = new Map(kSharedSchemas.map((schema) => [(schema as unknown as { $id: string }).$id, schema as unknown as Json]));

describe('OpenAPI document', () => {
  let server: TestServer;
  let collected: Awaited<ReturnType<typeof startCollecting>>;
  let doc: OpenApiDocument;

  beforeAll(async () => {
    server = await startServer();
    collected = await startCollecting();
    const res = await fetch(`${server.origin}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = (await res.json()) as OpenApiDocument;
  });
  afterAll(async () => {
    await server?.close();
    await collected?.app.close();
  });

  it('is OpenAPI 3.1.0 with the package version, a bearer security scheme, and passes @readme/openapi-parser', async () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe(pkg.version);
    expect(doc.info.title).toContain('ultra-performance');
    expect(doc.components.securitySchemes).toEqual({ bearer: { type: 'http', scheme: 'bearer' } });
    expect(doc.security).toEqual([{ bearer: [] }]);
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid ? [] : result.errors, 'validation errors').toEqual([]);
    expect(result.specification).toBe('OpenAPI');
  });

  it('is also served as YAML', async () => {
    const res = await fetch(`${server.origin}/openapi.yaml`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/yaml/);
    const text = await res.text();
    expect(text).toMatch(/^openapi: 3\.1\.0$/m);
    expect(text).toContain(`version: ${pkg.version}`);
  });

  it('describes every route the plugin registers under the API prefix, and /livez, /readyz, /metrics, with its method', () => {
    const wanted = collected.routes.filter(documented);
    expect(wanted.map((r) => r.url)).toContain('/livez');
    expect(wanted.map((r) => r.url)).toContain('/metrics');
    const missing = wanted
      .filter((r) => doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()] === undefined)
      .map((r) => `${r.method} ${r.url}${r.schema?.hide === true ? ' (hidden)' : ''}`);
    expect(missing, 'routes missing from the document').toEqual([]);
    // and nothing documented that is not served
    const served = new Set(collected.routes.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url)}`));
    const phantom = operations(doc).map(([path, method]) => `${method} ${path}`).filter((k) => !served.has(k));
    expect(phantom, 'operations no route serves').toEqual([]);
  });

  it('leaves the document and docs-page routes out of the document', () => {
    const paths = Object.keys(doc.paths);
    expect(paths.filter((p) => p.startsWith('/docs') || p.startsWith('/openapi.'))).toEqual([]);
  });

  it('gives every operation an operationId, a summary, tags, a 2xx schema and 4xx answers as ErrorResponse', () => {
    const problems: string[] = [];
    for (const [path, method, op] of operations(doc)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (typeof op.operationId !== 'string' || op.operationId === '') problems.push(`${where}: no operationId`);
      if (typeof op.summary !== 'string' || op.summary === '') problems.push(`${where}: no summary`);
      if (!Array.isArray(op.tags) || op.tags.length === 0) problems.push(`${where}: no tags`);
      const responses = Object.entries(op.responses ?? {});
      const ok = responses.filter(([status]) => /^2(\d\d|XX)$/i.test(status));
      if (ok.length === 0) problems.push(`${where}: no 2xx response`);
      for (const [status, response] of ok) {
        if (status === '204') continue;
        const schemas = Object.values(response.content ?? {}).map((media) => media.schema);
        if (schemas.length === 0 || schemas.some((s) => s === undefined)) problems.push(`${where}: ${status} has no schema`);
      }
      const errors = responses.filter(([status]) => /^[45](\d\d|XX)$/i.test(status));
      // An operation that takes no input and no token (the probes: `security: []`) has no 4xx to answer.
      const inputless = Array.isArray(op.security) && op.security.length === 0 && (op.parameters ?? []).length === 0 && op.requestBody === undefined;
      if (!inputless && !errors.some(([status]) => status.startsWith('4'))) problems.push(`${where}: no 4xx response`);
      for (const [status, response] of errors) {
        const schema = response.content?.['application/json']?.schema;
        if (schema?.$ref !== kErrorRef) problems.push(`${where}: ${status} is ${JSON.stringify(schema)}, not a $ref to ErrorResponse`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("documents the guards' answers: 401 where a token is needed, security: [] where not, 429 where rate-limited", () => {
    const problems: string[] = [];
    for (const route of collected.routes.filter((r) => documented(r) && r.schema !== undefined)) {
      const op = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      if (op === undefined) continue; // named by the completeness test
      const where = `${route.method} ${route.url}`;
      const statuses = Object.keys(op.responses ?? {});
      const open = route.config?.auth === false;
      if (open && JSON.stringify(op.security) !== '[]') problems.push(`${where}: config auth:false but security ${JSON.stringify(op.security)}`);
      if (!open && op.security !== undefined) problems.push(`${where}: needs a token but security ${JSON.stringify(op.security)}`);
      if (!open && !statuses.some((s) => s === '401' || s === '4XX')) problems.push(`${where}: needs a token but no 401`);
      if (route.config?.rateLimit !== false && !statuses.some((s) => s === '429' || s === '4XX')) problems.push(`${where}: rate-limited but no 429`);
    }
    expect(problems).toEqual([]);
  });

  it('has no duplicate operationIds', () => {
    const ids = operations(doc).map(([, , op]) => op.operationId).filter((id) => id !== undefined);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it('holds each shared schema once, under its $id, and refers to it with $ref', () => {
    const names = Object.keys(doc.components.schemas);
    for (const id of kShared.keys()) expect(names).toContain(id);
    expect(names.filter((n) => /^def-\d+$/.test(n)), 'components named def-<n> instead of their $id').toEqual([]);
    const all = refs(doc);
    expect(all).toContain(kErrorRef);
    const dangling = all.filter((r) => !r.startsWith('#/components/schemas/') || doc.components.schemas[r.slice('#/components/schemas/'.length)] === undefined);
    expect(dangling, 'refs to no component').toEqual([]);
    // an inline copy of a shared schema would carry its properties verbatim
    const paths = JSON.stringify(doc.paths);
    for (const id of kShared.keys()) {
      expect(paths.includes(JSON.stringify(doc.components.schemas[id]!.properties)), `${id} inlined in paths`).toBe(false);
    }
  });
});

describe('responses serialised through schemas', () => {
  let collected: Awaited<ReturnType<typeof startCollecting>>;

  beforeAll(async () => {
    collected = await startCollecting();
  });
  afterAll(async () => {
    await collected?.app.close();
  });

  it('every documented route declares schema.response for its 2xx answers', () => {
    const lacking = collected.routes
      .filter((r) => documented(r) || r.schema?.hide !== true)
      .filter((r) => !Object.keys(r.schema?.response ?? {}).some((status) => /^2(\d\d|xx)$/i.test(status)))
      .map((r) => `${r.method} ${r.url}`);
    expect(lacking, 'routes with no 2xx response schema').toEqual([]);
  });

  it('every GET route without parameters answers a body its 200 schema accepts, with no undeclared field', async () => {
    const context = collected.schemas;
    for (const id of kShared.keys()) expect(Object.keys(context)).toContain(id);
    const problems: string[] = [];
    const gets = collected.routes.filter((r) => r.method === 'GET' && documented(r) && !r.url.includes(':') && r.url !== '/metrics');
    expect(gets.length).toBeGreaterThan(0);
    for (const route of gets) {
      const schema = route.schema?.response?.['200'];
      if (schema === undefined) continue; // named by the test above
      const res = await fetch(`${collected.origin}${route.url}`, { signal: AbortSignal.timeout(20_000) });
      // not 200: e.g. /readyz while not ready, which its own suite checks; not JSON: a stream (server-sent events)
      if (res.status !== 200 || !(res.headers.get('content-type') ?? '').startsWith('application/json')) {
        await res.body?.cancel();
        continue;
      }
      const body = (await res.json()) as unknown;
      for (const e of Value.Errors(context, schema as never, body)) problems.push(`GET ${route.url}: ${e.instancePath} ${e.message}`);
      for (const extra of undeclared(schema, body, context)) problems.push(`GET ${route.url}: undeclared field ${extra}`);
    }
    expect(problems).toEqual([]);
  });
});

/** Object fields of `value` that `schema` does not declare (fast-json-stringify would have dropped them). */
function undeclared(schema: Json, value: unknown, context: Record<string, Json>, at = ''): string[] {
  if (typeof schema.$ref === 'string') return context[schema.$ref] === undefined ? [] : undeclared(context[schema.$ref]!, value, context, at);
  if (Array.isArray(value) && schema.items !== undefined && typeof schema.items === 'object') {
    return value.flatMap((v, i) => undeclared(schema.items as Json, v, context, `${at}/${i}`));
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  const properties = schema.properties as Record<string, Json> | undefined;
  if (properties === undefined || schema.additionalProperties !== undefined && schema.additionalProperties !== false) return [];
  return Object.entries(value).flatMap(([k, v]) =>
    properties[k] === undefined ? [`${at}/${k}`] : undeclared(properties[k], v, context, `${at}/${k}`));
}

describe('docs page', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves /docs as HTML whose scripts and styles all come from the same origin, with a same-origin CSP', async () => {
    const res = await fetch(`${server.origin}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'self'/);
    expect(csp).toMatch(/script-src 'self';/);
    expect(csp).not.toMatch(/https?:|\*/);
    const html = await res.text();
    const urls = [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/g)].map((m) => m[1]!);
    expect(urls.some((u) => u.endsWith('.js'))).toBe(true);
    expect(urls.some((u) => u.endsWith('.css'))).toBe(true);
    for (const u of urls) {
      const url = new URL(u, res.url);
      expect(url.origin, u).toBe(server.origin);
      const asset = await fetch(url);
      expect(asset.status, u).toBe(200);
      await asset.arrayBuffer();
    }
  });

  it('the page fetches its document from the same origin', async () => {
    const init = await (await fetch(`${server.origin}/docs/static/swagger-initializer.js`)).text();
    expect(init).toContain("resolveUrl('./json')");
    expect(init).toContain('validatorUrl: null');
    const res = await fetch(`${server.origin}/docs/json`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as OpenApiDocument).openapi).toBe('3.1.0');
  });
});

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (process.env.CI === 'true' && chromium === undefined) {
  throw new Error("Chromium is required under CI=true (Debian's 'chromium' package, installed by .ci/run)");
}

describe.runIf(chromium !== undefined && process.env.ULTRA_PERF_BACKEND !== 'native')('docs page in headless Chromium', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('renders every operation with no request beyond its origin and no console error', async () => {
    const puppeteer = (await import('puppeteer-core')).default;
    const browser = await puppeteer.launch({ executablePath: chromium, args: ['--no-sandbox', '--disable-gpu'] });
    const dir = mkdtempSync(join(tmpdir(), 'server-docs-'));
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1200, height: 900 });
      const foreign: string[] = [];
      const problems: string[] = [];
      page.on('request', (request) => {
        const url = request.url();
        if (!url.startsWith(`${server.origin}/`) && !url.startsWith('data:')) foreign.push(url);
      });
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
      const response = await page.goto(`${server.origin}/docs`, { waitUntil: 'networkidle0' });
      expect(response?.ok()).toBe(true);
      await page.waitForSelector('.opblock', { timeout: 20_000 });
      const count = await page.$$eval('.opblock', (blocks) => blocks.length);
      const doc = (await (await fetch(`${server.origin}/openapi.json`)).json()) as OpenApiDocument;
      expect(count).toBe(operations(doc).length);
      const shot = join(dir, 'server-docs.png');
      await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
      const keep = process.env.SERVER_DOCS_SCREENSHOT;
      if (keep) copyFileSync(shot, keep);
      expect(foreign).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await browser.close();
    }
  });
});
