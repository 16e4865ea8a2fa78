/**
 * What every allocator shares: the backend choice, the addon (when it has the memory
 * bindings), option validation and the errors bad offsets get.
 */
import type { MemoryAddon } from '../addon-types.js';
import { backendInfo } from '../backend.js';
import { BackendUnavailableError, UltraPerfError, describe, invalidRange, invalidType, withCode } from '../errors.js';
import { type BackendOption, addonWith, chooseBackend, kBackendPolicies } from '../internal/backend.js';
import { type OptionSpec, checkKnownKeys, defineOptions, optionsObject, type OptionsSchema } from '../internal/options.js';
import { type Geometry, Status, attachHeader, kMaxLockTimeoutMs } from './layout.js';

/**
 * Which implementation an allocator runs its operations on: 'auto' (the default) and 'ts'
 * both run the TS path. There is no 'native' backend from JS: one call into the addon
 * costs more than two whole TS alloc+free pairs, so no binding design can bring a native
 * pair within 2x of the TS one (docs/memory-layout.md, "Why there is no native backend
 * from JS", with the measurements from bench/memory). C++ code uses cpp/memory on the same
 * bytes directly; 'native' (and its alias 'cpu') is refused with a TypeError saying so.
 */
export type MemoryBackend = BackendOption<'auto' | 'ts'>;

/**
 * The addon, when it is loaded and has the memory bindings; null otherwise. lib/ calls
 * nothing through it for an allocation: its raw bindings are the conformance hooks the
 * tests drive the C++ allocators through (kCrossCheckNative) on the bytes TS uses.
 */
export const memoryAddon: MemoryAddon | null = addonWith(kBackendPolicies.memory.needs);

/**
 * Conformance only, not part of the package's API (lib/index.ts does not export it):
 * `{ [kCrossCheckNative]: true }` in an allocator's options or attach() options runs its
 * alloc/free (release, mark, reset) through the addon's raw memory bindings, so the tests
 * can interleave the TS and C++ implementations on one buffer, across threads too. It is
 * ~10x slower per call than the TS path; that is why no public option selects it.
 */
export const kCrossCheckNative: unique symbol = Symbol('ultra-performance.memory.crossCheckNative');

/**
 * The path an allocator's operations run on: 'ts', or 'native' for a conformance handle
 * (kCrossCheckNative). options.backend takes 'auto' or 'ts'; 'native' / 'cpu' get a
 * TypeError (code ERR_INVALID_ARG_VALUE) naming the option and saying why.
 */
export function resolveBackend(options: Record<string | symbol, unknown>, className: string): 'ts' | 'native' {
  const value = options.backend;
  if (value === 'native' || value === 'cpu') {
    throw withCode(
      new TypeError(
        `Expected 'auto' or 'ts' for options.backend but received ${describe(value)}: ${className} has no native backend from JS, ` +
          'because one call into the addon costs more than a whole TS alloc+free (docs/memory-layout.md, ' +
          '"Why there is no native backend from JS"); C++ code shares the same bytes through cpp/memory',
      ),
      'ERR_INVALID_ARG_VALUE',
    );
  }
  chooseBackend(value, { argument: 'options.backend', policy: kBackendPolicies.memory, fn: className });
  if (options[kCrossCheckNative] !== true) return 'ts';
  if (memoryAddon === null) {
    throw new BackendUnavailableError(`${className} cross-check handle needs the CPU addon's memory bindings: ${backendInfo().nativeError ?? 'not loaded'}`);
  }
  return 'native';
}

/**
 * The options every memory constructor and static takes, one table per public name. The
 * values are checked where their rule is (an allocator's geometry relates them: minBlock
 * <= bytes, a buffer of the geometry's size), in the function `checkedBy` names; this table
 * is what makes an unknown or misspelt key an error naming the nearest known one.
 */
function keys(checkedBy: string, names: readonly string[]): Record<string, OptionSpec> {
  return Object.fromEntries(names.map((n) => [n, { check: null, checkedBy }]));
}
const backendKey = { backend: { check: null, checkedBy: 'resolveBackend (refuses native, then lib/internal/backend.ts chooseBackend)' } };
const bufferKeys = keys('bufferOption (its size comes from the geometry)', ['shared', 'buffer']);
const lockKey = { lockTimeoutMs: { check: null, checkedBy: 'lockTimeoutOption' } };

const kMemorySchemas = new Map<string, OptionsSchema>(
  [
    defineOptions('SlabAllocator', { ...keys('slab.ts geometryFor', ['slotBytes', 'slots']), ...bufferKeys, ...backendKey }),
    defineOptions('SlabAllocator.attach', backendKey),
    defineOptions('SlabAllocator.requiredBytes', keys('slab.ts geometryFor', ['slotBytes', 'slots'])),
    defineOptions('BuddyAllocator', { ...keys('buddy.ts geometryFor', ['bytes', 'minBlock']), ...bufferKeys, ...backendKey, ...lockKey }),
    defineOptions('BuddyAllocator.attach', backendKey),
    defineOptions('BuddyAllocator.requiredBytes', keys('buddy.ts geometryFor', ['bytes', 'minBlock'])),
    defineOptions('RingAllocator', { ...keys('ring.ts geometryFor', ['bytes']), ...bufferKeys, ...backendKey, ...lockKey }),
    defineOptions('RingAllocator.attach', backendKey),
    defineOptions('RingAllocator.requiredBytes', keys('ring.ts geometryFor', ['bytes'])),
    defineOptions('StackAllocator', { ...keys('stack.ts constructor', ['bytes']), ...bufferKeys, ...backendKey }),
    defineOptions('StackAllocator.attach', backendKey),
    defineOptions('StackAllocator.requiredBytes', keys('stack.ts requiredBytes', ['bytes'])),
    defineOptions('ObjectPool', keys('pool.ts constructor', ['create', 'reset', 'initialSize', 'maxSize'])),
    defineOptions('GcMonitor', keys('gc.ts GcMonitor', ['maxSamples'])),
    defineOptions('gcOptimizer.suggest', keys('gc.ts flagsFor', ['semiSpaceMb', 'traceGc'])),
    defineOptions('gcOptimizer.apply', keys('gc.ts flagsFor', ['semiSpaceMb', 'traceGc'])),
    defineOptions('gcOptimizer.startIdleGc', keys('gc.ts startIdleGc', ['intervalMs', 'maxUtilization', 'minGapMs', 'type'])),
  ].map((schema) => [schema.fn, schema]),
);

/**
 * The options object of a memory constructor or static (`className` is its public name, as
 * in kMemorySchemas): a plain object, with no key its table does not list.
 */
export function requireOptions(options: unknown, className: string): Record<string, unknown> {
  const o = optionsObject(options, 'options', `an options object for ${className}`, true);
  const schema = kMemorySchemas.get(className);
  if (schema === undefined) throw new Error(`no options table for ${className}`);
  checkKnownKeys(o, schema);
  return o;
}

/**
 * An allocator's operations, chosen once at construction so no call branches on them: the
 * addon's (a kCrossCheckNative handle), the lock-taking ones for a SharedArrayBuffer, or the plain ones for memory only
 * this thread sees.
 */
export function choosePath<T>(backend: 'ts' | 'native', shared: boolean, paths: { native: T; shared: T; local: T }): T {
  return backend === 'native' ? paths.native : shared ? paths.shared : paths.local;
}

/** An integer option in [min, max]; `extra` tests further rules (power of two, multiple of 8). */
export function intOption(
  options: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
  what = 'an integer',
  extra?: (n: number) => boolean,
): number {
  const value = options[name];
  const argument = `options.${name}`;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(argument, `${what} from ${min} to ${max}`, value);
  if (value < min || value > max || (extra !== undefined && !extra(value))) {
    throw invalidRange(argument, `${what} from ${min} to ${max}`, value);
  }
  return value;
}

export function boolOption(options: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidType(`options.${name}`, 'a boolean', value);
  return value;
}

/**
 * The buffer to format: options.buffer when given (and then `shared` must agree with
 * its type), else a new ArrayBuffer or SharedArrayBuffer of `bytes`.
 */
export function bufferOption(
  options: Record<string, unknown>,
  bytes: number,
): { buffer: ArrayBuffer | SharedArrayBuffer; shared: boolean } {
  const given = options.buffer;
  if (given === undefined) {
    const shared = boolOption(options, 'shared', false);
    return { buffer: shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes), shared };
  }
  if (!(given instanceof ArrayBuffer) && !(given instanceof SharedArrayBuffer)) {
    throw invalidType('options.buffer', 'an ArrayBuffer or SharedArrayBuffer', given);
  }
  const shared = given instanceof SharedArrayBuffer;
  if (options.shared !== undefined && boolOption(options, 'shared', shared) !== shared) {
    throw invalidRange('options.shared', `${shared} (options.buffer is a${shared ? ' Shared' : 'n '}ArrayBuffer)`, options.shared);
  }
  if (given.byteLength < bytes) {
    throw invalidRange('options.buffer', `a buffer of at least ${bytes} bytes for this geometry`, `a buffer of ${given.byteLength} bytes`);
  }
  return { buffer: given, shared };
}

/** Marks constructor options that carry a buffer to attach to (set only by X.attach()). */
export const kAttach = Symbol('attach');

/**
 * The buffer, geometry and sharing an allocator's constructor starts from: for X.attach()
 * the buffer's own header, checked against `kind`; otherwise `geometry()` of the options
 * (called only then, so its validation runs first) and a buffer from bufferOption.
 * `created` tells the caller the buffer still needs formatting.
 */
export function openAllocatorBuffer(
  options: Record<string, unknown>,
  kind: number,
  className: string,
  geometry: () => Geometry,
): { g: Geometry; buffer: ArrayBuffer | SharedArrayBuffer; shared: boolean; created: boolean } {
  const attaching = (options as { [kAttach]?: ArrayBuffer | SharedArrayBuffer })[kAttach];
  if (attaching !== undefined) {
    const attached = attachHeader(attaching, kind, className);
    return { g: attached.geometry, buffer: attached.buffer, shared: attached.buffer instanceof SharedArrayBuffer, created: false };
  }
  const g = geometry();
  const { buffer, shared } = bufferOption(options, g.totalBytes);
  return { g, buffer, shared, created: true };
}

/** The allocator's bookkeeping is inconsistent: something wrote into its metadata. */
export class CorruptAllocatorError extends UltraPerfError {
  constructor(message: string) {
    super('ERR_ULTRA_PERF_CORRUPT_ALLOCATOR', message);
  }
}

/**
 * A shared allocator's lock word stayed held past its bound (options.lockTimeoutMs,
 * kept in the header): a thread may have died inside a call, or something wrote into
 * the buffer. The message names the allocator and the word's value.
 * @example
 * try { heap.alloc(64); } catch (err) { if (err instanceof AllocatorLockTimeoutError) recreateHeap(); else throw err; }
 */
export class AllocatorLockTimeoutError extends UltraPerfError {
  constructor(message: string) {
    super('ERR_ULTRA_PERF_ALLOCATOR_LOCK_TIMEOUT', message);
  }
}

/** options.lockTimeoutMs: an integer from 1 to kMaxLockTimeoutMs, or undefined (the default). */
export function lockTimeoutOption(options: Record<string, unknown>): number | undefined {
  if (options.lockTimeoutMs === undefined) return undefined;
  return intOption(options, 'lockTimeoutMs', 1, kMaxLockTimeoutMs, 'an integer number of milliseconds');
}

/** The error a failed lockWord() status means for the lock word at byte `byteOffset`. */
export function lockError(status: number, className: string, i32: Int32Array, byteOffset: number, timeoutMs: number): Error {
  const value = Atomics.load(i32, byteOffset >> 2);
  if (status === Status.lockTimeout) {
    return new AllocatorLockTimeoutError(
      `${className}: the lock word (byte ${byteOffset}) was still held after ${timeoutMs} ms (value ${value}); ` +
        'a thread may have died inside a call, or something wrote into the buffer',
    );
  }
  return new CorruptAllocatorError(`${className}: the lock word (byte ${byteOffset}) holds ${value}, which is not 0, 1 or 2 (corrupted)`);
}

/**
 * The error for an allocator whose views read as empty: its ArrayBuffer was detached
 * (transferred to another thread or structuredClone'd with transfer) or, for a resizable one,
 * shrunk below the allocator's bytes. Typed arrays never read or write outside a buffer, so
 * nothing unsafe happens, but without this check an alloc would answer from `undefined`
 * words (the same offset twice, or "full"). Same class and code the native path gave.
 */
export function detachedError(className: string, bytes: number): CorruptAllocatorError {
  return new CorruptAllocatorError(
    `${className}: its buffer was detached (transferred away) or shrunk below the allocator's ${bytes} bytes; it can no longer be used`,
  );
}

/** Throws detachedError when `view` (an allocator's own view of its buffer) reads as empty. */
export function checkAttached(view: ArrayBufferView, className: string, bytes: number): void {
  if (view.byteLength === 0) throw detachedError(className, bytes);
}

/** TypeError for a non-number or non-integer offset, else null. */
export function offsetTypeError(argument: string, value: unknown): TypeError | null {
  if (typeof value !== 'number' || !Number.isInteger(value)) return invalidType(argument, 'an integer offset', value);
  return null;
}

/** A RangeError with code ERR_OUT_OF_RANGE, as invalidRange gives, for messages that say more than its template. */
function outOfRange(message: string): RangeError {
  return withCode(new RangeError(message), 'ERR_OUT_OF_RANGE');
}

/** The error a negative native status means for an operation on `argument` = value. */
export function statusError(status: number, className: string, argument: string, value: unknown): Error {
  const shown = describe(value);
  switch (status) {
    case Status.doubleFree:
      return outOfRange(`Expected a live allocation for ${argument} but received ${shown}, which is already free (double free)`);
    case Status.foreign:
      return outOfRange(`Expected an offset returned by this ${className} for ${argument} but received ${shown}`);
    case Status.misaligned:
      return outOfRange(`Expected an aligned allocation offset for ${argument} but received ${shown}`);
    case Status.tooBig:
      return outOfRange(`Expected a size this ${className} can hold for ${argument} but received ${shown}`);
    case Status.badArgument:
      return outOfRange(`Expected a valid value for ${argument} but received ${shown}`);
    case Status.badHeader:
      return new CorruptAllocatorError(`${className}: the native side refused the buffer (header missing, corrupted or buffer detached)`);
    case Status.corrupt:
      return new CorruptAllocatorError(`${className}: the allocator's metadata is corrupted (something wrote into it)`);
    case Status.lockTimeout:
      return new AllocatorLockTimeoutError(`${className}: the lock word stayed held past its bound (lockTimeoutMs); a thread may have died inside a call`);
    default:
      return new CorruptAllocatorError(`${className}: unexpected native status ${status}`);
  }
}
