/**
 * The one door from lib/server to the rest of the library. Every lib/server file imports
 * library code (classes, registries, functions) from here, never from '../<module>/...':
 * the build (tsup.config.ts, `sharedLibrary`) leaves this module's import of '../index.js'
 * unbundled and points it at the main entry, so `ultra-performance/server` and
 * `ultra-performance` share one copy of the library's state (`instanceof UltraPerfError`,
 * `latencyRegistry`, the loaded addon). Type-only imports may come from anywhere.
 */
export * from '../index.js';
