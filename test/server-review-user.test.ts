/**
 * A new user's review of lib/server (issue 17): what a person following docs/server.md literally
 * ran into, kept as regression tests.
 */
import { describe, expect, it } from 'vitest';

import { createServer } from '../lib/server/index.js';

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
