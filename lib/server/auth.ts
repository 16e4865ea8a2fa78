/**
 * Bearer-token checks for the API. The configured token and the presented one are both
 * hashed with SHA-256 and the digests compared with `crypto.timingSafeEqual`: the compare
 * takes the same time whatever the presented token holds, and its length does not leak
 * either (both digests are 32 bytes).
 *
 * Where the token is read: the `Authorization: Bearer <token>` header on every protected
 * route; on a server-sent-events route (its path ends in `/stream`) also the
 * `access_token` query parameter, because a browser's EventSource cannot set headers
 * (RFC 6750 §2.3; nowhere else, so tokens stay out of URLs and logs elsewhere).
 *
 * Without a configured token the API is open, but only to requests that arrive on a
 * loopback address: a plugin registered in an app that listens beyond loopback without a
 * token answers 403 rather than serving the network. A loopback connection is not enough
 * on its own: the request must also name a loopback host in its Host header (a web page on
 * attacker.example whose name rebinds to 127.0.0.1 reaches the socket from the user's own
 * browser, with its own Host: DNS rebinding) and carry no proxy header (Forwarded,
 * X-Forwarded-For, X-Real-IP: a reverse proxy on this machine turns remote requests into
 * loopback ones).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import type { FastifyRequest } from 'fastify';

import { HttpError } from './http-errors.js';

const kBearer = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i;

/** Addresses that only this machine can reach (IPv4 127/8, IPv6 ::1, IPv4-mapped 127/8, the name localhost). */
export function isLoopback(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.toLowerCase().startsWith('::ffff:') ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Checks requests against one token (or none: loopback only). */
export class TokenAuth {
  readonly #digest: Buffer | undefined;

  constructor(token: string | undefined) {
    if (token !== undefined && (typeof token !== 'string' || token.length === 0 || !/^[\x21-\x7e]+$/.test(token))) {
      throw Object.assign(new TypeError('Expected a non-empty string of printable ASCII without spaces (a bearer token) for options.token but received ' + (typeof token === 'string' ? `a string of ${token.length} characters` : typeof token)), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
    }
    this.#digest = token === undefined ? undefined : digest(token);
  }

  get required(): boolean {
    return this.#digest !== undefined;
  }

  /** The token the request presents, or undefined. `stream`: also read `?access_token=` (SSE routes). */
  static presented(request: FastifyRequest, stream: boolean): string | undefined {
    const header = request.headers.authorization;
    if (typeof header === 'string') return kBearer.exec(header)?.[1] ?? '';
    if (stream) {
      const query = request.query as Record<string, unknown> | undefined;
      const value = query?.access_token;
      if (typeof value === 'string') return value;
    }
    return undefined;
  }

  /** True when the request may proceed (a matching token, or no token configured and a loopback connection). */
  allows(request: FastifyRequest, stream: boolean): boolean {
    if (this.#digest === undefined) return onLoopback(request);
    const presented = TokenAuth.presented(request, stream);
    return presented !== undefined && timingSafeEqual(digest(presented), this.#digest);
  }

  /** Throws the 401/403 a refused request gets. */
  refuse(request: FastifyRequest, stream: boolean): never {
    if (this.#digest === undefined) {
      throw new HttpError(403, 'ERR_ULTRA_PERF_HTTP_TOKEN_REQUIRED', 'this API has no bearer token configured, so it answers only loopback connections that name a loopback Host (localhost, 127.0.0.0/8, [::1]) and come through no proxy (no Forwarded, X-Forwarded-For or X-Real-IP header); configure a token to serve beyond it');
    }
    const presented = TokenAuth.presented(request, stream);
    const where = stream ? 'an Authorization: Bearer header or an access_token query parameter' : 'an Authorization: Bearer header';
    if (presented === undefined) {
      throw new HttpError(401, 'ERR_ULTRA_PERF_HTTP_UNAUTHORIZED', `this route needs the bearer token, in ${where}`, {
        'www-authenticate': 'Bearer realm="ultra-performance"',
      });
    }
    throw new HttpError(401, 'ERR_ULTRA_PERF_HTTP_UNAUTHORIZED', 'the bearer token is wrong or malformed', {
      'www-authenticate': 'Bearer realm="ultra-performance", error="invalid_token"',
    });
  }
}

function onLoopback(request: FastifyRequest): boolean {
  const local = request.socket?.localAddress;
  // light-my-request (inject) has no local address: the request comes from this process.
  if (local !== undefined && !isLoopback(local)) return false;
  const headers = request.headers;
  if (headers.forwarded !== undefined || headers['x-forwarded-for'] !== undefined || headers['x-real-ip'] !== undefined) return false;
  const host = headers.host;
  return host === undefined || isLoopback(hostOf(host.toLowerCase()));
}

/** The name or address in a Host header ('[::1]:8420' → '[::1]', 'localhost:8420' → 'localhost'). */
function hostOf(header: string): string {
  if (header.startsWith('[')) {
    const end = header.indexOf(']');
    return end < 0 ? header : header.slice(0, end + 1);
  }
  const colon = header.indexOf(':');
  return colon < 0 ? header : header.slice(0, colon);
}
