// Issue 12 (kind 2) for the order books: applyDeltas and submitBatch read each element of their
// input exactly once. A worker rewrites a SharedArrayBuffer-backed input while the calls run;
// whatever it writes, what is applied is what was validated, so after every call each level
// is valid (a property checked after every call; the loop's length only sets how many calls).
import { Worker } from 'node:worker_threads';

import { afterEach, describe, expect, it } from 'vitest';

import { cpuAddon } from '../lib/backend.js';
import { BatchOp, MatchingEngine, OrderBook } from '../lib/index.js';

/** The backends this project can run: both under native, only ts under ts. */
const backends: ('ts' | 'native')[] = cpuAddon !== null ? ['ts', 'native'] : ['ts'];

/** How long each loop calls (and at least kMinCalls calls); the assertions hold after every call. */
const kLoopMs = 1000;
const kMinCalls = 50;

/**
 * A worker that, during each call the main thread brackets with begin()/end(), waits a
 * random part of a call's length (learned from the calls before) and then writes one value
 * from a list of bad ones (negative, NaN, infinite, huge, off the lot grid, other sides and
 * flags) over a random element: often after the call validated it and before it applied it.
 */
async function startRacer(data: SharedArrayBuffer): Promise<{ begin: () => void; end: () => void; stop: () => Promise<number> }> {
  // control: [0] stop, [1] call sequence (odd while a call runs), [2] writes made.
  const control = new SharedArrayBuffer(12);
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const d = new Float64Array(workerData.data);
    const ctl = new Int32Array(workerData.control);
    const bad = [-5, -7, -1, NaN, 1e300, 0.5, 2 ** 53, Infinity, 9, 3, 2];
    let x = 0x2545f491;
    const next = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
    let estimate = 1000;
    let writes = 0;
    parentPort.postMessage('started');
    while (Atomics.load(ctl, 0) === 0) {
      const seq = Atomics.load(ctl, 1);
      if ((seq & 1) === 0) continue;
      const delay = next() % estimate;
      let spins = 0;
      while (spins < delay && Atomics.load(ctl, 1) === seq) spins++;
      if (Atomics.load(ctl, 1) === seq) {
        d[next() % d.length] = bad[next() % bad.length];
        writes++;
        while (Atomics.load(ctl, 1) === seq && Atomics.load(ctl, 0) === 0) spins++;
      }
      estimate = Math.max(16, Math.round((7 * estimate + spins) / 8));
      while (Atomics.load(ctl, 1) === seq && Atomics.load(ctl, 0) === 0);
    }
    Atomics.store(ctl, 2, writes);
    parentPort.postMessage('stopped');
  `;
  const worker = new Worker(code, { eval: true, workerData: { data, control } });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  const ctl = new Int32Array(control);
  running.push(worker);
  return {
    begin: () => void Atomics.add(ctl, 1, 1),
    end: () => void Atomics.add(ctl, 1, 1),
    stop: async () => {
      Atomics.store(ctl, 0, 1);
      await new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      return ctl[2]!;
    },
  };
}

const running: Worker[] = [];
afterEach(async () => {
  // A test that failed mid-loop leaves its worker spinning: end it.
  await Promise.all(running.splice(0).map((w) => w.terminate()));
});

/** Every level of a depth: on the 1-tick and 1-lot grids, price >= 0, sorted best first. */
function badLevels(levels: Float64Array, descending: boolean): string[] {
  const bad: string[] = [];
  for (let i = 0; i < levels.length; i += 2) {
    const p = levels[i]!;
    const q = levels[i + 1]!;
    if (!(Number.isInteger(p) && p >= 0 && p <= Number.MAX_SAFE_INTEGER)) bad.push(`price ${p}`);
    if (!(Number.isInteger(q) && q > 0 && q <= 2 ** 63)) bad.push(`size ${q} at ${p}`);
    if (i > 0 && !(descending ? p < levels[i - 2]! : p > levels[i - 2]!)) bad.push(`order ${levels[i - 2]} then ${p}`);
  }
  return bad;
}

/** A refused call is a RangeError with a code; anything else fails the test. */
function expectRefusal(err: unknown): void {
  expect(err).toBeInstanceOf(RangeError);
  expect((err as { code?: string }).code).toBe('ERR_OUT_OF_RANGE');
}

/**
 * Calls `call` on `input` (refilled before each call) while a racer rewrites it, for kLoopMs
 * and at least kMinCalls calls; after every call `check` must list no bad level. A refused
 * call must be a RangeError with a code. Returns the calls that were applied.
 */
async function race(input: Float64Array, refill: () => void, call: () => void, check: () => string[]): Promise<number> {
  const racer = await startRacer(input.buffer as SharedArrayBuffer);
  let calls = 0;
  let applied = 0;
  const t0 = Date.now();
  while (calls < kMinCalls || Date.now() - t0 < kLoopMs) {
    refill();
    racer.begin();
    try {
      call();
      applied++;
    } catch (err) {
      expectRefusal(err);
    } finally {
      racer.end();
    }
    calls++;
    const bad = check();
    if (bad.length > 0) expect.fail(`after call ${calls}: ${bad.slice(0, 5).join(', ')}`);
  }
  expect(await racer.stop()).toBeGreaterThan(0);
  return applied;
}

describe.each(backends)('shared input rewritten during the call (%s)', (backend) => {
  it('applyDeltas applies only validated deltas: no negative, NaN or off-grid level', async () => {
    const book = new OrderBook({ symbol: 'X', tickSize: 1, lotSize: 1, backend });
    const n = 2000;
    const d = new Float64Array(new SharedArrayBuffer(24 * n));
    const refill = (): void => {
      for (let i = 0; i < n; i++) {
        d[3 * i] = i & 1;
        d[3 * i + 1] = (i % 500) + 1;
        d[3 * i + 2] = i % 3;
      }
    };
    const check = (): string[] => {
      const { bids, asks } = book.depth(1 << 30);
      return [...badLevels(bids, true), ...badLevels(asks, false)];
    };
    // At most one bad value lands per call: most calls pass validation and apply.
    expect(await race(d, refill, () => book.applyDeltas(d), check)).toBeGreaterThan(0);
  });

  it('submitBatch runs only validated commands: levels stay valid and the book never crosses', async () => {
    const me = new MatchingEngine({ symbol: 'X', tickSize: 1, lotSize: 1, backend });
    const n = 1000;
    const c = new Float64Array(new SharedArrayBuffer(48 * n));
    const fills = new Float64Array(4 * n);
    // Bids and asks at the same prices: each ask fills the bid before it.
    const refill = (): void => {
      for (let i = 0; i < n; i++) c.set([BatchOp.limit, i & 1, 100 + ((i >> 1) % 50), 1, 0, 0], 6 * i);
    };
    const check = (): string[] => {
      const { bids, asks } = me.depth(1 << 30);
      const bad = [...badLevels(bids, true), ...badLevels(asks, false)];
      if (me.isCrossed()) bad.push(`crossed: bid ${me.bestBidPrice()} ask ${me.bestAskPrice()}`);
      return bad;
    };
    expect(await race(c, refill, () => me.submitBatch(c, fills), check)).toBeGreaterThan(0);
  });

  it('submitBatch with fillsOut over its own commands runs the commands it validated', () => {
    const me = new MatchingEngine({ symbol: 'X', tickSize: 1, lotSize: 1, backend });
    for (let k = 0; k < 6; k++) me.submit({ side: 'sell', type: 'limit', price: 100, quantity: 1 });
    // A market buy of 6 (six fills; the first three are written over both commands), then a bid at 99.
    const c = new Float64Array([BatchOp.market, 0, 0, 6, 0, 0, BatchOp.limit, 0, 99, 1, 0, 0]);
    const r = me.submitBatch(c, c);
    expect(r).toMatchObject({ processed: 2, fills: 6, fillsWritten: 3 });
    expect(Array.from(c.subarray(0, 4))).toEqual([1, 7, 100, 1]);
    // Read again, command 1 would now be (100, 1, 3, 7, 100, 1).
    expect(me.bestBidPrice()).toBe(99);
    expect(me.bestAskPrice()).toBeNaN();
  });
});
