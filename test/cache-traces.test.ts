// The hit-ratio bench's inputs (bench/cache): each trace reader on the committed copies gives
// the request and key counts their PROVENANCE.md states, bad bytes are refused at the right
// place, and Bélády's optimum (next-use times + heap) equals a brute-force one on tiny traces.
// The readers and the optimum do not depend on the backend; the suite still runs under both.
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { beladyHits, beladyHitsBruteForce } from '../bench/cache/belady.js';
import { concatTraces, readTrace, type TraceFormat } from '../bench/cache/traces.js';
import { thrown } from './helpers/thrown.js';

const dir = 'bench/data/cache-traces/';

describe('trace readers on the committed traces', () => {
  const cases: [TraceFormat, string, number, number][] = [
    ['lirs', 'lirs/loop.trace.gz', 505_500, 1_011],
    ['lirs', 'lirs/gli.trace.gz', 6_015, 2_529],
    ['lirs', 'lirs/multi2.trace.gz', 26_311, 5_684],
    ['lirs', 'lirs/cs.trace.gz', 6_781, 1_409],
    ['lirs', 'lirs/sprite.trace.gz', 133_996, 7_075],
    ['lirs', 'lirs/2_pools.trace.gz', 100_000, 9_939],
    ['cache2k', 'cache2k/web07.trace.gz', 76_118, 20_484],
    ['cache2k', 'cache2k/orm-busy-1m.trace.gz', 1_000_000, 44_178],
    ['corda', 'corda/trace_vaultservice.gz', 135_702, 90_468],
    ['arc', 'arc/OLTP.lis.gz', 914_145, 186_880],
    ['scarab', 'scarab/scarab-recs-300k.trace.gz', 300_000, 94_554],
  ];
  for (const [format, file, requests, distinct] of cases) {
    it(`${file}: ${requests} requests, ${distinct} keys`, () => {
      const t = readTrace(format, dir + file);
      expect(t.ids.length).toBe(requests);
      expect(t.distinct).toBe(distinct);
      expect(t.capped).toBe(false);
      expect(Math.max(...t.ids.subarray(0, 1000))).toBeLessThan(distinct);
    });
  }

  it('caps a trace and keeps first-seen ids', () => {
    const t = readTrace('lirs', dir + 'lirs/gli.trace.gz', 5);
    // gli starts 0, 1, 1, 2, 3
    expect(Array.from(t.ids)).toEqual([0, 1, 1, 2, 3]);
    expect(t.capped).toBe(true);
    const c = readTrace('corda', dir + 'corda/trace_vaultservice.gz', 4);
    // first keys 4115321255546405575, 380797412902322124, 4115321255546405575, 132623537505376851
    expect(Array.from(c.ids)).toEqual([0, 1, 0, 2]);
  });

  it('refuses bad bytes where they are', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'traces-'));
    writeFileSync(join(tmp, 'bad.lirs'), '1\n2\n*\nthree\n');
    expect(thrown(() => readTrace('lirs', join(tmp, 'bad.lirs')))).toMatchObject({ code: 'ERR_ULTRA_PERF_SOURCE_FORMAT', where: 'line 4' });
    writeFileSync(join(tmp, 'bad.i32'), Buffer.from([0, 0, 0, 1, 0, 0]));
    expect(thrown(() => readTrace('cache2k', join(tmp, 'bad.i32')))).toMatchObject({ where: 'byte 4' });
    writeFileSync(join(tmp, 'bad.i64'), Buffer.alloc(12));
    expect(thrown(() => readTrace('corda', join(tmp, 'bad.i64')))).toMatchObject({ where: 'byte 8' });
    writeFileSync(join(tmp, 'bad.arc'), '1 2 0 0\n5 x 0 1\n');
    expect(thrown(() => readTrace('arc', join(tmp, 'bad.arc')))).toMatchObject({ where: 'line 2' });
    writeFileSync(join(tmp, 'ok.arc'), '10 3 0 0\n11 1 0 1\n');
    expect(Array.from(readTrace('arc', join(tmp, 'ok.arc')).ids)).toEqual([0, 1, 2, 1]);
  });

  it('concatenates phases, a repeated trace keeping its keys', () => {
    const a = { name: 'a', ids: Int32Array.from([0, 1, 0]), distinct: 2, capped: false };
    const b = { name: 'b', ids: Int32Array.from([0, 0]), distinct: 1, capped: false };
    const t = concatTraces('abc', [a, b, a]);
    expect(Array.from(t.ids)).toEqual([0, 1, 0, 2, 2, 0, 1, 0]);
    expect(t.distinct).toBe(3);
  });
});

describe("Bélády's optimum", () => {
  it('equals brute force on tiny traces', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 60 }), fc.integer({ min: 0, max: 6 }), (keys, cap) => {
        expect(beladyHits(Int32Array.from(keys), 10, cap)).toBe(beladyHitsBruteForce(keys, cap));
      }),
      { numRuns: 1000 },
    );
  });

  it('hits everything after the first pass when the loop fits, and agrees with brute force when it does not', () => {
    const ids = new Int32Array(10 * 5).map((_, i) => i % 5);
    expect(beladyHits(ids, 5, 5)).toBe(45);
    expect(beladyHits(ids, 5, 4)).toBe(beladyHitsBruteForce(Array.from(ids), 4));
    expect(beladyHits(ids, 5, 0)).toBe(0);
  });
});
