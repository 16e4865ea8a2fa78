/**
 * Test doubles for the cache levels (lib/cache/types.ts): a Map-backed SyncLevel (L1/L2), a
 * Map-backed AsyncLevel (L3/L4) with failure injection and latency, and an in-memory fleet:
 * one shared store, leases and an invalidation bus that several TieredCaches in one test
 * process use as if each were a process with its own Redis connection.
 *
 * The doubles keep the contract the real levels keep: no entry past `staleUntil` is returned;
 * an async level that is down rejects with CacheLevelUnavailableError. With a codec, the async
 * doubles store bytes (lib/cache/entry-codec.ts), so each read returns a fresh copy, as Redis
 * and LMDB do.
 */
import { CacheLevelUnavailableError } from '../../lib/cache/errors.js';
import { decodeEntry, encodeEntry } from '../../lib/cache/entry-codec.js';
import type { AsyncLevel, CacheEntry, Clock, FleetCoordinator, LevelName, LevelStats, SyncLevel } from '../../lib/cache/types.js';
import type { Codec } from '../../lib/net/codec.js';

function emptyStats(name: LevelName): LevelStats {
  return { name, hits: 0, misses: 0, hitRatio: 0, sets: 0, deletes: 0, evictions: 0, expirations: 0, size: 0, capacity: Infinity };
}

/** A Map with FIFO eviction past `capacity`; `broken` makes every call throw. */
export class MapSyncLevel<V = unknown> implements SyncLevel<V> {
  readonly map = new Map<string, CacheEntry<V>>();
  readonly counters: LevelStats;
  /** While true, every call throws (a level that fails synchronously). */
  broken = false;
  /** Extras reported in stats(), as L1 reports its W-TinyLFU state. */
  extras: Record<string, unknown> = {};

  constructor(readonly name: LevelName, private readonly clock: Clock, readonly capacity = Infinity) {
    this.counters = emptyStats(name);
    this.counters.capacity = capacity;
  }

  private check(): void {
    if (this.broken) throw new Error(`${this.name} double is broken`);
  }

  getEntry(key: string): CacheEntry<V> | undefined {
    this.check();
    const e = this.map.get(key);
    if (e !== undefined && !(this.clock() < e.staleUntil)) {
      this.map.delete(key);
      this.counters.expirations++;
      this.counters.misses++;
      return undefined;
    }
    if (e === undefined) this.counters.misses++;
    else this.counters.hits++;
    return e;
  }

  setEntry(key: string, entry: CacheEntry<V>): void {
    this.check();
    this.counters.sets++;
    if (!this.map.has(key) && this.map.size >= this.capacity) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      this.counters.evictions++;
    }
    this.map.set(key, entry);
  }

  delete(key: string): boolean {
    this.check();
    this.counters.deletes++;
    return this.map.delete(key);
  }

  clear(): void {
    this.check();
    this.map.clear();
  }

  stats(): LevelStats {
    const c = this.counters;
    return { ...c, ...this.extras, size: this.map.size, hitRatio: c.hits + c.misses === 0 ? 0 : c.hits / (c.hits + c.misses) };
  }

  get size(): number {
    return this.map.size;
  }
}

export interface MapAsyncLevelOptions<V> {
  name: LevelName;
  clock: Clock;
  /** The backing store; pass one Map to several levels to share it (a Redis or an LMDB file). */
  store?: Map<string, CacheEntry<V> | Uint8Array>;
  /** Store bytes through the entry codec (reads return copies). */
  codec?: Codec<V>;
  /** Real-time delay of each call in ms (0: one microtask). */
  latencyMs?: number;
  /** Report connection changes through onStateChange (as RedisLevel does). */
  reportsState?: boolean;
}

/** An AsyncLevel over a Map, with `down` (rejects with CacheLevelUnavailableError) and per-method call counts. */
export class MapAsyncLevel<V = unknown> implements AsyncLevel<V> {
  readonly name: LevelName;
  readonly store: Map<string, CacheEntry<V> | Uint8Array>;
  readonly calls: Record<string, number> = {};
  readonly counters: LevelStats;
  protected readonly clock: Clock;
  private readonly codec?: Codec<V>;
  private readonly latencyMs: number;
  private down_ = false;
  private readonly stateListeners: ((state: 'up' | 'down') => void)[] = [];
  readonly onStateChange?: (cb: (state: 'up' | 'down') => void) => () => void;

  constructor(options: MapAsyncLevelOptions<V>) {
    this.name = options.name;
    this.clock = options.clock;
    this.store = options.store ?? new Map();
    this.codec = options.codec;
    this.latencyMs = options.latencyMs ?? 0;
    this.counters = emptyStats(this.name);
    if (options.reportsState === true) {
      this.onStateChange = (cb) => {
        this.stateListeners.push(cb);
        return () => {
          const i = this.stateListeners.indexOf(cb);
          if (i >= 0) this.stateListeners.splice(i, 1);
        };
      };
    }
  }

  /** True while every call rejects. */
  get down(): boolean {
    return this.down_;
  }

  /** Takes the level down or brings it back (telling onStateChange listeners). */
  setDown(down: boolean): void {
    if (this.down_ === down) return;
    this.down_ = down;
    for (const cb of [...this.stateListeners]) cb(down ? 'down' : 'up');
  }

  protected async enter(method: string): Promise<void> {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    else await Promise.resolve();
    if (this.down_) throw new CacheLevelUnavailableError(this.name, 'double is down');
  }

  protected read(key: string): CacheEntry<V> | undefined {
    const raw = this.store.get(key);
    if (raw === undefined) {
      this.counters.misses++;
      return undefined;
    }
    const e = raw instanceof Uint8Array ? decodeEntry(raw, this.codec!, `${this.name} key ${key}`) : raw;
    if (!(this.clock() < e.staleUntil)) {
      this.store.delete(key);
      this.counters.expirations++;
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return e;
  }

  protected write(key: string, entry: CacheEntry<V>): void {
    this.counters.sets++;
    this.store.set(key, this.codec === undefined ? entry : encodeEntry(entry, this.codec));
  }

  async getEntry(key: string): Promise<CacheEntry<V> | undefined> {
    await this.enter('getEntry');
    return this.read(key);
  }

  async getEntries(keys: readonly string[]): Promise<(CacheEntry<V> | undefined)[]> {
    await this.enter('getEntries');
    return keys.map((k) => this.read(k));
  }

  async setEntry(key: string, entry: CacheEntry<V>): Promise<void> {
    await this.enter('setEntry');
    this.write(key, entry);
  }

  async setEntries(entries: readonly (readonly [string, CacheEntry<V>])[]): Promise<void> {
    await this.enter('setEntries');
    for (const [k, e] of entries) this.write(k, e);
  }

  async delete(key: string): Promise<boolean> {
    await this.enter('delete');
    this.counters.deletes++;
    return this.store.delete(key);
  }

  async clear(): Promise<void> {
    await this.enter('clear');
    this.store.clear();
  }

  stats(): LevelStats {
    const c = this.counters;
    return { ...c, size: this.store.size, hitRatio: c.hits + c.misses === 0 ? 0 : c.hits / (c.hits + c.misses) };
  }

  closed = false;
  async close(): Promise<void> {
    this.closed = true;
  }
}

type InvalidationHandler = (keys: readonly string[] | null, version: number) => void;

interface Lease {
  token: string;
  expiresAt: number;
  waiters: ((outcome: 'loaded' | 'released') => void)[];
}

/**
 * One "Redis" for several processes: a shared store, load leases and an invalidation bus.
 * `deliver: 'auto'` hands each invalidation to the other members on a later macrotask;
 * 'manual' queues them until `deliver()`, so a test can read between write and delivery.
 */
export class InMemoryFleet<V = unknown> {
  readonly store = new Map<string, CacheEntry<V> | Uint8Array>();
  readonly leases = new Map<string, Lease>();
  readonly members: FleetMember<V>[] = [];
  /** Lease tokens handed out (one per acquireLease that succeeded). */
  leasesGranted = 0;
  private tokens = 0;

  constructor(
    readonly clock: Clock,
    readonly deliverMode: 'auto' | 'manual' = 'auto',
    readonly codec?: Codec<V>,
  ) {}

  /** A new "process" connection: an L3 level and coordinator over the shared store. */
  connect(options: { latencyMs?: number } = {}): FleetMember<V> {
    const m = new FleetMember<V>(this, options.latencyMs ?? 0);
    this.members.push(m);
    return m;
  }

  /** Delivers every queued invalidation. */
  deliver(): void {
    for (const m of this.members) m.flush();
  }

  nextToken(): string {
    return `lease-${++this.tokens}`;
  }

  endLease(key: string): void {
    const lease = this.leases.get(key);
    if (lease === undefined) return;
    this.leases.delete(key);
    const raw = this.store.get(key);
    const outcome = raw === undefined ? 'released' : 'loaded';
    for (const w of lease.waiters) w(outcome);
  }
}

/** One process's view of an InMemoryFleet: AsyncLevel + FleetCoordinator with a connection that can drop. */
export class FleetMember<V = unknown> extends MapAsyncLevel<V> implements FleetCoordinator {
  private readonly handlers: InvalidationHandler[] = [];
  private readonly queue: [readonly string[], number][] = [];
  /** Invalidations received while connected (keys). */
  received = 0;

  constructor(readonly fleet: InMemoryFleet<V>, latencyMs: number) {
    super({ name: 'l3', clock: fleet.clock, store: fleet.store, codec: fleet.codec, latencyMs, reportsState: true });
  }

  get connected(): boolean {
    return !this.down;
  }

  /** Drops the connection: calls reject, invalidations sent meanwhile are lost. */
  disconnect(): void {
    this.queue.length = 0;
    this.setDown(true);
  }

  /** Reconnects: tells handlers invalidations may have been missed (null), then 'up'. */
  reconnect(): void {
    this.setDown(false);
    for (const h of [...this.handlers]) h(null, 0);
  }

  async acquireLease(key: string, ttlMs: number): Promise<string | null> {
    await this.enter('acquireLease');
    const now = this.clock();
    const held = this.fleet.leases.get(key);
    if (held !== undefined && now < held.expiresAt) return null;
    if (held !== undefined) this.fleet.endLease(key);
    const token = this.fleet.nextToken();
    this.fleet.leases.set(key, { token, expiresAt: now + ttlMs, waiters: [] });
    this.fleet.leasesGranted++;
    return token;
  }

  async releaseLease(key: string, token: string): Promise<void> {
    await this.enter('releaseLease');
    if (this.fleet.leases.get(key)?.token === token) this.fleet.endLease(key);
  }

  async waitForLease(key: string, timeoutMs: number): Promise<'loaded' | 'released' | 'timeout'> {
    await this.enter('waitForLease');
    const lease = this.fleet.leases.get(key);
    if (lease === undefined) return this.fleet.store.has(key) ? 'loaded' : 'released';
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = lease.waiters.indexOf(done);
        if (i >= 0) lease.waiters.splice(i, 1);
        resolve('timeout');
      }, timeoutMs);
      const done = (outcome: 'loaded' | 'released'): void => {
        clearTimeout(timer);
        resolve(outcome);
      };
      lease.waiters.push(done);
    });
  }

  async publishInvalidation(keys: readonly string[], version: number): Promise<void> {
    await this.enter('publishInvalidation');
    for (const m of this.fleet.members) {
      if (m === this || !m.connected) continue;
      m.queue.push([[...keys], version]);
      if (this.fleet.deliverMode === 'auto') setImmediate(() => m.flush());
    }
  }

  onInvalidate(handler: InvalidationHandler): () => void {
    this.handlers.push(handler);
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  /** Hands queued invalidations to the handlers. */
  flush(): void {
    while (this.queue.length > 0) {
      const [keys, version] = this.queue.shift()!;
      this.received += keys.length;
      for (const h of [...this.handlers]) h(keys, version);
    }
  }
}

