/**
 * lib/server as a hostile client sees it (review of issue 17): regressions for what the
 * security review found. Every server here listens on a real loopback port.
 */
import { request } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startServer, type TestServer } from './helpers/server.js';

const kStatus = '/api/v1/ultra-performance/status/comprehensive';

/** A GET over TCP with the headers given as they are (fetch will not send another Host). */
function get(server: TestServer, path: string, headers: Record<string, string>): Promise<{ status: number; body: { code?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers, setHost: headers.host === undefined }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { code?: string } }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('no token: loopback means a loopback Host and no proxy, not only a loopback socket', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('answers requests that name a loopback host', async () => {
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `LOCALHOST:${server.port}`, `[::1]:${server.port}`, 'localhost', '127.0.0.2']) {
      expect((await get(server, kStatus, { host })).status, host).toBe(200);
    }
  });

  it('refuses a page whose name rebinds to 127.0.0.1 (DNS rebinding: the browser sends its own Host)', async () => {
    for (const host of [`attacker.example:${server.port}`, 'attacker.example', `localhost.attacker.example:${server.port}`, `127.0.0.1.nip.io:${server.port}`, `[::2]:${server.port}`]) {
      const res = await get(server, kStatus, { host });
      expect(res.status, host).toBe(403);
      expect(res.body.code).toBe('ERR_ULTRA_PERF_HTTP_TOKEN_REQUIRED');
    }
    // The stream and /metrics too; the probes stay open.
    expect((await get(server, '/metrics', { host: 'attacker.example' })).status).toBe(403);
    expect((await get(server, '/livez', { host: 'attacker.example' })).status).toBe(200);
  });

  it('refuses requests a reverse proxy on this machine forwarded (they arrive on loopback from anywhere)', async () => {
    const proxied: Record<string, string>[] = [{ 'x-forwarded-for': '203.0.113.7' }, { forwarded: 'for=203.0.113.7' }, { 'x-real-ip': '203.0.113.7' }];
    for (const headers of proxied) {
      const res = await get(server, kStatus, headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(res.body.code).toBe('ERR_ULTRA_PERF_HTTP_TOKEN_REQUIRED');
    }
  });
});

describe('with a token, the Host and proxy headers do not matter', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ token: 'review-sec-token' });
  });
  afterAll(() => server.close());

  it('200 with the token whatever the Host, 401 without it', async () => {
    const auth = { authorization: 'Bearer review-sec-token' };
    expect((await get(server, kStatus, { ...auth, host: 'api.example', 'x-forwarded-for': '203.0.113.7' })).status).toBe(200);
    expect((await get(server, kStatus, { host: `127.0.0.1:${server.port}` })).status).toBe(401);
  });
});

describe('response headers', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('every answer says nosniff: API, errors that echo the path, probes, docs, OpenAPI, metrics', async () => {
    for (const path of [kStatus, '/api/v1/ultra-performance/%3Cscript%3Ealert(1)%3C%2Fscript%3E', '/nope', '/livez', '/docs', '/openapi.json', '/metrics', '/dashboard']) {
      const res = await fetch(server.origin + path);
      await res.arrayBuffer();
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  });
});

describe('static files: no way out of their folders, and a refused path is not an internal error', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('../, encoded dots and slashes, backslashes and NUL never serve a file outside; 4xx codes are not ERR_ULTRA_PERF_HTTP_INTERNAL', async () => {
    for (const base of ['/docs/static/', '/dashboard/', '/dashboard/assets/']) {
      for (const tail of ['../package.json', '..%2fpackage.json', '%2e%2e/%2e%2e/%2e%2e/package.json', '..%5c..%5cpackage.json', '..%00/package.json', '%252e%252e%252fpackage.json']) {
        const res = await get(server, base + tail, {});
        expect(res.status, base + tail).toBeGreaterThanOrEqual(400);
        expect(res.status, base + tail).toBeLessThan(500);
        expect(res.body.code, base + tail).not.toBe('ERR_ULTRA_PERF_HTTP_INTERNAL');
      }
    }
  });
});

describe('network/create-connection: loopback spellings the guard must not take for loopback (SSRF)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ allowedHosts: ['peer.example'] });
  });
  afterAll(() => server.close());

  it('403 before any lookup for hex, short and padded IPv4, a trailing-dot name, mapped and unspecified IPv6, and near-misses of the allowlist', async () => {
    for (const host of ['0x7f.0.0.1', '0x7f000001', '127.0.0.01', '127.0.1', 'localhost.', 'LOCALHOST.', 'localhost:80', '[::ffff:7f00:1]', '::ffff:7f00:1', '[::]', '0:0:0:0:0:0:0:0', 'peer.example.', 'PEER.example.evil', 'xpeer.example', ' 127.0.0.1', '127.0.0.1 ']) {
      const res = await fetch(`${server.api}/network/create-connection`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host, port: 9 }) });
      const body = (await res.json()) as { code?: string };
      expect([400, 403], `${host}: ${JSON.stringify(body)}`).toContain(res.status);
      if (res.status === 403) expect(body.code).toBe('ERR_ULTRA_PERF_HTTP_HOST_NOT_ALLOWED');
    }
  });
});
