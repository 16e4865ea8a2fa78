/**
 * Philox4x32-10 and the shared normal transform: the TS twin of cpp/risk/philox.hpp (read
 * that header for the counter layout and the transform). Normal i of stream s under a
 * seed is a pure function of (seed, s, i) and is bit-identical on every backend.
 */
import { invalidRange, invalidType } from '../errors.js';
import { cosKernel, kHalfPi, logMantissa, sinKernel } from './detmath.js';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const M0_LO = M0 & 0xffff;
const M0_HI = M0 >>> 16;
const M1_LO = M1 & 0xffff;
const M1_HI = M1 >>> 16;
const TWO32 = 4294967296;
const TWO26 = 67108864;
const TWO_M51 = 4.4408920985006261617e-16;
const INV_2_16 = 1 / 65536;
/** 2^-e for e in [0, 53], exact. */
const POW2_NEG = Float64Array.from({ length: 54 }, (_, e) => 2 ** -e);

/**
 * log(K * 2^-53) for an integer K in [1, 2^53] given as hi * 2^26 + lo: detmath.logPos with
 * the exponent found by Math.clz32 instead of bit aliasing (same m and k, so the same bits).
 * The polynomial is repeated from detmath.logPos on purpose: calling a shared
 * logCore(m, k) from here made 1M TS normals ~9% slower (45.6-46.6 ms against 41.8 ms).
 */
function logUnit(hi: number, lo: number): number {
  const K = hi * TWO26 + lo;
  let e = hi > 0 ? 57 - Math.clz32(hi) : 31 - Math.clz32(lo);
  let m = K * POW2_NEG[e]!;
  if (m >= 2) {
    m = m * 0.5;
    e = e + 1;
  }
  return logMantissa(m, e - 53);
}

/** Largest seed, stream or index accepted: integers are exact in a double up to 2^53. */
export const kMaxSeed = Number.MAX_SAFE_INTEGER;

/** One Philox4x32-10 block into out[0..3] (ctr words c0..c3, key words k0, k1; all uint32). */
export function philoxBlock(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  for (let round = 0; round < 10; round++) {
    // 32x32 -> 64 products from 16-bit halves (every partial is exact in a double).
    const a0 = c0 & 0xffff;
    const a1 = c0 >>> 16;
    const t0 = a0 * M0_LO;
    const m01 = a1 * M0_LO;
    const m02 = a0 * M0_HI;
    const mid0 = (t0 >>> 16) + (m01 & 0xffff) + (m02 & 0xffff);
    const hi0 = (a1 * M0_HI + (m01 >>> 16) + (m02 >>> 16) + (mid0 >>> 16)) >>> 0;
    const lo0 = Math.imul(c0, M0) >>> 0;
    const b0 = c2 & 0xffff;
    const b1 = c2 >>> 16;
    const t1 = b0 * M1_LO;
    const m11 = b1 * M1_LO;
    const m12 = b0 * M1_HI;
    const mid1 = (t1 >>> 16) + (m11 & 0xffff) + (m12 & 0xffff);
    const hi1 = (b1 * M1_HI + (m11 >>> 16) + (m12 >>> 16) + (mid1 >>> 16)) >>> 0;
    const lo1 = Math.imul(c2, M1) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/**
 * Normals first .. first+n-1 of `stream` under `seed` into out[offset ..]. All three are
 * integers in [0, 2^53); the caller validates them. The block function is inlined here
 * by hand: this loop is the TS backend's Monte Carlo hot path.
 */
export function fillNormalsTs(out: Float64Array, offset: number, n: number, seed: number, stream: number, first: number): void {
  if (n <= 0) return;
  const kLo = seed >>> 0;
  const kHi = Math.floor(seed / TWO32) >>> 0;
  const sLo = stream | 0;
  const sHi = Math.floor(stream / TWO32) | 0;
  // A block yields normals 2b and 2b+1; an odd `first` starts in the middle of a block.
  let block = Math.floor(first / 2);
  let i = first % 2 === 1 ? -1 : 0;
  const end = offset + n;
  // Two blocks per iteration: two independent dependency chains for the CPU to overlap.
  if (i < 0) {
    writeBlock(out, offset + i, end, block, sLo, sHi, kLo, kHi, true);
    i += 2;
    block += 1;
  }
  while (i + 4 <= n) {
    writeTwoBlocks(out, offset + i, block, sLo, sHi, kLo, kHi);
    i += 4;
    block += 2;
  }
  while (i < n) {
    writeBlock(out, offset + i, end, block, sLo, sHi, kLo, kHi, false);
    i += 2;
    block += 1;
  }
}

/** One block's pair at out[at], out[at + 1] (only what lies before `end`; skipFirst for an odd start). */
function writeBlock(out: Float64Array, at: number, end: number, block: number, sLo: number, sHi: number, kLo: number, kHi: number, skipFirst: boolean): void {
  {
    let c0 = block >>> 0;
    let c1 = Math.floor(block / TWO32) | 0;
    let c2 = sLo;
    let c3 = sHi;
    let k0 = kLo;
    let k1 = kHi;
    for (let round = 0; round < 10; round++) {
      // High words of 32x32 -> 64 products from 16-bit splits of the constant (exact in a double).
      const u0 = c0 >>> 0;
      const u2 = c2 >>> 0;
      const hi0 = Math.floor((u0 * M0_HI + Math.floor(u0 * M0_LO * INV_2_16)) * INV_2_16);
      const hi1 = Math.floor((u2 * M1_HI + Math.floor(u2 * M1_LO * INV_2_16)) * INV_2_16);
      const lo0 = Math.imul(u0, M0);
      const lo1 = Math.imul(u2, M1);
      c0 = hi1 ^ c1 ^ k0;
      c1 = lo1;
      c2 = hi0 ^ c3 ^ k1;
      c3 = lo0;
      k0 = (k0 + W0) | 0;
      k1 = (k1 + W1) | 0;
    }
    const x0 = c0 >>> 0;
    const x1 = c1 >>> 0;
    const x2 = c2 >>> 0;
    const x3 = c3 >>> 0;
    const r = Math.sqrt(-2.0 * logUnit(x0 >>> 5, (x1 >>> 6) + 1));
    const q = x2 >>> 30;
    const a = ((((x2 >>> 5) & 0x1ffffff) * TWO26 + (x3 >>> 6)) * TWO_M51 - 0.5) * kHalfPi;
    const c = cosKernel(a);
    const s = sinKernel(a);
    const rc = q === 0 ? c : q === 1 ? -s : q === 2 ? -c : s;
    const rs = q === 0 ? s : q === 1 ? c : q === 2 ? -s : -c;
    if (!skipFirst) out[at] = r * rc;
    if (at + 1 < end) out[at + 1] = r * rs;
  }
}

/** Blocks `block` and `block + 1` into out[at .. at + 3], interleaved by hand. */
function writeTwoBlocks(out: Float64Array, at: number, block: number, sLo: number, sHi: number, kLo: number, kHi: number): void {
  const b2 = block + 1;
  let c0 = block >>> 0;
  let c1 = Math.floor(block / TWO32) | 0;
  let c2 = sLo;
  let c3 = sHi;
  let d0 = b2 >>> 0;
  let d1 = Math.floor(b2 / TWO32) | 0;
  let d2 = sLo;
  let d3 = sHi;
  let k0 = kLo;
  let k1 = kHi;
  for (let round = 0; round < 10; round++) {
    const u0 = c0 >>> 0;
    const u2 = c2 >>> 0;
    const v0 = d0 >>> 0;
    const v2 = d2 >>> 0;
    const hi0 = Math.floor((u0 * M0_HI + Math.floor(u0 * M0_LO * INV_2_16)) * INV_2_16);
    const hi1 = Math.floor((u2 * M1_HI + Math.floor(u2 * M1_LO * INV_2_16)) * INV_2_16);
    const gi0 = Math.floor((v0 * M0_HI + Math.floor(v0 * M0_LO * INV_2_16)) * INV_2_16);
    const gi1 = Math.floor((v2 * M1_HI + Math.floor(v2 * M1_LO * INV_2_16)) * INV_2_16);
    const lo0 = Math.imul(u0, M0);
    const lo1 = Math.imul(u2, M1);
    const go0 = Math.imul(v0, M0);
    const go1 = Math.imul(v2, M1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    d0 = gi1 ^ d1 ^ k0;
    d1 = go1;
    d2 = gi0 ^ d3 ^ k1;
    d3 = go0;
    k0 = (k0 + W0) | 0;
    k1 = (k1 + W1) | 0;
  }
  transformInto(out, at, c0 >>> 0, c1 >>> 0, c2 >>> 0, c3 >>> 0);
  transformInto(out, at + 2, d0 >>> 0, d1 >>> 0, d2 >>> 0, d3 >>> 0);
}

/** Box-Muller on one block's words into out[at], out[at + 1]. */
function transformInto(out: Float64Array, at: number, x0: number, x1: number, x2: number, x3: number): void {
  const r = Math.sqrt(-2.0 * logUnit(x0 >>> 5, (x1 >>> 6) + 1));
  const q = x2 >>> 30;
  const a = ((((x2 >>> 5) & 0x1ffffff) * TWO26 + (x3 >>> 6)) * TWO_M51 - 0.5) * kHalfPi;
  const c = cosKernel(a);
  const s = sinKernel(a);
  out[at] = r * (q === 0 ? c : q === 1 ? -s : q === 2 ? -c : s);
  out[at + 1] = r * (q === 0 ? s : q === 1 ? c : q === 2 ? -s : -c);
}

/** Checks a seed/stream/index argument: an integer in [0, 2^53). */
export function checkCounter(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(name, 'an integer', value);
  if (value < 0 || value > kMaxSeed) throw invalidRange(name, `an integer in [0, ${kMaxSeed}]`, value);
  return value;
}
