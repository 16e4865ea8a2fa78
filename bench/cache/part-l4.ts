/**
 * L4's part of `npm run bench -- cache` (issue 16: "L4 ≤ 2 µs"): LmdbLevel on a store of
 * 10,000 entries (a ~90-byte msgpack quote each, in a temp directory), uniform random keys:
 * - `getEntrySync` per call (the memory-mapped read, the copy and the entry decode) and in
 *   batches, the awaited `getEntry`, and `getEntries` of 10 keys;
 * - the floor beside them, lmdb-js on the same database: `getBinaryFast` (no copy, no decode)
 *   and `get` (a Buffer copy, the `binary` encoding);
 * - writes: `setEntry` awaited (one commit each), `setEntries` of 100 in one transaction,
 *   beside lmdb-js `put` of the same bytes awaited;
 * - the seed's claim (L4 disk 15.2 ms average access, SEED.md) beside our median.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { open } from 'lmdb';

import { encodeEntry } from '../../lib/cache/entry-codec.js';
import { LmdbLevel } from '../../lib/cache/l4-lmdb.js';
import type { CacheEntry } from '../../lib/cache/types.js';
import { nowNs } from '../../lib/monitor/clock.js';
import { msgpackCodec } from '../../lib/net/codec.js';
import { formatNs, formatRatio, table } from '../lib/format.mjs';
import type { Figure } from '../lib/suite.js';
import type { CacheBenchPart } from './index.js';

interface Quote {
  sym: string;
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
  ts: number;
  venue: string;
}

const kEntries = 10_000;
const kSeedL4Ns = 15.2e6; // SEED.md "Performance Metrics": L4 Disk, 15.2 ms average access time
const dir = mkdtempSync(join(tmpdir(), 'up-bench-l4-'));
const l4 = await LmdbLevel.open<Quote>({ path: dir, maxEntries: 1_000_000, sweepIntervalMs: 0 });
const keys = Array.from({ length: kEntries }, (_, i) => `quote:${i.toString(36).padStart(4, '0')}:XNAS`);
const quote = (i: number): Quote => ({ sym: `S${i}`, bid: 100 + i / 100, ask: 100.01 + i / 100, bidSize: 100 + (i % 700), askSize: 200 + (i % 300), ts: 1_700_000_000_000 + i, venue: 'XNAS' });
const entryOf = (i: number): CacheEntry<Quote> => ({ value: quote(i), expiresAt: Infinity, staleUntil: Infinity, version: i });
for (let b = 0; b < kEntries; b += 1000) await l4.setEntries(keys.slice(b, b + 1000).map((k, j) => [k, entryOf(b + j)] as [string, CacheEntry<Quote>]));
const valueBytes = encodeEntry(entryOf(1), msgpackCodec<Quote>()).length;

// The same database read directly through lmdb-js: a second handle in this process is the
// same environment (lmdb-js shares it), opened the way LmdbLevel opens it.
const root = open({ path: dir, maxDbs: 256 });
const raw = root.openDB<Uint8Array, string>({ name: 'e:default', encoding: 'binary' });
const rawPutDb = root.openDB<Uint8Array, string>({ name: 'bench-raw-put', encoding: 'binary' });

// Uniform random key order, fixed (an LCG), reused by every task.
const order = new Uint32Array(1 << 16);
let lcg = 12345;
for (let i = 0; i < order.length; i++) {
  lcg = (Math.imul(lcg, 1103515245) + 12345) >>> 0;
  order[i] = lcg % kEntries;
}
let cursor = 0;
const nextKey = (): string => keys[order[cursor++ & 0xffff]!]!;
const ten = (): string[] => Array.from({ length: 10 }, nextKey);
let setN = 0;
const batch100 = (): [string, CacheEntry<Quote>][] => Array.from({ length: 100 }, () => {
  const i = order[cursor++ & 0xffff]!;
  return [keys[i]!, entryOf(i + setN++)];
});
const putBytes = encodeEntry(entryOf(7), msgpackCodec<Quote>());

export const part: CacheBenchPart = {
  name: 'l4',
  groups: [
    {
      name: 'L4 get (LMDB, 10k entries)',
      description: `LmdbLevel reads of a ~${valueBytes}-byte entry (msgpack quote) by uniform random key, beside lmdb-js's own reads of the same database`,
      tasks: [
        { name: 'L4 getEntrySync (per call, incl. decode)', mode: 'per-call', fn: () => l4.getEntrySync(nextKey()), target: { maxNs: 2000 } },
        { name: 'L4 getEntrySync (batched)', fn: () => l4.getEntrySync(nextKey()) },
        { name: 'L4 getEntry (awaited)', mode: 'async', fn: () => l4.getEntry(nextKey()) },
        { name: 'L4 getEntries x10 (awaited)', mode: 'async', fn: () => l4.getEntries(ten()), rate: { per: 10, unit: 'gets/s' } },
        { name: 'lmdb-js getBinaryFast (floor: no copy, no decode)', mode: 'per-call', fn: () => raw.getBinaryFast(nextKey()) },
        { name: 'lmdb-js get (binary: Buffer copy)', mode: 'per-call', fn: () => raw.get(nextKey()) },
      ],
    },
    {
      name: 'L4 set (LMDB, 10k entries)',
      description: 'awaited writes, one commit each (durability commit: fsync overlapped after the commit), and 100 in one transaction',
      tasks: [
        {
          name: 'L4 setEntry (awaited commit)',
          mode: 'async',
          fn: () => {
            const i = order[cursor++ & 0xffff]!;
            return l4.setEntry(keys[i]!, entryOf(i + setN++));
          },
        },
        { name: 'L4 setEntries x100 (one txn, awaited)', mode: 'async', fn: () => l4.setEntries(batch100()), rate: { per: 100, unit: 'sets/s' } },
        { name: 'lmdb-js put (raw bytes, awaited commit)', mode: 'async', fn: () => rawPutDb.put(nextKey(), putBytes) },
      ],
    },
  ],
  extras: async () => {
    // Our read and the floor again, call by call and interleaved, for the seed comparison:
    // medians of single calls (a loop's mean would also count the time slices other processes
    // take on a loaded machine).
    const ours = new Float64Array(200_000);
    const floor = new Float64Array(200_000);
    let sink = 0;
    for (let i = 0; i < ours.length; i++) {
      let t0 = nowNs();
      sink += l4.getEntrySync(nextKey())!.version;
      ours[i] = nowNs() - t0;
      t0 = nowNs();
      sink += raw.getBinaryFast(nextKey())!.length;
      floor[i] = nowNs() - t0;
    }
    if (sink === 0) throw new Error('l4 bench: nothing read');
    const pct = (xs: Float64Array, q: number): number => xs.sort()[Math.floor(q * (xs.length - 1))]!;
    const o = pct(ours, 0.5);
    const f = pct(floor, 0.5);
    const o99 = pct(ours, 0.99);
    const f99 = pct(floor, 0.99);
    console.log(`\n-- l4: LMDB get (10k entries, ${valueBytes}-byte entries), and the seed's L4 (single calls, clock pair included)`);
    console.log(
      table(
        ['read', 'median', 'p99', 'vs floor', "seed's L4 disk"],
        [
          ['L4 getEntrySync (copy + decode)', formatNs(o), formatNs(o99), formatRatio(o / f), `15.2 ms (${(kSeedL4Ns / o).toFixed(0)}x ours)`],
          ['lmdb-js getBinaryFast (floor)', formatNs(f), formatNs(f99), '', ''],
        ],
      ),
    );
    const met = o <= 2000;
    console.log(`  ${met ? 'met   ' : 'MISSED'} L4 get <= 2 µs: ${formatNs(o)}`);
    const figures: Figure[] = [
      { group: 'l4', name: 'L4 getEntrySync single calls (interleaved)', unit: 'ns', median: o, p99: o99 },
      { group: 'l4', name: 'lmdb-js getBinaryFast single calls (interleaved)', unit: 'ns', median: f, p99: f99 },
    ];
    const stats = l4.stats();
    await l4.close();
    await root.close();
    rmSync(dir, { recursive: true, force: true });
    return { figures, valueBytes, entries: kEntries, seedL4Ms: 15.2, targets: [{ target: 'L4 get <= 2 µs', measured: o, met }], size: stats.size };
  },
};
