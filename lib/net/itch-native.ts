/**
 * The CPU addon's ITCH 5.0 batch decoder (cpp/net/itch_batch.cc through cpp/napi/itch.cc),
 * chosen once at load: the addon's `itchDecodeBatch` when the addon is loaded, has it, and
 * ULTRA_PERF_BACKEND is not 'ts'; otherwise null. lib/net/itch.ts wraps it as
 * `decodeItchBatch` (same arguments, rows and errors as the TS decoder).
 */
import type { ItchAddon } from '../addon-types.js';
import { addonWith } from '../internal/backend.js';

/** The raw binding (primitive signature, see lib/addon-types.ts ItchAddon), or null. */
export const nativeItchDecodeBatch: ItchAddon['itchDecodeBatch'] | null = addonWith('itchDecodeBatch')?.itchDecodeBatch ?? null;
