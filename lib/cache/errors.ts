import { UltraPerfError } from '../errors.js';

/** A level (Redis, LMDB) could not answer: connection down, store closed. `level` names it. */
export class CacheLevelUnavailableError extends UltraPerfError {
  readonly level: string;
  constructor(level: string, message: string, options?: { cause?: unknown }) {
    super('ERR_ULTRA_PERF_CACHE_UNAVAILABLE', `cache ${level}: ${message}`, options);
    this.level = level;
  }
}

/** A loader did not settle within `loadTimeoutMs`. */
export class CacheLoadTimeoutError extends UltraPerfError {
  readonly key: string;
  readonly timeoutMs: number;
  constructor(key: string, timeoutMs: number) {
    super('ERR_ULTRA_PERF_CACHE_LOAD_TIMEOUT', `loader for key ${JSON.stringify(key)} did not settle within loadTimeoutMs = ${timeoutMs} ms`);
    this.key = key;
    this.timeoutMs = timeoutMs;
  }
}
