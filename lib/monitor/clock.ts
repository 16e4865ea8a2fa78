/**
 * The clock this folder times with: process.hrtime.bigint() stored straight into a
 * BigUint64Array and read back as two 32-bit words. On Node 20.20 (bench/results/floor.json,
 * v8.GCProfiler over 2M timings) two performance.now() reads allocate 48 bytes (each result
 * is a heap number made in C++), `Number(hrtime.bigint() - t0)` 40 bytes, process.hrtime()
 * an array; this allocates nothing once optimised (TurboFan keeps the BigInt as a raw 64-bit
 * word between the load and the store) and a pair costs ~80 ns against ~88 ns for
 * performance.now() on a 2-core EPYC VM.
 */

/** Word order of a 64-bit element: [lo, hi] on little-endian machines. */
const kLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Index of the low / high 32-bit word of element 0 in a Uint32Array view. */
export const kLo = kLittleEndian ? 0 : 1;
export const kHi = kLittleEndian ? 1 : 0;
export const kTwoPow32 = 4294967296;

const words = new Uint32Array(2);
const ticks = new BigUint64Array(words.buffer);
ticks[0] = process.hrtime.bigint();
const originHi = words[kHi]!;
const originLo = words[kLo]!;

/**
 * Monotonic nanoseconds since this module loaded, as an integer-valued number (exact for
 * 104 days). Allocation-free once optimised; a Smi (never boxed) for the first ~1.07 s.
 */
export function nowNs(): number {
  ticks[0] = process.hrtime.bigint();
  return (words[kHi]! - originHi) * kTwoPow32 + (words[kLo]! - originLo);
}
