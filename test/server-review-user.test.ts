/**
 * A new user's review of lib/server (issue 17): what a person following docs/server.md literally
 * ran into, kept as regression tests.
 */
import { describe, expect, it } from 'vitest';

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
