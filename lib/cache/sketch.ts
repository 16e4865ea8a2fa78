/**
 * The frequency sketch of W-TinyLFU: a 4-bit count-min sketch with periodic halving ("aging"),
 * as described in Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache Admission
 * Policy", ACM Transactions on Storage 13(4), 2017, section 3 (approximate counting with a
 * count-min sketch; the reset operation that halves every counter after W samples), and as
 * Caffeine's `FrequencySketch` lays it out: every key's 4 counters sit in one 64-byte block so
 * an increment touches one cache line.
 *
 * Layout here: a `Uint32Array` of 4-bit counters, 8 per word; 16 words (64 bytes) per block;
 * `2 × ceilPow2(capacity)` words, so 16 counters per cached entry (the paper's and Caffeine's
 * ratio). A key's block comes from the low bits of its 32-bit hash; each of the 4 counters gets
 * its own 4-word quarter of the block, the word and the nibble within it chosen by a second mix.
 */
import { invalidRange, invalidType, invalidValue } from '../errors.js';

/** Largest count a 4-bit counter holds. */
export const kMaxCount = 15;

/** Words per 64-byte block. */
const kBlockWords = 16;

/** Bytes of the `toBytes()` header: magic, version, word count, sample count, sample size. */
const kStateHeader = 20;
/** "TLFU" little-endian. */
const kStateMagic = 0x55464c54;
const kStateVersion = 1;

/**
 * 32-bit hash of a string: FNV-1a over UTF-16 code units, then Murmur3's finalizer so every
 * bit of the result depends on every input bit (the sketch takes block and counter bits from
 * different parts of it). Deterministic across processes, so a saved sketch stays valid.
 */
export function hashKey(key: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

function ceilPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Bits set in a 32-bit integer. */
function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * 4-bit count-min sketch with aging. `increment(hash)` adds one to the key's 4 counters
 * (each saturates at 15); `frequency(hash)` is the minimum of them (never below the true count
 * since the last halving, over-estimated only by collisions). After `sampleSize` increments
 * that changed a counter, every counter is halved (`reset`), so old popularity fades
 * (TinyLFU §3.3). Hashes are `hashKey(key)` values; the caller computes each once.
 *
 * @example
 * const s = new FrequencySketch(1000);
 * const h = hashKey('AAPL');
 * s.increment(h); s.increment(h);
 * s.frequency(h); // 2
 */
export class FrequencySketch {
  /** The counters, 8 per word. */
  readonly table: Uint32Array;
  /** Increments between halvings: 10 × capacity (Caffeine's and the paper's W = 10·C). */
  readonly sampleSize: number;
  /** Increments since the last halving (adjusted at halving for truncation, as the paper does). */
  size = 0;
  /** Times the counters were halved. */
  resets = 0;
  private readonly blockMask: number;

  /** `capacity`: the cache's maximum entries (≥ 1); sizes the table and the sample. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw invalidRange('capacity', 'an integer ≥ 1', capacity);
    const words = Math.max(kBlockWords, 2 * ceilPow2(capacity));
    this.table = new Uint32Array(words);
    this.blockMask = words / kBlockWords - 1;
    this.sampleSize = 10 * capacity;
  }

  /** The estimated count of the key whose hash is `hash` (0..15). */
  frequency(hash: number): number {
    const t = this.table;
    const block = (hash & this.blockMask) << 4;
    const h = spread(hash);
    let min = kMaxCount;
    for (let i = 0; i < 4; i++) {
      const bits = h >>> (i << 3);
      const c = (t[block + (i << 2) + (bits & 3)]! >>> (((bits >>> 2) & 7) << 2)) & 15;
      if (c < min) min = c;
    }
    return min;
  }

  /** Counts one access of the key whose hash is `hash`; halves all counters every `sampleSize` increments. */
  increment(hash: number): void {
    const t = this.table;
    const block = (hash & this.blockMask) << 4;
    const h = spread(hash);
    let added = false;
    for (let i = 0; i < 4; i++) {
      const bits = h >>> (i << 3);
      const w = block + (i << 2) + (bits & 3);
      const shift = ((bits >>> 2) & 7) << 2;
      const v = t[w]!;
      if (((v >>> shift) & 15) !== kMaxCount) {
        t[w] = v + (1 << shift);
        added = true;
      }
    }
    if (added && ++this.size >= this.sampleSize) this.reset();
  }

  /**
   * Halves every counter. Odd counters lose half a count each to truncation; as in the paper
   * (§3.3.1) and Caffeine, `size` is reduced by those losses (÷4, one key owns 4 counters) before halving.
   */
  reset(): void {
    const t = this.table;
    let odd = 0;
    for (let i = 0; i < t.length; i++) {
      const v = t[i]!;
      odd += popcount(v & 0x11111111);
      t[i] = (v >>> 1) & 0x77777777;
    }
    this.size = Math.max(0, (this.size - (odd >>> 2)) >>> 1);
    this.resets++;
  }

  /** Zeroes every counter. */
  clear(): void {
    this.table.fill(0);
    this.size = 0;
  }

  /**
   * The sketch as bytes (for `CacheWarmer.persist`): a 20-byte little-endian header (magic
   * "TLFU", version 1, word count, size, sample size) then the counter words, little-endian.
   */
  toBytes(): Uint8Array {
    const out = new Uint8Array(kStateHeader + this.table.length * 4);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, kStateMagic, true);
    dv.setUint32(4, kStateVersion, true);
    dv.setUint32(8, this.table.length, true);
    dv.setUint32(12, this.size, true);
    dv.setUint32(16, this.sampleSize, true);
    for (let i = 0; i < this.table.length; i++) dv.setUint32(kStateHeader + i * 4, this.table[i]!, true);
    return out;
  }

  /**
   * Loads counters written by `toBytes()` of a sketch of the same table size (same capacity
   * rounded up to a power of two). Throws a TypeError naming `argument` (code
   * ERR_INVALID_ARG_VALUE) for bytes of another shape; the sketch is unchanged then.
   */
  loadBytes(bytes: Uint8Array, argument = 'bytes'): void {
    if (!(bytes instanceof Uint8Array)) throw invalidType(argument, 'a Uint8Array from sketchState()', bytes);
    if (bytes.length < kStateHeader) throw invalidValue(argument, `sketch state of at least ${kStateHeader} bytes (length ${bytes.length})`, bytes);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (dv.getUint32(0, true) !== kStateMagic || dv.getUint32(4, true) !== kStateVersion) {
      throw invalidValue(argument, 'sketch state (magic "TLFU", version 1)', bytes);
    }
    const words = dv.getUint32(8, true);
    if (words !== this.table.length || bytes.length !== kStateHeader + words * 4) {
      throw invalidValue(argument, `sketch state of ${this.table.length} words (${kStateHeader + this.table.length * 4} bytes; it holds ${words} words in ${bytes.length} bytes)`, bytes);
    }
    for (let i = 0; i < words; i++) this.table[i] = dv.getUint32(kStateHeader + i * 4, true);
    this.size = Math.min(dv.getUint32(12, true), this.sampleSize - 1);
  }
}

/** Second mix of the key hash: supplies 4 × (2 word bits + 3 nibble bits), independent of the block bits. */
function spread(hash: number): number {
  let h = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  return h ^ (h >>> 15);
}
