/**
 * A pool of reusable JS objects: acquire() hands out a pooled one when it has one and
 * makes a new one otherwise; release() resets it and keeps it for the next acquire.
 * Reusing objects keeps them out of the young generation, so an allocation-heavy
 * loop triggers fewer scavenges (bench/memory measures how many fewer).
 */
import { invalidRange, invalidType } from '../errors.js';
import { requireOptions } from './common.js';

export interface ObjectPoolOptions<T> {
  /** Makes a new object when the pool is empty. */
  create: () => T;
  /** Puts a released object back into its initial state (called on release). */
  reset?: (item: T) => void;
  /** Objects made up front. Default 0. */
  initialSize?: number;
  /** Objects kept at most; a release beyond this drops the object for the GC. Default unbounded. */
  maxSize?: number;
}

export interface ObjectPoolStats {
  /** Objects made by create(), up front and on misses. */
  created: number;
  /** acquire() calls served from the pool. */
  hits: number;
  /** acquire() calls that had to create(). */
  misses: number;
  /** hits / (hits + misses); 0 before the first acquire(). */
  hitRatio: number;
  /** Objects in the pool now. */
  available: number;
  /** Releases dropped because the pool held maxSize objects. */
  dropped: number;
}

/**
 * @example
 * import { ObjectPool } from 'ultra-performance';
 * const orders = new ObjectPool({
 *   create: () => ({ id: 0, price: 0, qty: 0 }),
 *   reset: (o) => { o.id = 0; o.price = 0; o.qty = 0; },
 *   initialSize: 1024,
 * });
 * const o = orders.acquire();
 * o.price = 101.5;
 * orders.release(o);
 * orders.stats(); // { created: 1024, hits: 1, misses: 0, hitRatio: 1, available: 1024, dropped: 0 }
 */
export class ObjectPool<T extends object> {
  readonly maxSize: number;
  /**
   * Gives `item` back to the pool (reset first, when a reset was given). Releasing an
   * object twice puts it in the pool twice: the pool does not track what it handed
   * out, which would cost a lookup per call.
   */
  readonly release: (item: T) => void;

  private readonly create: () => T;
  private readonly resetItem: (item: T) => void;
  private readonly items: (T | undefined)[] = [];
  private top = 0;
  private created = 0;
  private hits = 0;
  private misses = 0;
  private dropped = 0;

  constructor(options: ObjectPoolOptions<T>) {
    const o = requireOptions(options, 'ObjectPool');
    if (typeof o.create !== 'function') throw invalidType('options.create', 'a function that makes an object', o.create);
    if (o.reset !== undefined && typeof o.reset !== 'function') throw invalidType('options.reset', 'a function', o.reset);
    const maxSize = o.maxSize ?? Number.POSITIVE_INFINITY;
    if (typeof maxSize !== 'number' || Number.isNaN(maxSize)) throw invalidType('options.maxSize', 'an integer >= 0 or Infinity', maxSize);
    if (maxSize < 0 || (Number.isFinite(maxSize) && !Number.isInteger(maxSize))) {
      throw invalidRange('options.maxSize', 'an integer >= 0 or Infinity', maxSize);
    }
    const initialSize = o.initialSize ?? 0;
    if (typeof initialSize !== 'number' || !Number.isInteger(initialSize)) {
      throw invalidType('options.initialSize', `an integer from 0 to maxSize (${maxSize})`, initialSize);
    }
    if (initialSize < 0 || initialSize > maxSize) {
      throw invalidRange('options.initialSize', `an integer from 0 to maxSize (${maxSize})`, initialSize);
    }
    this.maxSize = maxSize;
    this.create = o.create as () => T;
    this.resetItem = (o.reset as ((item: T) => void) | undefined) ?? (() => {});
    // Chosen once: no per-call test for a missing reset.
    this.release = o.reset === undefined ? ObjectPool.releasePlain : ObjectPool.releaseWithReset;
    for (let i = 0; i < initialSize; i++) this.items.push(this.make());
    this.top = initialSize;
  }

  /** A pooled object, or a new one when the pool is empty. */
  acquire(): T {
    if (this.top > 0) {
      this.hits++;
      const item = this.items[--this.top]!;
      // Do not keep handed-out objects alive from the pool.
      this.items[this.top] = undefined;
      return item;
    }
    this.misses++;
    return this.make();
  }

  stats(): ObjectPoolStats {
    const acquires = this.hits + this.misses;
    return {
      created: this.created,
      hits: this.hits,
      misses: this.misses,
      hitRatio: acquires === 0 ? 0 : this.hits / acquires,
      available: this.top,
      dropped: this.dropped,
    };
  }

  /** Drops every pooled object (counters stay). */
  clear(): void {
    this.items.length = 0;
    this.top = 0;
  }

  private make(): T {
    const item = this.create();
    if ((typeof item !== 'object' && typeof item !== 'function') || item === null) {
      throw invalidType('the value options.create() returned', 'an object', item);
    }
    this.created++;
    return item;
  }

  private keep(item: T): void {
    if (this.top < this.maxSize) this.items[this.top++] = item;
    else this.dropped++;
  }

  private static releasePlain<T extends object>(this: ObjectPool<T>, item: T): void {
    if ((typeof item !== 'object' && typeof item !== 'function') || item === null) throw invalidType('item', 'an object acquired from this pool', item);
    this.keep(item);
  }

  private static releaseWithReset<T extends object>(this: ObjectPool<T>, item: T): void {
    if ((typeof item !== 'object' && typeof item !== 'function') || item === null) throw invalidType('item', 'an object acquired from this pool', item);
    this.resetItem(item);
    this.keep(item);
  }
}
