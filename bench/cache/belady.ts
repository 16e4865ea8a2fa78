/**
 * Bélády's optimum (L. A. Bélády, "A study of replacement algorithms for a virtual-storage
 * computer", IBM Systems Journal 5(2), 1966): on a miss with a full cache, drop the key whose
 * next use is furthest in the future. The version here may also decline to cache the requested
 * key when its own next use is the furthest (what an admission policy may do), so it bounds
 * W-TinyLFU from above. O(n log n): next-use times in one backward pass, then a max-heap of
 * (next use, id) with lazy deletion.
 */

/** `next[i]` = index of the next request for `ids[i]`, or `ids.length` when there is none. */
export function nextUses(ids: Int32Array, distinct: number): Int32Array {
  const n = ids.length;
  const next = new Int32Array(n);
  const seen = new Int32Array(distinct).fill(n);
  for (let i = n - 1; i >= 0; i--) {
    const id = ids[i]!;
    next[i] = seen[id]!;
    seen[id] = i;
  }
  return next;
}

/** Hits of the clairvoyant policy with room for `capacity` keys. */
export function beladyHits(ids: Int32Array, distinct: number, capacity: number): number {
  const n = ids.length;
  if (capacity <= 0 || n === 0) return 0;
  const next = nextUses(ids, distinct);
  // cur[id]: the next use the cached copy of id waits for, or -1 when id is not cached.
  const cur = new Int32Array(distinct).fill(-1);
  // Max-heap on next use; entries whose time no longer equals cur[id] are stale.
  const heapT = new Int32Array(n + 1);
  const heapId = new Int32Array(n + 1);
  let heapN = 0;
  let size = 0;
  let hits = 0;
  const push = (t: number, id: number): void => {
    let i = heapN++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heapT[p]! >= t) break;
      heapT[i] = heapT[p]!;
      heapId[i] = heapId[p]!;
      i = p;
    }
    heapT[i] = t;
    heapId[i] = id;
  };
  const pop = (): void => {
    const t = heapT[--heapN]!;
    const id = heapId[heapN]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= heapN) break;
      if (c + 1 < heapN && heapT[c + 1]! > heapT[c]!) c++;
      if (heapT[c]! <= t) break;
      heapT[i] = heapT[c]!;
      heapId[i] = heapId[c]!;
      i = c;
    }
    heapT[i] = t;
    heapId[i] = id;
  };
  /** Drops stale tops; the top is then the cached key used furthest ahead. */
  const cleanTop = (): void => {
    while (heapN > 0 && cur[heapId[0]!] !== heapT[0]) pop();
  };
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    const t = next[i]!;
    if (cur[id] !== -1) {
      hits++;
      cur[id] = t;
      push(t, id);
      continue;
    }
    if (size === capacity) {
      cleanTop();
      if (heapT[0]! <= t) continue; // the new key is used last (or never): do not cache it
      cur[heapId[0]!] = -1;
      pop();
      size--;
    }
    cur[id] = t;
    push(t, id);
    size++;
  }
  return hits;
}

/** Reference for tests: the same policy by brute force (O(n² · capacity)). */
export function beladyHitsBruteForce(ids: ArrayLike<number>, capacity: number): number {
  const cache = new Set<number>();
  let hits = 0;
  const nextUse = (key: number, from: number): number => {
    for (let j = from; j < ids.length; j++) if (ids[j] === key) return j;
    return Infinity;
  };
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (cache.has(id)) {
      hits++;
      continue;
    }
    if (capacity === 0) continue;
    if (cache.size < capacity) {
      cache.add(id);
      continue;
    }
    let worst = id;
    let worstT = nextUse(id, i + 1);
    for (const k of cache) {
      const t = nextUse(k, i + 1);
      if (t > worstT) {
        worst = k;
        worstT = t;
      }
    }
    if (worst !== id) {
      cache.delete(worst);
      cache.add(id);
    }
  }
  return hits;
}
