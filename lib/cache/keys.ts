/**
 * Argument checks every level shares, so each names the argument the same way and a bad key
 * or TTL is refused before it reaches a store (issue 16, item 5).
 */
import { invalidRange, invalidType } from '../errors.js';

/**
 * Longest key, in UTF-16 code units: 512. At most 3 UTF-8 bytes per unit, so a key fits
 * LMDB's 1,978-byte key limit (lmdb-js) with room for a namespace prefix, and Redis keys stay short.
 */
export const kMaxKeyLength = 512;

/** Throws unless `key` is a string of 1..kMaxKeyLength code units. */
export function checkKey(key: unknown, argument = 'key'): asserts key is string {
  if (typeof key !== 'string') throw invalidType(argument, 'a string', key);
  if (key.length === 0 || key.length > kMaxKeyLength) {
    throw invalidRange(argument, `a string of 1 to ${kMaxKeyLength} UTF-16 code units (length ${key.length})`, key);
  }
}

/** Throws unless `keys` is an array of valid keys; names the element (`keys[3]`). */
export function checkKeys(keys: unknown, argument = 'keys'): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) throw invalidType(argument, 'an array of strings', keys);
  for (let i = 0; i < keys.length; i++) checkKey(keys[i], `${argument}[${i}]`);
}

/**
 * Throws unless `ms` is a non-negative finite number or `Infinity` (no expiry). 0 is allowed:
 * the entry is stale at once (useful with a stale window).
 */
export function checkTtl(ms: unknown, argument = 'ttlMs'): asserts ms is number {
  if (typeof ms !== 'number') throw invalidType(argument, 'a number of milliseconds', ms);
  if (!(ms >= 0)) throw invalidRange(argument, 'a non-negative number of milliseconds or Infinity', ms);
}
