/**
 * The two bounded models `CacheWarmer` keeps (warmer.ts), as plain data structures that a
 * test or a trace simulator can drive without a cache:
 *
 * - `HeavyHitters`: Space-Saving (Metwally, Agrawal, El Abbadi, "Efficient Computation of
 *   Frequent and Top-k Elements in Data Streams", ICDT 2005, §3) over at most `capacity`
 *   counters, with the Stream-Summary idea of §3.1 laid out as one array sorted by count
 *   (ascending) plus, per count, the index of the last counter with that count, so an increment
 *   is a swap and two map updates: O(1) expected, never a scan. Every key that occurs more than
 *   N / capacity times in a stream of N is held (Theorem 3 there); `count - error` is a lower
 *   bound of its true count. The groups live in typed arrays (no Map but the key index). Counts halve every `agingInterval` accesses (as Caffeine's
 *   sketch does) so yesterday's hot set gives way.
 * - `SuccessorTable`: a first-order Markov model over recent keys: for each of at most
 *   `maxSources` source keys, its top `topK` next keys with counts (Space-Saving again inside
 *   the row; topK is small so a row is scanned). Rows live in flat arrays; a new source takes
 *   a free row or the one CLOCK picks (second chance: a row used since the hand last passed
 *   is spared once), so an update allocates nothing and never reorders a Map.
 */

/** One tracked key of `HeavyHitters`. */
export interface HeavyHitter {
  key: string;
  /** Estimated count (an over-estimate by at most `error`). */
  count: number;
  /** Space-Saving's over-estimation bound for this key. */
  error: number;
}

export class HeavyHitters {
  readonly capacity: number;
  /** Counters sorted by count, ascending: order[0] is the minimum. Free counters have count 0 and no key. */
  private readonly order: Int32Array;
  /** Position of counter c in `order`. */
  private readonly pos: Int32Array;
  private readonly counts: Float64Array;
  private readonly errors: Float64Array;
  private readonly keys: (string | undefined)[];
  /** Key → counter. */
  private readonly index = new Map<string, number>();
  /**
   * Groups of equal counts (the paper's Stream-Summary buckets), in a pool of `capacity` slots:
   * each counter's group, and each group's count and first/last index in `order`.
   */
  private readonly groupOf: Int32Array;
  private readonly groupCount: Float64Array;
  private readonly groupFirst: Int32Array;
  private readonly groupLast: Int32Array;
  private readonly freeGroups: Int32Array;
  private freeTop = 0;
  /** Fires `onReplace(counter)` when a counter changes key, so per-counter side data can reset. */
  onReplace: ((counter: number) => void) | null = null;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.order = new Int32Array(capacity);
    this.pos = new Int32Array(capacity);
    this.counts = new Float64Array(capacity);
    this.errors = new Float64Array(capacity);
    this.keys = new Array<string | undefined>(capacity).fill(undefined);
    this.groupOf = new Int32Array(capacity);
    this.groupCount = new Float64Array(capacity);
    this.groupFirst = new Int32Array(capacity);
    this.groupLast = new Int32Array(capacity);
    this.freeGroups = new Int32Array(capacity);
    this.clear();
  }

  /** Keys tracked. */
  get size(): number {
    return this.index.size;
  }

  /** The counter that holds `key`, or -1. */
  counterOf(key: string): number {
    return this.index.get(key) ?? -1;
  }

  /**
   * Counts one occurrence of `key`; returns its counter. O(1) expected: an untracked key takes
   * the minimum counter (a free one while there are free ones) and inherits its count as error.
   */
  add(key: string): number {
    let c = this.index.get(key);
    if (c === undefined) {
      c = this.order[0]!;
      const old = this.keys[c];
      // the minimum's group keeps it: it only changes key
      if (old !== undefined) this.index.delete(old);
      this.keys[c] = key;
      this.errors[c] = this.counts[c]!;
      this.index.set(key, c);
      this.onReplace?.(c);
    }
    this.increment(c);
    return c;
  }

  /** The counter's key, count and error. */
  get(counter: number): HeavyHitter {
    return { key: this.keys[counter]!, count: this.counts[counter]!, error: this.errors[counter]! };
  }

  /** Estimated count of `key` (0 when untracked). */
  estimate(key: string): number {
    const c = this.index.get(key);
    return c === undefined ? 0 : this.counts[c]!;
  }

  /** The `limit` highest counts, highest first (ties: the most recently raised first). */
  top(limit = this.capacity): HeavyHitter[] {
    const out: HeavyHitter[] = [];
    for (let i = this.capacity - 1; i >= 0 && out.length < limit; i--) {
      const c = this.order[i]!;
      if (this.keys[c] === undefined || this.counts[c] === 0) continue;
      out.push(this.get(c));
    }
    return out;
  }

  /** Halves every count and error (floor); the order stays sorted, groups are rebuilt. O(capacity). */
  halve(): void {
    for (let c = 0; c < this.capacity; c++) {
      this.counts[c] = Math.floor(this.counts[c]! / 2);
      this.errors[c] = Math.floor(this.errors[c]! / 2);
    }
    this.rebuildGroups();
  }

  clear(): void {
    this.index.clear();
    this.keys.fill(undefined);
    this.counts.fill(0);
    this.errors.fill(0);
    for (let i = 0; i < this.capacity; i++) {
      this.order[i] = i;
      this.pos[i] = i;
    }
    this.rebuildGroups();
  }

  /** Replaces the contents with `entries` (hottest first, as `top()` gives them); keeps the `capacity` highest. */
  load(entries: readonly HeavyHitter[]): void {
    this.clear();
    // a stable sort, highest first: ties keep their order, so load(top()) gives back the same top()
    const sorted = entries.slice().sort((a, b) => b.count - a.count).slice(0, this.capacity);
    // free counters stay at the front with count 0; the hottest goes to the end
    for (let i = 0; i < sorted.length; i++) {
      const e = sorted[i]!;
      const c = this.capacity - 1 - i;
      this.keys[c] = e.key;
      this.counts[c] = e.count;
      this.errors[c] = e.error;
      this.index.set(e.key, c);
    }
    this.rebuildGroups();
  }

  private rebuildGroups(): void {
    this.freeTop = 0;
    for (let g = this.capacity - 1; g >= 0; g--) this.freeGroups[this.freeTop++] = g;
    let g = -1;
    for (let i = 0; i < this.capacity; i++) {
      const c = this.order[i]!;
      const x = this.counts[c]!;
      if (g < 0 || this.groupCount[g] !== x) {
        g = this.freeGroups[--this.freeTop]!;
        this.groupCount[g] = x;
        this.groupFirst[g] = i;
      }
      this.groupLast[g] = i;
      this.groupOf[c] = g;
    }
  }

  /** counts[c] += 1 keeping `order` sorted: swap c with the last of its group, then it is the first of the next. */
  private increment(c: number): void {
    const g = this.groupOf[c]!;
    const last = this.groupLast[g]!;
    const p = this.pos[c]!;
    if (p !== last) {
      const d = this.order[last]!;
      this.order[p] = d;
      this.pos[d] = p;
      this.order[last] = c;
      this.pos[c] = last;
    }
    // group g loses its last element (and goes back to the pool when that was its only one)
    if (this.groupFirst[g] === last) this.freeGroups[this.freeTop++] = g;
    else this.groupLast[g] = last - 1;
    const x1 = this.counts[c]! + 1;
    this.counts[c] = x1;
    // the next group up gains a first element at `last`, or a new group starts there
    if (last + 1 < this.capacity) {
      const g1 = this.groupOf[this.order[last + 1]!]!;
      if (this.groupCount[g1] === x1) {
        this.groupFirst[g1] = last;
        this.groupOf[c] = g1;
        return;
      }
    }
    const n = this.freeGroups[--this.freeTop]!;
    this.groupCount[n] = x1;
    this.groupFirst[n] = last;
    this.groupLast[n] = last;
    this.groupOf[c] = n;
  }
}

/** One row of `SuccessorTable`: next keys seen after a source key, with counts. */
export interface SuccessorRow {
  next: string[];
  counts: number[];
  /** Transitions out of the source seen (all, including next keys the row no longer holds). */
  total: number;
}

export class SuccessorTable {
  readonly maxSources: number;
  readonly topK: number;
  /** Source key → slot. */
  private readonly index = new Map<string, number>();
  private readonly sources: (string | undefined)[];
  /** Row of slot s: next keys at [s * topK, s * topK + lengths[s]), counts alongside, sorted by count (highest first). */
  private readonly next: (string | undefined)[];
  private readonly counts: Float64Array;
  private readonly lengths: Uint8Array;
  private readonly totals: Float64Array;
  /** CLOCK (second chance) reference bits: a row seen since the hand last passed survives one sweep. */
  private readonly referenced: Uint8Array;
  private hand = 0;
  private used = 0;

  constructor(maxSources: number, topK: number) {
    this.maxSources = maxSources;
    this.topK = topK;
    this.sources = new Array<string | undefined>(maxSources).fill(undefined);
    this.next = new Array<string | undefined>(maxSources * topK).fill(undefined);
    this.counts = new Float64Array(maxSources * topK);
    this.lengths = new Uint8Array(maxSources);
    this.totals = new Float64Array(maxSources);
    this.referenced = new Uint8Array(maxSources);
  }

  get size(): number {
    return this.index.size;
  }

  /** Counts the transition `from` → `to`. O(topK); no allocation once `from` has a row. */
  add(from: string, to: string): void {
    if (this.maxSources === 0) return;
    let s = this.index.get(from);
    if (s === undefined) s = this.claim(from);
    else this.referenced[s] = 1;
    this.totals[s]!++;
    const base = s * this.topK;
    const len = this.lengths[s]!;
    let i = -1;
    for (let j = 0; j < len; j++) {
      if (this.next[base + j] === to) {
        i = j;
        break;
      }
    }
    if (i < 0) {
      if (len < this.topK) {
        i = len;
        this.lengths[s] = len + 1;
        this.counts[base + i] = 0;
      } else {
        // Space-Saving inside the row: the last (least-counted) successor gives its slot, count + 1
        i = len - 1;
      }
      this.next[base + i] = to;
    }
    this.counts[base + i]!++;
    // keep the row sorted by count, highest first: bubble the raised entry up
    while (i > 0 && this.counts[base + i]! > this.counts[base + i - 1]!) {
      const c = this.counts[base + i]!;
      this.counts[base + i] = this.counts[base + i - 1]!;
      this.counts[base + i - 1] = c;
      const k = this.next[base + i];
      this.next[base + i] = this.next[base + i - 1];
      this.next[base + i - 1] = k;
      i--;
    }
  }

  /** The slot of `from`'s row, or -1. */
  slotOf(from: string): number {
    return this.index.get(from) ?? -1;
  }

  /** Transitions out of the slot's source seen (including next keys the row no longer holds). */
  totalOf(slot: number): number {
    return this.totals[slot]!;
  }

  /** Next keys held in the slot's row. */
  lengthOf(slot: number): number {
    return this.lengths[slot]!;
  }

  /** The i-th most counted next key of the slot's row, and its count. */
  nextOf(slot: number, i: number): string {
    return this.next[slot * this.topK + i]!;
  }

  countOf(slot: number, i: number): number {
    return this.counts[slot * this.topK + i]!;
  }

  /** A copy of `from`'s row, or undefined. */
  peek(from: string): SuccessorRow | undefined {
    const s = this.index.get(from);
    return s === undefined ? undefined : this.row(s);
  }

  /** Copies of every row. */
  *entries(): IterableIterator<[string, SuccessorRow]> {
    for (const [from, s] of this.index) yield [from, this.row(s)];
  }

  clear(): void {
    this.index.clear();
    this.sources.fill(undefined);
    this.next.fill(undefined);
    this.lengths.fill(0);
    this.totals.fill(0);
    this.referenced.fill(0);
    this.hand = 0;
    this.used = 0;
  }

  /** Loads a row as-is (restore); beyond `maxSources` rows, CLOCK picks the one to drop. */
  loadRow(from: string, row: SuccessorRow): void {
    if (this.maxSources === 0) return;
    let s = this.index.get(from);
    if (s === undefined) s = this.claim(from);
    const n = Math.min(row.next.length, this.topK);
    const base = s * this.topK;
    for (let i = 0; i < n; i++) {
      this.next[base + i] = row.next[i];
      this.counts[base + i] = row.counts[i]!;
    }
    this.lengths[s] = n;
    this.totals[s] = row.total;
  }

  private row(s: number): SuccessorRow {
    const base = s * this.topK;
    const n = this.lengths[s]!;
    return { next: this.next.slice(base, base + n) as string[], counts: Array.from(this.counts.subarray(base, base + n)), total: this.totals[s]! };
  }

  /** A slot for a new source: a free one while there are, else CLOCK's victim (amortized O(1)). */
  private claim(from: string): number {
    let s: number;
    if (this.used < this.maxSources) {
      s = this.used++;
    } else {
      while (this.referenced[this.hand] === 1) {
        this.referenced[this.hand] = 0;
        this.hand = this.hand + 1 === this.maxSources ? 0 : this.hand + 1;
      }
      s = this.hand;
      this.hand = this.hand + 1 === this.maxSources ? 0 : this.hand + 1;
      this.index.delete(this.sources[s]!);
      for (let i = s * this.topK, e = i + this.lengths[s]!; i < e; i++) this.next[i] = undefined;
    }
    this.sources[s] = from;
    this.index.set(from, s);
    this.lengths[s] = 0;
    this.totals[s] = 0;
    this.referenced[s] = 0;
    return s;
  }
}
