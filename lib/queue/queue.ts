/**
 * What SpscQueue and MpmcQueue share: the views over the SharedArrayBuffer, argument
 * checks, the choice between the TS kernels and the native core (made once, at
 * construction, by assigning function references), and the blocking and async
 * operations built on the chosen tryPush/tryPop.
 */
import type { QueueAddon } from '../addon-types.js';
import { describe, invalidRange, invalidType } from '../errors.js';
import { addonWith, backendOption, type BackendOption, kBackendPolicies } from '../internal/backend.js';
import { type OptionSpec, type OptionSpecs, defineOptions, integerCheck, readOptions } from '../internal/options.js';
import { QueueClosedError, QueueCorruptError } from './errors.js';
import { checkBatch, notifyWaiters, prepareToSleep, Sleepers, type SlotViews } from './kernel.js';
import { type Geometry, Status, Word } from './layout.js';

/**
 * Which implementation a queue object calls: 'auto' takes the measured default per operation
 * (lib/internal/backend.ts kBackendPolicies.queue). 'cpu' is a deprecated alias of 'native'.
 */
export type QueueBackend = BackendOption<'auto' | 'ts' | 'native'>;

export interface QueueCreateOptions {
  /** Slots; a power of two in [2, 2^30]. */
  capacity: number;
  /** The largest message in bytes, in [1, 2^24]. */
  slotBytes: number;
  /** Default 'auto'. 'native' throws BackendUnavailableError without the CPU addon. */
  backend?: QueueBackend;
  /**
   * Most tries of tryPush/tryPop before a blocking push/pop sleeps; default 500 (about
   * 5-10 µs). The spin adapts below this (see kSpinFloor); 0: sleep at once.
   */
  spinTries?: number;
}

export interface QueueAttachOptions {
  /** Default 'auto'. Each thread's queue object chooses for itself. */
  backend?: QueueBackend;
  /** As in create; each queue object has its own. */
  spinTries?: number;
}

/** The implementation each operation of a queue object uses. */
export interface QueuePaths {
  tryPush: 'ts' | 'native';
  tryPop: 'ts' | 'native';
  pushBatch: 'ts' | 'native';
  popBatch: 'ts' | 'native';
}

/**
 * The default path per operation when native code is available, chosen by measurement
 * (bench/queue; numbers in lib/queue/README.md). A single tryPush/tryPop in TS costs less
 * than crossing into the addon (about 25-50 ns for the whole TS operation against about
 * 65-75 ns per native call), while a batch crosses once and then copies with memcpy, 5-6x
 * faster per message than TS. One exception, fixed by the queue's geometry: where TS
 * cannot copy out through cached per-slot views (slots above kWholeSlotCopyMaxBytes,
 * more than kViewCacheMaxSlots slots) it would need a fresh view per pop, so the addon
 * pops (and from 2 KiB slots on it is also the faster one).
 */
export function defaultPaths(slotBytes: number, capacity = 0): Readonly<QueuePaths> {
  return slotBytes > kWholeSlotCopyMaxBytes || capacity > kViewCacheMaxSlots ? defaultLargeSlotPaths : defaultNativePaths;
}

const defaultNativePaths: Readonly<QueuePaths> = Object.freeze({
  tryPush: 'ts',
  tryPop: 'ts',
  pushBatch: 'native',
  popBatch: 'native',
});
const defaultLargeSlotPaths: Readonly<QueuePaths> = Object.freeze({ ...defaultNativePaths, tryPop: 'native' });

const allTs: Readonly<QueuePaths> = Object.freeze({ tryPush: 'ts', tryPop: 'ts', pushBatch: 'ts', popBatch: 'ts' });
const allNative: Readonly<QueuePaths> = Object.freeze({
  tryPush: 'native',
  tryPop: 'native',
  pushBatch: 'native',
  popBatch: 'native',
});

/**
 * Tries of tryPush/tryPop before a blocking call goes to sleep: about 5-10 µs (a failed
 * tryPop is 10-20 ns), the order of an Atomics.wait wake-up, so spinning never costs more
 * than the sleep it may save (competitive spinning), and a ping-pong partner replying
 * within a round trip (~1 µs) is caught without a sleep.
 */
export const kSpinTries = 500;
/**
 * Floor of the adaptive spin: a queue object whose spins keep ending in sleep (its
 * partner cannot run while it spins: more threads than free cores) halves its spin
 * down to this; each spin that catches a message grows it by a quarter, back up to
 * spinTries (slower up than down, so a rare lucky spin does not undo the lesson).
 * The budget only grows on a catch, so the floor itself must still catch a reply that
 * takes one cross-core round trip (~400 ns here): at 16 tries (~250 ns) a ping-pong
 * whose warm-up sleeps drove it to the floor never caught a reply again and paid a
 * ~46 µs sleep/wake on every message. 128 tries is 1.5-2.5 µs, small beside that sleep.
 */
export const kSpinFloor = 128;
/** Longest sleep while a native replay thread feeds the queue (it wakes JS through another thread). */
export const kNativeSleepSliceMs = 2;
/** Slots up to this size are copied out whole through a cached view: no allocation per pop. */
export const kWholeSlotCopyMaxBytes = 1024;
/**
 * Queues up to this many slots cache one view per slot for that copy (about 100 bytes of
 * JS heap per slot, per attached object); bigger ones pop natively by default, or, on the
 * TS backend, make one short-lived view per pop.
 */
export const kViewCacheMaxSlots = 1 << 16;

const queueAddon: QueueAddon | null = addonWith(kBackendPolicies.queue.needs);

/** The addon's queue functions, or null on the TS backend. */
export function nativeQueueAddon(): QueueAddon | null {
  return queueAddon;
}

function resolvePaths(backend: 'auto' | 'ts' | 'native', geometry: Geometry): Readonly<QueuePaths> {
  if (backend === 'auto') return queueAddon === null ? allTs : defaultPaths(geometry.slotBytes, geometry.capacity);
  return backend === 'ts' ? allTs : allNative;
}

/** The per-object options of create/attach (backend, spinTries), which may be absent. */
export interface ObjectOptions {
  /** Checked and available ('native' without the queue bindings has thrown); 'auto' is resolved per operation. */
  backend: 'auto' | 'ts' | 'native';
  spinTries: number;
}

/** The options each queue object reads for itself; create adds the geometry, checked by layout.ts geometryFromOptions. */
function objectSpecs(fn: string): OptionSpecs {
  return {
    backend: backendOption(kBackendPolicies.queue, fn),
    spinTries: { check: integerCheck(0, 1_000_000), default: kSpinTries },
  };
}
function createSpecs(fn: string): OptionSpecs {
  const geometry: OptionSpec = { check: null, checkedBy: 'layout.ts geometryFromOptions' };
  return { capacity: geometry, slotBytes: geometry, ...objectSpecs(fn) };
}

/** The queue constructors' options, one table per public name. */
const kQueueSchemas = {
  'SpscQueue.create': defineOptions('SpscQueue.create', createSpecs('SpscQueue.create')),
  'MpmcQueue.create': defineOptions('MpmcQueue.create', createSpecs('MpmcQueue.create')),
  'SpscQueue.attach': defineOptions('SpscQueue.attach', objectSpecs('SpscQueue.attach')),
  'MpmcQueue.attach': defineOptions('MpmcQueue.attach', objectSpecs('MpmcQueue.attach')),
};

export function objectOptions(options: unknown, fn: keyof typeof kQueueSchemas): ObjectOptions {
  const o = readOptions(kQueueSchemas[fn], options);
  return { backend: o.backend as ObjectOptions['backend'], spinTries: o.spinTries as number };
}

export function checkBytes(bytes: Uint8Array, slotBytes: number): void {
  if (!(bytes instanceof Uint8Array)) throw invalidType('bytes', 'a Uint8Array', bytes);
  if (bytes.length > slotBytes) throw invalidRange('bytes', `at most ${slotBytes} bytes (slotBytes)`, bytes);
}

export function checkOut(out: Uint8Array, slotBytes: number, argument = 'out'): void {
  if (!(out instanceof Uint8Array)) throw invalidType(argument, 'a Uint8Array', out);
  if (out.length < slotBytes) throw invalidRange(argument, `a Uint8Array of at least ${slotBytes} bytes (slotBytes)`, out);
}

function checkLengths(lengths: Uint32Array): void {
  if (!(lengths instanceof Uint32Array)) throw invalidType('lengths', 'a Uint32Array', lengths);
}

/** count defaults to lengths.length; returns it checked. */
export function checkCount(count: number | undefined, lengths: Uint32Array, argument: string): number {
  if (count === undefined) return lengths.length;
  if (typeof count !== 'number' || !Number.isInteger(count)) throw invalidType(argument, 'an integer', count);
  if (count < 0 || count > lengths.length) throw invalidRange(argument, `an integer in [0, ${lengths.length}] (lengths.length)`, count);
  return count;
}

/** Throws a RangeError naming the bad length, or data when the lengths overrun it. */
export function throwBadBatch(data: Uint8Array, lengths: Uint32Array, count: number, slotBytes: number): never {
  const bad = checkBatch(lengths, count, slotBytes, data.length);
  if (bad >= 0 && bad < count) throw invalidRange(`lengths[${bad}]`, `at most ${slotBytes} bytes (slotBytes)`, lengths[bad]);
  let total = 0;
  for (let i = 0; i < count; i++) total += lengths[i]!;
  if (total <= data.length) {
    // Checked fine, then read as bad: another thread rewrote lengths during the call.
    throw invalidRange('lengths', 'lengths no other thread rewrites during pushBatch (one changed while it was being copied)', lengths);
  }
  throw invalidRange('data', `at least ${total} bytes (the sum of the first ${count} lengths)`, data);
}

function checkTimeout(timeoutMs: number | undefined): number {
  if (timeoutMs === undefined) return Infinity;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) {
    throw invalidType('timeoutMs', 'a number of milliseconds (or undefined to wait forever)', timeoutMs);
  }
  if (timeoutMs < 0) throw invalidRange('timeoutMs', 'a non-negative number of milliseconds', timeoutMs);
  return timeoutMs;
}

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsync = (array: Int32Array, index: number, value: number, timeout?: number) => WaitAsyncResult;
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/** Internal access for replay.ts; not part of the public API. */
export const kQueueViews = Symbol('ultra-performance.queue.views');
export interface QueueViews {
  u8: Uint8Array;
  i32: Int32Array;
  geometry: Geometry;
}

/**
 * What SpscQueue and MpmcQueue have in common: type parameters and functions that
 * accept either (replayIntoQueue does) with this. Not constructible itself.
 * @example
 * function drain(queue: SharedQueue, handle: (bytes: Uint8Array) => void): void {
 *   const out = new Uint8Array(queue.slotBytes);
 *   for (let n; (n = queue.tryPop(out)) >= 0; ) handle(out.subarray(0, n));
 * }
 */
export abstract class SharedQueue {
  /** The SharedArrayBuffer that holds the whole queue; post it to a worker and attach there. */
  readonly buffer: SharedArrayBuffer;
  /** Number of slots (a power of two). */
  readonly capacity: number;
  /** Largest message in bytes; every `out` must have at least this many. */
  readonly slotBytes: number;
  /** The implementation each operation of this object uses, fixed at construction. */
  readonly paths: Readonly<QueuePaths>;

  /**
   * Copies `bytes` into the queue. Returns false when it is full; throws
   * QueueClosedError once the queue is closed, and a RangeError when bytes is longer
   * than slotBytes (the queue is then untouched).
   */
  readonly tryPush: (bytes: Uint8Array) => boolean;
  /**
   * Copies the oldest message into `out` (at least slotBytes long) and returns its
   * length, or -1 when the queue is empty. Bytes of `out` past the length are unspecified.
   */
  readonly tryPop: (out: Uint8Array) => number;
  /**
   * Pushes messages packed back to back in `data` (message i is `lengths[i]` bytes),
   * as many as fit, and returns how many. Every length is checked first: one too long
   * throws and nothing is pushed. `count` defaults to `lengths.length`.
   */
  readonly pushBatch: (data: Uint8Array, lengths: Uint32Array, count?: number) => number;
  /**
   * Pops up to `maxCount` (default `lengths.length`) messages, packed back to back into
   * `out` with their lengths in `lengths`, while at least slotBytes of `out` are left.
   * Returns how many (0 when empty).
   */
  readonly popBatch: (out: Uint8Array, lengths: Uint32Array, maxCount?: number) => number;

  protected readonly i32: Int32Array;
  protected readonly u8: Uint8Array;
  protected readonly qdv: DataView;
  protected readonly mask: number;
  protected readonly stride: number;
  protected readonly views: SlotViews;
  protected readonly addon: QueueAddon | null;
  private readonly geometry: Geometry;
  private readonly spinTries: number;
  /** Tries the next blocking call spins: adapts between kSpinFloor and spinTries. */
  private spinBudget: number;
  private batchData: Uint8Array | null = null;
  private batchView: DataView | null = null;

  protected constructor(buffer: SharedArrayBuffer, geometry: Geometry, options: ObjectOptions) {
    const paths = resolvePaths(options.backend, geometry);
    this.spinTries = options.spinTries;
    this.spinBudget = options.spinTries;
    this.buffer = buffer;
    this.geometry = geometry;
    this.capacity = geometry.capacity;
    this.slotBytes = geometry.slotBytes;
    this.mask = geometry.capacity - 1;
    this.stride = geometry.slotStride;
    this.u8 = new Uint8Array(buffer, 0, geometry.totalBytes);
    this.i32 = new Int32Array(buffer, 0, geometry.totalBytes >> 2);
    this.qdv = new DataView(buffer, 0, geometry.totalBytes);
    const cacheViews = geometry.slotBytes <= kWholeSlotCopyMaxBytes && geometry.capacity <= kViewCacheMaxSlots;
    this.views = cacheViews ? new Array<Uint8Array | undefined>(geometry.capacity) : null;
    this.addon = paths === allTs ? null : queueAddon;
    this.paths = paths;
    this.tryPush = paths.tryPush === 'native' ? this.nativeTryPush : this.tsTryPush;
    this.tryPop = paths.tryPop === 'native' ? this.nativeTryPop : this.tsTryPop;
    this.pushBatch = paths.pushBatch === 'native' ? this.nativePushBatch : this.tsPushBatch;
    this.popBatch = paths.popBatch === 'native' ? this.nativePopBatch : this.tsPopBatch;
  }

  protected abstract tsTryPush(bytes: Uint8Array): boolean;
  protected abstract nativeTryPush(bytes: Uint8Array): boolean;
  protected abstract tsTryPop(out: Uint8Array): number;
  protected abstract nativeTryPop(out: Uint8Array): number;
  protected abstract tsPushBatch(data: Uint8Array, lengths: Uint32Array, count?: number): number;
  protected abstract nativePushBatch(data: Uint8Array, lengths: Uint32Array, count?: number): number;
  protected abstract tsPopBatch(out: Uint8Array, lengths: Uint32Array, maxCount?: number): number;
  protected abstract nativePopBatch(out: Uint8Array, lengths: Uint32Array, maxCount?: number): number;

  /** @internal */
  get [kQueueViews](): QueueViews {
    return { u8: this.u8, i32: this.i32, geometry: this.geometry };
  }

  /** Messages in the queue: exact when quiet, a snapshot under concurrency. */
  size(): number {
    const head = Atomics.load(this.i32, Word.Head);
    const tail = Atomics.load(this.i32, Word.Tail);
    const d = (tail - head) | 0;
    return d <= 0 ? 0 : Math.min(d, this.capacity);
  }

  /** True once any thread has called close() on this buffer. */
  get closed(): boolean {
    return Atomics.load(this.i32, Word.Closed) !== 0;
  }

  /**
   * Closes the queue for every thread attached to it: pushes throw QueueClosedError,
   * every sleeping push/pop/popAsync wakes, and consumers drain what is left (pop then
   * returns -1 once it is empty). Idempotent. A push racing close() from another thread
   * may still land; consumers that have already seen the queue closed and empty miss it,
   * so close from the producer side after its last push when every message matters.
   */
  close(): void {
    const i32 = this.i32;
    Atomics.store(i32, Word.Closed, 1);
    Atomics.add(i32, Word.NotEmptySeq, 1);
    Atomics.add(i32, Word.NotFullSeq, 1);
    Atomics.notify(i32, Word.NotEmptySeq);
    Atomics.notify(i32, Word.NotFullSeq);
  }

  /**
   * tryPush that waits for room: spins briefly, then sleeps in Atomics.wait until a
   * consumer frees a slot. Returns false when timeoutMs (default: forever) runs out;
   * throws QueueClosedError if the queue is or becomes closed.
   */
  push(bytes: Uint8Array, timeoutMs?: number): boolean {
    const timeout = checkTimeout(timeoutMs);
    if (this.tryPush(bytes)) return true;
    if (timeout === 0) return false;
    for (let i = 0, budget = this.spinBudget; i < budget; i++) {
      if (this.tryPush(bytes)) return this.spinWon();
    }
    this.spinLost();
    const i32 = this.i32;
    const deadline = performance.now() + timeout;
    for (;;) {
      const seq = prepareToSleep(i32, Sleepers.Producers);
      if (this.tryPush(bytes)) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(i32, Sleepers.Producers, seq, left);
    }
  }

  /**
   * tryPop that waits for a message: spins briefly, then sleeps in Atomics.wait until a
   * producer pushes. Returns the length, or -1 when timeoutMs (default: forever) runs
   * out or the queue is closed and drained (`closed` tells which).
   */
  pop(out: Uint8Array, timeoutMs?: number): number {
    const timeout = checkTimeout(timeoutMs);
    let n = this.tryPop(out);
    if (n >= 0 || timeout === 0) return n;
    for (let i = 0, budget = this.spinBudget; i < budget; i++) {
      n = this.tryPop(out);
      if (n >= 0) {
        this.spinWon();
        return n;
      }
    }
    this.spinLost();
    const i32 = this.i32;
    const deadline = performance.now() + timeout;
    for (;;) {
      // Read closed before the last try: a message pushed before close() is never missed.
      const closed = Atomics.load(i32, Word.Closed);
      const seq = prepareToSleep(i32, Sleepers.Consumers);
      n = this.tryPop(out);
      if (n >= 0 || closed !== 0) return n;
      const left = deadline - performance.now();
      if (left <= 0) return -1;
      Atomics.wait(i32, Sleepers.Consumers, seq, this.sleepSlice(left));
    }
  }

  /**
   * pop without blocking the thread: resolves with the length once a message arrives
   * (Atomics.waitAsync), or -1 on timeout or when the queue is closed and drained.
   * `out` is written when the promise resolves; leave it alone until then.
   */
  popAsync(out: Uint8Array, timeoutMs?: number): Promise<number> {
    let timeout: number;
    try {
      timeout = checkTimeout(timeoutMs);
      const n = this.tryPop(out);
      if (n >= 0 || timeout === 0) return Promise.resolve(n);
    } catch (err) {
      return Promise.reject(err);
    }
    const i32 = this.i32;
    const deadline = performance.now() + timeout;
    return new Promise<number>((resolve, reject) => {
      const attempt = (): void => {
        for (;;) {
          const closed = Atomics.load(i32, Word.Closed);
          const seq = prepareToSleep(i32, Sleepers.Consumers);
          let n: number;
          try {
            n = this.tryPop(out);
          } catch (err) {
            reject(err);
            return;
          }
          const left = deadline - performance.now();
          if (n >= 0 || closed !== 0 || left <= 0) {
            resolve(n >= 0 ? n : -1);
            return;
          }
          const slice = this.sleepSlice(left);
          if (waitAsync === undefined) {
            // No Atomics.waitAsync (older runtimes): poll on a timer instead.
            setTimeout(attempt, Math.min(slice, 1));
            return;
          }
          const wait = waitAsync(i32, Sleepers.Consumers, seq, slice);
          if (wait.async) {
            wait.value.then(attempt, reject);
            return;
          }
        }
      };
      attempt();
    });
  }

  /**
   * Adaptive spinning (as HotSpot spins on monitors): spin longer after spins that
   * caught something (+25%), shorter after spins that ended asleep (-50%). With cores to spare a
   * partner's reply arrives mid-spin and the budget stays at spinTries; with more
   * runnable threads than cores a spin only delays the partner, and it shrinks.
   */
  private spinWon(): true {
    if (this.spinBudget < this.spinTries) this.spinBudget = Math.min(this.spinTries, this.spinBudget + (this.spinBudget >> 2) + 1);
    return true;
  }

  private spinLost(): void {
    if (this.spinBudget > kSpinFloor) this.spinBudget = Math.max(kSpinFloor, this.spinBudget >> 1);
  }

  private sleepSlice(left: number): number {
    return Atomics.load(this.i32, Word.NativeProducers) !== 0 && left > kNativeSleepSliceMs ? kNativeSleepSliceMs : left;
  }

  /** A cached DataView over the caller's batch data: no allocation when the same array comes back. */
  protected dataView(data: Uint8Array): DataView {
    if (data !== this.batchData || this.batchView === null) {
      this.batchData = data;
      this.batchView = new DataView(data.buffer, data.byteOffset, data.byteLength);
    }
    return this.batchView;
  }

  protected checkPushBatch(data: Uint8Array, lengths: Uint32Array, count: number | undefined): number {
    if (!(data instanceof Uint8Array)) throw invalidType('data', 'a Uint8Array', data);
    checkLengths(lengths);
    return checkCount(count, lengths, 'count');
  }

  protected checkPopBatch(out: Uint8Array, lengths: Uint32Array, maxCount: number | undefined): number {
    checkOut(out, this.slotBytes);
    checkLengths(lengths);
    return checkCount(maxCount, lengths, 'maxCount');
  }

  /** The slow half of a push: wake every sleeper (one flag serves them all), report full, or throw. */
  protected afterPush(status: number): number {
    if (status >= Status.WakeBit) {
      notifyWaiters(this.i32, Sleepers.Consumers);
      return status - Status.WakeBit;
    }
    if (status >= 0) return status;
    throw this.statusError(status);
  }

  /** The slow half of a pop: wake every sleeping producer, or throw for an error status. */
  protected afterPop(status: number): number {
    if (status >= Status.WakeBit) {
      notifyWaiters(this.i32, Sleepers.Producers);
      return status - Status.WakeBit;
    }
    if (status >= Status.Empty) return status;
    throw this.statusError(status);
  }

  protected statusError(status: number): Error {
    switch (status) {
      case Status.Closed:
        return new QueueClosedError();
      case Status.Corrupt:
        return new QueueCorruptError(
          `This queue's SharedArrayBuffer holds words this library never writes (a slot length above slotBytes (${this.slotBytes}), ` +
            'a slot sequence out of step with its index, or a closed word other than 0 or 1): something else wrote into it',
        );
      case Status.BadQueue:
        return new QueueCorruptError('The native queue core refused this buffer: its header no longer describes a valid queue');
      default:
        return new Error(`Unexpected queue status ${describe(status)}`);
    }
  }
}
