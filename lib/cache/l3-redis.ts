/**
 * L3: a Redis server shared by a fleet of processes (DESIGN.md "Tiered cache"), and the fleet's
 * coordination through it: one loader per key across processes (leases) and invalidation of the
 * other processes' L1/L2 copies (pub/sub with versions, or RESP3 client tracking).
 *
 * Keys and channels, for a namespace `ns` (default 'ultra-perf'):
 *
 *     ns:v:<key>       the entry, in the byte layout of entry-codec.ts, PX = staleUntil - now
 *     ns:l:<key>       the load lease: a random token, SET NX PX
 *     ns:invalidate    pub/sub: { keys (null = everything), version, origin } as JSON
 *     ns:lease         pub/sub: { key, status: 'loaded' | 'released' } when a holder lets go
 *
 * Expiry: the entry carries `staleUntil` and every read checks it against the injected clock,
 * so a level never returns an entry past it whatever the server's clock says; the PX expiry is
 * a backstop that frees the memory.
 *
 * Failure behaviour: commands are never queued while the connection is down (node-redis
 * `disableOfflineQueue`) and each has a timeout (`commandTimeoutMs`), so a call on a dead or
 * hung server rejects within that time with `CacheLevelUnavailableError` (level 'l3'). The
 * level calls `onStateChange` handlers with 'down' once, reconnects with capped exponential
 * backoff, and when both its connections are back calls them with 'up' and every
 * `onInvalidate` handler with `null` (invalidations may have been missed meanwhile). It logs
 * and warns about nothing itself: the owner (TieredCache) decides.
 */
import { randomBytes } from 'node:crypto';

import { invalidRange, invalidType, invalidValue } from '../errors.js';
import { defineOptions, functionCheck, integerCheck, nonEmptyStringCheck, oneOfCheck, readOptions } from '../internal/options.js';
import { type Codec, msgpackCodec } from '../net/codec.js';

import { decodeEntry, encodeEntry } from './entry-codec.js';
import { CacheLevelUnavailableError } from './errors.js';
import { checkKey, checkKeys, kMaxKeyLength } from './keys.js';
import { type RedisArg, type RedisClientLike, type RedisModuleLike, redisClientModule } from './redis-client.js';
import type { AsyncLevel, CacheEntry, Clock, FleetCoordinator, LevelStats } from './types.js';

/** How other processes learn of writes: 'pubsub' (versioned notices), 'tracking' (RESP3 server-assisted, BCAST), or 'none'. */
export type RedisCoherency = 'pubsub' | 'tracking' | 'none';

export interface RedisLevelOptions<V = unknown> {
  /** `redis://host:port[/db]` (node-redis URL syntax). Required. */
  url: string;
  /** Prefix of every key and channel (1..128 characters). Default 'ultra-perf'. */
  namespace?: string;
  /** Value codec (lib/net). Default `msgpackCodec()`. Every process of a fleet must use the same. */
  codec?: Codec<V>;
  /** ms epoch clock for expiry checks on read. Default `Date.now`. */
  clock?: Clock;
  /** Default 'pubsub'. */
  coherency?: RedisCoherency;
  /** A command not answered within this many ms rejects with CacheLevelUnavailableError. Default 1000. */
  commandTimeoutMs?: number;
  /** `connect` gives up after this many ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Reconnect backoff: 25 ms doubling per attempt, capped here (plus up to 20% jitter). Default 1000. */
  maxReconnectDelayMs?: number;
  /** How often `waitForLease` polls the lease key besides listening for the holder's notice. Default 50. */
  leasePollMs?: number;
}

const kNamespaceMax = 128;

const namespaceCheck = (value: unknown, argument: string): unknown => {
  nonEmptyStringCheck(value, argument);
  if ((value as string).length > kNamespaceMax) throw invalidRange(argument, `a string of 1 to ${kNamespaceMax} characters`, value);
  return value;
};

const urlCheck = (value: unknown, argument: string): unknown => {
  if (typeof value !== 'string') throw invalidType(argument, "a redis:// or rediss:// URL string", value);
  if (!/^rediss?:\/\//.test(value)) throw invalidValue(argument, "a redis:// or rediss:// URL", value);
  return value;
};

const codecCheck = (value: unknown, argument: string): unknown => {
  const c = value as Partial<Codec<unknown>> | null;
  if (typeof c !== 'object' || c === null || typeof c.encode !== 'function' || typeof c.decode !== 'function') {
    throw invalidType(argument, 'a Codec from lib/net (msgpackCodec(), jsonCodec(), ...)', value);
  }
  return value;
};

const kOptions = defineOptions('RedisLevel.connect', {
  url: { check: urlCheck, always: true },
  namespace: { check: namespaceCheck, default: 'ultra-perf' },
  codec: { check: codecCheck },
  clock: { check: functionCheck('a function returning ms since the epoch') },
  coherency: { check: oneOfCheck(['pubsub', 'tracking', 'none']), default: 'pubsub' },
  commandTimeoutMs: { check: integerCheck(1, 600_000, 'an integer number of milliseconds'), default: 1000 },
  connectTimeoutMs: { check: integerCheck(1, 600_000, 'an integer number of milliseconds'), default: 5000 },
  maxReconnectDelayMs: { check: integerCheck(1, 600_000, 'an integer number of milliseconds'), default: 1000 },
  leasePollMs: { check: integerCheck(1, 60_000, 'an integer number of milliseconds'), default: 50 },
});

interface ReadOptions {
  url: string;
  namespace: string;
  codec: Codec<unknown> | undefined;
  clock: Clock | undefined;
  coherency: RedisCoherency;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  maxReconnectDelayMs: number;
  leasePollMs: number;
}

/** The checked options of `RedisLevel.connect` with defaults filled in (exported for the options test). */
export function readRedisLevelOptions(options: unknown): ReadOptions {
  return readOptions(kOptions, options, { required: true, what: 'an options object with a url' }) as unknown as ReadOptions;
}

// Compare-and-delete of a lease, and the holder's notice in the same step (so a waiter that
// sees the key gone and one that hears the notice agree). KEYS[1] lease key; ARGV token, channel, message.
const kReleaseScript =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]); redis.call('PUBLISH', ARGV[2], ARGV[3]); return 1 end return 0";

type LeaseOutcome = 'loaded' | 'released' | 'timeout';
interface InFlight {
  startMs: number;
  reject: (err: Error) => void;
  done: boolean;
}
type StateHandler = (state: 'up' | 'down') => void;
type InvalidateHandler = (keys: readonly string[] | null, version: number) => void;

/** A reply error from Redis itself (WRONGTYPE, NOSCRIPT...): the server is there, so it is not "unavailable". */
function isReplyError(err: unknown): boolean {
  let proto: unknown = err;
  while (proto !== null && typeof proto === 'object') {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name;
    if (name === 'ErrorReply') return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

function checkEntry(entry: unknown, argument: string): asserts entry is CacheEntry<unknown> {
  if (typeof entry !== 'object' || entry === null) throw invalidType(argument, 'a CacheEntry object', entry);
  const e = entry as CacheEntry<unknown>;
  if (typeof e.expiresAt !== 'number' || Number.isNaN(e.expiresAt)) throw invalidType(`${argument}.expiresAt`, 'a number (ms epoch or Infinity)', e.expiresAt);
  if (typeof e.staleUntil !== 'number' || !(e.staleUntil >= e.expiresAt)) {
    throw invalidRange(`${argument}.staleUntil`, `a number ≥ expiresAt (${e.expiresAt})`, e.staleUntil);
  }
  if (!Number.isInteger(e.version) || e.version < 0) throw invalidRange(`${argument}.version`, 'a non-negative integer', e.version);
}

function checkMs(ms: unknown, argument: string, allowZero: boolean): asserts ms is number {
  if (typeof ms !== 'number') throw invalidType(argument, 'a number of milliseconds', ms);
  if (!(allowZero ? ms >= 0 : ms > 0) || !Number.isFinite(ms)) {
    throw invalidRange(argument, `a finite number of milliseconds ${allowZero ? '≥ 0' : '> 0'}`, ms);
  }
}

/**
 * L3 over a real Redis, with leases and invalidation for the fleet.
 *
 * @example
 * const l3 = await RedisLevel.connect({ url: 'redis://127.0.0.1:6379', namespace: 'quotes' });
 * await l3.setEntry('AAPL', { value: 189.5, expiresAt: Date.now() + 1000, staleUntil: Date.now() + 5000, version: 1 });
 * const e = await l3.getEntry('AAPL');   // CacheEntry | undefined
 */
export class RedisLevel<V = unknown> implements AsyncLevel<V>, FleetCoordinator {
  readonly name = 'l3' as const;
  /** This instance's id in invalidation notices (its own are ignored). */
  readonly origin: string;
  readonly namespace: string;
  readonly coherency: RedisCoherency;

  readonly #cmd: RedisClientLike;
  readonly #sub: RedisClientLike;
  readonly #codec: Codec<V>;
  readonly #clock: Clock;
  readonly #valuePrefix: string;
  readonly #leasePrefix: string;
  readonly #invChannel: string;
  readonly #leaseChannel: string;
  readonly #leasePollMs: number;
  readonly #where: string;
  readonly #commandTimeoutMs: number;
  /** Commands sent and not yet settled, oldest first (settled ones are dropped on the next scan). */
  readonly #inFlight: InFlight[] = [];
  #watchdog: NodeJS.Timeout | undefined;

  #up = false;
  #started = false;
  #closed = false;
  #cmdReady = false;
  #subReady = false;
  #upPending = false;
  #tokenSeq = 0;
  readonly #stateHandlers = new Set<StateHandler>();
  readonly #invalidateHandlers = new Set<InvalidateHandler>();
  readonly #waiters = new Map<string, Set<(outcome: LeaseOutcome) => void>>();
  /** Leases this instance holds: whether a value was stored under the key since it was taken. */
  readonly #held = new Map<string, { token: string; loaded: boolean }>();
  readonly #counters = {
    hits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    expirations: 0,
    timeouts: 0,
    downs: 0,
    reconnects: 0,
    invalidationsSent: 0,
    invalidationsReceived: 0,
    invalidationsIgnored: 0,
    leasesTaken: 0,
    leasesContended: 0,
  };

  private constructor(mod: RedisModuleLike, o: ReadOptions) {
    this.namespace = o.namespace;
    this.coherency = o.coherency;
    this.origin = randomBytes(9).toString('base64url');
    this.#codec = (o.codec ?? msgpackCodec()) as Codec<V>;
    this.#clock = o.clock ?? Date.now;
    this.#valuePrefix = `${o.namespace}:v:`;
    this.#leasePrefix = `${o.namespace}:l:`;
    this.#invChannel = `${o.namespace}:invalidate`;
    this.#leaseChannel = `${o.namespace}:lease`;
    this.#leasePollMs = o.leasePollMs;
    this.#commandTimeoutMs = o.commandTimeoutMs;
    this.#where = `redis ${o.url.replace(/\/\/[^@/]*@/, '//')}`;
    const maxDelay = o.maxReconnectDelayMs;
    const base: Record<string, unknown> = {
      url: o.url,
      disableOfflineQueue: true,
      // timeout 0: node-redis's own per-command timeout costs an AbortSignal.timeout and its
      // listeners per command (measured: ~18 µs of CPU per GET against ~3 µs without; see
      // bench/cache/part-l3.ts); #run times commands out with one shared watchdog instead.
      commandOptions: { timeout: 0, typeMapping: { [mod.RESP_TYPES.BLOB_STRING]: Buffer } },
      socket: {
        connectTimeout: Math.min(o.connectTimeoutMs, 2000),
        reconnectStrategy: (retries: number) => {
          const d = Math.min(25 * 2 ** Math.min(retries, 20), maxDelay);
          return Math.round(d * (1 + 0.2 * Math.random()));
        },
      },
    };
    this.#cmd = mod.createClient({ ...base, RESP: 3, ...(o.coherency === 'tracking' ? { emitInvalidate: true } : {}) });
    this.#sub = mod.createClient({ ...base, RESP: 2 });
    this.#watch(this.#cmd, (r) => (this.#cmdReady = r));
    this.#watch(this.#sub, (r) => (this.#subReady = r));
    if (o.coherency === 'tracking') {
      this.#cmd.on('invalidate', (key: unknown) => this.#onTracked(key));
    }
  }

  /**
   * Connects both connections (commands; pub/sub), subscribes, and turns tracking on when
   * asked. Rejects with CacheLevelUnavailableError when the server cannot be reached within
   * `connectTimeoutMs`, and with MissingPeerDependencyError (code ERR_ULTRA_PERF_MISSING_PEER)
   * when the `redis` package is not installed. Bad options: TypeError/RangeError naming them.
   */
  static async connect<V = unknown>(options: RedisLevelOptions<V>): Promise<RedisLevel<V>> {
    const o = readRedisLevelOptions(options);
    const level = new RedisLevel<V>(redisClientModule(), o);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await Promise.all([level.#cmd.connect(), level.#sub.connect()]);
          await level.#sub.subscribe([level.#invChannel, level.#leaseChannel], (message, channel) => level.#onMessage(message, channel));
          await level.#setUpTracking();
        })(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no connection within connectTimeoutMs = ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
        }),
      ]);
    } catch (err) {
      level.#closed = true;
      level.#cmd.destroy();
      level.#sub.destroy();
      throw new CacheLevelUnavailableError('l3', `${level.#where}: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    level.#started = true;
    level.#up = true;
    return level;
  }

  /** False while the connection is down (or after close). */
  get connected(): boolean {
    return this.#up && !this.#closed;
  }

  /** Calls `handler('down')` once when the connection is lost and `handler('up')` when it is back. Returns the unsubscribe function. */
  onStateChange(handler: StateHandler): () => void {
    if (typeof handler !== 'function') throw invalidType('handler', 'a function', handler);
    this.#stateHandlers.add(handler);
    return () => this.#stateHandlers.delete(handler);
  }

  onInvalidate(handler: InvalidateHandler): () => void {
    if (typeof handler !== 'function') throw invalidType('handler', 'a function', handler);
    this.#invalidateHandlers.add(handler);
    return () => this.#invalidateHandlers.delete(handler);
  }

  // ---- AsyncLevel -------------------------------------------------------------------------------

  async getEntry(key: string): Promise<CacheEntry<V> | undefined> {
    checkKey(key);
    const bytes = await this.#run<Buffer | null>(['GET', this.#valuePrefix + key]);
    return this.#read(key, bytes);
  }

  /** One MGET; results in `keys` order. */
  async getEntries(keys: readonly string[]): Promise<(CacheEntry<V> | undefined)[]> {
    checkKeys(keys);
    if (keys.length === 0) return [];
    const args: string[] = new Array<string>(keys.length + 1);
    args[0] = 'MGET';
    for (let i = 0; i < keys.length; i++) args[i + 1] = this.#valuePrefix + keys[i];
    const replies = await this.#run<(Buffer | null)[]>(args);
    const out = new Array<CacheEntry<V> | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.#read(keys[i]!, replies[i] ?? null);
    return out;
  }

  /** SET with PX at `staleUntil` (no PX for Infinity); an entry already past `staleUntil` deletes the key instead. */
  async setEntry(key: string, entry: CacheEntry<V>): Promise<void> {
    checkKey(key);
    checkEntry(entry, 'entry');
    const args = this.#setArgs(key, entry);
    await this.#run(args);
    this.#counters.sets++;
    this.#markLoaded(key);
  }

  /** One pipeline of SETs (written in one go; not a transaction: a reader may see part of it). */
  async setEntries(entries: readonly (readonly [string, CacheEntry<V>])[]): Promise<void> {
    if (!Array.isArray(entries)) throw invalidType('entries', 'an array of [key, entry] pairs', entries);
    const commands: RedisArg[][] = [];
    for (let i = 0; i < entries.length; i++) {
      const pair = entries[i];
      if (!Array.isArray(pair) || pair.length !== 2) throw invalidType(`entries[${i}]`, 'a [key, entry] pair', pair);
      checkKey(pair[0], `entries[${i}][0]`);
      checkEntry(pair[1], `entries[${i}][1]`);
      commands.push(this.#setArgs(pair[0] as string, pair[1] as CacheEntry<V>));
    }
    if (commands.length === 0) return;
    // node-redis writes every command issued in one tick in one socket write: a pipeline.
    await Promise.all(commands.map((c) => this.#run(c)));
    this.#counters.sets += commands.length;
    for (const [key] of entries) this.#markLoaded(key);
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const n = await this.#run<number>(['DEL', this.#valuePrefix + key]);
    this.#counters.deletes++;
    return n > 0;
  }

  /**
   * Deletes every entry of this namespace (SCAN + UNLINK, 1,000 at a time; leases stay) and
   * tells the other processes to drop everything (their handlers get `null`).
   */
  async clear(): Promise<void> {
    const pattern = `${this.#valuePrefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.#run<[Buffer | string, Buffer[]]>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000']);
      cursor = next.toString();
      if (keys.length > 0) await this.#run(['UNLINK', ...keys]);
    } while (cursor !== '0');
    if (this.coherency === 'pubsub' || this.coherency === 'tracking') {
      await this.#run(['PUBLISH', this.#invChannel, JSON.stringify({ keys: null, version: 0, origin: this.origin })]);
    }
  }

  stats(): LevelStats {
    const c = this.#counters;
    const lookups = c.hits + c.misses;
    return {
      name: 'l3',
      hits: c.hits,
      misses: c.misses,
      hitRatio: lookups === 0 ? 0 : c.hits / lookups,
      sets: c.sets,
      deletes: c.deletes,
      evictions: 0,
      expirations: c.expirations,
      // Not counted: the namespace's size would need a SCAN; Redis evicts under its own maxmemory policy.
      size: 0,
      capacity: Infinity,
      connected: this.connected,
      timeouts: c.timeouts,
      downs: c.downs,
      reconnects: c.reconnects,
      coherency: this.coherency,
      invalidationsSent: c.invalidationsSent,
      invalidationsReceived: c.invalidationsReceived,
      invalidationsIgnored: c.invalidationsIgnored,
      leasesTaken: c.leasesTaken,
      leasesContended: c.leasesContended,
    };
  }

  /** Closes both connections (what is in flight settles or rejects); later calls reject with CacheLevelUnavailableError. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#up = false;
    this.#settleWaiters('released');
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    const end = async (c: RedisClientLike): Promise<void> => {
      if (!c.isReady) {
        c.destroy();
        return;
      }
      const graceful = c.close !== undefined ? c.close() : c.quit?.();
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 1000).unref());
      const r = await Promise.race([Promise.resolve(graceful).then(() => 'ok', () => 'err'), timeout]);
      if (r !== 'ok' && c.isOpen) c.destroy();
    };
    await Promise.all([end(this.#cmd), end(this.#sub)]);
  }

  // ---- FleetCoordinator -------------------------------------------------------------------------

  /** SET ns:l:<key> <token> NX PX ttlMs: the token when taken, null when another holder has it. */
  async acquireLease(key: string, ttlMs: number): Promise<string | null> {
    checkKey(key);
    checkMs(ttlMs, 'ttlMs', false);
    const token = `${this.origin}.${++this.#tokenSeq}`;
    const r = await this.#run<unknown>(['SET', this.#leasePrefix + key, token, 'NX', 'PX', String(Math.ceil(ttlMs))]);
    if (r === null) {
      this.#counters.leasesContended++;
      return null;
    }
    this.#counters.leasesTaken++;
    this.#held.set(key, { token, loaded: false });
    return token;
  }

  /**
   * Compare-and-delete (one EVAL): deletes the lease only if `token` still holds it, and then
   * publishes 'loaded' (a value was stored under `key` through this level since the lease was
   * taken) or 'released' to the waiters. A lease that expired or was taken over is left alone.
   */
  async releaseLease(key: string, token: string): Promise<void> {
    checkKey(key);
    if (typeof token !== 'string' || token.length === 0) throw invalidType('token', 'the string acquireLease returned', token);
    const held = this.#held.get(key);
    const status = held !== undefined && held.token === token && held.loaded ? 'loaded' : 'released';
    if (held?.token === token) this.#held.delete(key);
    await this.#run(['EVAL', kReleaseScript, '1', this.#leasePrefix + key, token, this.#leaseChannel, JSON.stringify({ key, status })]);
  }

  /**
   * Waits for the lease on `key` to end: the holder's notice on the lease channel, or a poll
   * every `leasePollMs` that finds the lease key gone ('loaded' when the value key exists then,
   * else 'released'); 'timeout' after `timeoutMs`. While the connection is down it resolves
   * 'released' at once (the caller then loads for itself: availability over single flight).
   */
  waitForLease(key: string, timeoutMs: number): Promise<LeaseOutcome> {
    checkKey(key);
    checkMs(timeoutMs, 'timeoutMs', true);
    if (!this.connected) return Promise.resolve('released');
    return new Promise<LeaseOutcome>((resolve) => {
      let set = this.#waiters.get(key);
      if (set === undefined) this.#waiters.set(key, (set = new Set()));
      const waiters = set;
      let done = false;
      let polling = false;
      const finish = (outcome: LeaseOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        waiters.delete(finish);
        if (waiters.size === 0 && this.#waiters.get(key) === waiters) this.#waiters.delete(key);
        resolve(outcome);
      };
      const check = async (): Promise<void> => {
        if (polling || done) return;
        polling = true;
        try {
          const held = await this.#run<number>(['EXISTS', this.#leasePrefix + key]);
          if (held === 0 && !done) {
            const stored = await this.#run<number>(['EXISTS', this.#valuePrefix + key]);
            finish(stored === 1 ? 'loaded' : 'released');
          }
        } catch {
          // down or slow: the notice, the next poll, the 'down' event or the timeout settles it
        } finally {
          polling = false;
        }
      };
      waiters.add(finish);
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      const poll = setInterval(() => void check(), this.#leasePollMs);
      void check();
    });
  }

  /**
   * Tells every other process (every other RedisLevel on this namespace) to drop `keys`,
   * written at `version`: one PUBLISH of { keys, version, origin }. With 'tracking' too, since
   * only a notice carries the version and keys that are not Redis keys (a tag, "clear"); the
   * server's own tracking notices (version 0) come on top. 'none': nothing is sent.
   */
  async publishInvalidation(keys: readonly string[], version: number): Promise<void> {
    checkKeys(keys);
    if (!Number.isInteger(version) || version < 0) throw invalidRange('version', 'a non-negative integer', version);
    if (this.coherency === 'none' || keys.length === 0) return;
    await this.#run(['PUBLISH', this.#invChannel, JSON.stringify({ keys, version, origin: this.origin })]);
    this.#counters.invalidationsSent++;
  }

  // ---- internals --------------------------------------------------------------------------------

  #setArgs(key: string, entry: CacheEntry<V>): RedisArg[] {
    const k = this.#valuePrefix + key;
    const px = Math.ceil(entry.staleUntil - this.#clock());
    // Past 2^53 ms String(px) is not an integer Redis takes ("1e+308"): stored without PX; reads still check staleUntil.
    if (entry.staleUntil === Infinity || px > Number.MAX_SAFE_INTEGER) return ['SET', k, this.#encode(entry)];
    if (px <= 0) return ['DEL', k];
    return ['SET', k, this.#encode(entry), 'PX', String(px)];
  }

  /** The entry's bytes as a Buffer over the same memory (encodeEntry returns a fresh array). */
  #encode(entry: CacheEntry<V>): Buffer {
    const bytes = encodeEntry(entry, this.#codec);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #read(key: string, bytes: Buffer | null): CacheEntry<V> | undefined {
    if (bytes === null) {
      this.#counters.misses++;
      return undefined;
    }
    const entry = decodeEntry(bytes, this.#codec, `${this.#where} key ${JSON.stringify(this.#valuePrefix + key)}`);
    if (!(this.#clock() < entry.staleUntil)) {
      this.#counters.expirations++;
      this.#counters.misses++;
      return undefined;
    }
    this.#counters.hits++;
    return entry;
  }

  #markLoaded(key: string): void {
    const held = this.#held.get(key);
    if (held !== undefined) held.loaded = true;
  }

  #assertUp(): void {
    if (this.#closed) throw new CacheLevelUnavailableError('l3', `${this.#where}: closed`);
    if (!this.#up) throw new CacheLevelUnavailableError('l3', `${this.#where}: connection down (reconnecting)`);
  }

  #fail(err: unknown): never {
    if (isReplyError(err)) throw err;
    throw new CacheLevelUnavailableError('l3', `${this.#where}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }

  /**
   * Sends one command. It settles with the reply, with CacheLevelUnavailableError when the
   * connection fails, or with one when no reply came within `commandTimeoutMs`: each command
   * joins the in-flight list, which one interval timer (every commandTimeoutMs / 4) scans from
   * the oldest end (replies come in order on one connection).
   */
  #run<T>(args: readonly RedisArg[]): Promise<T> {
    this.#assertUp();
    const sent = this.#cmd.sendCommand<T>(args);
    return new Promise<T>((resolve, reject) => {
      const p: InFlight = { startMs: performance.now(), reject, done: false };
      this.#inFlight.push(p);
      this.#armWatchdog();
      sent.then(
        (reply) => {
          if (p.done) return;
          p.done = true;
          resolve(reply);
        },
        (err: unknown) => {
          if (p.done) return;
          p.done = true;
          try {
            this.#fail(err);
          } catch (e) {
            reject(e);
          }
        },
      );
    });
  }

  #armWatchdog(): void {
    if (this.#watchdog !== undefined) return;
    this.#watchdog = setInterval(() => this.#checkTimeouts(), Math.max(1, this.#commandTimeoutMs >> 2));
    this.#watchdog.unref();
  }

  #checkTimeouts(): void {
    const list = this.#inFlight;
    const deadline = performance.now() - this.#commandTimeoutMs;
    let i = 0;
    for (; i < list.length; i++) {
      const p = list[i]!;
      if (p.done) continue;
      if (p.startMs > deadline) break;
      p.done = true;
      this.#counters.timeouts++;
      p.reject(new CacheLevelUnavailableError('l3', `${this.#where}: no reply within commandTimeoutMs = ${this.#commandTimeoutMs} ms`));
    }
    if (i > 0) list.splice(0, i);
    if (list.length === 0) {
      clearInterval(this.#watchdog);
      this.#watchdog = undefined;
    }
  }

  #watch(client: RedisClientLike, setReady: (ready: boolean) => void): void {
    const lost = (): void => {
      setReady(false);
      this.#down();
    };
    client.on('error', lost);
    client.on('reconnecting', lost);
    client.on('end', lost);
    client.on('ready', () => {
      setReady(true);
      this.#maybeUp();
    });
  }

  #down(): void {
    if (this.#closed || !this.#started || !this.#up) return;
    this.#up = false;
    this.#counters.downs++;
    this.#settleWaiters('released');
    this.#emitState('down');
  }

  #maybeUp(): void {
    if (this.#closed || !this.#started || this.#up || this.#upPending || !this.#cmdReady || !this.#subReady) return;
    this.#upPending = true;
    void this.#setUpTracking().then(
      () => {
        this.#upPending = false;
        if (this.#closed || this.#up || !this.#cmdReady || !this.#subReady) return;
        this.#up = true;
        this.#counters.reconnects++;
        this.#emitState('up');
        this.#emitInvalidate(null, 0);
      },
      () => {
        // the connection dropped again during setup: its events bring the next attempt
        this.#upPending = false;
      },
    );
  }

  /**
   * 'tracking': node-redis's emitInvalidate turns default-mode tracking on at each handshake;
   * switch this connection to BCAST on the value prefix with NOLOOP, so writes through this
   * level are not echoed back and every other writer's are, read or not.
   */
  async #setUpTracking(): Promise<void> {
    if (this.coherency !== 'tracking') return;
    await this.#cmd.sendCommand(['CLIENT', 'TRACKING', 'OFF']);
    await this.#cmd.sendCommand(['CLIENT', 'TRACKING', 'ON', 'BCAST', 'PREFIX', this.#valuePrefix, 'NOLOOP']);
  }

  #emitState(state: 'up' | 'down'): void {
    for (const h of [...this.#stateHandlers]) {
      try {
        h(state);
      } catch (err) {
        process.emitWarning(`RedisLevel onStateChange handler threw: ${(err as Error)?.message ?? String(err)}`, { code: 'ULTRA_PERF_CACHE_HANDLER' });
      }
    }
  }

  #emitInvalidate(keys: readonly string[] | null, version: number): void {
    for (const h of [...this.#invalidateHandlers]) {
      try {
        h(keys, version);
      } catch (err) {
        process.emitWarning(`RedisLevel onInvalidate handler threw: ${(err as Error)?.message ?? String(err)}`, { code: 'ULTRA_PERF_CACHE_HANDLER' });
      }
    }
  }

  #settleWaiters(outcome: LeaseOutcome): void {
    for (const set of [...this.#waiters.values()]) for (const w of [...set]) w(outcome);
  }

  #onMessage(message: string, channel: string): void {
    let m: unknown;
    try {
      m = JSON.parse(message);
    } catch {
      this.#counters.invalidationsIgnored++;
      return;
    }
    if (typeof m !== 'object' || m === null) return;
    if (channel === this.#leaseChannel) {
      const { key, status } = m as { key?: unknown; status?: unknown };
      if (typeof key !== 'string' || (status !== 'loaded' && status !== 'released')) return;
      const set = this.#waiters.get(key);
      if (set !== undefined) for (const w of [...set]) w(status);
      return;
    }
    const { keys, version, origin } = m as { keys?: unknown; version?: unknown; origin?: unknown };
    if (origin === this.origin) return;
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
      this.#counters.invalidationsIgnored++;
      return;
    }
    if (keys === null) {
      this.#counters.invalidationsReceived++;
      this.#emitInvalidate(null, version);
      return;
    }
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string' && k.length > 0 && k.length <= kMaxKeyLength)) {
      this.#counters.invalidationsIgnored++;
      return;
    }
    this.#counters.invalidationsReceived++;
    this.#emitInvalidate(keys as string[], version);
  }

  #onTracked(key: unknown): void {
    if (key === null || key === undefined) {
      this.#counters.invalidationsReceived++;
      this.#emitInvalidate(null, 0);
      return;
    }
    const k = Buffer.isBuffer(key) ? key.toString('utf8') : String(key);
    if (!k.startsWith(this.#valuePrefix)) return;
    this.#counters.invalidationsReceived++;
    this.#emitInvalidate([k.slice(this.#valuePrefix.length)], 0);
  }
}
