/**
 * The bytes `CacheWarmer.persist()` writes (warmer.ts) and `restore()` reads: the hot set, the
 * successor table, and optionally the L1's hot keys and frequency sketch, so a restarted process
 * starts warm. All integers little-endian; keys UTF-8.
 *
 *     offset  size  field
 *     0       4     magic "UPCW" (0x55 0x50 0x43 0x57)
 *     4       1     format version (1)
 *     5       1     flags: bit 0 = an L1 sketch follows; other bits 0
 *     6       2     reserved (0)
 *     8       4     total length in bytes (u32), equal to the blob's length
 *     12      4     FNV-1a 32 of bytes [16, total)
 *     16      8     accesses recorded (f64, a non-negative integer)
 *     24      4     H: hot entries (u32)
 *     28      4     S: successor rows (u32)
 *     32      4     L: L1 hot keys (u32)
 *     36      4     K: L1 sketch bytes (u32; 0 unless flag bit 0)
 *     40      ...   H × { u16 key length, key, f64 count, f64 error }
 *             ...   S × { u16 key length, key, f64 total, u8 n, n × { u16 key length, key, f64 count } }
 *             ...   L × { u16 key length, key }
 *             ...   K bytes of sketch (the L1's own `sketchState()` layout)
 *
 * Decoding checks every length, count and key and throws `SourceFormatError(where, 'byte N', …)`
 * at the first byte that is wrong, so a foreign or corrupted blob is refused, never half-loaded.
 */
import { SourceFormatError } from '../errors.js';

import { kMaxKeyLength } from './keys.js';
import type { HeavyHitter, SuccessorRow } from './warmer-model.js';

export const kWarmMagic = 0x57435055; // "UPCW" read as u32 LE
export const kWarmFormat = 1;
export const kWarmHeaderBytes = 40;
const kFlagSketch = 1;
const kMaxRowLength = 255;

/** What a warm-state blob holds. */
export interface WarmState {
  accesses: number;
  hot: HeavyHitter[];
  successors: [string, SuccessorRow][];
  l1HotKeys: string[];
  sketch: Uint8Array | null;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** FNV-1a 32-bit over `bytes[from, to)` (Fowler, Noll, Vo): enough to catch a torn or flipped blob. */
export function fnv1a32(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

class Writer {
  buf = new Uint8Array(4096);
  view = new DataView(this.buf.buffer);
  n = 0;
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.n++] = v;
  }
  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.n, v, true);
    this.n += 4;
  }
  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.n, v, true);
    this.n += 8;
  }
  key(k: string): void {
    const b = utf8.encode(k);
    this.room(2 + b.length);
    this.view.setUint16(this.n, b.length, true);
    this.buf.set(b, this.n + 2);
    this.n += 2 + b.length;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
}

/** The bytes of `state` in the layout above. */
export function encodeWarmState(state: WarmState): Uint8Array {
  const w = new Writer();
  w.u32(kWarmMagic);
  w.u8(kWarmFormat);
  w.u8(state.sketch === null ? 0 : kFlagSketch);
  w.u8(0);
  w.u8(0);
  w.u32(0); // total, patched below
  w.u32(0); // checksum, patched below
  w.f64(state.accesses);
  w.u32(state.hot.length);
  w.u32(state.successors.length);
  w.u32(state.l1HotKeys.length);
  w.u32(state.sketch?.length ?? 0);
  for (const h of state.hot) {
    w.key(h.key);
    w.f64(h.count);
    w.f64(h.error);
  }
  for (const [from, row] of state.successors) {
    const n = Math.min(row.next.length, kMaxRowLength);
    w.key(from);
    w.f64(row.total);
    w.u8(n);
    for (let i = 0; i < n; i++) {
      w.key(row.next[i]!);
      w.f64(row.counts[i]!);
    }
  }
  for (const k of state.l1HotKeys) w.key(k);
  if (state.sketch !== null) w.bytes(state.sketch);
  const out = w.buf.slice(0, w.n);
  const view = new DataView(out.buffer);
  view.setUint32(8, out.length, true);
  view.setUint32(12, fnv1a32(out, 16), true);
  return out;
}

/** Reads a blob written by `encodeWarmState`; `where` names it in errors (e.g. `meta "warmer:default"`). */
export function decodeWarmState(bytes: Uint8Array, where: string): WarmState {
  const fail = (at: number, msg: string): never => {
    throw new SourceFormatError(where, `byte ${at}`, msg);
  };
  if (!(bytes instanceof Uint8Array)) fail(0, 'not a Uint8Array');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  if (end < kWarmHeaderBytes) fail(end, `warm state of ${end} bytes is shorter than its ${kWarmHeaderBytes}-byte header`);
  if (view.getUint32(0, true) !== kWarmMagic) fail(0, 'not a CacheWarmer state (magic "UPCW" expected)');
  if (bytes[4] !== kWarmFormat) fail(4, `format version ${bytes[4]} is not ${kWarmFormat}`);
  const flags = bytes[5]!;
  if ((flags & ~kFlagSketch) !== 0) fail(5, `unknown flags 0x${flags.toString(16)}`);
  if (bytes[6] !== 0 || bytes[7] !== 0) fail(6, 'reserved bytes are not 0');
  const total = view.getUint32(8, true);
  if (total !== end) fail(8, `length field says ${total} bytes, the blob has ${end}`);
  const sum = view.getUint32(12, true);
  if (sum !== fnv1a32(bytes, 16)) fail(12, 'checksum does not match the contents (torn or corrupted)');

  let o = 16;
  const need = (k: number, what: string): void => {
    if (o + k > end) fail(o, `${what} runs past the end (${end} bytes)`);
  };
  const count = (what: string): number => {
    need(8, what);
    const v = view.getFloat64(o, true);
    if (!(Number.isInteger(v) && v >= 0)) fail(o, `${what} ${v} is not a non-negative integer`);
    o += 8;
    return v;
  };
  const key = (what: string): string => {
    need(2, what);
    const at = o;
    const n = view.getUint16(o, true);
    o += 2;
    need(n, what);
    let k: string;
    try {
      k = fromUtf8.decode(bytes.subarray(o, o + n));
    } catch {
      return fail(at, `${what} is not UTF-8`);
    }
    if (k.length === 0 || k.length > kMaxKeyLength) fail(at, `${what} has ${k.length} UTF-16 code units (1 to ${kMaxKeyLength} allowed)`);
    o += n;
    return k;
  };

  const accesses = count('accesses');
  const H = view.getUint32(24, true);
  const S = view.getUint32(28, true);
  const L = view.getUint32(32, true);
  const K = view.getUint32(36, true);
  // each hot entry takes ≥ 19 bytes, each row ≥ 12, each key ≥ 3: refuse counts the blob cannot hold before allocating
  if (H * 19 > end) fail(24, `${H} hot entries cannot fit in ${end} bytes`);
  if (S * 12 > end) fail(28, `${S} successor rows cannot fit in ${end} bytes`);
  if (L * 3 > end) fail(32, `${L} L1 hot keys cannot fit in ${end} bytes`);
  if ((flags & kFlagSketch) === 0 && K !== 0) fail(36, `sketch length ${K} without the sketch flag`);
  o = kWarmHeaderBytes;
  const hot: HeavyHitter[] = [];
  for (let i = 0; i < H; i++) {
    const k = key(`hot key ${i}`);
    const c = count(`count of hot key ${i}`);
    const eAt = o;
    const e = count(`error of hot key ${i}`);
    if (e > c) fail(eAt, `error ${e} exceeds count ${c} of hot key ${i}`);
    hot.push({ key: k, count: c, error: e });
  }
  const successors: [string, SuccessorRow][] = [];
  for (let i = 0; i < S; i++) {
    const from = key(`successor row ${i}`);
    const rowTotal = count(`total of successor row ${i}`);
    need(1, `length of successor row ${i}`);
    const n = bytes[o++]!;
    const row: SuccessorRow = { next: [], counts: [], total: rowTotal };
    for (let j = 0; j < n; j++) {
      row.next.push(key(`successor ${j} of row ${i}`));
      row.counts.push(count(`count of successor ${j} of row ${i}`));
    }
    successors.push([from, row]);
  }
  const l1HotKeys: string[] = [];
  for (let i = 0; i < L; i++) l1HotKeys.push(key(`L1 hot key ${i}`));
  let sketch: Uint8Array | null = null;
  if ((flags & kFlagSketch) !== 0) {
    need(K, 'L1 sketch');
    sketch = bytes.slice(o, o + K);
    o += K;
  }
  if (o !== end) fail(o, `${end - o} trailing bytes after the warm state`);
  return { accesses, hot, successors, l1HotKeys, sketch };
}
