/**
 * A decoder under the decoder fuzzer (issue 14 item 3: >= 10^6 random, truncated and mutated
 * inputs per decoder, TS and native). Each `*.target.ts` file in this folder exports
 * `targets: DecoderTarget[]`; the runner feeds every target random bytes, truncations and
 * byte/bit mutations of its seeds, and fails on anything but a clean error.
 */
export interface DecoderTarget {
  /** e.g. 'itch-batch ts', 'itch-batch native', 'moldudp64 packet ts', 'struct quote native'. */
  name: string;
  backend: 'ts' | 'native';
  /** Valid inputs the runner mutates and truncates. */
  seeds: Uint8Array[];
  /** Decodes the whole input; throws on bad bytes. Its result is discarded. */
  decode(bytes: Uint8Array): unknown;
  /**
   * Whether `error` is the clean error this decoder promises for bad bytes: a known class and
   * code whose message names the byte offset. Anything else (a RangeError from a DataView, a
   * TypeError, a crash) fails the run.
   */
  isCleanError(error: unknown): boolean;
}
