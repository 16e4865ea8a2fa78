// lib/cache: the tiered cache (DESIGN.md "Tiered cache"). One line per module.
export * from './types.js';
export * from './keys.js';
export * from './errors.js';
export * from './entry-codec.js';
export * from './l1.js';
export * from './tiered.js';
export * from './l4-lmdb.js';
export * from './l2.js';
export * from './l3-redis.js';
export * from './warmer.js';
