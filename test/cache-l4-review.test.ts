/**
 * L4 review (issue 16): LmdbLevel and the entry layout under attack: records another program
 * wrote into the expiry index, the environment's named-database limit, values the codec turns
 * into something else, tags UTF-8 cannot carry, and keys whose code units UTF-8 alone would
 * merge (lone surrogates, NULs) — each found by a script first, then pinned here.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { open } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';

import { encodeEntry } from '../lib/cache/entry-codec.js';
import { CacheLevelUnavailableError } from '../lib/cache/errors.js';
import { LmdbLevel } from '../lib/cache/l4-lmdb.js';
import type { CacheEntry } from '../lib/cache/types.js';
import { msgpackCodec } from '../lib/net/codec.js';

import { fakeClock } from './helpers/fake-clock.js';
import { thrown } from './helpers/thrown.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'up-l4r-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const forever = <V>(value: V, version = 0): CacheEntry<V> => ({ value, expiresAt: Infinity, staleUntil: Infinity, version });

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; level?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('LmdbLevel under attack', () => {
  it('keys UTF-8 alone would merge (lone surrogates, U+FFFD, NULs) stay distinct keys, at full length too', async () => {
    const l4 = await LmdbLevel.open<string>({ path: tempDir(), sweepIntervalMs: 0 });
    const keys = ['\uD800', '\uDC00', '\uFFFD', 'a', 'a\u0000', 'a\u0000b', '\u0000', '\u0000'.repeat(512), '\uD800'.repeat(512), '\u4e00'.repeat(512), '\u{1F600}'.repeat(256)];
    await l4.setEntries(keys.map((k, i) => [k, forever(`v${i}`)] as [string, CacheEntry<string>]));
    expect(keys.map((k) => l4.getEntrySync(k)?.value)).toEqual(keys.map((_, i) => `v${i}`));
    expect(l4.size).toBe(keys.length);
    await l4.close();
  });

  it('a record another program put into the expiry index neither blocks the sweep nor fails writes', async () => {
    const path = tempDir();
    const clock = fakeClock(1_000);
    const l4 = await LmdbLevel.open<string>({ path, clock, sweepIntervalMs: 0, maxEntries: 3 });
    await l4.setEntry('z', forever('Z'));
    await l4.setEntry('a', { value: 'A', expiresAt: 5_000, staleUntil: 5_000, version: 0 });
    // Another program, same environment, same named database: keys that are not [staleUntil, key].
    const root = open({ path, maxDbs: 256 });
    const index = root.openDB({ name: 'x:default', encoding: 'binary' });
    await index.put(-1 as never, new Uint8Array(0)); // sorts before every [number, string]
    await index.put('foreign', new Uint8Array(0));
    await index.put(['q', 1] as never, new Uint8Array(0));
    clock.set(6_000);
    expect(await l4.sweep()).toBe(1); // 'a' expired at 5,000
    expect(l4.size).toBe(1);
    // Eviction walks the index from the start too: a write must not throw, nor evict the wrong key.
    await l4.setEntries([
      ['b', { value: 'B', expiresAt: 7_000, staleUntil: 7_000, version: 0 }],
      ['c', forever('C')],
      ['d', forever('D')],
    ]);
    expect(l4.size).toBe(3);
    // The entry expiring first (b, at 7,000) went; those without TTL stayed.
    expect(['z', 'b', 'c', 'd'].map((k) => l4.getEntrySync(k)?.value ?? null)).toEqual(['Z', null, 'C', 'D']);
    await root.close();
    await l4.close();
  });

  it('the environment named-database limit is a CacheLevelUnavailableError naming the namespace, and the failed open holds nothing', async () => {
    const path = tempDir();
    const levels: LmdbLevel[] = [];
    let err: (Error & { code?: string; level?: string }) | undefined;
    for (let i = 0; i < 100 && err === undefined; i++) {
      try {
        levels.push(await LmdbLevel.open({ path, namespace: `n${i}`, sweepIntervalMs: 0 }));
      } catch (e) {
        err = e as Error & { code?: string };
      }
    }
    expect(err).toBeInstanceOf(CacheLevelUnavailableError);
    expect(err!.code).toBe('ERR_ULTRA_PERF_CACHE_UNAVAILABLE');
    expect(err!.message).toContain(`namespace "n${levels.length}"`);
    for (const l of levels) await l.close();
    // Every level closed: the environment closed with them, so a new one has room again.
    const fresh = await LmdbLevel.open<number>({ path, namespace: 'fresh', sweepIntervalMs: 0 });
    await fresh.setEntry('k', forever(1));
    expect(fresh.getEntrySync('k')?.value).toBe(1);
    await fresh.close();
  });
});

describe('LmdbLevel.open path', () => {
  it('a path with a dot in its last name is a directory too, as documented (lmdb-js alone would take it for a file)', async () => {
    const parent = tempDir();
    const fresh = join(parent, 'quotes.lmdb'); // not there yet
    const l4 = await LmdbLevel.open<number>({ path: fresh, sweepIntervalMs: 0 });
    await l4.setEntry('k', forever(1));
    await l4.close();
    expect(statSync(fresh).isDirectory()).toBe(true);
    expect(readdirSync(fresh).sort()).toEqual(['data.mdb', 'lock.mdb']);
    // An existing directory named like mktemp -d names them (tmp.XXXXXXXX).
    const existing = mkdtempSync(join(parent, 'tmp.'));
    const again = await LmdbLevel.open<number>({ path: existing, sweepIntervalMs: 0 });
    await again.setEntry('k', forever(2));
    expect(again.getEntrySync('k')?.value).toBe(2);
    await again.close();
  });
});

describe('LmdbLevel.open options', () => {
  it('a misspelt option is refused, naming it and the intended one, instead of silently leaving the default', async () => {
    const err = await rejection(LmdbLevel.open({ path: tempDir(), maxEntrys: 10 } as never));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_ULTRA_PERF_UNKNOWN_OPTION');
    expect(err.message).toBe("unknown option 'maxEntrys' for LmdbLevel.open; did you mean 'maxEntries'?");
  });
});

describe('entry layout under attack', () => {
  it('a top-level function is refused like any value the codec cannot encode, never stored as a cached miss', async () => {
    const err = thrown(() => encodeEntry(forever((() => 1) as unknown), msgpackCodec()));
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(err.message).toContain('value');
    const l4 = await LmdbLevel.open<unknown>({ path: tempDir(), sweepIntervalMs: 0 });
    const rej = await rejection(l4.setEntry('fn', forever((() => 1) as unknown)));
    expect(rej.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(l4.getEntrySync('fn')).toBeUndefined();
    await l4.close();
  });

  it('a tag UTF-8 cannot carry (a lone surrogate) is refused, naming entry.tags, instead of coming back as U+FFFD', async () => {
    const l4 = await LmdbLevel.open<number>({ path: tempDir(), sweepIntervalMs: 0 });
    const rej = await rejection(l4.setEntry('k', { ...forever(1), tags: ['ok', '\uD800'] }));
    expect(rej.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(rej.message).toContain('entry.tags[1]');
    expect(l4.getEntrySync('k')).toBeUndefined();
    // Over the tag-block limit: named as the entry's field too.
    const big = await rejection(l4.setEntries([['k', { ...forever(1), tags: ['x'.repeat(70_000)] }]]));
    expect(big.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(big.message).toContain('entries[0][1].tags');
    await l4.close();
  });
});
