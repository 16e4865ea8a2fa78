/**
 * The byte layout every allocator shares with cpp/memory/layout.hpp (prose in
 * docs/memory-layout.md). Every constant here has a twin there; the loader refuses an
 * addon whose `memoryLayout()` differs from `layoutTable()` (lib/internal/layout-check.ts),
 * and test/memory.test.ts compares the geometry functions with `memoryGeometry()`.
 */
import { invalidType } from '../errors.js';
import { prefixed } from '../internal/layout-check.js';

export const kCacheLine = 64;
export const kMagic = 0x4d4d5055; // "UPMM" in memory order
export const kVersion = 1;
export const kHeaderBytes = 64;
export const kMaxTotalBytes = 0x7fffffff;
export const kFlagShared = 1;
/** Bound on a wait for a shared buddy/ring lock word when the header's lockTimeoutMs is 0. */
export const kDefaultLockTimeoutMs = 1000;
/** The largest lockTimeoutMs honoured; a larger header value (a scribble) is clamped to it. */
export const kMaxLockTimeoutMs = 60000;

export const Kind = { slab: 1, buddy: 2, ring: 3, stack: 4 } as const;
export type KindName = keyof typeof Kind;

/** Header field byte offsets (all u32). */
export const H = {
  magic: 0,
  version: 4,
  kind: 8,
  flags: 12,
  totalBytes: 16,
  dataOffset: 20,
  dataBytes: 24,
  g0: 28,
  g1: 32,
  g2: 36,
  g3: 40,
  /** buddy/ring: bound on a lock wait in ms; 0 = kDefaultLockTimeoutMs. */
  lockTimeoutMs: 44,
} as const;

/** What alloc-like calls return as negative numbers and free-like calls return. */
export const Status = {
  ok: 0,
  full: -1,
  doubleFree: -2,
  foreign: -3,
  notOldest: -4,
  corrupt: -5,
  badHeader: -6,
  tooBig: -7,
  badArgument: -8,
  misaligned: -9,
  /** A shared buddy/ring lock word stayed held past the header's lockTimeoutMs. */
  lockTimeout: -10,
} as const;

export const SlabLayout = {
  head: 64,
  next: 128,
  allocated: -2,
  maxSlots: (1 << 24) - 1,
  maxSlotBytes: 2 ** 30,
} as const;

export const BuddyLayout = {
  lock: 64,
  avail: 128,
  usedBytes: 132,
  liveBlocks: 136,
  freeHeads: 192,
  meta: 320,
  maxOrders: 32,
  free: 0x40,
  used: 0x80,
  minMinBlock: 8,
  maxBytes: 2 ** 30,
  maxMinBlocks: 2 ** 24,
} as const;

export const RingLayout = {
  lock: 64,
  head: 128,
  tail: 132,
  used: 136,
  count: 140,
  data: 192,
  recordHeader: 8,
  skip: 0xffffffff,
  check: 0x52494e47,
  minBytes: 16,
  maxBytes: 2 ** 30,
} as const;

export const StackLayout = {
  top: 64,
  highWater: 128,
  data: 192,
  minBytes: 8,
  maxBytes: 2 ** 30,
} as const;

/** Where everything of one allocator lies for one geometry (layout.hpp Geometry). */
export interface Geometry {
  totalBytes: number;
  dataOffset: number;
  dataBytes: number;
  g0: number;
  g1: number;
  g2: number;
  g3: number;
  array0: number;
  array1: number;
  array2: number;
}

export const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
const isU32 = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;

function geometry(parts: Partial<Geometry> & Pick<Geometry, 'totalBytes' | 'dataOffset' | 'dataBytes'>): Geometry | null {
  if (parts.totalBytes > kMaxTotalBytes) return null;
  return { g0: 0, g1: 0, g2: 0, g3: 0, array0: 0, array1: 0, array2: 0, ...parts };
}

/** Bits of the slab head that hold a slot index; the rest is the ABA tag. */
export const slabIndexBits = (slots: number): number => 32 - Math.clz32(slots);

export function slabGeometry(slotBytes: number, slots: number): Geometry | null {
  if (!isU32(slotBytes) || !isU32(slots)) return null;
  if (slotBytes < 1 || slotBytes > SlabLayout.maxSlotBytes || slots < 1 || slots > SlabLayout.maxSlots) return null;
  const stride = alignUp(slotBytes, 8);
  const dataOffset = alignUp(SlabLayout.next + 4 * slots, kCacheLine);
  return geometry({
    totalBytes: dataOffset + stride * slots,
    dataOffset,
    dataBytes: stride * slots,
    g0: slotBytes,
    g1: stride,
    g2: slots,
    g3: slabIndexBits(slots),
    array0: SlabLayout.next,
  });
}

export function buddyGeometry(bytes: number, minBlock: number): Geometry | null {
  if (!isU32(bytes) || !isU32(minBlock) || !isPow2(bytes) || !isPow2(minBlock)) return null;
  if (minBlock < BuddyLayout.minMinBlock || minBlock > bytes || bytes > BuddyLayout.maxBytes) return null;
  const blocks = bytes / minBlock;
  if (blocks > BuddyLayout.maxMinBlocks) return null;
  const prev = alignUp(BuddyLayout.meta + blocks, kCacheLine);
  const next = alignUp(prev + 4 * blocks, kCacheLine);
  const dataOffset = alignUp(next + 4 * blocks, kCacheLine);
  return geometry({
    totalBytes: dataOffset + bytes,
    dataOffset,
    dataBytes: bytes,
    g0: minBlock,
    g1: 31 - Math.clz32(blocks),
    g2: blocks,
    array0: BuddyLayout.meta,
    array1: prev,
    array2: next,
  });
}

export function ringGeometry(bytes: number): Geometry | null {
  if (!isU32(bytes) || bytes < RingLayout.minBytes || bytes > RingLayout.maxBytes || bytes % 8 !== 0) return null;
  return geometry({ totalBytes: RingLayout.data + bytes, dataOffset: RingLayout.data, dataBytes: bytes, g0: bytes });
}

export function stackGeometry(bytes: number): Geometry | null {
  if (!isU32(bytes) || bytes < StackLayout.minBytes || bytes > StackLayout.maxBytes || bytes % 8 !== 0) return null;
  return geometry({ totalBytes: StackLayout.data + bytes, dataOffset: StackLayout.data, dataBytes: bytes, g0: bytes });
}

export function kindGeometry(kind: number, a: number, b: number): Geometry | null {
  switch (kind) {
    case Kind.slab:
      return slabGeometry(a, b);
    case Kind.buddy:
      return buddyGeometry(a, b);
    case Kind.ring:
      return ringGeometry(a);
    case Kind.stack:
      return stackGeometry(a);
    default:
      return null;
  }
}

/** The constants of this file under the names the addon's memoryLayout() uses. */
export function layoutTable(): Record<string, number> {
  return Object.fromEntries([
    ['magic', kMagic],
    ['version', kVersion],
    ['headerBytes', kHeaderBytes],
    ['cacheLine', kCacheLine],
    ['maxTotalBytes', kMaxTotalBytes],
    ['flagShared', kFlagShared],
    ['defaultLockTimeoutMs', kDefaultLockTimeoutMs],
    ['maxLockTimeoutMs', kMaxLockTimeoutMs],
    ...prefixed('header', H),
    ...prefixed('kind', Kind),
    ...prefixed('slab', SlabLayout),
    ...prefixed('buddy', BuddyLayout),
    ...prefixed('ring', RingLayout),
    ...prefixed('stack', StackLayout),
    ...prefixed('status', Status),
  ]);
}

export interface HeaderFields {
  magic: number;
  version: number;
  kind: number;
  flags: number;
  totalBytes: number;
  dataOffset: number;
  dataBytes: number;
  g0: number;
  g1: number;
  g2: number;
  g3: number;
}

export function writeHeader(buffer: ArrayBufferLike, kind: number, g: Geometry, shared: boolean): void {
  const u32 = new Uint32Array(buffer, 0, kHeaderBytes / 4);
  u32.fill(0);
  u32[H.magic / 4] = kMagic;
  u32[H.version / 4] = kVersion;
  u32[H.kind / 4] = kind;
  u32[H.flags / 4] = shared ? kFlagShared : 0;
  u32[H.totalBytes / 4] = g.totalBytes;
  u32[H.dataOffset / 4] = g.dataOffset;
  u32[H.dataBytes / 4] = g.dataBytes;
  u32[H.g0 / 4] = g.g0;
  u32[H.g1 / 4] = g.g1;
  u32[H.g2 / 4] = g.g2;
  u32[H.g3 / 4] = g.g3;
}

/** The header's lock bound in ms, clamped as layout.hpp's lock_timeout_ms(): the word is as untrusted as the rest. */
export function lockTimeoutOf(buffer: ArrayBufferLike): number {
  const ms = new Uint32Array(buffer, H.lockTimeoutMs, 1)[0]!;
  return ms === 0 ? kDefaultLockTimeoutMs : Math.min(ms, kMaxLockTimeoutMs);
}

/** Writes the lock bound into a header (0 = the default). */
export function writeLockTimeout(buffer: ArrayBufferLike, ms: number): void {
  new Uint32Array(buffer, H.lockTimeoutMs, 1)[0] = ms;
}

export function readHeader(buffer: ArrayBufferLike): HeaderFields {
  const u32 = new Uint32Array(buffer, 0, kHeaderBytes / 4);
  const at = (offset: number) => u32[offset / 4]!;
  return {
    magic: at(H.magic),
    version: at(H.version),
    kind: at(H.kind),
    flags: at(H.flags),
    totalBytes: at(H.totalBytes),
    dataOffset: at(H.dataOffset),
    dataBytes: at(H.dataBytes),
    g0: at(H.g0),
    g1: at(H.g1),
    g2: at(H.g2),
    g3: at(H.g3),
  };
}

const kindName = (kind: number): string => Object.entries(Kind).find(([, v]) => v === kind)?.[0] ?? `unknown (kind ${kind})`;

/**
 * Checks that `buffer` holds an allocator of `kind` formatted by this library (TS or
 * C++) and returns its header and geometry; throws naming what is wrong otherwise.
 */
export function attachHeader(
  buffer: unknown,
  kind: number,
  className: string,
): { header: HeaderFields; geometry: Geometry; buffer: ArrayBuffer | SharedArrayBuffer } {
  if (!(buffer instanceof ArrayBuffer) && !(buffer instanceof SharedArrayBuffer)) {
    throw invalidType('buffer', 'an ArrayBuffer or SharedArrayBuffer', buffer);
  }
  const fail = (what: string) =>
    new TypeError(`Expected the buffer of a ${className} for buffer but received ${what}`);
  if (buffer.byteLength < kHeaderBytes) throw fail(`a buffer of ${buffer.byteLength} bytes (too small for a header)`);
  const header = readHeader(buffer);
  if (header.magic !== kMagic) throw fail('a buffer without the allocator magic number');
  if (header.version !== kVersion) throw fail(`a buffer of layout version ${header.version} (this library reads ${kVersion})`);
  if (header.kind !== kind) throw fail(`the buffer of a ${kindName(header.kind)} allocator`);
  const a = kind === Kind.buddy ? header.dataBytes : header.g0;
  const b = kind === Kind.buddy ? header.g0 : header.g2;
  const g = kindGeometry(kind, a, b);
  const consistent =
    g !== null &&
    g.totalBytes === header.totalBytes &&
    g.dataOffset === header.dataOffset &&
    g.dataBytes === header.dataBytes &&
    g.g0 === header.g0 &&
    g.g1 === header.g1 &&
    g.g2 === header.g2 &&
    g.g3 === header.g3;
  if (!consistent) throw fail('a buffer whose header is inconsistent (corrupted)');
  if (header.totalBytes > buffer.byteLength) {
    throw fail(`a buffer of ${buffer.byteLength} bytes, shorter than the ${header.totalBytes} its header describes`);
  }
  const shared = (header.flags & kFlagShared) !== 0;
  if (buffer instanceof SharedArrayBuffer && !shared) {
    throw fail('a SharedArrayBuffer formatted without shared: true (its allocator is not thread-safe)');
  }
  return { header, geometry: g, buffer };
}
