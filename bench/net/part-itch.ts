/**
 * ITCH 5.0 decode from memory (issue 14 benchmarks): msg/s of the TS one-message decoder
 * (`decodeItch`, an object per message), the TS batch decoder and the native batch decoder
 * (`decodeItchBatchTs` / `decodeItchBatchNative`, columns of 4096 rows reused), on the real
 * AAPL excerpt replicated 10x in memory (100,000 messages, 3.1 MB) and on a synthetic
 * add/execute/delete-heavy mix of the same size. Targets: TS batch >= 20M msg/s, native
 * batch >= 100M msg/s. Peer: a Go parser's 286M msg/s from memory, a claim quoted by the
 * issue (not run here; different machine, and it fills no columns).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  createItchColumns,
  decodeItch,
  decodeItchBatchNative,
  decodeItchBatchTs,
  encodeItchFile,
  indexItchFrames,
  type ItchMessage,
} from '../../lib/net/itch.js';
import { type Figure, type TaskSpec, currentLoad, formatRate, loadNote, table } from '../lib/index.js';

import type { NetBenchPart } from './index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const excerpt = new Uint8Array(readFileSync(join(root, 'bench/data/itch50-aapl-2020-01-30/locate-13-10k.bin')));
const kCopies = 10;
const kGoClaimMsgPerSec = 286e6;

function replicate(bytes: Uint8Array, copies: number): Uint8Array {
  const out = new Uint8Array(bytes.length * copies);
  for (let i = 0; i < copies; i++) out.set(bytes, i * bytes.length);
  return out;
}

/** 100,000 messages: 40% add, 35% delete, 15% execute, 5% cancel, 3% replace, 2% trade; orders live until deleted. */
function syntheticMix(n: number): Uint8Array {
  let s = 0x2545f491;
  const rand = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const msgs: ItchMessage[] = [];
  const live: bigint[] = [];
  let ref = 1n;
  let match = 1n;
  for (let i = 0; i < n; i++) {
    const h = { stockLocate: 13, trackingNumber: 0, timestamp: 34_200_000_000_000 + i * 1000 };
    const r = rand();
    const pick = (): bigint => live[Math.floor(rand() * live.length)]!;
    if (r < 0.4 || live.length === 0) {
      live.push(ref);
      msgs.push({ type: 'A', ...h, orderRef: ref++, side: rand() < 0.5 ? 'B' : 'S', shares: 100, stock: 'AAPL', price: 3_200_000 + Math.floor(rand() * 1000) });
    } else if (r < 0.75) {
      const k = Math.floor(rand() * live.length);
      msgs.push({ type: 'D', ...h, orderRef: live[k]! });
      live[k] = live[live.length - 1]!;
      live.pop();
    } else if (r < 0.9) {
      msgs.push({ type: 'E', ...h, orderRef: pick(), executedShares: 10, matchNumber: match++ });
    } else if (r < 0.95) {
      msgs.push({ type: 'X', ...h, orderRef: pick(), cancelledShares: 5 });
    } else if (r < 0.98) {
      msgs.push({ type: 'U', ...h, originalOrderRef: pick(), newOrderRef: ref++, shares: 100, price: 3_200_100 });
    } else {
      msgs.push({ type: 'P', ...h, orderRef: 0n, side: 'B', shares: 50, stock: 'AAPL', price: 3_200_000, matchNumber: match++ });
    }
  }
  return encodeItchFile(msgs);
}

const real = replicate(excerpt, kCopies);
const realCount = 10_000 * kCopies;
const synthetic = syntheticMix(realCount);
const realOffsets = indexItchFrames(real).offsets;
const columns = createItchColumns(4096);

/** Decodes the whole buffer in batches of 4096; returns the messages decoded. */
function decodeAll(decode: typeof decodeItchBatchTs, bytes: Uint8Array): number {
  let n = 0;
  for (let at = 0; at < bytes.length; at = columns.end) n += decode(bytes, columns, at);
  return n;
}

const native = decodeItchBatchNative;
const noNative = 'the CPU addon is not loaded (ULTRA_PERF_BACKEND=ts or not built)';
let cursor = 0;

function batchTasks(label: string, bytes: Uint8Array, count: number): TaskSpec[] {
  return [
    {
      name: `itch batch ts (${label})`,
      fn: () => decodeAll(decodeItchBatchTs, bytes),
      rate: { per: count, unit: 'msg/s' },
      target: label === 'real' ? { minRate: 20e6 } : undefined,
    },
    {
      name: `itch batch native (${label})`,
      fn: () => decodeAll(native!, bytes),
      rate: { per: count, unit: 'msg/s' },
      target: label === 'real' ? { minRate: 100e6 } : undefined,
      ...(native === null ? { skip: noNative } : {}),
    },
  ];
}

/** Median msg/s of `runs` whole-buffer decodes (for the table beside the Go claim). */
function measure(decode: typeof decodeItchBatchTs, bytes: Uint8Array, count: number, runs = 15): number {
  for (let i = 0; i < 3; i++) decodeAll(decode, bytes);
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    decodeAll(decode, bytes);
    rates.push(count / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  rates.sort((a, b) => a - b);
  return rates[runs >> 1]!;
}

export const part: NetBenchPart = {
  name: 'itch',
  groups: [
    {
      name: 'itch decode',
      description: `ITCH 5.0 decode from memory: the real AAPL excerpt x${kCopies} (${realCount} msgs, ${(real.length / 2 ** 20).toFixed(1)} MiB) and a synthetic A/D/E-heavy mix; columns of 4096 rows reused`,
      tasks: [
        {
          name: 'itch decodeItch ts (real, per message)',
          fn: () => {
            const m = decodeItch(real, realOffsets[cursor]!);
            cursor = cursor + 1 === realCount ? 0 : cursor + 1;
            return m;
          },
          rate: { per: 1, unit: 'msg/s' },
        },
        ...batchTasks('real', real, realCount),
        ...batchTasks('synthetic', synthetic, realCount),
      ],
    },
  ],
  extras: async () => {
    const load = currentLoad();
    const rows: { decoder: string; data: string; rate: number; target?: number }[] = [];
    for (const [label, bytes] of [['real', real], ['synthetic', synthetic]] as const) {
      rows.push({ decoder: 'TS batch', data: label, rate: measure(decodeItchBatchTs, bytes, realCount), target: 20e6 });
      if (native !== null) rows.push({ decoder: 'native batch', data: label, rate: measure(native, bytes, realCount), target: 100e6 });
    }
    console.log(`\nITCH decode beside the Go parser's claim (286M msg/s from memory, quoted, not run here); median of 15 whole-buffer runs ${loadNote(load)}`);
    console.log(
      table(
        ['decoder', 'data', 'msg/s', 'vs Go claim', 'target', 'met'],
        rows.map((r) => [r.decoder, r.data, formatRate(r.rate, 'msg/s'), `${(r.rate / kGoClaimMsgPerSec).toFixed(2)}x`, r.target ? formatRate(r.target, 'msg/s') : '-', r.target ? (r.rate >= r.target ? 'yes' : 'no') : '-']),
      ),
    );
    const figures: Figure[] = rows.map((r) => ({ group: 'itch decode', name: `${r.decoder} (${r.data}, whole buffer)`, unit: 'msg/s', median: r.rate }));
    return { figures, rows, goClaimMsgPerSec: kGoClaimMsgPerSec, load };
  },
};
