/**
 * Order books, native and TS side by side, with nodejs-order-book as the peer:
 * (a) L2 updateBid/updateAsk from JS, per call (batch medians and per-call tails);
 * (b) applyDeltas, 1,000 deltas per call;
 * (c) matching on exchange-core's published mix (9% GTC, 3% IOC, 6% cancel, 82% move)
 *     with about 1,000 resting orders over about 750 price levels: per-call submit/cancel/
 *     modify (returning report objects, and submitInto/modifyInto into one reused
 *     ExecutionReportBuffer, and one packed command per call with submitCommandInto) and
 *     submitBatch, and nodejs-order-book on the same command stream.
 * Throughputs of batch calls (deltas/s, batched ops/s) are the same tasks' medians shown
 * as rates (one figure per workload).
 */
import { OrderBook as PeerBook } from 'nodejs-order-book';

import { backendInfo, cpuAddon } from '../../lib/backend.js';
import { ExecutionReportBuffer, MatchingEngine, OrderBook, type OrderRequest } from '../../lib/index.js';
import { defineSuite, table, type TaskSpec } from '../lib/index.js';

const noNative = cpuAddon === null ? `the CPU addon is not loaded (${backendInfo().nativeError ?? 'unknown reason'})` : undefined;
const backends = (cpuAddon !== null ? ['native', 'ts'] : ['ts']) as ('native' | 'ts')[];

/** A fixed LCG so every run sees the same stream. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// ---- L2 ----------------------------------------------------------------------------------

const kTick = 0.01;
const kMask = 4095;
const rand = rng(0x5eed);
/** Updates within the top 50 levels, sizes never 0 (steady state: no level churn). */
const bidPx = new Float64Array(kMask + 1);
const askPx = new Float64Array(kMask + 1);
const sizes = new Float64Array(kMask + 1);
for (let i = 0; i <= kMask; i++) {
  bidPx[i] = (10_000 - Math.floor(rand() * 50)) / 100;
  askPx[i] = (10_001 + Math.floor(rand() * 50)) / 100;
  sizes[i] = 1 + Math.floor(rand() * 100);
}
/** 1,000 deltas over the top 50 levels of both sides, 10% removals (re-added by later deltas). */
const kDeltas = 1000;
const deltas = new Float64Array(3 * kDeltas);
for (let i = 0; i < kDeltas; i++) {
  const side = rand() < 0.5 ? 0 : 1;
  deltas[3 * i] = side;
  deltas[3 * i + 1] = side === 0 ? (10_000 - Math.floor(rand() * 50)) / 100 : (10_001 + Math.floor(rand() * 50)) / 100;
  deltas[3 * i + 2] = rand() < 0.1 ? 0 : 1 + Math.floor(rand() * 100);
}

function l2Book(backend: 'native' | 'ts'): OrderBook {
  const book = new OrderBook({ symbol: 'BENCH', tickSize: kTick, backend });
  for (let i = 0; i < 500; i++) {
    book.updateBid((10_000 - i) / 100, 10);
    book.updateAsk((10_001 + i) / 100, 10);
  }
  return book;
}

const l2 = Object.fromEntries(backends.map((b) => [b, l2Book(b)])) as Record<'native' | 'ts', OrderBook>;

function l2Tasks(): { batch: TaskSpec[]; tail: TaskSpec[]; deltas: TaskSpec[] } {
  const batch: TaskSpec[] = [];
  const tail: TaskSpec[] = [];
  const deltaTasks: TaskSpec[] = [];
  for (const b of ['native', 'ts'] as const) {
    const skip = b === 'native' && noNative ? { skip: noNative } : {};
    const book = l2[b];
    // One cursor object per task: a computed key per call would cost more than the update.
    const bid = { i: 0 };
    const ask = { i: 0 };
    const one = { i: 0 };
    batch.push(
      {
        name: `${b} updateBid`,
        fn: () => book.updateBid(bidPx[bid.i & kMask]!, sizes[bid.i++ & kMask]!),
        allocationCheck: 2_000_000,
        ...skip,
      },
      {
        name: `${b} updateAsk`,
        fn: () => book.updateAsk(askPx[ask.i & kMask]!, sizes[ask.i++ & kMask]!),
        allocationCheck: 2_000_000,
        ...skip,
      },
    );
    tail.push({
      name: `${b} updateBid, per call`,
      fn: () => book.updateBid(bidPx[one.i & kMask]!, sizes[one.i++ & kMask]!),
      mode: 'per-call',
      ...skip,
    });
    deltaTasks.push({
      name: `${b} applyDeltas(${kDeltas} deltas)`,
      fn: () => book.applyDeltas(deltas),
      rate: { per: kDeltas, unit: 'deltas/s' },
      ...(b === 'native' ? { target: { minRate: 30e6 } } : {}),
      ...skip,
    });
  }
  return { batch, tail, deltas: deltaTasks };
}

// ---- matching: exchange-core's mix -------------------------------------------------------

const kStream = 200_000;
const kCenter = 10_000;
const kHalfRange = 750;
const kResting = 1000;
const kBatch = 1000;

interface Stream {
  prefill: Float64Array;
  commands: Float64Array;
  mix: Record<string, number>;
  restingAfter: number;
  levelsAfter: number;
}

/** Generates the stream by running it once through a TS engine, so every cancel and move names a resting order. */
function generate(): Stream {
  const r = rng(0xc0ffee);
  const me = new MatchingEngine({ symbol: 'GEN', tickSize: kTick, lotSize: 1, backend: 'ts' });
  const live: number[] = [];
  const prefill: number[] = [];
  for (let i = 0; i < kResting; i++) {
    const side = r() < 0.5 ? 0 : 1;
    const ticks = side === 0 ? kCenter - 1 - Math.floor(r() * kHalfRange) : kCenter + Math.floor(r() * kHalfRange);
    const qty = 1 + Math.floor(r() * 10);
    prefill.push(0, side, ticks / 100, qty, 0, 0);
    live.push(me.submit({ side: side === 0 ? 'buy' : 'sell', price: ticks / 100, quantity: qty }).orderId);
  }
  const cmds = new Float64Array(6 * kStream);
  const mix = { gtc: 0, ioc: 0, cancel: 0, move: 0 };
  const pick = (): number => {
    for (;;) {
      const k = Math.floor(r() * live.length);
      const id = live[k]!;
      if (me.getOrder(id) !== undefined) return k;
      live[k] = live[live.length - 1]!;
      live.pop();
    }
  };
  for (let i = 0; i < kStream; i++) {
    const o = 6 * i;
    let x = r();
    const resting = me.bidLevels + me.askLevels > 0 ? live.length : 0;
    if (x < 0.09 && resting > kResting * 1.05) x = 0.15; // GTC -> cancel above the target
    else if (x >= 0.12 && x < 0.18 && resting < kResting * 0.95) x = 0; // cancel -> GTC below it
    if (x < 0.12) {
      const gtc = x < 0.09;
      const side = r() < 0.5 ? 0 : 1;
      const ticks = gtc
        ? side === 0
          ? kCenter - 1 - Math.floor(r() * kHalfRange)
          : kCenter + Math.floor(r() * kHalfRange)
        : side === 0
          ? kCenter + Math.floor(r() * 3)
          : kCenter - 1 - Math.floor(r() * 3);
      const qty = 1 + Math.floor(r() * 10);
      cmds.set([0, side, ticks / 100, qty, gtc ? 0 : 1, 0], o);
      const rep = me.submit({ side: side === 0 ? 'buy' : 'sell', price: ticks / 100, quantity: qty, timeInForce: gtc ? 'GTC' : 'IOC' });
      if (rep.remainingQuantity > 0) live.push(rep.orderId);
      mix[gtc ? 'gtc' : 'ioc']++;
    } else if (x < 0.18) {
      const k = pick();
      const id = live[k]!;
      cmds.set([2, id, 0, 0, 0, 0], o);
      me.cancel(id);
      live[k] = live[live.length - 1]!;
      live.pop();
      mix.cancel++;
    } else {
      const id = live[pick()]!;
      const order = me.getOrder(id)!;
      const old = Math.round(order.price * 100);
      const step = (1 + Math.floor(r() * 4)) * (r() < 0.5 ? -1 : 1);
      const lo = order.side === 'buy' ? kCenter - kHalfRange : kCenter - 2;
      const hi = order.side === 'buy' ? kCenter + 1 : kCenter + kHalfRange;
      const ticks = Math.min(hi, Math.max(lo, old + step === old ? old + 1 : old + step));
      cmds.set([3, id, ticks / 100, Number.NaN, 0, 0], o);
      me.modify(id, { price: ticks / 100 });
      mix.move++;
    }
  }
  let restingAfter = 0;
  for (const id of live) if (me.getOrder(id) !== undefined) restingAfter++;
  return { prefill: new Float64Array(prefill), commands: cmds, mix, restingAfter, levelsAfter: me.bidLevels + me.askLevels };
}

const stream = generate();

/** The stream decoded once into what per-call users pass, so the timed loop allocates only what the API does. */
const kind = new Int8Array(kStream);
const requests: (OrderRequest | null)[] = new Array(kStream).fill(null);
const targetId = new Float64Array(kStream);
const moves: ({ price: number } | null)[] = new Array(kStream).fill(null);
const peerIds: string[] = new Array(kStream).fill('');
const peerOrders: ({ id: string; side: 'buy' | 'sell'; size: number; price: number; timeInForce: 'GTC' | 'IOC' } | null)[] = new Array(kStream).fill(null);
{
  let nextId = kResting + 1;
  for (let i = 0; i < kStream; i++) {
    const c = stream.commands.subarray(6 * i, 6 * i + 6);
    kind[i] = c[0]!;
    if (c[0] === 0) {
      const side = c[1] === 0 ? 'buy' : 'sell';
      const tif = c[4] === 0 ? 'GTC' : 'IOC';
      requests[i] = { side, price: c[2]!, quantity: c[3]!, timeInForce: tif };
      peerOrders[i] = { id: String(nextId++), side, size: c[3]!, price: c[2]!, timeInForce: tif };
    } else {
      targetId[i] = c[1]!;
      peerIds[i] = String(c[1]);
      if (c[0] === 3) moves[i] = { price: c[2]! };
    }
  }
}
const chunks: Float64Array[] = [];
for (let i = 0; i < kStream; i += kBatch) chunks.push(stream.commands.subarray(6 * i, 6 * Math.min(kStream, i + kBatch)));

function freshEngine(backend: 'native' | 'ts'): MatchingEngine {
  const me = new MatchingEngine({ symbol: 'BENCH', tickSize: kTick, lotSize: 1, backend });
  me.submitBatch(stream.prefill);
  return me;
}

function freshPeer(): PeerBook {
  const ob = new PeerBook();
  const p = stream.prefill;
  for (let i = 0; i < p.length; i += 6) {
    ob.limit({ id: String(i / 6 + 1), side: p[i + 1] === 0 ? 'buy' : 'sell', size: p[i + 3]!, price: p[i + 2]! } as never);
  }
  return ob;
}

/** The index of a task's next command, starting over on a fresh engine at the stream's end. */
function nextCommand(state: { me: MatchingEngine; i: number }, backend: 'native' | 'ts'): number {
  const i = state.i++;
  if (i < kStream) return i;
  state.me = freshEngine(backend);
  state.i = 1;
  return 0;
}

function perCallTask(backend: 'native' | 'ts'): TaskSpec {
  const state = { me: freshEngine(backend), i: 0 };
  return {
    name: `${backend} MatchingEngine per call`,
    rate: { per: 1, unit: 'ops/s' },
    ...(backend === 'native' ? { target: { minRate: 3e6 } } : {}),
    ...(backend === 'native' && noNative ? { skip: noNative } : {}),
    fn: () => {
      const i = nextCommand(state, backend);
      const me = state.me;
      const k = kind[i];
      if (k === 0) return me.submit(requests[i]!);
      if (k === 2) return me.cancel(targetId[i]!);
      return me.modify(targetId[i]!, moves[i]!);
    },
  };
}

/**
 * The same stream and protocol as perCallTask, through submitInto / modifyInto into one
 * reused ExecutionReportBuffer: the per-call path that allocates nothing. A function of its
 * own (not a flag on perCallTask) so each task's timed closure has call sites of its own:
 * shared ones would see both APIs and measure a polymorphic call neither caller makes.
 */
function intoTask(backend: 'native' | 'ts'): TaskSpec {
  const state = { me: freshEngine(backend), i: 0 };
  const out = new ExecutionReportBuffer();
  return {
    name: `${backend} MatchingEngine submitInto per call`,
    rate: { per: 1, unit: 'ops/s' },
    ...(backend === 'native' && noNative ? { skip: noNative } : {}),
    fn: () => {
      const i = nextCommand(state, backend);
      const me = state.me;
      const k = kind[i];
      if (k === 0) return me.submitInto(requests[i]!, out);
      if (k === 2) return me.cancel(targetId[i]!);
      return me.modifyInto(targetId[i]!, moves[i]!, out);
    },
  };
}

/**
 * The same stream and protocol again, one packed command (submitBatch's format) per call
 * through submitCommandInto into one reused ExecutionReportBuffer: no order, changes or
 * report object at all.
 */
function commandTask(backend: 'native' | 'ts'): TaskSpec {
  const state = { me: freshEngine(backend), i: 0 };
  const out = new ExecutionReportBuffer();
  const commands = stream.commands;
  return {
    name: `${backend} MatchingEngine submitCommandInto per call`,
    rate: { per: 1, unit: 'ops/s' },
    ...(backend === 'native' && noNative ? { skip: noNative } : {}),
    fn: () => {
      const i = nextCommand(state, backend);
      return state.me.submitCommandInto(commands, i, out);
    },
  };
}

const fillsOut = new Float64Array(4 * 64 * kBatch);

function batchTask(backend: 'native' | 'ts'): TaskSpec {
  const state = { me: freshEngine(backend), c: 0 };
  return {
    name: `${backend} submitBatch(${kBatch} commands)`,
    rate: { per: kBatch, unit: 'ops/s' },
    ...(backend === 'native' ? { target: { minRate: 10e6 } } : {}),
    ...(backend === 'native' && noNative ? { skip: noNative } : {}),
    fn: () => {
      if (state.c === chunks.length) {
        state.me = freshEngine(backend);
        state.c = 0;
      }
      return state.me.submitBatch(chunks[state.c++]!, fillsOut).processed;
    },
  };
}

function peerTask(): TaskSpec {
  const state = { ob: freshPeer(), i: 0 };
  return {
    name: 'nodejs-order-book per call',
    rate: { per: 1, unit: 'ops/s' },
    fn: () => {
      let i = state.i++;
      if (i === kStream) {
        state.ob = freshPeer();
        state.i = 1;
        i = 0;
      }
      const ob = state.ob;
      const k = kind[i];
      if (k === 0) return ob.limit(peerOrders[i]! as never);
      if (k === 2) return ob.cancel(peerIds[i]!);
      return ob.modify(peerIds[i]!, moves[i]! as never);
    },
  };
}

const tasks = l2Tasks();

export default defineSuite({
  name: 'orderbook',
  description: 'L2 updates and deltas, matching on exchange-core\'s mix; native, TS and nodejs-order-book',
  timeMs: 1500,
  warmupMs: 300,
  groups: [
    { name: 'l2-update', description: 'updateBid/updateAsk on a 500-level book, top 50 levels, sizes never 0 (batch medians)', tasks: tasks.batch },
    { name: 'l2-update-tail', description: 'updateBid timed one call at a time (p99 of single calls; clock jitter dominates below ~100 ns)', tasks: tasks.tail },
    { name: 'l2-deltas', description: `applyDeltas of ${kDeltas} packed deltas (one native call); per op = one batch`, tasks: tasks.deltas },
    {
      name: 'matching',
      description: 'exchange-core mix (9% GTC, 3% IOC, 6% cancel, 82% move), ~1,000 resting orders over ~750 levels; per op = one command',
      tasks: [perCallTask('native'), intoTask('native'), commandTask('native'), perCallTask('ts'), intoTask('ts'), commandTask('ts'), peerTask()],
    },
    {
      name: 'matching-batch',
      description: `the same stream through submitBatch, ${kBatch} commands per call; per op = one batch`,
      tasks: [batchTask('native'), batchTask('ts')],
    },
  ],
  extras: () => {
    console.log(`\n-- the matching stream: ${kStream.toLocaleString('en-US')} commands after ${kResting.toLocaleString('en-US')} resting orders`);
    console.log(table(['command', 'count'], Object.entries(stream.mix).map(([k, v]) => [k, v.toLocaleString('en-US')])));
    console.log(`  after the stream (TS engine): ${stream.restingAfter.toLocaleString('en-US')} resting orders over ${stream.levelsAfter} levels`);
    return { stream: { commands: kStream, mix: stream.mix, restingAfter: stream.restingAfter, levelsAfter: stream.levelsAfter } };
  },
});
