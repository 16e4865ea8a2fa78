/**
 * Issue 17 item 5: a fuzz of the HTTP control API over TCP. At least 10,000 requests with
 * random and malformed bodies, headers and query strings, on every route the plugin
 * registers (enumerated with an onRoute hook), with and without a valid token, must get only
 * 4xx answers (or 2xx where the random input happens to be valid) and never a 5xx; the
 * process never crashes; afterwards the server still answers `/livez` and a good request,
 * nothing was added to Object.prototype, and the objects and jobs it holds stay within caps.
 *
 * The cases come from fast-check with a fixed seed (printed; FUZZ_SEED=<n> replays another),
 * sent with undici over keep-alive connections at modest concurrency, plus a few hundred raw
 * malformed requests over net.Socket (duplicate Content-Length, bad chunking, oversized or
 * broken headers) that no HTTP client would send. Every 5xx is recorded with its input and
 * the server's logged error (stack included) and the test fails listing them.
 */
import { connect } from 'node:net';

import fc from 'fast-check';
import Fastify from 'fastify';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ultraPerformancePlugin, type ServeOptions, type ServerLimits } from '../lib/server/index.js';
import { kApiPrefix } from '../lib/server/types.js';
import { startServer, type TestServer } from './helpers/server.js';

const kSeed = Number(process.env.FUZZ_SEED ?? 0x17_f0_22);
const kToken = 'fuzz-token-6b1e0c9d';
const kRequests = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const kRawRequests = 400;
const kConcurrency = 8;
const kBatch = 250;
/** Small caps, so that an input that happens to be valid costs little, and a roomy job queue. */
const kLimits: Partial<ServerLimits> = {
  maxReturns: 2_000,
  maxAssets: 8,
  maxMatrixCells: 4_000,
  maxPathSteps: 50_000,
  jobQueue: 10_000,
  maxObjectsPerKind: 8,
  maxJobsKept: 64,
  // The fuzz sends thousands of requests a second with one token: the limiter would answer most of them 429.
  rateLimitPerSec: 10_000_000,
  // Load shedding (a legitimate 503) off: on a shared 2-core machine the event-loop delay can pass its
  // 1 s limit (right after start-up, or under other work), and this fuzz is about what inputs do.
  maxEventLoopDelayMs: 0,
};
const kOptions: ServeOptions = { token: kToken, limits: kLimits };

/**
 * Findings this fuzz made that their owners have not fixed yet: left out of the random cases
 * (each one costs the fuzz a full client timeout) and kept as `it.fails` cases below, which
 * start failing once the finding is fixed; then delete the entry here.
 */
// HEAD on the event stream (the HEAD twin Fastify adds to every GET) never answered: the
// handler hijacks, and Node does not flush a HEAD response's headers without a body. Fixed by
// `exposeHeadRoute: false` on that route; the test 'HEAD on the event stream' pins it.
const kKnownFindings: { method: string; url: string; owner: string; finding: string }[] = [];
const isKnown = (method: string, url: string): boolean => kKnownFindings.some((k) => k.method === method && k.url === url);

interface RouteInfo {
  method: string;
  url: string;
  schema: { body?: JsonSchema; querystring?: JsonSchema; params?: JsonSchema } | undefined;
}
type JsonSchema = Record<string, unknown>;

interface Case {
  route: string;
  method: string;
  path: string;
  /** Flat [name, value, name, value...]: duplicates allowed. */
  headers: string[];
  body?: Buffer;
  kind: string;
}

interface Finding {
  status: number;
  route: string;
  kind: string;
  method: string;
  path: string;
  headers: string[];
  body: string;
  answer: string;
  logged: string[];
}

/** Every route the plugin registers (and every method of each), found with an onRoute hook on a server that never listens. */
async function enumerateRoutes(): Promise<RouteInfo[]> {
  const app = Fastify();
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) {
      routes.push({ method: String(method), url: r.url, schema: r.schema as RouteInfo['schema'] });
    }
  });
  await app.register(ultraPerformancePlugin, kOptions);
  await app.ready();
  await app.close();
  const seen = new Set<string>();
  return routes.filter((r) => {
    const key = `${r.method} ${r.url}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---- values --------------------------------------------------------------------------------

const kProtoKeys = ['__proto__', 'constructor', 'prototype', '__proto__[polluted]', 'constructor[prototype][polluted]', '__defineGetter__', 'hasOwnProperty', 'toString', 'valueOf'];

const deep = (depth: number, leaf: unknown, kind: 'array' | 'object'): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
};

/** Values that are wrong for most fields: other types, extremes, deep and long. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.integer({ min: 1_000, max: 100_000 }).map((n) => 'x'.repeat(n)), weight: 1 },
  // Past the test's caps (kLimits: 2,000 returns...) and past most schema ceilings.
  { arbitrary: fc.constantFrom(2_001, 5_000, 20_000, 120_000).map((n) => new Array<number>(n).fill(0.01)), weight: 1 },
  fc.constantFrom(null, true, false, 0, -1, 1, 0.5, -0.0, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER + 2, -(2 ** 63), 2 ** 64, '', 'a', '1', '0x10', 'NaN', 'Infinity', '-1e309', [], {}, [null], { __proto__: null }),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.double(), { maxLength: 8 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 50, max: 1000 }).map((d) => deep(d, 1, 'array')),
  fc.integer({ min: 50, max: 1000 }).map((d) => deep(d, 1, 'object')),
).map((v) => v);

/** A value that satisfies `schema` as simply as possible (the start of a one-field mutation). */
function validOf(schema: JsonSchema | undefined, depth = 0): unknown {
  if (schema === undefined || depth > 8) return null;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const anyOf = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (anyOf !== undefined && anyOf.length > 0) return validOf(anyOf[0], depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const out: Record<string, unknown> = {};
      // Required fields and the optional ones too: more fields to mutate.
      for (const [k, s] of Object.entries(props)) out[k] = validOf(s, depth + 1);
      return out;
    }
    case 'array': {
      const n = Math.max(Number(schema.minItems ?? 0), 4);
      const max = Number(schema.maxItems ?? n);
      return Array.from({ length: Math.min(n, max) }, (_, i) => {
        const v = validOf(schema.items as JsonSchema | undefined, depth + 1);
        return typeof v === 'number' ? v + i * 0.001 * (i % 2 === 0 ? 1 : -1) : v;
      });
    }
    case 'integer':
    case 'number': {
      const lo = Number(schema.minimum ?? (schema.exclusiveMinimum !== undefined ? Number(schema.exclusiveMinimum) + (type === 'integer' ? 1 : 1e-3) : 0));
      const hi = Number(schema.maximum ?? (schema.exclusiveMaximum !== undefined ? Number(schema.exclusiveMaximum) - (type === 'integer' ? 1 : 1e-3) : lo + 10));
      const v = Math.min(hi, Math.max(lo, type === 'integer' ? 1 : 0.5));
      return type === 'integer' ? Math.ceil(v) : v;
    }
    case 'string':
      return 'a'.repeat(Math.max(1, Number(schema.minLength ?? 1)));
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return null;
  }
}

/** Paths to every field of a JSON value (object keys and array indices), up to a depth. */
function fieldPaths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = [], depth = 0): (string | number)[][] {
  if (depth > 4 || v === null || typeof v !== 'object') return out;
  const entries: [string | number, unknown][] = Array.isArray(v) ? v.slice(0, 3).map((x, i) => [i, x]) : Object.entries(v);
  for (const [k, x] of entries) {
    out.push([...prefix, k]);
    fieldPaths(x, [...prefix, k], out, depth + 1);
  }
  return out;
}

function setAt(root: unknown, path: (string | number)[], value: unknown, remove: boolean): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (remove) {
    if (Array.isArray(at)) at.splice(Number(last), 1);
    else delete at[last];
  } else at[last] = value;
  return copy;
}

// ---- bodies --------------------------------------------------------------------------------

const kContentTypes = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/JSON',
  'application/jsonx',
  'application/json, text/plain',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=zzz',
  'application/octet-stream',
  '*/*',
  ';',
  'application/json; boundary=' + 'b'.repeat(4000),
];

function bodyArb(route: RouteInfo): fc.Arbitrary<{ body: Buffer; kind: string }> {
  const valid = route.schema?.body !== undefined ? validOf(route.schema.body) : { x: 1 };
  const paths = fieldPaths(valid);
  const json = (kind: string) => (v: unknown) => ({ body: Buffer.from(JSON.stringify(v) ?? 'null'), kind });
  const arbs: fc.Arbitrary<{ body: Buffer; kind: string }>[] = [
    fc.constant(json('valid-looking body')(valid)),
    fc.jsonValue({ maxDepth: 4 }).map(json('random JSON')),
    fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }).map((v) => {
      let text: string | undefined;
      try {
        text = JSON.stringify(v);
      } catch {
        text = String(v);
      }
      return { body: Buffer.from(text ?? 'undefined'), kind: 'random value' };
    }),
    fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => {
      const text = JSON.stringify(valid) ?? '{}';
      const cut = a % Math.max(1, text.length);
      return { body: Buffer.from(b % 2 === 0 ? text.slice(0, cut) : text.slice(cut)), kind: 'truncated JSON' };
    }),
    fc.uint8Array({ maxLength: 256 }).map((u) => ({ body: Buffer.from(u), kind: 'random bytes' })),
    fc.constantFrom(
      Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), // {"\xff\xfe":1}
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]), // overlong '/'
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), // UTF-8 encoded lone surrogate
      Buffer.from('{"a":"\\ud800"}'),
      Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), // BOM + {}
      Buffer.from('\u0000{}'),
      Buffer.from('{"__proto__":{"polluted":"yes"}}'),
      Buffer.from('{"constructor":{"prototype":{"polluted":"yes"}}}'),
      Buffer.from('{"a":1e400}'),
      Buffer.from('{"a":-1e400}'),
      Buffer.from('{"a":NaN}'),
      Buffer.from('{"a":1,"a":"dup"}'),
      Buffer.from(''),
      Buffer.from('null'),
      Buffer.from('[]'),
      Buffer.from('"string"'),
      Buffer.from('12345678901234567890123456789'),
    ).map((body) => ({ body, kind: 'malformed bytes' })),
    fc.integer({ min: 100, max: 20_000 }).map((d) => ({ body: Buffer.from('['.repeat(d) + ']'.repeat(d)), kind: 'deep nesting' })),
  ];
  if (paths.length > 0) {
    arbs.push(
      fc.tuple(fc.constantFrom(...paths), wrongValue).map(([p, v]) => json(`wrong value at ${p.join('.')}`)(setAt(valid, p, v, false))),
      fc.tuple(fc.constantFrom(...paths), wrongValue).map(([p, v]) => json(`wrong value at ${p.join('.')}`)(setAt(valid, p, v, false))),
      fc.constantFrom(...paths).map((p) => json(`missing ${p.join('.')}`)(setAt(valid, p, undefined, true))),
      fc.tuple(fc.constantFrom(...kProtoKeys, 'extra', 'x'.repeat(300)), wrongValue).map(([k, v]) => {
        const obj = typeof valid === 'object' && valid !== null && !Array.isArray(valid) ? { ...(valid as object) } : {};
        return { body: Buffer.from(JSON.stringify(obj).replace(/^\{/, `{${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}${Object.keys(obj).length > 0 ? ',' : ''}`)), kind: `extra key ${k.slice(0, 20)}` };
      }),
    );
  }
  // A body about the 1 MiB limit is slow to send: one case in ~50.
  const big = fc.integer({ min: (1 << 20) - 10, max: (1 << 20) + 4096 }).map((n) => ({ body: Buffer.from(`{"a":"${'y'.repeat(n)}"}`), kind: 'about the body limit' }));
  return fc.oneof(...arbs.map((arbitrary) => ({ arbitrary, weight: 4 })), { arbitrary: big, weight: 1 });
}

// ---- paths, queries, headers ---------------------------------------------------------------

const idArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '..', '%2e%2e', '%2e%2e%2f%2e%2e', '0', '-1', '1e309', 'null', 'undefined', '%00', '%ff', '%', 'a%2Fb', 'job-1-abc', 'orderbook-1', 'pool-1', 'connection-1'),
  fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent),
  fc.uuid(),
  fc.nat().map(String),
  fc.integer({ min: 200, max: 5_000 }).map((n) => 'i'.repeat(n)),
);

const queryArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant(''), weight: 3 },
  {
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom(...kProtoKeys, 'limit', 'id', 'seconds', 'window', 'format', 'a[b]', 'a[]', 'a.b'), fc.string({ maxLength: 12 })),
          fc.oneof(fc.constantFrom('', '1', '-1', '1e309', 'NaN', 'true', 'null', '[]', '{}', 'x'.repeat(3000)), fc.string({ maxLength: 20 }), fc.integer().map(String)),
          fc.boolean(),
        ),
        { minLength: 1, maxLength: 8 },
      )
      .map((pairs) => pairs.map(([k, v, raw]) => (raw ? `${k.replace(/[^\x21-\x7e]/g, '')}=${v.replace(/[^\x21-\x7e]/g, '')}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&').replace(/#/g, '%23')),
    weight: 4,
  },
  { arbitrary: fc.constantFrom('%', '%ZZ=1', 'a=%E0%A4%A', '&&&', '=', '==', '?', 'a=1&a=2&a=3', '__proto__=1&__proto__=2', 'constructor.prototype.polluted=1'), weight: 1 },
);

function authArb(): fc.Arbitrary<{ headers: string[]; kind: string }> {
  type Auth = { headers: string[]; kind: string };
  return fc.oneof(
    { arbitrary: fc.constant<Auth>({ headers: ['authorization', `Bearer ${kToken}`], kind: 'token' }), weight: 6 },
    { arbitrary: fc.constant<Auth>({ headers: [], kind: 'no token' }), weight: 2 },
    {
      arbitrary: fc
        .constantFrom(
          'Bearer wrong-token',
          'Bearer',
          'Bearer ',
          `bearer ${kToken}`,
          `Bearer  ${kToken}`,
          `Bearer ${kToken} extra`,
          `Basic ${Buffer.from(`u:${kToken}`).toString('base64')}`,
          `Bearer ${'t'.repeat(8000)}`,
          `Bearer ${kToken.slice(0, -1)}`,
          kToken,
        )
        .map((v): Auth => ({ headers: ['authorization', v], kind: 'bad token' })),
      weight: 2,
    },
    { arbitrary: fc.constant<Auth>({ headers: ['authorization', 'Bearer wrong', 'authorization', `Bearer ${kToken}`], kind: 'two tokens' }), weight: 1 },
  );
}

const extraHeadersArb: fc.Arbitrary<string[]> = fc.oneof(
  { arbitrary: fc.constant<string[]>([]), weight: 6 },
  {
    arbitrary: fc.constantFrom<string[]>(
      ['x-forwarded-for', '10.0.0.1'],
      ['x-forwarded-for', '1.2.3.4, 127.0.0.1'],
      ['accept', 'text/event-stream'],
      ['accept', 'application/xml'],
      ['accept-encoding', 'gzip, br, deflate'],
      ['x-big', 'h'.repeat(12_000)],
      ['x-big', 'h'.repeat(20_000)],
      ['content-encoding', 'gzip'],
      ['content-encoding', 'identity'],
      ['x-dup', 'a', 'x-dup', 'b'],
      ['host', 'evil.example'],
      ['origin', 'http://evil.example'],
    ),
    weight: 2,
  },
  { arbitrary: fc.array(fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,20}$/), fc.stringMatching(/^[\x20-\x7e]{0,60}$/)), { maxLength: 5 }).map((pairs) => pairs.flat().map((s) => s.trim())), weight: 1 },
);

const kBodyMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const kAllMethods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];

/** A GET or HEAD route only gets a body when its method is swapped for another: a cheap one does. */
const kCheapBody = fc.constantFrom({ body: Buffer.from('{"a":1}'), kind: 'small JSON' }, { body: Buffer.from('{'), kind: 'truncated JSON' });

function caseArb(route: RouteInfo): fc.Arbitrary<Case> {
  const params = [...route.url.matchAll(/:([A-Za-z0-9_]+)|\*/g)].map((m) => m[0]);
  const pathArb = fc.array(idArb, { minLength: params.length, maxLength: params.length }).map((ids) => {
    let p = route.url;
    ids.forEach((id, i) => (p = p.replace(params[i]!, id)));
    return p;
  });
  const methodArb = fc.oneof({ arbitrary: fc.constant(route.method), weight: 9 }, { arbitrary: fc.constantFrom(...kAllMethods), weight: 1 });
  return fc
    .tuple(pathArb, queryArb, methodArb, authArb(), extraHeadersArb, kBodyMethods.has(route.method) ? bodyArb(route) : kCheapBody, fc.constantFrom(...kContentTypes), fc.nat(9), fc.boolean())
    .map(([path, query, method, auth, extra, body, contentType, ctPick, dupCt]) => {
      const headers = [...auth.headers, ...extra];
      const withBody = kBodyMethods.has(method);
      if (withBody) {
        // Mostly JSON; otherwise another content type, or none, or two.
        if (ctPick < 6) headers.push('content-type', 'application/json');
        else if (ctPick < 9) headers.push('content-type', contentType);
        if (dupCt && ctPick < 9) headers.push('content-type', contentType);
      }
      return {
        route: `${route.method} ${route.url}`,
        method,
        path: query === '' ? path : `${path}?${query}`,
        headers,
        ...(withBody && { body: body.body }),
        kind: `${auth.kind}; ${withBody ? body.kind : 'no body'}${method !== route.method ? `; method ${method}` : ''}`,
      };
    });
}

// ---- raw malformed requests ---------------------------------------------------------------

function rawCases(port: number, paths: string[]): string[] {
  const host = `127.0.0.1:${port}`;
  const auth = `Authorization: Bearer ${kToken}\r\n`;
  const out: string[] = [];
  for (const path of paths) {
    out.push(
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${(1 << 30).toString(16)}\r\n{}`,
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\nContent-Length: -1\r\n\r\n{}`,
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n{}`,
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}X-Bad Header: 1\r\n\r\n`,
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}X-Nul: a\u0000b\r\n\r\n`,
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}X-Big: ${'b'.repeat(40_000)}\r\n\r\n`,
      `GET ${path}${'?q='.concat('q'.repeat(20_000))} HTTP/1.1\r\nHost: ${host}\r\n${auth}\r\n`,
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Authorization: Bearer other\r\n\r\n`,
      `GET ${path} HTTP/1.1\r\n${auth}\r\n`,
      `GET ${path} HTTP/1.0\r\n${auth}\r\n`,
      `GET http://${host}${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}\r\n`,
      `BREW ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}\r\n`,
      `GET ${path} HTTP/9.9\r\nHost: ${host}\r\n${auth}\r\n`,
      `GET ${path}\r\n\r\n`,
      `\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003`,
      `GET ${path} HTTP/1.1\nHost: ${host}\n${auth.replace('\r\n', '\n')}\n`,
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\nContent-Length: 10\r\n\r\n{}`,
      // undici refuses these headers itself (and an Expect left its pool stuck), so they go raw.
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}`,
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Expect: 100-continue\r\n\r\n`,
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth}Connection: close\r\nConnection: keep-alive\r\n\r\n`,
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nHost: other\r\n${auth}\r\n`,
    );
  }
  return out;
}

/** Sends raw bytes and returns the status of the first answer, or 0 when the server closed without one. */
function rawExchange(port: number, text: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.[01] (-1|\d{3})/.exec(got);
      resolve(m === null ? 0 : Number(m[1]));
    };
    const timer = setTimeout(() => {
      got = got === '' ? 'HTTP/1.1 -1' : got;
      finish();
    }, timeoutMs);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      // Skip interim answers (100 Continue): the final status is what counts.
      while (/^HTTP\/1\.[01] 1\d\d[^\r]*\r\n\r\n/.test(got)) got = got.replace(/^HTTP\/1\.[01] 1\d\d[^\r]*\r\n\r\n/, '');
      if (/^HTTP\/1\.[01] [2-9]\d\d/.test(got)) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.write(Buffer.from(text, 'latin1'));
  });
}

// ---- the run -------------------------------------------------------------------------------

const routes = await enumerateRoutes();

describe('HTTP control API fuzz (issue 17 item 5)', () => {
  let server: TestServer;
  const logged: string[] = [];
  const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();

  beforeAll(async () => {
    server = await startServer(kOptions);
    // With logging off, Fastify's logger is one shared no-op object: catch what the error handler logs (5xx, with stacks).
    const log = server.app.log as unknown as Record<string, unknown>;
    log.error = (obj: unknown, msg?: string) => logged.push(obj instanceof Error ? `${obj.stack ?? obj.message}` : `${msg ?? ''} ${JSON.stringify(obj)?.slice(0, 2000)}`);
    log.fatal = log.error;
  });
  afterAll(async () => {
    await server?.close();
  });

  it(`answers ${kRequests.toLocaleString('en-US')}+ random and malformed requests on every route with 4xx (or 2xx), never a 5xx`, async () => {
    console.log(`server fuzz: seed ${kSeed} (FUZZ_SEED=${kSeed} replays), ${routes.length} routes: ${routes.map((r) => `${r.method} ${r.url}`).join(', ')}`);
    expect(routes.length).toBeGreaterThan(0);
    const perRoute = routes.map((r) => caseArb(r).filter((c) => !isKnown(c.method, c.path.split('?')[0]!)));
    const anyCase = fc.oneof(...perRoute);
    const agent = new Agent({ connections: kConcurrency, pipelining: 1, keepAliveTimeout: 10_000, bodyTimeout: 8_000, headersTimeout: 8_000 });
    const counts = { sent: 0, answered: 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, refusedByClient: 0, closedByServer: 0 };
    const byStatus = new Map<number, number>();
    const findings: Finding[] = [];
    const routesHit = new Set<string>();
    const started = performance.now();
    let generateMs = 0;

    const send = async (c: Case): Promise<void> => {
      counts.sent++;
      const before = logged.length;
      const slow = process.env.FUZZ_VERBOSE === '1' ? setTimeout(() => console.log(`slow: ${JSON.stringify({ ...c, body: c.body?.toString('latin1').slice(0, 200) })}`), 3000) : undefined;
      try {
        const res = await request(`${server.origin}${c.path}`, {
          method: c.method as 'GET',
          headers: c.headers,
          ...(c.body !== undefined && { body: c.body }),
          dispatcher: agent,
        });
        const type = String(res.headers['content-type'] ?? '');
        let text = '';
        // A server-sent-events route never ends its body: read the status, drop the stream.
        if (type.startsWith('text/event-stream')) {
          res.body.on('error', () => {});
          res.body.destroy();
        } else text = await res.body.text();
        counts.answered++;
        routesHit.add(c.route);
        byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1);
        const cls = `${Math.floor(res.statusCode / 100)}xx` as '2xx';
        if (cls in counts) counts[cls]++;
        if (res.statusCode >= 500) {
          findings.push({
            status: res.statusCode,
            route: c.route,
            kind: c.kind,
            method: c.method,
            path: c.path.slice(0, 300),
            headers: c.headers.map((h) => h.slice(0, 120)),
            body: (c.body ?? Buffer.alloc(0)).toString('latin1').slice(0, 400),
            answer: text.slice(0, 400),
            logged: logged.slice(before),
          });
        }
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        // undici refuses some inputs before sending (it validates header names and values); those are not requests.
        if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED' || (err as Error).name === 'InvalidArgumentError') counts.refusedByClient++;
        // The server may close a connection on a request it cannot parse (node's parser answers 400 and closes first, mostly).
        else if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'UND_ERR_CLOSED' || code === 'EPIPE') counts.closedByServer++;
        // No answer within 8 s: the server hung on this input (every route answers, or sends 202 after syncWaitMs, 2 s, well within that).
        else if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
          findings.push({
            status: 0,
            route: c.route,
            kind: `${c.kind}; no answer in 8 s (${code})`,
            method: c.method,
            path: c.path.slice(0, 300),
            headers: c.headers.map((h) => h.slice(0, 120)),
            body: (c.body ?? Buffer.alloc(0)).toString('latin1').slice(0, 400),
            answer: '',
            logged: logged.slice(before),
          });
        } else throw err;
      } finally {
        clearTimeout(slow);
      }
    };

    for (let batch = 0; counts.answered + counts.closedByServer < kRequests; batch++) {
      if (process.env.FUZZ_VERBOSE === '1') console.log(`batch ${batch} at ${((performance.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}`);
      const g0 = performance.now();
      const cases = fc.sample(anyCase, { seed: kSeed + batch, numRuns: kBatch });
      generateMs += performance.now() - g0;
      let next = 0;
      await Promise.all(
        Array.from({ length: kConcurrency }, async () => {
          while (next < cases.length) await send(cases[next++]!);
        }),
      );
      if (batch > 200) break;
    }
    // Every route, at least a few times, with its own method: fc.oneof picks routes uniformly, so this holds for any seed.
    for (const r of routes) {
      for (const c of fc.sample(caseArb(r), { seed: kSeed ^ 0x5eed, numRuns: 5 })) if (!isKnown(c.method, c.path.split('?')[0]!)) await send(c);
    }
    await agent.close();

    // Raw malformed requests no HTTP client would send.
    const rawPaths = [...new Set(routes.map((r) => r.url.replace(/:[A-Za-z0-9_]+/g, 'x').replace('*', 'x')))];
    const raw = rawCases(server.port, rawPaths);
    const rawStatus = new Map<number, number>();
    const httpSeconds = (performance.now() - started) / 1000;
    let nextRaw = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (nextRaw < kRawRequests) {
          const text = raw[nextRaw++ % raw.length]!;
          // -1: no answer within the wait (a request the server is still waiting to complete; its requestTimeout ends it).
          const status = await rawExchange(server.port, text, 1_000);
          rawStatus.set(status, (rawStatus.get(status) ?? 0) + 1);
          if (status >= 500) {
            findings.push({ status, route: 'raw', kind: 'raw malformed request', method: '', path: text.split('\r\n')[0]!.slice(0, 200), headers: [], body: text.slice(0, 400), answer: '', logged: [] });
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `server fuzz: ${counts.sent.toLocaleString('en-US')} requests in ${httpSeconds.toFixed(1)} s (${(generateMs / 1000).toFixed(1)} s of it making cases): ${JSON.stringify(counts)}; ` +
        `by status ${JSON.stringify(Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0])))}; ` +
        `raw ${kRawRequests} malformed: ${JSON.stringify(Object.fromEntries([...rawStatus].sort((a, b) => a[0] - b[0])))} (0: closed without an answer, -1: no answer in 1 s) in ${(seconds - httpSeconds).toFixed(1)} s; ` +
        `${routesHit.size}/${routes.length} routes answered`,
    );
    if (findings.length > 0) console.log(`server fuzz findings (${findings.length}):\n${JSON.stringify(findings.slice(0, 20), null, 2)}`);

    expect(findings, 'a 5xx answer or no answer (fix-owner: the route in "route")').toEqual([]);
    expect(counts.answered + counts.closedByServer).toBeGreaterThanOrEqual(kRequests);
    expect(counts.answered).toBeGreaterThanOrEqual(kRequests * 0.95);
    // Every route (a known finding's route only through its other methods' cases, if at all).
    expect(routesHit.size).toBeGreaterThanOrEqual(routes.filter((r) => !isKnown(r.method, r.url)).length);
    expect(counts['4xx']).toBeGreaterThan(0);
    // Raw requests: an answer is a 4xx (or 2xx for the few that are valid HTTP), or the server closed the socket.
    for (const status of rawStatus.keys()) expect(status <= 0 || (status >= 200 && status < 500)).toBe(true);
  }, 240_000);

  for (const k of kKnownFindings.filter((f) => routes.some((r) => r.method === f.method && r.url === f.url))) {
    it.fails(`known finding, ${k.owner}: ${k.method} ${k.url} answers within 5 s`, async () => {
      const res = await request(`${server.origin}${k.url}`, { method: k.method as 'HEAD', headers: { authorization: `Bearer ${kToken}` }, headersTimeout: 5_000 });
      res.body.on('error', () => {});
      res.body.destroy();
      expect(res.statusCode).toBeLessThan(500);
    });
  }

  it('HEAD on the event stream answers at once (404: the route has no HEAD twin) instead of hanging', async () => {
    const res = await request(`${server.origin}${kApiPrefix}/stream`, { method: 'HEAD', headers: { authorization: `Bearer ${kToken}` }, headersTimeout: 5_000 });
    expect(res.statusCode).toBe(404);
  });

  it('after the fuzz: /livez and a good request answer, Object.prototype is untouched, objects and jobs stay within caps', async () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const livez = await fetch(`${server.origin}/livez`);
    expect(livez.status).toBe(200);
    expect(await livez.json()).toMatchObject({ status: 'ok' });

    const auth = { authorization: `Bearer ${kToken}` };
    const getRoutes = routes.filter((r) => r.method === 'GET' && !r.url.includes(':') && !r.url.includes('*') && r.url.startsWith(kApiPrefix));
    // Every GET route without parameters still answers a good request (a status page, a list) with 200.
    for (const r of getRoutes) {
      const res = await request(`${server.origin}${r.url}`, { headers: auth });
      const type = String(res.headers['content-type'] ?? '');
      if (type.startsWith('text/event-stream')) {
        res.body.on('error', () => {});
        res.body.destroy();
      } else await res.body.text();
      expect(res.statusCode, `GET ${r.url}`).toBe(200);
    }

    // Lists of objects created over HTTP (a GET route with a DELETE ...:id sibling) hold at most maxObjectsPerKind.
    const lists = getRoutes.filter((g) => routes.some((d) => d.method === 'DELETE' && d.url.startsWith(`${g.url}/:`)));
    for (const g of lists) {
      const res = await fetch(`${server.origin}${g.url}`, { headers: auth });
      const body = (await res.json()) as unknown;
      const items = Array.isArray(body) ? body : Object.values(body as Record<string, unknown>).find(Array.isArray);
      expect(Array.isArray(items), `GET ${g.url} lists its objects in an array`).toBe(true);
      expect((items as unknown[]).length, `GET ${g.url}`).toBeLessThanOrEqual(kLimits.maxObjectsPerKind!);
    }
  });
});
