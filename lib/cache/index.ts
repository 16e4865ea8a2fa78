// lib/cache: the tiered cache (DESIGN.md "Tiered cache"). One line per module.
export * from './types.js';
export * from './keys.js';
export * from './errors.js';
export * from './entry-codec.js';
export * from './tiered.js';
export * from './prometheus.js';
