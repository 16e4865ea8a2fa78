/**
 * A new user's review of lib/server (issue 17): what a person following docs/server.md literally
 * ran into, kept as regression tests.
 */
import { describe, expect, it } from 'vitest';

import { launchBrowser } from './helpers/browser.js';
import { startServer } from './helpers/server.js';

// page code below runs in Chromium; the test project has no DOM lib
declare const document: any;

import { createServer } from '../lib/server/index.js';
import type * as Server from '../lib/server/index.js';

describe('createServer beyond loopback without a token', () => {
  it('names the argument, its value, and where a token comes from for the library and for the CLI', async () => {
    const err = await createServer({ host: '0.0.0.0', port: 0 }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err).toBeInstanceOf(Error);
    expect(err?.code).toBe('ERR_ULTRA_PERF_HTTP_TOKEN_REQUIRED');
    // createServer does not read ULTRA_PERF_TOKEN (only the CLI does): the message must say options.token
    expect(err?.message).toContain('options.host "0.0.0.0"');
    expect(err?.message).toContain('options.token');
    expect(err?.message).toContain('--token-file');
  });
});

describe('the server entry exports what a user route module and a typed client need', () => {
  it('exports the shared schema references and the types of ctx.telemetry / ctx.registry and the bodies', async () => {
    const server = await import('../lib/server/index.js');
    expect(server.ErrorRef).toEqual({ $ref: 'ErrorResponse' });
    expect(server.JobRef).toEqual({ $ref: 'JobView' });
    expect(server.errorResponses(404, 422)).toEqual({ 404: { $ref: 'ErrorResponse' }, 422: { $ref: 'ErrorResponse' } });
    // type-level: these names must resolve from the entry (tsc --noEmit checks the test files)
    type Shapes = [
      Server.TelemetrySnapshot,
      Server.RouteLatency,
      Server.ServerTelemetry,
      Server.ObjectRegistry,
      Server.RegisteredObject,
      Server.ErrorResponse,
      Server.JobView,
    ];
    const body: Server.ErrorResponse = { statusCode: 404, code: 'ERR_ULTRA_PERF_HTTP_NOT_FOUND', error: 'Not Found', message: 'no job with id "x"' };
    expect(body.statusCode).toBe(404);
    expect(((): Shapes | undefined => undefined)()).toBeUndefined();
  });
});

describe('dashboard: a long text value in a wide panel', () => {
  it('keeps every label of the panel readable (a reason used to squeeze them to nothing)', async () => {
    const chromium = await launchBrowser();
    if (chromium === undefined) return; // no Chromium outside CI: launchBrowser says so under CI=true
    const reason = 'the GPU addon is not built (nvcc was not found at install time, or no prebuild ships one)';
    const server = await startServer({
      routes: [
        (_app, ctx) => {
          ctx.components.set('gpu_acceleration', () => ({ health: 'degraded', available: false, device_count: 0, backend: 'ts', reason, computations: 0 }));
        },
      ],
    });
    try {
      const page = await chromium.browser.newPage();
      await page.setViewport({ width: 1400, height: 1000 });
      await page.goto(`${server.origin}/dashboard`, { waitUntil: 'load' });
      await page.waitForFunction((text) => [...document.querySelectorAll('dd')].some((dd: any) => dd.textContent === text), { timeout: 15_000 }, reason);
      const labels: { text: string; width: number; full: number }[] = await page.evaluate((text) => {
        const dd = [...document.querySelectorAll('dd')].find((d: any) => d.textContent === text);
        const kv = dd?.closest('dl');
        return [...(kv?.querySelectorAll('dt') ?? [])].map((dt: any) => ({ text: dt.textContent, width: dt.getBoundingClientRect().width, full: dt.scrollWidth }));
      }, reason);
      expect(labels.map((l) => l.text)).toEqual(expect.arrayContaining(['available', 'reason', 'computations']));
      for (const l of labels) expect(l.full, `label "${l.text}" is cut (${l.width}px shown of ${l.full}px)`).toBeLessThanOrEqual(Math.ceil(l.width));
    } finally {
      await server.close();
      await chromium.close();
    }
  }, 60_000);
});
