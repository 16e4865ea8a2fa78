/**
 * The one place bench output is formatted: durations pick ns/µs/ms/s so 3–4 significant
 * digits show (never `1.13e+3 ms`), rates pick k/M/G, ratios show 3 significant digits.
 * Every suite, bench/run.ts and bench/gpu/run.mjs use these. Plain JavaScript (types in
 * format.d.mts) because bench/gpu runs with plain Node over dist/, without tsx.
 */
/** A duration given in ns: `0.230 ns`, `18.7 ns`, `452 ns`, `1.38 ms`, `1.07 s`, `1234 s`. */
export declare function formatNs(ns: number): string;
/** A duration given in ms. */
export declare function formatMs(ms: number): string;
/** Per second with a k/M/G prefix: `formatRate(13.8e6, 'msg/s')` = `13.8 M msg/s`, `formatRate(24e6)` = `24.0 M/s`. */
export declare function formatRate(perSec: number, unit?: string): string;
/** A ratio: `1.84×`, `20.8×`, `152×`. */
export declare function formatRatio(x: number): string;
/** Bytes: `56 B`, `4.00 KiB`, `1.50 MiB`. */
export declare function formatBytes(b: number): string;
/**
 * A plain-text table, two-space indented. `align` is 'l' or 'r' per column (default:
 * the first column left, the others right).
 */
export declare function table(header: string[], rows: string[][], align?: ('l' | 'r')[]): string;
