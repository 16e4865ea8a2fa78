/**
 * L4, LmdbLevel (lib/cache/l4-lmdb.ts; issue 16 items 1 and 5): entries round-trip in the
 * shared byte layout, TTLs on a fake clock, maxEntries, batches all-or-none, a foreign record
 * refused with the byte named, bad input named, close, persistence across reopen, two
 * processes on one path, and a fast-check differential test against a Map model.
 * (The SIGKILL test is test/cache-l4-crash.test.ts.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import fc from 'fast-check';
import { open } from 'lmdb';
import { afterAll, describe, expect, it, vi } from 'vitest';

import { CacheLevelUnavailableError } from '../lib/cache/errors.js';
import { LmdbLevel } from '../lib/cache/l4-lmdb.js';
import { kMaxKeyLength } from '../lib/cache/keys.js';
import type { CacheEntry } from '../lib/cache/types.js';
import { SourceFormatError } from '../lib/errors.js';
import { jsonCodec, rawCodec } from '../lib/net/codec.js';

import { fakeClock } from './helpers/fake-clock.js';
import { thrown } from './helpers/thrown.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'up-l4-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const forever = <V>(value: V, version = 0): CacheEntry<V> => ({ value, expiresAt: Infinity, staleUntil: Infinity, version });
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('LmdbLevel', () => {
  it('round-trips entries (values, cached misses, tags, versions) and reads many in key order', async () => {
    const l4 = await LmdbLevel.open<unknown>({ path: tempDir() });
    await l4.setEntry('a', { value: { px: 1.5, sym: 'AAPL' }, expiresAt: Date.now() + 60_000, staleUntil: Date.now() + 120_000, version: 3, tags: ['quotes', 'AAPL'] });
    await l4.setEntries([
      ['miss', { value: undefined, expiresAt: Infinity, staleUntil: Infinity, version: 0 }],
      ['b', forever([1, 2, 3])],
    ]);
    expect(l4.getEntrySync('a')).toMatchObject({ value: { px: 1.5, sym: 'AAPL' }, version: 3, tags: ['quotes', 'AAPL'] });
    expect(await l4.getEntry('miss')).toEqual({ value: undefined, expiresAt: Infinity, staleUntil: Infinity, version: 0 });
    expect((await l4.getEntries(['b', 'nope', 'a'])).map((e) => e?.value)).toEqual([[1, 2, 3], undefined, { px: 1.5, sym: 'AAPL' }]);
    expect(l4.size).toBe(3);
    expect(await l4.delete('b')).toBe(true);
    expect(await l4.delete('b')).toBe(false);
    expect(l4.getEntrySync('b')).toBeUndefined();
    const s = l4.stats();
    expect(s).toMatchObject({ name: 'l4', sets: 3, deletes: 2, size: 2, capacity: 100_000 });
    expect(s.hits).toBe(4);
    await l4.clear();
    expect(l4.size).toBe(0);
    await l4.close();
  });

  it('a raw-codec value read back is its own copy, not a view of a buffer the next read reuses', async () => {
    const l4 = await LmdbLevel.open<Uint8Array>({ path: tempDir(), codec: rawCodec() });
    await l4.setEntries([
      ['x', forever(new Uint8Array([1, 2, 3]))],
      ['y', forever(new Uint8Array([9, 9, 9, 9]))],
    ]);
    const x = l4.getEntrySync('x')!.value!;
    l4.getEntrySync('y');
    expect([...x]).toEqual([1, 2, 3]);
    await l4.close();
  });

  it('serves an entry until staleUntil, never after, and removes it (on read, and by the sweep)', async () => {
    const clock = fakeClock(1_000_000);
    const l4 = await LmdbLevel.open<string>({ path: tempDir(), clock, sweepIntervalMs: 0 });
    await l4.setEntry('k', { value: 'v', expiresAt: 1_001_000, staleUntil: 1_002_000, version: 0 });
    clock.advance(1_500); // stale but servable: the caller tells fresh from stale
    expect(l4.getEntrySync('k')?.value).toBe('v');
    clock.advance(500); // at staleUntil
    expect(l4.getEntrySync('k')).toBeUndefined();
    // The read queued its removal: one write transaction, committed on a later turn.
    await vi.waitFor(() => expect(l4.size).toBe(0));
    expect(l4.stats().expirations).toBe(1);

    // The sweep: 100 entries expire unread; one sweep (bounded by its limit) removes them.
    await l4.setEntries(Array.from({ length: 100 }, (_, i) => [`e${i}`, { value: 'x', expiresAt: clock() + 10 + i, staleUntil: clock() + 10 + i, version: 0 }] as [string, CacheEntry<string>]));
    await l4.setEntry('live', forever('stay'));
    clock.advance(1_000);
    expect(await l4.sweep(30)).toBe(30);
    expect(l4.size).toBe(71);
    expect(await l4.sweep()).toBe(70);
    expect(await l4.sweep()).toBe(0);
    expect(l4.getEntrySync('live')?.value).toBe('stay');
    // An entry already past staleUntil when set is not stored, and removes the key's old value.
    await l4.setEntry('live', { value: 'gone', expiresAt: clock() - 1, staleUntil: clock() - 1, version: 1 });
    expect(l4.getEntrySync('live')).toBeUndefined();
    expect(l4.size).toBe(0);
    await l4.close();
  });

  it('maxEntries bounds the store, evicting the entries that expire first', async () => {
    const clock = fakeClock(0);
    const l4 = await LmdbLevel.open<number>({ path: tempDir(), clock, maxEntries: 10, sweepIntervalMs: 0 });
    for (let i = 0; i < 25; i++) {
      await l4.setEntry(`k${i}`, { value: i, expiresAt: 1_000 + ((i * 7) % 25), staleUntil: 1_000 + ((i * 7) % 25), version: 0 });
      expect(l4.size).toBeLessThanOrEqual(10);
    }
    await l4.setEntries(Array.from({ length: 30 }, (_, i) => [`m${i}`, { value: i, expiresAt: 2_000 + i, staleUntil: 2_000 + i, version: 0 }] as [string, CacheEntry<number>]));
    expect(l4.size).toBe(10);
    // The ten left are those that expire last: m20..m29.
    expect((await l4.getEntries(Array.from({ length: 30 }, (_, i) => `m${i}`))).map((e) => e?.value ?? null)).toEqual([...Array(20).fill(null), 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    expect(l4.stats().evictions).toBe(45);
    await l4.close();
  });

  it('never fails a set because the map is full: lmdb-js grows it', async () => {
    const l4 = await LmdbLevel.open<Uint8Array>({ path: tempDir(), codec: rawCodec(), mapSize: 65536, maxEntries: Infinity });
    const big = new Uint8Array(4000).fill(7);
    for (let b = 0; b < 20; b++) await l4.setEntries(Array.from({ length: 25 }, (_, i) => [`k${b}:${i}`, forever(big)] as [string, CacheEntry<Uint8Array>]));
    expect(l4.size).toBe(500); // ~2 MB in a map that started at 64 KiB
    expect(l4.getEntrySync('k19:24')?.value?.length).toBe(4000);
    await l4.close();
  });

  it('a batch with one bad entry writes nothing, and the error names it', async () => {
    const l4 = await LmdbLevel.open<unknown>({ path: tempDir(), codec: jsonCodec() });
    const err = await rejection(l4.setEntries([['ok', forever(1)], ['bad', forever(10n)]]));
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(err.message).toMatch(/for value\b/);
    const err2 = await rejection(l4.setEntries([['ok', forever(1)], ['bad', { value: 1, expiresAt: 5, staleUntil: Number.NaN, version: 0 }]]));
    expect(err2.message).toMatch(/entries\[1\]\[1\]\.staleUntil/);
    expect(l4.getEntrySync('ok')).toBeUndefined();
    expect(l4.size).toBe(0);
    await l4.close();
  });

  it('refuses bad keys, entries, options and meta arguments, naming each', async () => {
    const l4 = await LmdbLevel.open<unknown>({ path: tempDir() });
    expect(thrown(() => l4.getEntrySync(5 as unknown as string))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/for key\b/) });
    expect(thrown(() => l4.getEntrySync('k'.repeat(kMaxKeyLength + 1)))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/for key\b/) });
    expect(thrown(() => l4.getEntrySync(''))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(await rejection(l4.getEntries(['a', 7 as unknown as string]))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/keys\[1\]/) });
    expect(await rejection(l4.setEntry('k', { value: 1, expiresAt: -1, staleUntil: -2, version: 0 }))).toMatchObject({ message: expect.stringMatching(/entry\.staleUntil/) });
    expect(await rejection(l4.setEntry('k', { value: 1, expiresAt: Infinity, staleUntil: Infinity, version: 1.5 }))).toMatchObject({ message: expect.stringMatching(/entry\.version/) });
    expect(await rejection(l4.setEntry('k', null as unknown as CacheEntry<unknown>))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/for entry\b/) });
    expect(await rejection(l4.setEntries([['k']] as unknown as [string, CacheEntry<unknown>][]))).toMatchObject({ message: expect.stringMatching(/entries\[0\]/) });
    expect(await rejection(l4.putMeta('m', [1, 2] as unknown as Uint8Array))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/for bytes\b/) });
    expect(thrown(() => l4.getMeta(3 as unknown as string))).toMatchObject({ message: expect.stringMatching(/for name\b/) });
    expect(await rejection(l4.sweep(0))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/for limit\b/) });
    await l4.close();
    expect(await rejection(LmdbLevel.open({ path: '' }))).toMatchObject({ message: expect.stringMatching(/options\.path/) });
    expect(await rejection(LmdbLevel.open({ path: tempDir(), maxEntries: 0 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/options\.maxEntries/) });
    expect(await rejection(LmdbLevel.open({ path: tempDir(), durability: 'fsync' as 'flush' }))).toMatchObject({ message: expect.stringMatching(/options\.durability/) });
    expect(await rejection(LmdbLevel.open({ path: tempDir(), namespace: '' }))).toMatchObject({ message: expect.stringMatching(/options\.namespace/) });
  });

  it('after close, every call fails with CacheLevelUnavailableError; close is idempotent', async () => {
    const l4 = await LmdbLevel.open<number>({ path: tempDir() });
    await l4.setEntry('a', forever(1));
    await l4.close();
    await l4.close();
    const e = thrown(() => l4.getEntrySync('a'));
    expect(e).toBeInstanceOf(CacheLevelUnavailableError);
    expect(e).toMatchObject({ code: 'ERR_ULTRA_PERF_CACHE_UNAVAILABLE', level: 'l4', message: expect.stringMatching(/closed/) });
    for (const p of [l4.getEntry('a'), l4.getEntries(['a']), l4.setEntry('a', forever(2)), l4.setEntries([]), l4.delete('a'), l4.clear(), l4.putMeta('m', new Uint8Array(1))]) {
      expect(await rejection(p)).toBeInstanceOf(CacheLevelUnavailableError);
    }
    expect(thrown(() => l4.getMeta('m'))).toBeInstanceOf(CacheLevelUnavailableError);
  });

  it('persists across close and reopen; namespaces are separate; meta records survive clear()', async () => {
    const path = tempDir();
    const a = await LmdbLevel.open<string>({ path, namespace: 'a' });
    const b = await LmdbLevel.open<string>({ path, namespace: 'b' });
    await a.setEntry('k', forever('from a', 4));
    await b.setEntry('k', forever('from b'));
    await a.putMeta('hot-set', new Uint8Array([1, 2, 3]));
    await a.clear();
    expect(a.getEntrySync('k')).toBeUndefined();
    await a.setEntry('k', forever('from a again', 5));
    await a.close();
    await b.close();
    const a2 = await LmdbLevel.open<string>({ path, namespace: 'a' });
    expect(a2.getEntrySync('k')).toMatchObject({ value: 'from a again', version: 5 });
    expect([...a2.getMeta('hot-set')!]).toEqual([1, 2, 3]);
    expect(a2.getMeta('nothing')).toBeUndefined();
    await a2.close();
  });

  it("durability 'flush' resolves writes after the fsync; they read back after reopen", async () => {
    const path = tempDir();
    const l4 = await LmdbLevel.open<string>({ path, durability: 'flush' });
    expect(l4.durability).toBe('flush');
    await l4.setEntry('a', forever('A'));
    await l4.setEntries([['b', forever('B')]]);
    expect(await l4.delete('a')).toBe(true);
    await l4.close();
    const again = await LmdbLevel.open<string>({ path });
    expect(again.durability).toBe('commit');
    expect((await again.getEntries(['a', 'b'])).map((e) => e?.value)).toEqual([undefined, 'B']);
    await again.close();
  });

  it('refuses a foreign or corrupted record with SourceFormatError naming the byte, never misreads it', async () => {
    const path = tempDir();
    const l4 = await LmdbLevel.open<string>({ path, sweepIntervalMs: 0 });
    await l4.setEntry('good', forever('ok'));
    await l4.close();
    const root = open({ path, maxDbs: 256 });
    const raw = root.openDB<Uint8Array, string>({ name: 'e:default', encoding: 'binary' });
    const good = raw.getBinary('good')!;
    const flipped = Uint8Array.prototype.slice.call(good);
    flipped[0] = 9; // another format
    await raw.put('foreign', flipped);
    await raw.put('short', new Uint8Array([1, 0, 0]));
    await root.close();
    const again = await LmdbLevel.open<string>({ path, sweepIntervalMs: 0 });
    const e = thrown(() => again.getEntrySync('foreign'));
    expect(e).toBeInstanceOf(SourceFormatError);
    expect(e.message).toMatch(/byte 0/);
    expect(e.message).toMatch(/key "foreign"/);
    expect(thrown(() => again.getEntrySync('short')).message).toMatch(/byte 3/);
    expect(again.getEntrySync('good')?.value).toBe('ok');
    // A set over a foreign record replaces it; a delete removes it.
    await again.setEntry('foreign', forever('mine'));
    expect(again.getEntrySync('foreign')?.value).toBe('mine');
    expect(await again.delete('short')).toBe(true);
    await again.close();
  });

  it('two processes share one path: each sees the other’s committed writes', async () => {
    const path = tempDir();
    const l4 = await LmdbLevel.open<unknown>({ path, namespace: 'shared' });
    const writer = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'cache-l4-writer.ts');
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', writer, 'share', path], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const replies: { done?: string; ready?: boolean; key?: string; found?: boolean; value?: unknown }[] = [];
    let wake: (() => void) | null = null;
    child.on('message', (m: (typeof replies)[number]) => {
      replies.push(m);
      wake?.();
    });
    const next = async (): Promise<(typeof replies)[number]> => {
      while (replies.length === 0) await new Promise<void>((r) => (wake = r));
      return replies.shift()!;
    };
    try {
      expect(await next()).toEqual({ ready: true });
      child.send({ op: 'set', key: 'from-child', value: { n: 1 } });
      expect(await next()).toMatchObject({ done: 'set' });
      await tick(); // a new event turn: lmdb-js renews this process's read snapshot
      expect(l4.getEntrySync('from-child')?.value).toEqual({ n: 1 });
      await l4.setEntries([
        ['from-parent', forever('p')],
        ['from-child', forever({ n: 2 })],
      ]);
      child.send({ op: 'get', key: 'from-parent' });
      expect(await next()).toMatchObject({ done: 'get', found: true, value: 'p' });
      child.send({ op: 'get', key: 'from-child' });
      expect(await next()).toMatchObject({ done: 'get', found: true, value: { n: 2 } });
      await l4.delete('from-parent');
      child.send({ op: 'get', key: 'from-parent' });
      expect(await next()).toMatchObject({ done: 'get', found: false });
      child.send({ op: 'exit' });
      await new Promise((r) => child.once('exit', r));
    } finally {
      child.kill();
      await l4.close();
    }
  });

  it('differential (fast-check): reads agree with a Map model with TTLs on a fake clock; maxEntries holds', async () => {
    const clock = fakeClock(1_000_000);
    const path = tempDir();
    const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
    const life = fc.record({ ttl: fc.integer({ min: 0, max: 50 }), grace: fc.integer({ min: 0, max: 30 }), forever: fc.boolean() });
    const op = fc.oneof(
      fc.record({ t: fc.constant('set' as const), key, value: fc.integer(), life }),
      fc.record({ t: fc.constant('setMany' as const), pairs: fc.array(fc.tuple(key, fc.integer(), life), { minLength: 1, maxLength: 4 }) }),
      fc.record({ t: fc.constant('delete' as const), key }),
      fc.record({ t: fc.constant('get' as const), key }),
      fc.record({ t: fc.constant('getMany' as const), keys: fc.array(key, { maxLength: 5 }) }),
      fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ t: fc.constant('clear' as const) }),
    );
    const entryOf = (value: number, l: { ttl: number; grace: number; forever: boolean }, version: number): CacheEntry<number> =>
      l.forever ? forever(value, version) : { value, expiresAt: clock() + l.ttl, staleUntil: clock() + l.ttl + l.grace, version };
    let run = 0;
    for (const maxEntries of [Infinity, 3]) {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
          const l4 = await LmdbLevel.open<number>({ path, namespace: `run${run++}`, clock, maxEntries, sweepIntervalMs: 0 });
          const model = new Map<string, CacheEntry<number>>();
          let version = 0;
          const live = (k: string): CacheEntry<number> | undefined => {
            const e = model.get(k);
            return e !== undefined && clock() < e.staleUntil ? e : undefined;
          };
          // Unbounded: exactly the model. Bounded: the model's entry or nothing (evicted), never another.
          const agrees = (k: string, got: CacheEntry<number> | undefined): void => {
            const want = live(k);
            if (maxEntries === Infinity || got !== undefined) expect(got, `key ${k}`).toEqual(want);
          };
          try {
            for (const o of ops) {
              if (o.t === 'set') {
                const e = entryOf(o.value, o.life, ++version);
                await l4.setEntry(o.key, e);
                model.set(o.key, e);
              } else if (o.t === 'setMany') {
                const pairs = o.pairs.map(([k, v, l]) => [k, entryOf(v, l, ++version)] as [string, CacheEntry<number>]);
                await l4.setEntries(pairs);
                for (const [k, e] of pairs) model.set(k, e);
              } else if (o.t === 'delete') {
                const had = await l4.delete(o.key);
                if (maxEntries === Infinity) expect(had).toBe(live(o.key) !== undefined);
                model.delete(o.key);
              } else if (o.t === 'get') {
                agrees(o.key, l4.getEntrySync(o.key));
              } else if (o.t === 'getMany') {
                const got = await l4.getEntries(o.keys);
                o.keys.forEach((k, i) => agrees(k, got[i]));
              } else if (o.t === 'advance') {
                clock.advance(o.ms);
              } else {
                await l4.clear();
                model.clear();
              }
              expect(l4.size).toBeLessThanOrEqual(maxEntries);
            }
            for (const k of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) agrees(k, l4.getEntrySync(k));
          } finally {
            await l4.close();
          }
        }),
        { numRuns: 40 },
      );
    }
  });
});
