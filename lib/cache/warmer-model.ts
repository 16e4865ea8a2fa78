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
 *   bound of its true count. Counts halve every `agingInterval` accesses (as Caffeine's
 *   sketch does) so yesterday's hot set gives way.
 * - `SuccessorTable`: a first-order Markov model over recent keys: for each of at most
 *   `maxSources` source keys (least recently seen dropped first), its top `topK` next keys
 *   with counts (Space-Saving again inside the row, topK is small so a row is scanned).
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
  /** Count → index in `order` of the last counter with that count. */
  private readonly lastOf = new Map<number, number>();
  /** Fires `onReplace(counter)` when a counter changes key, so per-counter side data can reset. */
  onReplace: ((counter: number) => void) | null = null;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.order = new Int32Array(capacity);
    this.pos = new Int32Array(capacity);
    this.counts = new Float64Array(capacity);
    this.errors = new Float64Array(capacity);
    this.keys = new Array<string | undefined>(capacity).fill(undefined);
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
    this.lastOf.clear();
    for (let i = 0; i < this.capacity; i++) this.lastOf.set(this.counts[this.order[i]!]!, i);
  }

  /** counts[c] += 1 keeping `order` sorted: swap c with the last of its group, then it is the first of the next. */
  private increment(c: number): void {
    const x = this.counts[c]!;
    const last = this.lastOf.get(x)!;
    const p = this.pos[c]!;
    if (p !== last) {
      const d = this.order[last]!;
      this.order[p] = d;
      this.pos[d] = p;
      this.order[last] = c;
      this.pos[c] = last;
    }
    // group x loses its last element
    if (last > 0 && this.counts[this.order[last - 1]!]! === x) this.lastOf.set(x, last - 1);
    else this.lastOf.delete(x);
    this.counts[c] = x + 1;
    // group x+1 gains a first element at `last`; its last index stays if the group existed
    if (!this.lastOf.has(x + 1)) this.lastOf.set(x + 1, last);
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
  /** Insertion order = recency (a touched row is moved to the end). */
  private readonly rows = new Map<string, SuccessorRow>();

  constructor(maxSources: number, topK: number) {
    this.maxSources = maxSources;
    this.topK = topK;
  }

  get size(): number {
    return this.rows.size;
  }

  /** Counts the transition `from` → `to`. O(topK). */
  add(from: string, to: string): void {
    let row = this.rows.get(from);
    if (row === undefined) {
      if (this.rows.size >= this.maxSources) this.rows.delete(this.rows.keys().next().value as string);
      row = { next: [], counts: [], total: 0 };
    } else {
      this.rows.delete(from);
    }
    this.rows.set(from, row);
    row.total++;
    const i = row.next.indexOf(to);
    if (i >= 0) {
      row.counts[i]!++;
    } else if (row.next.length < this.topK) {
      row.next.push(to);
      row.counts.push(1);
    } else {
      // Space-Saving inside the row: the least-counted successor gives its slot (count + 1)
      let m = 0;
      for (let j = 1; j < row.counts.length; j++) if (row.counts[j]! < row.counts[m]!) m = j;
      row.next[m] = to;
      row.counts[m]!++;
    }
    // keep the row sorted by count, highest first (topK is small)
    for (let j = (i >= 0 ? i : row.next.length - 1); j > 0 && row.counts[j]! > row.counts[j - 1]!; j--) {
      [row.counts[j], row.counts[j - 1]] = [row.counts[j - 1]!, row.counts[j]!];
      [row.next[j], row.next[j - 1]] = [row.next[j - 1]!, row.next[j]!];
    }
  }

  /** The row of `from` (not a copy: do not modify), or undefined. Does not touch recency. */
  peek(from: string): SuccessorRow | undefined {
    return this.rows.get(from);
  }

  entries(): IterableIterator<[string, SuccessorRow]> {
    return this.rows.entries();
  }

  clear(): void {
    this.rows.clear();
  }

  /** Loads a row as-is (restore); rows beyond `maxSources` push out the oldest. */
  loadRow(from: string, row: SuccessorRow): void {
    if (!this.rows.has(from) && this.rows.size >= this.maxSources) this.rows.delete(this.rows.keys().next().value as string);
    this.rows.delete(from);
    this.rows.set(from, {
      next: row.next.slice(0, this.topK),
      counts: row.counts.slice(0, this.topK),
      total: row.total,
    });
  }
}
