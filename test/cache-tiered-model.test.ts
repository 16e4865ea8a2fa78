/**
 * Differential test of the whole TieredCache against a Map model with TTLs on a fake clock
 * (issue 16 item 1): random sequences of set / setMany / delete / deleteByTag / clear /
 * getOrLoad / get / getSync / getMany / clock steps, in one process and in two "processes"
 * sharing an in-memory fleet (L3 with manual invalidation delivery, and one L4 store as two
 * processes on a host share an LMDB file).
 *
 * What must hold: a read never returns a value that was overwritten or deleted (or expired).
 * In one process every read is exact (getSync may miss: it stops at L2). Across processes a
 * reader may still see the value another process overwrote until that invalidation is
 * delivered (`deliver`), never after.
 *
 * Versions order writes by wall-clock ms (then a per-process counter): two processes writing
 * within one ms, before either heard of the other's write, are concurrent and either may win.
 * The fleet run therefore steps the clock by 1 ms before each write, as sequential writes from
 * different processes are in practice; same-ms ordering within one process is covered by the
 * one-process run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { type AsyncLevel, L1Cache, LmdbLevel, SharedCache, type SyncLevel, TieredCache } from '../lib/cache/index.js';
import { msgpackCodec } from '../lib/net/codec.js';
import { InMemoryFleet, MapAsyncLevel, MapSyncLevel } from './helpers/cache-levels.js';
import { type FakeClock, fakeClock } from './helpers/fake-clock.js';

type Val = string | undefined;
interface MEntry {
  value: Val;
  expiresAt: number;
  tags: readonly string[];
}

const kKeys = ['k0', 'k1', 'k2', 'k3'];
const kTags = ['a', 'b'];

type Op =
  | { t: 'set'; p: number; key: string; ttl: number | undefined; tags: string[] }
  | { t: 'setMany'; p: number; keys: string[]; ttl: number | undefined }
  | { t: 'delete'; p: number; key: string }
  | { t: 'deleteByTag'; p: number; tag: string }
  | { t: 'clear'; p: number }
  | { t: 'getOrLoad'; p: number; key: string; miss: boolean; ttl: number | undefined }
  | { t: 'get'; p: number; key: string }
  | { t: 'getSync'; p: number; key: string }
  | { t: 'getMany'; p: number; keys: string[] }
  | { t: 'advance'; ms: number }
  | { t: 'deliver' };

function ops(processes: number): fc.Arbitrary<Op[]> {
  const p = fc.integer({ min: 0, max: processes - 1 });
  const key = fc.constantFrom(...kKeys);
  const ttl = fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant('set' as const), p, key, ttl, tags: fc.subarray(kTags) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('setMany' as const), p, keys: fc.uniqueArray(key, { minLength: 1, maxLength: 3 }), ttl }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('delete' as const), p, key }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('deleteByTag' as const), p, tag: fc.constantFrom(...kTags) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('clear' as const), p }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('getOrLoad' as const), p, key, miss: fc.boolean(), ttl }) },
    { weight: 5, arbitrary: fc.record({ t: fc.constant('get' as const), p, key }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('getSync' as const), p, key }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('getMany' as const), p, keys: fc.array(key, { minLength: 1, maxLength: 4 }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }) },
    ...(processes > 1 ? [{ weight: 3, arbitrary: fc.constant({ t: 'deliver' as const }) }] : []),
  );
  return fc.array(op, { minLength: 10, maxLength: 80, size: 'max' });
}

/** The model: current entries, and per process the overwritten entries it may still see until delivery. */
class Model {
  readonly cur = new Map<string, MEntry>();
  readonly stale: Map<string, MEntry[]>[];
  constructor(processes: number, private readonly now: () => number) {
    this.stale = Array.from({ length: processes }, () => new Map());
  }

  private fresh(e: MEntry | undefined): e is MEntry {
    return e !== undefined && this.now() < e.expiresAt;
  }

  /** Process p writes `key` (null: deletes). `ownCopies: 'kept'` when p's own copies are not overwritten (deleteByTag). */
  write(p: number, key: string, e: MEntry | null, ownCopies: 'replaced' | 'kept' = 'replaced'): void {
    const old = this.cur.get(key);
    this.stale.forEach((s, q) => {
      if (q === p) {
        if (ownCopies === 'replaced') s.delete(key);
      }
      else if (this.fresh(old)) s.set(key, [...(s.get(key) ?? []), old]);
    });
    if (e === null) this.cur.delete(key);
    else this.cur.set(key, e);
  }

  deliver(): void {
    for (const s of this.stale) s.clear();
  }

  /** Fresh entries process p may read for `key`. */
  allowed(p: number, key: string): MEntry[] {
    const out = (this.stale[p]!.get(key) ?? []).filter((e) => this.fresh(e));
    const c = this.cur.get(key);
    if (this.fresh(c)) out.push(c);
    return out;
  }

  curFresh(key: string): boolean {
    return this.fresh(this.cur.get(key));
  }

  /** A get() result is right: an allowed value, or undefined when nothing current is fresh. */
  okGet(p: number, key: string, r: Val): boolean {
    return this.allowed(p, key).some((e) => e.value === r) || (r === undefined && !this.curFresh(key));
  }
}

/** Levels for one process of the run: the Map doubles, or the real L1Cache / SharedCache / LmdbLevel. */
type LevelFactory = (clock: FakeClock) => Promise<{ l1: SyncLevel<string>; l2: SyncLevel<string>; l4: AsyncLevel<string> }>;

async function runModel(processes: number, sequence: Op[], levels?: LevelFactory): Promise<void> {
  const clock = fakeClock();
  const codec = msgpackCodec<string>();
  const fleet = processes > 1 ? new InMemoryFleet<string>(clock, 'manual', codec) : null;
  const sharedL4 = new Map<string, Uint8Array>();
  const caches: TieredCache<string>[] = [];
  for (let i = 0; i < processes; i++) {
    const { l1, l2, l4 } =
      levels !== undefined
        ? await levels(clock)
        : {
            l1: new MapSyncLevel<string>('l1', clock, 2),
            l2: new MapSyncLevel<string>('l2', clock, 3),
            l4: new MapAsyncLevel<string>({ name: 'l4', clock, codec, store: sharedL4 as Map<string, never> }),
          };
    caches.push(new TieredCache<string>({ name: `p${i}`, l1, l2, l3: fleet?.connect(), l4, clock }));
  }
  const model = new Model(processes, clock);
  let n = 0;
  const entry = (value: Val, ttl: number | undefined, tags: readonly string[] = []): MEntry => ({
    value,
    expiresAt: clock() + (ttl ?? Infinity),
    tags,
  });
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
  const tick = (): void => {
    if (processes > 1) clock.advance(1);
  };
  try {
    for (const [i, op] of sequence.entries()) {
      const where = `op ${i} ${JSON.stringify(op)}`;
      switch (op.t) {
        case 'set': {
          tick();
          const v = `v${++n}`;
          await caches[op.p]!.set(op.key, v, { ttlMs: op.ttl, tags: op.tags });
          model.write(op.p, op.key, entry(v, op.ttl, op.tags));
          break;
        }
        case 'setMany': {
          tick();
          const pairs = op.keys.map((k) => [k, `v${++n}`] as [string, string]);
          await caches[op.p]!.setMany(pairs, { ttlMs: op.ttl });
          for (const [k, v] of pairs) model.write(op.p, k, entry(v, op.ttl));
          break;
        }
        case 'delete':
          tick();
          await caches[op.p]!.delete(op.key);
          model.write(op.p, op.key, null);
          break;
        case 'deleteByTag':
          tick();
          await caches[op.p]!.deleteByTag(op.tag);
          // p's copies of other processes' overwritten values live on unless they carry the tag.
          for (const [k, e] of [...model.cur]) if (e.tags.includes(op.tag)) model.write(op.p, k, null, 'kept');
          for (const [k, es] of model.stale[op.p]!) model.stale[op.p]!.set(k, es.filter((e) => !e.tags.includes(op.tag)));
          break;
        case 'clear':
          tick();
          await caches[op.p]!.clear();
          for (const k of [...model.cur.keys()]) model.write(op.p, k, null);
          break;
        case 'getOrLoad': {
          tick();
          const loaded: Val = op.miss ? undefined : `v${++n}`;
          let calls = 0;
          const r = await caches[op.p]!.getOrLoad(op.key, () => (calls++, loaded), { ttlMs: op.ttl });
          if (calls > 0) {
            expect(calls, where).toBe(1);
            expect(r, where).toBe(loaded);
            model.write(op.p, op.key, entry(loaded, op.ttl));
          } else {
            // No load: the answer is a fresh value this process may see (a cached miss counts).
            expect(model.allowed(op.p, op.key).some((e) => e.value === r), `${where} -> ${r}`).toBe(true);
          }
          break;
        }
        case 'get': {
          const r = await caches[op.p]!.get(op.key);
          expect(model.okGet(op.p, op.key, r), `${where} -> ${r}, model ${JSON.stringify(model.allowed(op.p, op.key))}`).toBe(true);
          break;
        }
        case 'getSync': {
          const r = caches[op.p]!.getSync(op.key);
          const ok = r === undefined || model.allowed(op.p, op.key).some((e) => e.value === r);
          expect(ok, `${where} -> ${r}, model ${JSON.stringify(model.allowed(op.p, op.key))}`).toBe(true);
          break;
        }
        case 'getMany': {
          const rs = await caches[op.p]!.getMany(op.keys);
          op.keys.forEach((k, j) => expect(model.okGet(op.p, k, rs[j]), `${where} [${k}] -> ${rs[j]}`).toBe(true));
          break;
        }
        case 'advance':
          clock.advance(op.ms);
          break;
        case 'deliver':
          fleet!.deliver();
          model.deliver();
          await settle(); // the L4 re-checks a delivery starts
          break;
      }
    }
  } finally {
    for (const c of caches) await c.close();
  }
}

describe('TieredCache against a Map model (fast-check)', () => {
  it('one process, L1 + L2 (small, evicting) + L4: every read equals the model', async () => {
    await fc.assert(fc.asyncProperty(ops(1), (sequence) => runModel(1, sequence)), { numRuns: 300 });
  });

  it('two processes sharing an in-memory fleet (L3) and an L4: no overwritten value is read once the invalidation is delivered', async () => {
    await fc.assert(fc.asyncProperty(ops(2), (sequence) => runModel(2, sequence)), { numRuns: 300 });
  });

  it('one process on the real levels: L1Cache (W-TinyLFU, 4 entries), SharedCache (8 entries), LmdbLevel', async () => {
    // 50 runs: every write here is an LMDB commit (about 10 s for 100 runs on a loaded 2-core box).
    const dir = mkdtempSync(join(tmpdir(), 'tiered-model-'));
    let run = 0;
    const real: LevelFactory = async (clock) => ({
      l1: new L1Cache<string>({ maxEntries: 4, clock }),
      l2: SharedCache.create<string>({ maxEntries: 8, clock }),
      l4: await LmdbLevel.open<string>({ path: join(dir, 'l4'), namespace: `run${++run}`, clock }),
    });
    try {
      await fc.assert(fc.asyncProperty(ops(1), (sequence) => runModel(1, sequence, real)), { numRuns: 50 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
