/**
 * The queue algorithms in TypeScript: the twins of cpp/queue/spsc_queue.hpp and
 * mpmc_queue.hpp, on the same bytes (layout in layout.ts and cpp/queue/layout.hpp),
 * returning the same status codes.
 *
 * These are ordinary module functions: queue.ts, spsc.ts and mpmc.ts call them on the
 * JS thread and replay-worker.ts imports them into the TS replayer's worker_thread, so
 * both run this code. The rule: no module-level mutable state (every thread loads
 * its own copy of this module and threads share only the queue's buffer), and helpers
 * called from the hot paths (tryPush/tryPop/pushBatch/popBatch) stay small and
 * monomorphic (always an Int32Array over a SharedArrayBuffer, small integers), so
 * TurboFan inlines them and a shared step costs no call.
 *
 * Callers validate arguments first (lib/queue/queue.ts); these functions trust them.
 */

/** Int32 word index of each header field: its byte offset / 4 (layout.hpp QueueHeader). */
export const enum Word {
  Magic = 0,
  Version = 1,
  Kind = 2,
  Capacity = 3,
  SlotBytes = 4,
  SlotStride = 5,
  DataOffset = 6,
  TotalBytes = 7,
  Closed = 8,
  /** SPSC write index, MPMC enqueue position (line 1). */
  Tail = 32,
  /** The SPSC producer's cached head (line 2). */
  HeadCache = 64,
  /** SPSC read index, MPMC dequeue position (line 3). */
  Head = 96,
  /** The SPSC consumer's cached tail (line 4). */
  TailCache = 128,
  NotEmptySeq = 160,
  /** A flag: set by a consumer about to sleep; the producer that finds it clears it and wakes all. */
  ConsumersAsleep = 161,
  NativeProducers = 162,
  NotFullSeq = 192,
  /** A flag: set by a producer about to sleep; the consumer that finds it clears it and wakes all. */
  ProducersAsleep = 193,
}

/** Byte sizes and offsets of the layout (layout.hpp). */
export const enum Layout {
  CacheLineSize = 64,
  LineBytes = 128,
  DataOffset = 896,
  SlotHeaderBytes = 8,
  SlotSeqOffset = 0,
  SlotLengthOffset = 4,
  Magic = 0x55505155,
  Version = 1,
  KindSpsc = 1,
  KindMpmc = 2,
  MinCapacity = 2,
  MaxCapacity = 1073741824,
  MaxSlotBytes = 16777216,
  MaxTotalBytes = 2147483520,
  /** Messages longer than this are copied with one TypedArray.set instead of word by word. */
  WordCopyMaxBytes = 256,
}

/** Results shared with the C++ core (layout.hpp). Non-negative: a count or a length. */
export const enum Status {
  Full = 0,
  Pushed = 1,
  Empty = -1,
  Closed = -2,
  TooBig = -3,
  OutTooSmall = -4,
  BadQueue = -5,
  Corrupt = -6,
  BadBatch = -7,
  Stopped = -8,
  BadArgument = -9,
  /** Set on a result when the asleep flag was found (and cleared) and the seq bumped: the caller must notify all. */
  WakeBit = 536870912,
}

// ---- The wake protocol (docs/queue.md "Sleeping"; cpp/queue/queue_base.hpp wake_*_if_waiting) ----

/**
 * The two sides that sleep, each named by the word it waits on; its asleep flag is the
 * next word (layout v1: NotEmptySeq/ConsumersAsleep on line 5, NotFullSeq/ProducersAsleep
 * on line 6), so a sequence and a flag of different sides can never be paired.
 */
export const enum Sleepers {
  /** Consumers wait on NotEmptySeq for a push; flag ConsumersAsleep. */
  Consumers = Word.NotEmptySeq,
  /** Producers wait on NotFullSeq for a pop; flag ProducersAsleep. */
  Producers = Word.NotFullSeq,
}

/**
 * A sleeper's half, before its last try: reads the sequence, then raises the flag, and
 * returns the value to Atomics.wait on. Read before raise: whoever takes the flag down
 * after the read has bumped the sequence by the time the sleeper waits, so the wait
 * cannot miss it.
 */
export function prepareToSleep(i32: Int32Array, side: Sleepers): number {
  const seq = Atomics.load(i32, side);
  Atomics.store(i32, side + 1, 1);
  return seq;
}

/**
 * The publisher's half, after a sequentially consistent publish (Dekker with the
 * sleeper's raise-then-try): when side's flag is up, takes it down with one exchange,
 * bumps the sequence and returns Status.WakeBit, and the caller must notifyWaiters
 * (one flag serves every sleeper); else 0, for one load. So one publish per sleep
 * episode pays for the wake-up, and nothing is paid while nobody sleeps. Every TS
 * kernel that publishes ends here: keep it this small, so TurboFan inlines it into
 * the hot paths (side is a literal at each call site).
 */
export function wakeIfWaiting(i32: Int32Array, side: Sleepers): number {
  if (Atomics.load(i32, side + 1) === 0 || Atomics.exchange(i32, side + 1, 0) === 0) return 0;
  Atomics.add(i32, side, 1);
  return Status.WakeBit;
}

/** Wakes every thread asleep on side's sequence, after wakeIfWaiting said so (WakeBit). */
export function notifyWaiters(i32: Int32Array, side: Sleepers): void {
  Atomics.notify(i32, side);
}

/**
 * The status a non-zero closed word means: Closed for 1 (what close() writes), Corrupt
 * for anything else (a scribble). Called only off the hot path, when the word is not 0.
 */
export function closedStatus(word: number): number {
  return word === 1 ? Status.Closed : Status.Corrupt;
}

/** Per-slot views for copying a whole slot out with one TypedArray.set, filled lazily. */
export type SlotViews = (Uint8Array | undefined)[] | null;

/** Copies len bytes of src from off into the queue at byte dst (8-aligned). */
export function copyIn(u8: Uint8Array, qdv: DataView, dst: number, src: Uint8Array, sdv: DataView, off: number, len: number): void {
  if (off === 0 && len === src.length) {
    u8.set(src, dst);
  } else if (len > Layout.WordCopyMaxBytes) {
    // One short-lived view: for a long message the copy dominates the allocation.
    u8.set(src.subarray(off, off + len), dst);
  } else {
    let j = 0;
    for (; j + 4 <= len; j += 4) qdv.setInt32(dst + j, sdv.getInt32(off + j, true), true);
    for (; j < len; j++) u8[dst + j] = src[off + j]!;
  }
}

/**
 * Copies a payload out of slot `index` (payload at byte src) into out at outOff. With
 * views, the whole slot is copied through a cached view (no allocation; out has room
 * for slotBytes there by contract); without, exactly len bytes.
 */
export function copyOut(
  u8: Uint8Array,
  views: SlotViews,
  index: number,
  src: number,
  out: Uint8Array,
  outOff: number,
  len: number,
  slotBytes: number,
): void {
  if (views !== null) {
    let view = views[index];
    if (view === undefined) {
      view = u8.subarray(src, src + slotBytes);
      views[index] = view;
    }
    out.set(view, outOff);
  } else if (len !== 0) {
    out.set(u8.subarray(src, src + len), outOff);
  }
}

/** -1 when every length fits a slot and they sum to at most dataLength; else the first bad index, or count for the sum. */
export function checkBatch(lengths: Uint32Array, count: number, slotBytes: number, dataLength: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const len = lengths[i]!;
    if (len > slotBytes) return i;
    total += len;
  }
  return total <= dataLength ? -1 : count;
}

// ---- SPSC (rigtorp SPSCQueue.h with cached indices) ----

export function spscTryPush(i32: Int32Array, u8: Uint8Array, capacity: number, mask: number, stride: number, bytes: Uint8Array): number {
  const closed = Atomics.load(i32, Word.Closed);
  if (closed !== 0) return closedStatus(closed);
  const tail = i32[Word.Tail]!;
  if ((tail - i32[Word.HeadCache]!) >>> 0 >= capacity) {
    const head = Atomics.load(i32, Word.Head);
    i32[Word.HeadCache] = head;
    if ((tail - head) >>> 0 >= capacity) return Status.Full;
  }
  const slot = Layout.DataOffset + (tail & mask) * stride;
  i32[(slot >> 2) + 1] = bytes.length;
  u8.set(bytes, slot + Layout.SlotHeaderBytes);
  Atomics.store(i32, Word.Tail, (tail + 1) | 0);
  return Status.Pushed | wakeIfWaiting(i32, Sleepers.Consumers);
}

export function spscTryPop(
  i32: Int32Array,
  u8: Uint8Array,
  capacity: number,
  mask: number,
  stride: number,
  slotBytes: number,
  views: SlotViews,
  out: Uint8Array,
): number {
  const head = i32[Word.Head]!;
  let ready = (i32[Word.TailCache]! - head) >>> 0;
  if (ready === 0 || ready > capacity) {
    const tail = Atomics.load(i32, Word.Tail);
    i32[Word.TailCache] = tail;
    ready = (tail - head) >>> 0;
    if (ready === 0 || ready > capacity) return Status.Empty;
  }
  const index = head & mask;
  const slot = Layout.DataOffset + index * stride;
  const len = i32[(slot >> 2) + 1]!;
  if (len < 0 || len > slotBytes) return Status.Corrupt;
  copyOut(u8, views, index, slot + Layout.SlotHeaderBytes, out, 0, len, slotBytes);
  Atomics.store(i32, Word.Head, (head + 1) | 0);
  return len | wakeIfWaiting(i32, Sleepers.Producers);
}

/**
 * Pushes the longest prefix of the (checked) batch that fits, with one index store.
 * lengths may be shared memory another thread rewrites after the caller's check: each
 * length is read once and checked again (at most slotBytes, inside data) before its
 * copy; a bad one ends the batch there (BadBatch when it is the first).
 */
export function spscPushBatch(
  i32: Int32Array,
  u8: Uint8Array,
  qdv: DataView,
  capacity: number,
  mask: number,
  stride: number,
  slotBytes: number,
  data: Uint8Array,
  ddv: DataView,
  dataOffset: number,
  lengths: Uint32Array,
  lengthsOffset: number,
  count: number,
): number {
  const closed = Atomics.load(i32, Word.Closed);
  if (closed !== 0) return closedStatus(closed);
  const tail = i32[Word.Tail]!;
  let used = (tail - i32[Word.HeadCache]!) >>> 0;
  if (used > capacity || capacity - used < count) {
    const head = Atomics.load(i32, Word.Head);
    i32[Word.HeadCache] = head;
    used = (tail - head) >>> 0;
    if (used >= capacity) return 0;
  }
  let n = Math.min(count, capacity - used);
  let off = dataOffset;
  for (let i = 0; i < n; i++) {
    const len = lengths[lengthsOffset + i]!;
    if (len > slotBytes || len > data.length - off) {
      if (i === 0) return Status.BadBatch;
      n = i;
      break;
    }
    const slot = Layout.DataOffset + ((tail + i) & mask) * stride;
    i32[(slot >> 2) + 1] = len;
    copyIn(u8, qdv, slot + Layout.SlotHeaderBytes, data, ddv, off, len);
    off += len;
  }
  if (n === 0) return 0;
  Atomics.store(i32, Word.Tail, (tail + n) | 0);
  return n | wakeIfWaiting(i32, Sleepers.Consumers);
}

/** Pops up to max messages packed into out while slotBytes of out are left, with one index store. */
export function spscPopBatch(
  i32: Int32Array,
  u8: Uint8Array,
  capacity: number,
  mask: number,
  stride: number,
  slotBytes: number,
  views: SlotViews,
  out: Uint8Array,
  lengths: Uint32Array,
  max: number,
): number {
  const head = i32[Word.Head]!;
  let ready = (i32[Word.TailCache]! - head) >>> 0;
  if (ready > capacity || ready < max) {
    const tail = Atomics.load(i32, Word.Tail);
    i32[Word.TailCache] = tail;
    ready = (tail - head) >>> 0;
    if (ready > capacity) ready = 0;
  }
  if (ready > max) ready = max;
  const room = out.length;
  let off = 0;
  let n = 0;
  for (; n < ready && room - off >= slotBytes; n++) {
    const index = (head + n) & mask;
    const slot = Layout.DataOffset + index * stride;
    const len = i32[(slot >> 2) + 1]!;
    if (len < 0 || len > slotBytes) break;
    copyOut(u8, views, index, slot + Layout.SlotHeaderBytes, out, off, len, slotBytes);
    lengths[n] = len;
    off += len;
  }
  if (n === 0) return ready === 0 ? 0 : Status.Corrupt;
  Atomics.store(i32, Word.Head, (head + n) | 0);
  return n | wakeIfWaiting(i32, Sleepers.Producers);
}

// ---- MPMC (Vyukov's bounded queue, a sequence number per slot) ----
// A deliberate twin of the SPSC section in shape only: the same parameter lists and the
// same batch/one-message split, around a different algorithm (a CAS-claimed position and a
// per-slot sequence instead of two cached indices). What the two share (copyIn, copyOut,
// checkBatch, the wake protocol) is above, once.

/**
 * Claims a slot and publishes len bytes of src from off (all of src when sdv is null):
 * Pushed, Full, or Corrupt. A slot whose seq is ahead of pos was claimed at pos, so the
 * tail has moved on by the time that seq is seen: the same tail again means the words
 * were scribbled on, and the loop stops instead of spinning.
 */
export function mpmcPushOne(
  i32: Int32Array,
  u8: Uint8Array,
  qdv: DataView,
  mask: number,
  stride: number,
  src: Uint8Array,
  sdv: DataView | null,
  off: number,
  len: number,
): number {
  let pos = Atomics.load(i32, Word.Tail);
  let slot = 0;
  for (;;) {
    slot = Layout.DataOffset + (pos & mask) * stride;
    const dif = (Atomics.load(i32, slot >> 2) - pos) | 0;
    if (dif === 0) {
      const seen = Atomics.compareExchange(i32, Word.Tail, pos, (pos + 1) | 0);
      if (seen === pos) break;
      pos = seen;
    } else if (dif < 0) {
      return Status.Full;
    } else {
      const again = Atomics.load(i32, Word.Tail);
      if (again === pos) return Status.Corrupt;
      pos = again;
    }
  }
  i32[(slot >> 2) + 1] = len;
  if (sdv === null) u8.set(src, slot + Layout.SlotHeaderBytes);
  else copyIn(u8, qdv, slot + Layout.SlotHeaderBytes, src, sdv, off, len);
  Atomics.store(i32, slot >> 2, (pos + 1) | 0);
  return Status.Pushed;
}

/** Claims the next full slot and copies it into out at outOff: bytes, Empty, or Corrupt (slot still released). */
export function mpmcPopOne(
  i32: Int32Array,
  u8: Uint8Array,
  capacity: number,
  mask: number,
  stride: number,
  slotBytes: number,
  views: SlotViews,
  out: Uint8Array,
  outOff: number,
): number {
  let pos = Atomics.load(i32, Word.Head);
  let slot = 0;
  for (;;) {
    slot = Layout.DataOffset + (pos & mask) * stride;
    const dif = (Atomics.load(i32, slot >> 2) - ((pos + 1) | 0)) | 0;
    if (dif === 0) {
      const seen = Atomics.compareExchange(i32, Word.Head, pos, (pos + 1) | 0);
      if (seen === pos) break;
      pos = seen;
    } else if (dif < 0) {
      return Status.Empty;
    } else {
      // As in mpmcPushOne: the same head again means a scribbled seq or head.
      const again = Atomics.load(i32, Word.Head);
      if (again === pos) return Status.Corrupt;
      pos = again;
    }
  }
  const len = i32[(slot >> 2) + 1]!;
  const ok = len >= 0 && len <= slotBytes;
  if (ok) copyOut(u8, views, pos & mask, slot + Layout.SlotHeaderBytes, out, outOff, len, slotBytes);
  Atomics.store(i32, slot >> 2, (pos + capacity) | 0);
  return ok ? len : Status.Corrupt;
}

export function mpmcTryPush(i32: Int32Array, u8: Uint8Array, qdv: DataView, mask: number, stride: number, bytes: Uint8Array): number {
  const closed = Atomics.load(i32, Word.Closed);
  if (closed !== 0) return closedStatus(closed);
  const pushed = mpmcPushOne(i32, u8, qdv, mask, stride, bytes, null, 0, bytes.length);
  if (pushed !== Status.Pushed) return pushed;
  return Status.Pushed | wakeIfWaiting(i32, Sleepers.Consumers);
}

export function mpmcTryPop(
  i32: Int32Array,
  u8: Uint8Array,
  capacity: number,
  mask: number,
  stride: number,
  slotBytes: number,
  views: SlotViews,
  out: Uint8Array,
): number {
  const len = mpmcPopOne(i32, u8, capacity, mask, stride, slotBytes, views, out, 0);
  if (len < 0) return len;
  return len | wakeIfWaiting(i32, Sleepers.Producers);
}

/** Same signature as spscPushBatch (capacity unused), so a caller picks one once; each length is read once and checked as there. */
export function mpmcPushBatch(
  i32: Int32Array,
  u8: Uint8Array,
  qdv: DataView,
  _capacity: number,
  mask: number,
  stride: number,
  slotBytes: number,
  data: Uint8Array,
  ddv: DataView,
  dataOffset: number,
  lengths: Uint32Array,
  lengthsOffset: number,
  count: number,
): number {
  const closed = Atomics.load(i32, Word.Closed);
  if (closed !== 0) return closedStatus(closed);
  let off = dataOffset;
  let n = 0;
  let last: number = Status.Pushed;
  for (; n < count; n++) {
    const len = lengths[lengthsOffset + n]!;
    if (len > slotBytes || len > data.length - off) {
      last = Status.BadBatch;
      break;
    }
    last = mpmcPushOne(i32, u8, qdv, mask, stride, data, ddv, off, len);
    if (last !== Status.Pushed) break;
    off += len;
  }
  if (n === 0) return last < 0 ? last : 0;
  return n | wakeIfWaiting(i32, Sleepers.Consumers);
}

export function mpmcPopBatch(
  i32: Int32Array,
  u8: Uint8Array,
  capacity: number,
  mask: number,
  stride: number,
  slotBytes: number,
  views: SlotViews,
  out: Uint8Array,
  lengths: Uint32Array,
  max: number,
): number {
  const room = out.length;
  let off = 0;
  let n = 0;
  let corrupt = false;
  for (; n < max && room - off >= slotBytes; n++) {
    const len = mpmcPopOne(i32, u8, capacity, mask, stride, slotBytes, views, out, off);
    if (len < 0) {
      corrupt = len === Status.Corrupt;
      break;
    }
    lengths[n] = len;
    off += len;
  }
  if (n === 0) return corrupt ? Status.Corrupt : 0;
  return n | wakeIfWaiting(i32, Sleepers.Producers);
}

/** A paced or blocked replay sleeps at most this long before it looks at closed again (replay.hpp kReplaySliceMs). */
export const kReplaySliceMs = 10;

/** Outcome of a replay, as the native replayer reports it too. */
export interface ReplayOutcome {
  pushed: number;
  elapsedMs: number;
  /** 0: all frames pushed; Status.Closed: the queue was closed first. */
  status: number;
}

/**
 * The feed replayer on the TS backend, run inside a worker_thread (replay.ts): the same
 * algorithm as cpp/queue/replay.cc, except that a full queue is waited on with
 * Atomics.wait (a JS producer can be notified; the native one polls).
 */
export function replayLoop(buffer: SharedArrayBuffer, data: Uint8Array, lengths: Uint32Array, ratePerSec: number): ReplayOutcome {
  const i32 = new Int32Array(buffer);
  const u8 = new Uint8Array(buffer);
  const qdv = new DataView(buffer);
  const ddv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const capacity = i32[Word.Capacity]!;
  const mask = capacity - 1;
  const stride = i32[Word.SlotStride]!;
  const slotBytes = i32[Word.SlotBytes]!;
  // Read once and checked here: the replayer never looks at the header again.
  const fits =
    capacity >= Layout.MinCapacity &&
    capacity <= Layout.MaxCapacity &&
    (capacity & mask) === 0 &&
    slotBytes >= 1 &&
    slotBytes <= Layout.MaxSlotBytes &&
    stride === Layout.SlotHeaderBytes + ((slotBytes + 7) & ~7) &&
    Layout.DataOffset + capacity * stride <= buffer.byteLength;
  if (!fits) return { pushed: 0, elapsedMs: 0, status: Status.BadQueue };
  const pushBatch = i32[Word.Kind] === Layout.KindSpsc ? spscPushBatch : mpmcPushBatch;
  const count = lengths.length;
  const paced = ratePerSec > 0;
  const msPerFrame = paced ? 1000 / ratePerSec : 0;
  const start = performance.now();
  let status = 0;
  let offset = 0;
  let i = 0;
  let spins = 0;
  while (i < count) {
    if (paced) {
      // Sleeps in slices, looking at closed after each: a slow rate never outlives close().
      const due = start + i * msPerFrame;
      let closed = 0;
      for (let left = due - performance.now(); left > 0; left = due - performance.now()) {
        closed = Atomics.load(i32, Word.Closed);
        if (closed !== 0) break;
        if (left > 1) Atomics.wait(sleeper, 0, 0, Math.min(left - 0.5, kReplaySliceMs));
      }
      if (closed !== 0) {
        status = closedStatus(closed);
        break;
      }
    }
    const want = paced ? 1 : Math.min(64, count - i);
    let result = pushBatch(i32, u8, qdv, capacity, mask, stride, slotBytes, data, ddv, offset, lengths, i, want);
    if (result === 0 && ++spins > 64) {
      // Full: sleep until a consumer frees a slot (it notifies only when it finds the flag),
      // or a slice has passed: close() notifies too, but a bound costs nothing here.
      const seq = prepareToSleep(i32, Sleepers.Producers);
      result = pushBatch(i32, u8, qdv, capacity, mask, stride, slotBytes, data, ddv, offset, lengths, i, want);
      if (result === 0) Atomics.wait(i32, Sleepers.Producers, seq, kReplaySliceMs);
    }
    if (result < 0) {
      status = result;
      break;
    }
    const n = result & ~Status.WakeBit;
    if (n !== result) notifyWaiters(i32, Sleepers.Consumers);
    if (n === 0) continue;
    spins = 0;
    for (let k = 0; k < n; k++) offset += lengths[i + k]!;
    i += n;
  }
  return { pushed: i, elapsedMs: performance.now() - start, status };
}
