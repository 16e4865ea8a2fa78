/**
 * ITCH 5.0 decoders under the decoder fuzzer (run.ts): the one-message decoder `decodeItch`
 * over a run of unframed messages (as MoldUDP64 message blocks carry them), and the batch
 * decoder over the file framing, TS and native (the native one when the CPU addon is loaded).
 * Seeds: one message of each of the 23 types, and windows of the real AAPL excerpt.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SourceFormatError } from '../../../lib/errors.js';
import {
  createItchColumns,
  decodeItch,
  decodeItchBatchNative,
  decodeItchBatchTs,
  encodeItch,
  encodeItchFile,
  indexItchFrames,
  itchMessageLength,
  kItchMessageTypes,
  type ItchMessage,
} from '../../../lib/net/itch.js';

import type { DecoderTarget } from './types.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const real = new Uint8Array(readFileSync(join(root, 'bench/data/itch50-aapl-2020-01-30/locate-13-10k.bin')));

/** A SourceFormatError whose `where` is `byte N`: the only error bad bytes may give. */
export function isByteOffsetError(error: unknown): boolean {
  return error instanceof SourceFormatError && error.code === 'ERR_ULTRA_PERF_SOURCE_FORMAT' && /^byte \d+$/.test(error.where);
}

/** One valid message of each ITCH 5.0 type (fields from a byte pattern; sides 'B'/'S', 8-byte fields < 2^53). */
export function itchSampleMessages(): ItchMessage[] {
  return kItchMessageTypes.map((type, k) => {
    const bytes = new Uint8Array(itchMessageLength(type));
    for (let i = 0; i < bytes.length; i++) bytes[i] = 0x20 + ((i * 7 + k) % 90);
    bytes[0] = type.charCodeAt(0);
    const msg = decodeItch(bytes) as unknown as Record<string, unknown>;
    for (const [name, v] of Object.entries(msg)) {
      if (typeof v === 'bigint') msg[name] = v % 2n ** 53n;
      if (name === 'side') msg[name] = k % 2 === 0 ? 'B' : 'S';
    }
    return msg as unknown as ItchMessage;
  });
}

function encodeOne(msg: ItchMessage): Uint8Array {
  const out = new Uint8Array(itchMessageLength(msg.type));
  encodeItch(msg, out);
  return out;
}

const samples = itchSampleMessages();
const { offsets } = indexItchFrames(real);

/** Framed windows of the real excerpt: `n` messages from message `from`. */
function window(from: number, n: number): Uint8Array {
  const start = offsets[from]! - 2;
  const end = from + n < offsets.length ? offsets[from + n]! - 2 : real.length;
  return real.slice(start, end);
}

const framedSeeds: Uint8Array[] = [
  ...samples.map((m) => encodeItchFile([m])),
  encodeItchFile(samples),
  window(0, 12),
  window(100, 30),
  window(2000, 50),
  window(5000, 20),
  window(9980, 20),
];

const unframedSeeds: Uint8Array[] = [
  ...samples.map(encodeOne),
  (() => {
    const parts = samples.map(encodeOne);
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
    return out;
  })(),
];

// Reused across inputs: the batch targets allocate nothing per input.
const tsColumns = createItchColumns(16);
const nativeColumns = createItchColumns(16);

export const targets: DecoderTarget[] = [
  {
    name: 'itch decodeItch ts',
    backend: 'ts',
    seeds: unframedSeeds,
    decode(bytes) {
      for (let at = 0; at < bytes.length; ) at += itchMessageLength(decodeItch(bytes, at).type);
    },
    isCleanError: isByteOffsetError,
  },
  {
    name: 'itch-batch ts',
    backend: 'ts',
    seeds: framedSeeds,
    decode(bytes) {
      for (let at = 0; at < bytes.length; at = tsColumns.end) decodeItchBatchTs(bytes, tsColumns, at);
    },
    isCleanError: isByteOffsetError,
  },
];

const native = decodeItchBatchNative;
if (native !== null) {
  targets.push({
    name: 'itch-batch native',
    backend: 'native',
    seeds: framedSeeds,
    decode(bytes) {
      for (let at = 0; at < bytes.length; at = nativeColumns.end) native(bytes, nativeColumns, at);
    },
    isCleanError: isByteOffsetError,
  });
}
