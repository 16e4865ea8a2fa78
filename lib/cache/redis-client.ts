/**
 * The Redis client L3 speaks through: node-redis (`redis` on npm, 5.x or later), an optional
 * peer dependency loaded on first use. Chosen over ioredis by measurement (bench/cache/part-l3.ts,
 * docs/cache.md "L3: Redis and the fleet"): it speaks RESP3 with server-assisted client tracking
 * (ioredis speaks RESP2 only), it pipelines every command written in one tick without an
 * option, and its per-command timeout and `disableOfflineQueue` give the fail-fast behaviour a
 * cache level needs.
 *
 * Only the few calls RedisLevel makes are typed here (structurally), so the published types do
 * not name the `redis` package and a user without it still type-checks.
 */
import { createRequire } from 'node:module';

import { MissingPeerDependencyError } from '../monitor/prometheus.js';

/** A command argument: node-redis sends strings as UTF-8 and Buffers as they are. */
export type RedisArg = string | Buffer;

/** The part of a node-redis client RedisLevel uses. */
export interface RedisClientLike {
  connect(): Promise<unknown>;
  /** Ends the connection at once, rejecting what is in flight. */
  destroy(): void;
  close?(): Promise<void>;
  quit?(): Promise<unknown>;
  sendCommand<T = unknown>(args: readonly RedisArg[], options?: { typeMapping?: unknown; timeout?: number }): Promise<T>;
  duplicate(overrides?: Record<string, unknown>): RedisClientLike;
  subscribe(channels: string | string[], listener: (message: string, channel: string) => void): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  removeAllListeners(event?: string): unknown;
  readonly isReady: boolean;
  readonly isOpen: boolean;
}

export interface RedisModuleLike {
  createClient(options: Record<string, unknown>): RedisClientLike;
  RESP_TYPES: { BLOB_STRING: number; SIMPLE_STRING: number };
}

let cached: RedisModuleLike | undefined;

/**
 * node-redis through `requireFn` (the package's own require by default); a
 * MissingPeerDependencyError naming `redis` when it cannot be resolved. Exported for tests.
 */
export function loadRedisClient(requireFn: NodeRequire = createRequire(import.meta.url)): RedisModuleLike {
  let mod: RedisModuleLike;
  try {
    mod = requireFn('redis') as RedisModuleLike;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new MissingPeerDependencyError('redis', 'The Redis cache level (RedisLevel, L3)', { cause: err });
    }
    throw err;
  }
  if (typeof mod.createClient !== 'function') {
    throw new MissingPeerDependencyError('redis', 'The Redis cache level (RedisLevel, L3) (the installed "redis" has no createClient: node-redis 5 or later is needed)');
  }
  return mod;
}

/** The module, loaded once per process. */
export function redisClientModule(): RedisModuleLike {
  cached ??= loadRedisClient();
  return cached;
}
