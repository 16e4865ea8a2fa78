/**
 * lib/server core (issue 17 items 2, 3, 5): the bearer token and where it is required, the
 * rate limit, body/content-type/validation errors in the ErrorResponse shape, request and
 * handler timeouts (a client trickling its request is cut off), load shedding with /livez
 * separate from /readyz, jobs in worker threads (202 + polling, cancel, 503 + Retry-After
 * when the queue is full, /livez answering while every job thread spins), the object
 * registry's cap, and the built package: one copy of the library across
 * `ultra-performance` and `ultra-performance/server`, its job worker, and `serve` on the CLI.
 * Every server here listens on a real loopback port.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Fastify from 'fastify';
import { build, type Options } from 'tsup';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { UltraPerfError } from '../lib/index.js';
import {
  HttpError,
  JobRunner,
  createServer,
  isLoopback,
  kApiPrefix,
  resolveLimits,
  ultraPerformancePlugin,
  type RouteModule,
} from '../lib/server/index.js';
import { ObjectRegistry } from '../lib/server/registry.js';
import { kWorkloads as kTestWorkloads } from './fixtures/server-workloads.mjs';
import { startServer, type TestServer } from './helpers/server.js';
import tsupConfig from '../tsup.config.js';

const native = process.env.ULTRA_PERF_BACKEND === 'native';
const kTestWorkloadsModule = new URL('./fixtures/server-workloads.mjs', import.meta.url);
const kJobOptions = { workloads: kTestWorkloads, workloadsModule: kTestWorkloadsModule };
const kToken = 'tok_3f9c2a71d05e48b6a1c7e2d94b508f1a';

interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
}

/** Every error answer is an ErrorResponse: exactly these four fields, the status repeated. */
async function errorBody(response: Response, status: number): Promise<ErrorBody> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await response.json()) as ErrorBody;
  expect(Object.keys(body).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
  expect(body.statusCode).toBe(status);
  expect(typeof body.code).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  return body;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Test-only routes, added with the plugin's `routes` option (the way a user adds theirs). */
const testRoutes: RouteModule = (app, ctx) => {
  app.post(
    '/test/echo',
    { schema: { body: Type.Object({ n: Type.Integer({ minimum: 0 }), tag: Type.Optional(Type.String({ maxLength: 8 })) }, { additionalProperties: false }) } },
    async (request) => ({ n: request.body.n }),
  );
  app.get('/test/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    return { late: true };
  });
  app.get('/test/argument', async () => {
    throw Object.assign(new RangeError('Expected a positive number for x but received -1'), { code: 'ERR_OUT_OF_RANGE' });
  });
  app.get('/test/stream', async () => ({ streamed: true }));
  app.post(
    '/test/spin',
    { schema: { body: Type.Object({ ms: Type.Integer({ minimum: 0, maximum: 120_000 }) }, { additionalProperties: false }) } },
    async (request, reply) => {
      const job = ctx.jobs.submit('spin', { ms: request.body.ms });
      return ctx.jobs.wait(job, reply);
    },
  );
  app.post('/test/books', async () => {
    const entry = ctx.registry.add('book', () => ({ object: {}, describe: () => ({ levels: 0 }) }));
    return { id: entry.id };
  });
  app.get('/test/books', async () => ({ books: ctx.registry.list('book').map((entry) => ({ id: entry.id, ...entry.describe() })) }));
  app.delete<{ Params: { id: string } }>('/test/books/:id', async (request) => {
    await ctx.registry.delete('book', request.params.id);
    return { deleted: request.params.id };
  });
};

describe('binding beyond loopback', () => {
  it.each(['0.0.0.0', '::', '192.0.2.2', 'fd00::2', 'example.com'])('createServer refuses %s without a token', async (host) => {
    const err = await createServer({ host }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UltraPerfError);
    expect(err).toMatchObject({ code: 'ERR_ULTRA_PERF_HTTP_TOKEN_REQUIRED' });
    expect((err as Error).message).toContain(host);
  });

  it('createServer accepts those with a token, and loopback without one', async () => {
    for (const options of [{ host: '0.0.0.0', token: kToken }, { host: '::', token: kToken }, { host: '127.0.0.1' }, { host: '::1' }, { host: 'localhost' }]) {
      const app = await createServer(options);
      await app.close();
    }
  });

  it('isLoopback knows loopback spellings from the rest', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', '::ffff:10.0.0.1', 'fd00::2', 'localhost.example.com', '128.0.0.1']) expect(isLoopback(host), host).toBe(false);
  });

  it('refuses a malformed token and bad limits, naming them, before listening', async () => {
    await expect(createServer({ token: 'has space' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: /options\.token/ });
    await expect(createServer({ limits: { rateLimitPerSec: 0 } })).rejects.toMatchObject({ code: 'ERR_ULTRA_PERF_HTTP_BAD_LIMIT', message: /limits\.rateLimitPerSec but received 0/ });
    await expect(createServer({ limits: { jobQueue: 1.5 } })).rejects.toMatchObject({ code: 'ERR_ULTRA_PERF_HTTP_BAD_LIMIT', message: /limits\.jobQueue/ });
    await expect(createServer({ limits: { maxEventLoopUtilization: 2 } })).rejects.toMatchObject({ message: /\[0, 1\] for limits\.maxEventLoopUtilization/ });
    await expect(createServer({ limits: { nope: 1 } as never })).rejects.toMatchObject({ code: 'ERR_ULTRA_PERF_HTTP_BAD_LIMIT', message: /limits\.nope/ });
    await expect(createServer({ limits: { headersTimeoutMs: 5000, requestTimeoutMs: 1000 } })).rejects.toMatchObject({ message: /limits\.headersTimeoutMs/ });
    await expect(createServer({ limits: { handlerTimeoutMs: 1000, syncWaitMs: 2000 } })).rejects.toMatchObject({ message: /below limits\.handlerTimeoutMs \(1000\) for limits\.syncWaitMs but received 2000/ });
    await expect(createServer({ limits: { pressureSampleMs: 10 } })).rejects.toMatchObject({ message: /an integer >= 50 for limits\.pressureSampleMs but received 10/ });
    expect(resolveLimits({ maxHeapUsedBytes: 0 }).maxHeapUsedBytes).toBe(0);
  });

  const lan = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
  it.skipIf(lan === undefined)('the plugin in an app listening beyond loopback without a token answers 403, probes still 200', async () => {
    const app = Fastify();
    await app.register(ultraPerformancePlugin, {});
    await app.listen({ host: lan, port: 0 });
    try {
      const { port } = app.server.address() as { port: number };
      const body = await errorBody(await fetch(`http://${lan}:${port}${kApiPrefix}/jobs`), 403);
      expect(body.code).toBe('ERR_ULTRA_PERF_HTTP_TOKEN_REQUIRED');
      expect((await fetch(`http://${lan}:${port}/livez`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('in a user app', () => {
  it('sits beside the app\'s own routes and 404 handler; its hooks stay on its own routes', async () => {
    const app = Fastify();
    app.setNotFoundHandler((_request, reply) => reply.code(404).send({ theirs: true }));
    app.get('/user', async () => ({ user: true }));
    await app.register(ultraPerformancePlugin, { token: kToken, limits: { rateLimitPerSec: 1 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      // Neither the token nor the rate limit applies to the app's own route.
      for (let i = 0; i < 3; i++) expect(await (await fetch(`${origin}/user`)).json()).toEqual({ user: true });
      expect(await (await fetch(`${origin}/elsewhere`)).json()).toEqual({ theirs: true });
      const body = await errorBody(await fetch(`${origin}${kApiPrefix}/nope`, { headers: bearer(kToken) }), 404);
      expect(body.code).toBe('ERR_ULTRA_PERF_HTTP_NO_ROUTE');
      await errorBody(await fetch(`${origin}${kApiPrefix}/jobs`), 401);
    } finally {
      await app.close();
    }
  });
});

describe('bearer token', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ token: kToken, routes: [testRoutes] });
  });
  afterAll(() => server.close());

  it('401 without a token, with a wrong one of the same or another length, or another scheme; 200 with it', async () => {
    const url = `${server.api}/jobs`;
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /needs the bearer token/],
      [bearer(kToken.replace(/.$/, kToken.endsWith('a') ? 'b' : 'a')), /wrong/],
      [bearer(`${kToken}x`), /wrong/],
      [bearer('short'), /wrong/],
      [{ authorization: `Basic ${Buffer.from(`u:${kToken}`).toString('base64')}` }, /wrong or malformed/],
      [{ authorization: 'Bearer' }, /wrong or malformed/],
    ];
    for (const [headers, message] of cases) {
      const response = await fetch(url, { headers });
      const body = await errorBody(response, 401);
      expect(body.code).toBe('ERR_ULTRA_PERF_HTTP_UNAUTHORIZED');
      expect(body.message).toMatch(message);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="ultra-performance"/);
    }
    const ok = await fetch(url, { headers: bearer(kToken) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ jobs: [], total: 0 });
    // The scheme is case-insensitive (RFC 7235).
    expect((await fetch(url, { headers: { authorization: `bearer ${kToken}` } })).status).toBe(200);
  });

  it('probes need no token; unknown API routes answer 404 in the ErrorResponse shape', async () => {
    expect((await fetch(`${server.origin}/livez`)).status).toBe(200);
    expect((await fetch(`${server.origin}/readyz`)).status).toBe(200);
    const body = await errorBody(await fetch(`${server.api}/no/such/route`, { headers: bearer(kToken) }), 404);
    expect(body).toMatchObject({ code: 'ERR_ULTRA_PERF_HTTP_NO_ROUTE', error: 'Not Found', message: `no route GET ${kApiPrefix}/no/such/route` });
    await errorBody(await fetch(`${server.origin}/nothing-here?x=1`), 404);
  });

  it('accepts ?access_token= only on server-sent-event routes (paths ending in /stream)', async () => {
    expect((await fetch(`${server.api}/test/stream?access_token=${kToken}`)).status).toBe(200);
    await errorBody(await fetch(`${server.api}/test/stream?access_token=wrong`), 401);
    await errorBody(await fetch(`${server.api}/jobs?access_token=${kToken}`), 401);
  });
});

describe('request errors', () => {
  let server: TestServer;
  const json = { 'content-type': 'application/json' };
  beforeAll(async () => {
    server = await startServer({ routes: [testRoutes], limits: { maxBodyBytes: 1024, handlerTimeoutMs: 300, syncWaitMs: 100 } });
  });
  afterAll(() => server.close());

  it('a good body answers 200', async () => {
    const response = await fetch(`${server.api}/test/echo`, { method: 'POST', headers: json, body: JSON.stringify({ n: 3 }) });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ n: 3 });
  });

  it('400 names the field for schema errors; malformed JSON and an empty JSON body are 400 too', async () => {
    const post = (body: string, headers: Record<string, string> = json) => fetch(`${server.api}/test/echo`, { method: 'POST', headers, body });
    let body = await errorBody(await post(JSON.stringify({ n: 'three' })), 400);
    expect(body).toMatchObject({ code: 'FST_ERR_VALIDATION', message: expect.stringContaining('body/n') });
    body = await errorBody(await post(JSON.stringify({ n: 1, extra: true })), 400);
    expect(body.message).toMatch(/additional properties \(unknown field "\/extra"\)/);
    body = await errorBody(await post(JSON.stringify({})), 400);
    expect(body.message).toMatch(/n/);
    body = await errorBody(await post('{"n": 1'), 400);
    expect(body.code).toBe('FST_ERR_CTP_INVALID_JSON_BODY');
    body = await errorBody(await post(''), 400);
    expect(body.code).toBe('FST_ERR_CTP_EMPTY_JSON_BODY');
    body = await errorBody(await post('{"__proto__": {"n": 1}}'), 400);
    expect(body.code).toBe('FST_ERR_CTP_INVALID_JSON_BODY');
  });

  it('413 past maxBodyBytes, 415 for a body that is not JSON', async () => {
    const big = JSON.stringify({ n: 1, tag: 'x'.repeat(2000) });
    let body = await errorBody(await fetch(`${server.api}/test/echo`, { method: 'POST', headers: json, body: big }), 413);
    expect(body.code).toBe('FST_ERR_CTP_BODY_TOO_LARGE');
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      body = await errorBody(await fetch(`${server.api}/test/echo`, { method: 'POST', headers: { 'content-type': type }, body: 'n=1' }), 415);
      expect(body.code, type).toBe('FST_ERR_CTP_INVALID_MEDIA_TYPE');
    }
  });

  it('requests Node refuses before routing (not HTTP, a head past maxHeaderBytes) get an ErrorResponse too', async () => {
    const raw = (request: string) =>
      new Promise<string>((resolve) => {
        const socket = connect(server.port, '127.0.0.1');
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (text += chunk));
        socket.on('error', () => {});
        socket.on('close', () => resolve(text));
        socket.write(request);
      });
    const parse = (text: string) => ({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), body: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as ErrorBody });
    let answer = parse(await raw('GARBAGE\r\n\r\n'));
    expect(answer).toEqual({ status: 400, body: { statusCode: 400, code: 'HPE_INVALID_METHOD', error: 'Bad Request', message: 'the request is not valid HTTP/1.1 (HPE_INVALID_METHOD)' } });
    answer = parse(await raw(`GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(answer.status).toBe(431);
    expect(answer.body).toMatchObject({ statusCode: 431, code: 'HPE_HEADER_OVERFLOW', message: expect.stringContaining('limits.maxHeaderBytes (16384 bytes)') });
  });

  it('a library argument error is 422; a handler past handlerTimeoutMs is 503 with Retry-After', async () => {
    let body = await errorBody(await fetch(`${server.api}/test/argument`), 422);
    expect(body).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: 'Expected a positive number for x but received -1' });
    const response = await fetch(`${server.api}/test/slow`);
    body = await errorBody(response, 503);
    expect(body.code).toBe('FST_ERR_HANDLER_TIMEOUT');
    expect(response.headers.get('retry-after')).toBe('1');
    // The server carries on.
    expect((await fetch(`${server.origin}/livez`)).status).toBe(200);
  });
});

describe('rate limit', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ token: kToken, limits: { rateLimitPerSec: 3 } });
  });
  afterAll(() => server.close());

  it('429 with Retry-After past rateLimitPerSec; wrong tokens are counted per client, apart from the token; probes are not limited', async () => {
    const wrong = await Promise.all(Array.from({ length: 8 }, () => fetch(`${server.api}/jobs`, { headers: bearer('nope') })));
    const limited = wrong.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(wrong.filter((r) => r.status === 401).length).toBeGreaterThan(0);
    const body = await errorBody(limited[0]!, 429);
    expect(body.code).toBe('ERR_ULTRA_PERF_HTTP_RATE_LIMITED');
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    for (const r of wrong) if (r.status !== 429) await r.arrayBuffer();
    // The right token has its own budget.
    const right = await Promise.all(Array.from({ length: 6 }, () => fetch(`${server.api}/jobs`, { headers: bearer(kToken) })));
    const statuses = right.map((r) => r.status);
    expect(statuses).toContain(200);
    expect(statuses).toContain(429);
    await Promise.all(right.map((r) => r.arrayBuffer()));
    const probes = await Promise.all(Array.from({ length: 10 }, () => fetch(`${server.origin}/livez`)));
    expect(probes.map((r) => r.status)).toEqual(Array(10).fill(200));
  });
});

describe('slow clients', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ limits: { headersTimeoutMs: 600, requestTimeoutMs: 1200 } });
  });
  afterAll(() => server.close());

  /** Writes `head` at once, then one byte of `drip` every 200 ms; resolves when the server closes the socket (or throws after `maxBytes`). */
  function trickle(head: string, drip: string): Promise<{ sent: number; answer: string }> {
    return new Promise((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      let sent = 0;
      let answer = '';
      let timer: NodeJS.Timeout | undefined;
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ sent, answer });
      });
      socket.on('connect', () => {
        socket.write(head);
        timer = setInterval(() => {
          // 40 bytes at 5 bytes/s is 8 s: far past both timeouts.
          if (sent >= drip.length) {
            clearInterval(timer);
            socket.destroy();
            reject(new Error(`the server let a client trickle ${sent} bytes over ${(sent * 200) / 1000} s`));
            return;
          }
          socket.write(drip[sent++]!);
        }, 200);
      });
    });
  }

  it('a request line and headers trickled byte by byte are cut off by headersTimeout', async () => {
    const { sent, answer } = await trickle('GET /livez HTTP/1.1\r\n', 'Host: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n');
    expect(sent).toBeLessThan(40);
    // The server answers 408 (an ErrorResponse) before it closes the socket.
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"code":"ERR_HTTP_REQUEST_TIMEOUT"');
  });

  it('a body trickled byte by byte is cut off by requestTimeout', async () => {
    const head = `POST ${kApiPrefix}/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n`;
    const { sent } = await trickle(head, '{"padding":"aaaaaaaaaaaaaaaaaaaaaaaaa"}');
    expect(sent).toBeLessThan(40);
  });

  it('the server answers other clients meanwhile', async () => {
    const slow = trickle('GET /livez HTTP/1.1\r\n', 'Host: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n');
    expect((await fetch(`${server.origin}/livez`)).status).toBe(200);
    expect((await slow).sent).toBeLessThan(40);
  });
});

describe('load shedding', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Pressure injected the way an operator sets it: a heap limit every process is past.
    // (The event-loop check is off so the heap is the one reason.)
    server = await startServer({ limits: { maxHeapUsedBytes: 1, maxEventLoopDelayMs: 0, pressureSampleMs: 50 } });
  });
  afterAll(() => server.close());

  it('a loop stalled by start-up (route modules loading) is not load: no 503 right after ready', async () => {
    const slowToLoad: RouteModule = (app) => {
      const end = Date.now() + 1_500;
      while (Date.now() < end);
      app.get('/test/loaded', async () => ({ loaded: true }));
    };
    const started = await startServer({ routes: [slowToLoad], limits: { maxEventLoopDelayMs: 200, pressureSampleMs: 100 } });
    try {
      const responses = [await fetch(`${started.api}/test/loaded`), await fetch(`${started.origin}/readyz`)];
      expect(responses.map((r) => r.status)).toEqual([200, 200]);
    } finally {
      await started.close();
    }
  });

  it('under pressure the API and /readyz answer 503 with Retry-After, /livez stays 200', async () => {
    const ready = await until(async () => {
      const r = await fetch(`${server.origin}/readyz`);
      if (r.status === 503) return r;
      await r.arrayBuffer();
      return undefined;
    }, 'readyz to report the pressure');
    const body = await errorBody(ready, 503);
    expect(body.code).toBe('ERR_ULTRA_PERF_HTTP_NOT_READY');
    expect(body.message).toMatch(/under pressure/);
    expect(Number(ready.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const api = await fetch(`${server.api}/jobs`);
    const apiBody = await errorBody(api, 503);
    expect(apiBody).toMatchObject({ code: 'ERR_ULTRA_PERF_HTTP_BUSY', message: expect.stringMatching(/heap used \d+ bytes, limit 1/) });
    expect(Number(api.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const live = await fetch(`${server.origin}/livez`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ status: 'ok' });
  });
});

describe('JobRunner (worker threads)', () => {
  const runners: JobRunner[] = [];
  const runner = (limits: Parameters<typeof resolveLimits>[0]) => {
    const r = new JobRunner(resolveLimits(limits), kJobOptions);
    runners.push(r);
    return r;
  };
  afterAll(async () => {
    await Promise.all(runners.map((r) => r.close()));
  });

  it('runs a workload on another thread and keeps the error code of one that throws', async () => {
    const r = runner({ jobConcurrency: 2 });
    const ok = r.submit('spin', { ms: 5 });
    const bad = r.submit('reject', { value: 11 });
    await Promise.all([ok.done, bad.done]);
    expect(ok.state).toBe('done');
    expect((ok.result as { threadId: number }).threadId).toBeGreaterThan(0);
    expect(bad).toMatchObject({ state: 'failed', error: { code: 'ERR_OUT_OF_RANGE', message: 'Expected a value at most 10 for input.value but received 11' } });
    expect(r.stats()).toMatchObject({ completed: 1, failed: 1, running: 0, queued: 0 });
    expect(() => r.submit('eval', 'process.exit()')).toThrow(expect.objectContaining({ statusCode: 422, code: 'ERR_ULTRA_PERF_HTTP_UNKNOWN_WORKLOAD' }));
    expect(() => r.submit('constructor', {})).toThrow(expect.objectContaining({ statusCode: 422 }));
  });

  it('refuses workloads without the module the threads load them from', () => {
    expect(() => new JobRunner(resolveLimits(), { workloads: kTestWorkloads })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/workloadsModule/) }));
  });

  it('bounds the queue (503 + Retry-After), cancels queued and running jobs, and frees the slot', async () => {
    const r = runner({ jobConcurrency: 1, jobQueue: 1 });
    const running = r.submit('spin', { ms: 60_000 });
    const queued = r.submit('spin', { ms: 1 });
    expect(r.full()).toBe(true);
    let refused: unknown;
    try {
      r.submit('spin', { ms: 1 });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({ statusCode: 503, code: 'ERR_ULTRA_PERF_HTTP_BUSY', headers: { 'retry-after': expect.stringMatching(/^\d+$/) } });
    expect(r.stats().rejected).toBe(1);
    await until(async () => (running.state === 'running' ? true : undefined), 'the first job to start');
    expect(r.cancel(queued.id).state).toBe('cancelled');
    expect(r.cancel(running.id).state).toBe('cancelled');
    // The running job's thread is stopped: done settles long before its 60 s.
    await running.done;
    expect(running.state).toBe('cancelled');
    const next = r.submit('spin', { ms: 1 });
    await next.done;
    expect(next.state).toBe('done');
    expect(r.stats()).toMatchObject({ cancelled: 2, completed: 1, running: 0, queued: 0 });
    expect(() => r.cancel('job-unknown')).toThrow(expect.objectContaining({ statusCode: 404 }));
    // Cancelling a finished job forgets it.
    r.cancel(next.id);
    expect(r.get(next.id)).toBeUndefined();
  });

  it('Retry-After follows the running time of recent jobs', async () => {
    const r = runner({ jobConcurrency: 1, jobQueue: 1 });
    const first = r.submit('spin', { ms: 2_500 });
    await first.done;
    expect(r.stats().meanRunMs).toBeGreaterThan(2_400);
    r.submit('spin', { ms: 2_500 });
    r.submit('spin', { ms: 1 });
    const err = (() => {
      try {
        r.submit('spin', { ms: 1 });
      } catch (e) {
        return e as HttpError;
      }
      throw new Error('expected a 503');
    })();
    // At most the mean (2.5 s -> 3 s), at least 1 s.
    expect(Number(err.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(err.headers['retry-after'])).toBeLessThanOrEqual(3);
  });

  it('forgets finished jobs past maxJobsKept (oldest first) and past jobTtlMs', async () => {
    const r = runner({ jobConcurrency: 2, maxJobsKept: 2 });
    const jobs = [];
    for (let i = 0; i < 4; i++) {
      const job = r.submit('spin', { ms: 1 });
      await job.done;
      jobs.push(job);
    }
    expect(r.list().map((j) => j.id)).toEqual([jobs[2]!.id, jobs[3]!.id]);
    const short = runner({ jobTtlMs: 50 });
    const job = short.submit('spin', { ms: 1 });
    await job.done;
    expect(short.get(job.id)).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(short.list()).toEqual([]);
    expect(short.get(job.id)).toBeUndefined();
  });

  it('close() stops running jobs and refuses new ones with 503', async () => {
    const r = new JobRunner(resolveLimits({ jobConcurrency: 1 }), kJobOptions);
    const running = r.submit('spin', { ms: 60_000 });
    const queued = r.submit('spin', { ms: 1 });
    await until(async () => (running.state === 'running' ? true : undefined), 'the job to start');
    await r.close();
    expect([running.state, queued.state]).toEqual(['cancelled', 'cancelled']);
    expect(() => r.submit('spin', { ms: 1 })).toThrow(expect.objectContaining({ statusCode: 503 }));
  });
});

describe('jobs over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ routes: [testRoutes], jobs: kJobOptions, limits: { jobConcurrency: 2, jobQueue: 1, syncWaitMs: 200 } });
  });
  afterAll(() => server.close());
  const json = { 'content-type': 'application/json' };
  const spin = (ms: number) => fetch(`${server.api}/test/spin`, { method: 'POST', headers: json, body: JSON.stringify({ ms }) });

  it('a short job answers 200 with its result; a long one 202 with a job to poll, until done', async () => {
    // The first job also starts a thread, which may take longer than syncWaitMs: poll if so.
    const first = await spin(1);
    expect([200, 202]).toContain(first.status);
    await first.arrayBuffer();
    const accepted = await spin(1_500);
    expect(accepted.status).toBe(202);
    const view = (await accepted.json()) as { id: string; state: string; location: string };
    expect(accepted.headers.get('location')).toBe(view.location);
    expect(view.location).toBe(`${kApiPrefix}/jobs/${view.id}`);
    expect(['queued', 'running']).toContain(view.state);
    const done = await until(async () => {
      const poll = (await (await fetch(`${server.origin}${view.location}`)).json()) as { state: string; result?: { iterations: number }; elapsedMs?: number };
      return poll.state === 'done' ? poll : undefined;
    }, 'the job to finish');
    expect(done.result!.iterations).toBeGreaterThan(0);
    expect(done.elapsedMs).toBeGreaterThanOrEqual(1_500);
    const list = (await (await fetch(`${server.api}/jobs?state=done`)).json()) as { jobs: Array<{ id: string; result?: unknown }>; total: number };
    expect(list.jobs[0]!.id).toBe(view.id);
    expect(list.jobs[0]).not.toHaveProperty('result');
    await errorBody(await fetch(`${server.api}/jobs?state=lost`), 400);
    await errorBody(await fetch(`${server.api}/jobs?limit=100000`), 400);
    await errorBody(await fetch(`${server.api}/jobs/${'x'.repeat(65)}`), 400);
    const gone = await errorBody(await fetch(`${server.api}/jobs/job-nope`), 404);
    expect(gone.code).toBe('ERR_ULTRA_PERF_HTTP_NOT_FOUND');
  });

  it('with every thread spinning: /livez answers, a full queue is 503 + Retry-After and /readyz says so; DELETE cancels', async () => {
    const long = await Promise.all([spin(60_000), spin(60_000)]);
    const views = (await Promise.all(long.map((r) => r.json()))) as Array<{ id: string }>;
    expect(long.map((r) => r.status)).toEqual([202, 202]);
    await until(async () => {
      const list = (await (await fetch(`${server.api}/jobs?state=running`)).json()) as { total: number };
      return list.total === 2 ? true : undefined;
    }, 'both jobs to run');
    // The event loop is free while both job threads spin.
    for (let i = 0; i < 5; i++) {
      const live = await fetch(`${server.origin}/livez`);
      expect(live.status).toBe(200);
      await live.arrayBuffer();
    }
    const waiting = await spin(1);
    expect(waiting.status).toBe(202);
    const waitingView = (await waiting.json()) as { id: string; state: string };
    expect(waitingView.state).toBe('queued');
    const full = await spin(1);
    const body = await errorBody(full, 503);
    expect(body.code).toBe('ERR_ULTRA_PERF_HTTP_BUSY');
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const ready = await fetch(`${server.origin}/readyz`);
    expect((await errorBody(ready, 503)).message).toMatch(/job queue full/);
    expect((await fetch(`${server.origin}/livez`)).status).toBe(200);

    const cancelQueued = await fetch(`${server.api}/jobs/${waitingView.id}`, { method: 'DELETE' });
    expect(cancelQueued.status).toBe(200);
    expect(await cancelQueued.json()).toMatchObject({ id: waitingView.id, state: 'cancelled' });
    for (const view of views) {
      const cancelled = await fetch(`${server.api}/jobs/${view.id}`, { method: 'DELETE' });
      expect(await cancelled.json()).toMatchObject({ id: view.id, state: 'cancelled' });
    }
    expect((await fetch(`${server.origin}/readyz`)).status).toBe(200);
    const after = await spin(1);
    expect([200, 202]).toContain(after.status);
    await errorBody(await fetch(`${server.api}/jobs/job-nope`, { method: 'DELETE' }), 404);
  });
});

describe('object registry', () => {
  it('409 past maxObjectsPerKind over HTTP; listed and deleted, then room again', async () => {
    const server = await startServer({ routes: [testRoutes], limits: { maxObjectsPerKind: 2 } });
    try {
      const add = () => fetch(`${server.api}/test/books`, { method: 'POST' });
      const ids = [];
      for (let i = 0; i < 2; i++) ids.push(((await (await add()).json()) as { id: string }).id);
      const body = await errorBody(await add(), 409);
      expect(body).toMatchObject({ code: 'ERR_ULTRA_PERF_HTTP_OBJECT_CAP', message: expect.stringContaining('2 book objects') });
      expect(((await (await fetch(`${server.api}/test/books`)).json()) as { books: unknown[] }).books).toHaveLength(2);
      expect((await fetch(`${server.api}/test/books/${ids[0]}`, { method: 'DELETE' })).status).toBe(200);
      await errorBody(await fetch(`${server.api}/test/books/${ids[0]}`, { method: 'DELETE' }), 404);
      expect((await add()).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('disposes of every object when the server closes', async () => {
    const registry = new ObjectRegistry(4);
    const disposed: string[] = [];
    for (let i = 0; i < 3; i++) registry.add('pool', (id) => ({ object: i, describe: () => ({}), dispose: () => void disposed.push(id) }));
    await registry.closeAll();
    expect(disposed).toHaveLength(3);
    expect(registry.count('pool')).toBe(0);
  });
});

describe('closing', () => {
  it('while closing, the API and /readyz answer 503 and /livez 200 (requests on connections still open)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let holding = 0;
    const holder: RouteModule = (app) => {
      app.get('/test/hold', async () => {
        holding++;
        await gate;
        return { held: true };
      });
    };
    const server = await startServer({ routes: [holder] });
    // Each socket has a request in flight (so close() leaves it open) and then pipelines one more.
    const paths = ['/readyz', `${kApiPrefix}/jobs`, '/livez'];
    const sockets = paths.map(() => connect(server.port, '127.0.0.1'));
    const answers = sockets.map(
      (socket) =>
        new Promise<string>((resolve) => {
          let text = '';
          socket.setEncoding('utf8');
          socket.on('data', (chunk: string) => (text += chunk));
          socket.on('error', () => {});
          socket.on('close', () => resolve(text));
        }),
    );
    for (const socket of sockets) socket.write(`GET ${kApiPrefix}/test/hold HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await until(async () => (holding === 3 ? true : undefined), 'the held requests');
    const closed = server.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    paths.forEach((path, i) => sockets[i]!.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    const texts = await Promise.all(answers);
    const statuses = texts.map((text) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])));
    expect(statuses).toEqual([
      [200, 503],
      [200, 503],
      [200, 200],
    ]);
    expect(texts[1]).toContain('"code":"ERR_ULTRA_PERF_HTTP_BUSY"');
    expect(texts[1]).toContain('shutting down');
    await closed;
  });
});

// The built package: one library state across entries, the job worker found beside
// server.js, `serve` on the CLI. The child processes force the TS backend, so one project runs it.
describe.skipIf(native)('the built package', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  let outDir: string;
  beforeAll(async () => {
    mkdirSync(join(root, '.tmp'), { recursive: true });
    // A private build with the package's own tsup config, so this neither reads a stale
    // dist/ nor races other suites over it; inside the project so node_modules resolve.
    outDir = join(mkdtempSync(join(root, '.tmp', 'server-dist-')), 'dist');
    await build({ ...(tsupConfig as Options), config: false, outDir, dts: false, clean: false, silent: true });
    // What package.json's build:ts does after tsup: the dashboard's static files beside server.js.
    cpSync(join(root, 'lib', 'server', 'dashboard'), join(outDir, 'dashboard'), { recursive: true });
  }, 120_000);
  afterAll(() => rmSync(join(outDir, '..'), { recursive: true, force: true }));

  it.each(['esm', 'cjs'] as const)('%s: server and index share one library (instanceof across entries), jobs run in dist/server-worker', (format) => {
    const fixture = join(outDir, '..', `check-${format}.${format === 'esm' ? 'mjs' : 'cjs'}`);
    const ext = format === 'esm' ? 'js' : 'cjs';
    const load = format === 'esm' ? (f: string) => `await import(${JSON.stringify(join(outDir, f))})` : (f: string) => `require(${JSON.stringify(join(outDir, f))})`;
    const body = `
      const lib = ${load(`index.${ext}`)};
      const server = ${load(`server.${ext}`)};
      const out = {};
      out.httpErrorIsLibraryError = new server.HttpError(400, 'X', 'y') instanceof lib.UltraPerfError;
      out.refusalIsLibraryError = await server.createServer({ host: '0.0.0.0' }).then(() => false, (e) => e instanceof lib.UltraPerfError);
      const runner = new server.JobRunner(server.resolveLimits(), { workloads: { spin: () => 0 }, workloadsModule: ${JSON.stringify(kTestWorkloadsModule.href)} });
      const job = runner.submit('spin', { ms: 1 });
      await job.done;
      out.job = job.state;
      await runner.close();
      const app = await server.createServer({ port: 0 });
      await app.listen({ host: '127.0.0.1', port: 0 });
      out.livez = (await fetch('http://127.0.0.1:' + app.server.address().port + '/livez')).status;
      await app.close();
      console.log(JSON.stringify(out));
    `;
    writeFileSync(fixture, format === 'esm' ? body : `(async () => {${body}})().catch((e) => { console.error(e); process.exit(1); });`);
    const child = spawnSync(process.execPath, [fixture], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ULTRA_PERF_BACKEND: 'ts', NODE_OPTIONS: '' } });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ httpErrorIsLibraryError: true, refusalIsLibraryError: true, job: 'done', livez: 200 });
  });

  it('the server bundle imports the library from index, not a copy of it', async () => {
    const { readFileSync } = await import('node:fs');
    const esm = readFileSync(join(outDir, 'server.js'), 'utf8');
    const cjs = readFileSync(join(outDir, 'server.cjs'), 'utf8');
    expect(esm).toMatch(/from "\.\/index\.js"/);
    expect(cjs).toMatch(/require\("\.\/index\.cjs"\)/);
    expect(esm).not.toMatch(/class UltraPerfError/);
    expect(cjs).not.toMatch(/class UltraPerfError/);
  });

  it('`serve --port 0` prints its URL, answers /livez and exits 0 on SIGTERM; refuses --token and beyond loopback without one', async () => {
    const env = { ...process.env, ULTRA_PERF_BACKEND: 'ts', NODE_OPTIONS: '', ULTRA_PERF_TOKEN: '' };
    const child = spawn(process.execPath, [join(outDir, 'cli.js'), 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const url = await until(async () => /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1], 'the URL on stdout');
    const live = await fetch(`${url}/livez`);
    expect(live.status).toBe(200);
    expect((await fetch(`${url}${kApiPrefix}/jobs`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const tokenFile = join(outDir, '..', 'token');
    writeFileSync(tokenFile, `${kToken}\n`, { mode: 0o600 });
    const withToken = spawn(process.execPath, [join(outDir, 'cli.js'), 'serve', '--port=0', '--token-file', tokenFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out2 = '';
    withToken.stdout.setEncoding('utf8').on('data', (chunk: string) => (out2 += chunk));
    const exited2 = new Promise<number | null>((resolve) => withToken.once('exit', resolve));
    const url2 = await until(async () => /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(out2)?.[1], 'the URL on stdout');
    expect((await fetch(`${url2}${kApiPrefix}/jobs`)).status).toBe(401);
    expect((await fetch(`${url2}${kApiPrefix}/jobs`, { headers: bearer(kToken) })).status).toBe(200);
    withToken.kill('SIGINT');
    expect(await exited2).toBe(0);

    const refused = spawnSync(process.execPath, [join(outDir, 'cli.js'), 'serve', '--token', kToken], { env, encoding: 'utf8', timeout: 30_000 });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--token is refused/);
    expect(refused.stderr).not.toContain(kToken);
    const open = spawnSync(process.execPath, [join(outDir, 'cli.js'), 'serve', '--host', '0.0.0.0', '--port', '0'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(open.status).toBe(1);
    expect(open.stderr).toMatch(/beyond loopback\) needs a bearer token/);
  }, 90_000);
});
