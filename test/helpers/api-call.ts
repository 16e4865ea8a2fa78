/**
 * One request to a test server's API over TCP, and the check every error answer shares
 * (the ErrorResponse shape, a status and fragments of its message).
 */
import { expect } from 'vitest';

import type { TestServer } from './server.js';

export interface Answer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** `method path` under the API prefix; `body` sent as JSON, or `raw` as it is (malformed bodies). */
export async function call(server: TestServer, method: string, path: string, body?: unknown, raw?: string): Promise<Answer> {
  const init: RequestInit = { method };
  if (body !== undefined || raw !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = raw ?? JSON.stringify(body);
  }
  const response = await fetch(`${server.api}${path}`, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? null : JSON.parse(text) };
}

export function expectError(answer: Answer, status: number, ...fragments: string[]): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ statusCode: status, code: expect.any(String), error: expect.any(String), message: expect.any(String) });
  for (const fragment of fragments) expect(answer.body.message).toContain(fragment);
}
