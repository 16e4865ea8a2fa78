/**
 * bench/memory: the allocators and the object pool from JS, each beside what a Node
 * program would otherwise do, and GC pauses on an allocation-churn workload with and
 * without pooling. `npm run bench -- memory` writes bench/out/memory.json.
 *
 * Groups: a slab alloc+free pair on the TS path (unshared and on a SharedArrayBuffer) vs
 * new ArrayBuffer(64) and Buffer.allocUnsafe(64); the same for a buddy allocator over
 * 16 B..4 KiB requests; ObjectPool acquire+release vs a new object. Beside them, why the
 * allocators have no native backend from JS (docs/memory-layout.md): the same pair through
 * the addon's raw bindings (the cheapest route from JS into cpp/memory, with no wrapper) and
 * two calls into the addon that do almost nothing (currentCpu), the floor of any native pair.
 * Every op is its own function literal: closures made from one literal share V8 type
 * feedback, and a call site that saw several allocator kinds would go polymorphic.
 * Peers that allocate pay for their garbage collection in the samples it lands in.
 */
import { SlabAllocator, BuddyAllocator, GcMonitor, ObjectPool, backendInfo } from '../../lib/index.js';
import { cpuAddon } from '../../lib/backend.js';
import { memoryAddon } from '../../lib/memory/common.js';
import { defineSuite, type Figure, formatMs, progressDetail, table } from '../lib/index.js';

/** The targets for one pair from JS (default path, unshared), judged on the task's median. */
const kTargetsNs = {
  'SlabAllocator alloc+free (ts)': 15,
  'BuddyAllocator alloc+free (ts)': 80,
  'ObjectPool acquire+release': 10,
};
const target = (name: keyof typeof kTargetsNs) => ({ target: { maxNs: kTargetsNs[name] } });

const noNative =
  memoryAddon === null ? `the CPU addon's memory bindings are not loaded (${backendInfo().nativeError ?? 'stale addon'})` : undefined;
const nativeOnly = noNative !== undefined ? { skip: noNative } : {};

// ---- slab: 64-byte slots, half of 4096 live ----

function slab(shared: boolean): SlabAllocator {
  const s = new SlabAllocator({ slotBytes: 64, slots: 4096, shared });
  for (let i = 0; i < 2048; i++) s.alloc();
  return s;
}
const slabTs = slab(false);
const slabTsShared = slab(true);
/** The bytes of slabs the raw bindings run on (the TS and C++ allocators share one layout). */
const slabRaw = new Uint8Array(slab(false).buffer);
const slabRawShared = new Uint8Array(slab(true).buffer);

// ---- buddy: 4 MiB in 64-byte min blocks, mixed sizes, a few hundred live ----

const sizes = Int32Array.from({ length: 256 }, (_, i) => 16 + (((i * 2654435761) >>> 0) % 4080));
function buddy(shared: boolean): BuddyAllocator {
  const b = new BuddyAllocator({ bytes: 1 << 22, minBlock: 64, shared });
  for (let i = 0; i < 400; i++) {
    const off = b.alloc(sizes[i & 255]!);
    if (i % 3 === 0 && off >= 0) b.free(off);
  }
  return b;
}
const buddyTs = buddy(false);
const buddyTsShared = buddy(true);
const buddyRaw = new Uint8Array(buddy(false).buffer);
const buddyRawShared = new Uint8Array(buddy(true).buffer);
const cursor = { ts: 0, tsShared: 0, native: 0, nativeShared: 0, ab: 0, buf: 0 };

// ---- pool ----

interface Order {
  id: number;
  price: number;
  qty: number;
  side: number;
}
const makeOrder = (): Order => ({ id: 0, price: 0, qty: 0, side: 0 });
const pool = new ObjectPool<Order>({ create: makeOrder, initialSize: 64 });
const poolReset = new ObjectPool<Order>({
  create: makeOrder,
  reset: (o) => {
    o.id = 0;
    o.price = 0;
    o.qty = 0;
    o.side = 0;
  },
  initialSize: 64,
});
let price = 0;

// ---- GC pauses under churn, with and without pooling ----

const kMessages = 2_000_000;
const kInFlight = 2048;

interface Churn {
  wallMs: number;
  gcCount: number;
  minor: number;
  major: number;
  gcTotalMs: number;
  gcMaxMs: number;
  gcP99Ms: number;
}

/**
 * A feed handler: each message makes an order and a 64-byte payload that stay alive for
 * the next kInFlight messages, then die. Pooled: the orders come from an ObjectPool and
 * the payloads from a SlabAllocator written through one Uint8Array over its buffer.
 */
async function churn(pooled: boolean): Promise<Churn> {
  const inFlight: (Order | null)[] = new Array(kInFlight).fill(null);
  const payloads: (Uint8Array | null)[] = new Array(kInFlight).fill(null);
  const orders = new ObjectPool<Order>({ create: makeOrder, initialSize: kInFlight });
  const payloadSlab = new SlabAllocator({ slotBytes: 64, slots: kInFlight });
  const bytes = new Uint8Array(payloadSlab.buffer);
  const slots = new Int32Array(kInFlight).fill(-1);
  await new Promise((r) => setImmediate(r));
  const monitor = new GcMonitor().start();
  const t0 = performance.now();
  for (let i = 0; i < kMessages; i++) {
    const j = i & (kInFlight - 1);
    if (pooled) {
      const old = inFlight[j];
      if (old != null) orders.release(old);
      if (slots[j]! >= 0) payloadSlab.free(slots[j]!);
      const o = orders.acquire();
      o.id = i;
      o.price = 100 + (i & 15);
      inFlight[j] = o;
      const off = payloadSlab.alloc();
      slots[j] = off;
      bytes[off] = i & 255;
    } else {
      inFlight[j] = { id: i, price: 100 + (i & 15), qty: 0, side: 0 };
      const p = new Uint8Array(64);
      p[0] = i & 255;
      payloads[j] = p;
    }
    // Let Node deliver GC entries as a real event loop would.
    if ((i & 0xffff) === 0) await new Promise((r) => setImmediate(r));
  }
  const wallMs = performance.now() - t0;
  await new Promise((r) => setImmediate(r));
  const s = monitor.stop();
  return {
    wallMs,
    gcCount: s.total.count,
    minor: s.byKind.minor.count,
    major: s.byKind.major.count,
    gcTotalMs: s.total.totalMs,
    gcMaxMs: s.total.maxMs,
    gcP99Ms: s.total.p99Ms,
  };
}

function medianOf(runs: Churn[]): Churn {
  const mid = (pick: (c: Churn) => number) => runs.map(pick).sort((a, b) => a - b)[runs.length >> 1]!;
  return {
    wallMs: mid((c) => c.wallMs),
    gcCount: mid((c) => c.gcCount),
    minor: mid((c) => c.minor),
    major: mid((c) => c.major),
    gcTotalMs: mid((c) => c.gcTotalMs),
    gcMaxMs: mid((c) => c.gcMaxMs),
    gcP99Ms: mid((c) => c.gcP99Ms),
  };
}

export default defineSuite({
  name: 'memory',
  description: 'slab/buddy alloc+free and ObjectPool from JS vs ArrayBuffer, Buffer and new; GC pauses with and without pooling',
  timeMs: 1000,
  warmupMs: 250,
  groups: [
    {
      name: 'slab',
      description: 'one 64-byte slot: alloc+free on the TS path vs allocating a fresh buffer; the raw bindings and the addon-call floor show why there is no native backend',
      tasks: [
        {
          name: 'SlabAllocator alloc+free (ts)',
          ...target('SlabAllocator alloc+free (ts)'),
          fn: () => {
            const o = slabTs.alloc();
            slabTs.free(o);
            return o;
          },
          allocationCheck: 2_000_000,
        },
        {
          name: 'SlabAllocator alloc+free (ts, shared)',
          fn: () => {
            const o = slabTsShared.alloc();
            slabTsShared.free(o);
            return o;
          },
          allocationCheck: 2_000_000,
        },
        {
          name: 'slabAlloc+slabFree raw bindings (C++ from JS, no wrapper)',
          fn: () => {
            const o = memoryAddon!.slabAlloc(slabRaw);
            memoryAddon!.slabFree(slabRaw, o);
            return o;
          },
          allocationCheck: 1_000_000,
          ...nativeOnly,
        },
        {
          name: 'slabAlloc+slabFree raw bindings (shared)',
          fn: () => {
            const o = memoryAddon!.slabAlloc(slabRawShared);
            memoryAddon!.slabFree(slabRawShared, o);
            return o;
          },
          allocationCheck: 1_000_000,
          ...nativeOnly,
        },
        {
          name: '2 x currentCpu() (two addon calls doing ~nothing: the floor)',
          fn: () => cpuAddon!.currentCpu() + cpuAddon!.currentCpu(),
          allocationCheck: 1_000_000,
          ...nativeOnly,
        },
        { name: 'new ArrayBuffer(64)', fn: () => new ArrayBuffer(64), allocationCheck: 1_000_000 },
        { name: 'Buffer.allocUnsafe(64)', fn: () => Buffer.allocUnsafe(64), allocationCheck: 1_000_000 },
      ],
    },
    {
      name: 'buddy',
      description: 'one block of 16 B..4 KiB (256 sizes in turn): alloc+free on the TS path and through the raw bindings vs allocating a fresh buffer',
      tasks: [
        {
          name: 'BuddyAllocator alloc+free (ts)',
          ...target('BuddyAllocator alloc+free (ts)'),
          fn: () => {
            const o = buddyTs.alloc(sizes[cursor.ts++ & 255]!);
            buddyTs.free(o);
            return o;
          },
          allocationCheck: 2_000_000,
        },
        {
          name: 'BuddyAllocator alloc+free (ts, shared)',
          fn: () => {
            const o = buddyTsShared.alloc(sizes[cursor.tsShared++ & 255]!);
            buddyTsShared.free(o);
            return o;
          },
          allocationCheck: 2_000_000,
        },
        {
          name: 'buddyAlloc+buddyFree raw bindings (C++ from JS, no wrapper)',
          fn: () => {
            const o = memoryAddon!.buddyAlloc(buddyRaw, sizes[cursor.native++ & 255]!);
            memoryAddon!.buddyFree(buddyRaw, o);
            return o;
          },
          allocationCheck: 1_000_000,
          ...nativeOnly,
        },
        {
          name: 'buddyAlloc+buddyFree raw bindings (shared)',
          fn: () => {
            const o = memoryAddon!.buddyAlloc(buddyRawShared, sizes[cursor.nativeShared++ & 255]!);
            memoryAddon!.buddyFree(buddyRawShared, o);
            return o;
          },
          allocationCheck: 1_000_000,
          ...nativeOnly,
        },
        { name: 'new ArrayBuffer(16..4096)', fn: () => new ArrayBuffer(sizes[cursor.ab++ & 255]!), allocationCheck: 200_000 },
        { name: 'Buffer.allocUnsafe(16..4096)', fn: () => Buffer.allocUnsafe(sizes[cursor.buf++ & 255]!), allocationCheck: 200_000 },
      ],
    },
    {
      name: 'pool',
      description: 'a 4-field order object: acquire, set a field, release vs a fresh object literal',
      tasks: [
        {
          name: 'ObjectPool acquire+release',
          ...target('ObjectPool acquire+release'),
          fn: () => {
            const o = pool.acquire();
            o.price = price++;
            pool.release(o);
            return o;
          },
          allocationCheck: 2_000_000,
        },
        {
          name: 'ObjectPool acquire+release (with reset)',
          fn: () => {
            const o = poolReset.acquire();
            o.price = price++;
            poolReset.release(o);
            return o;
          },
          allocationCheck: 2_000_000,
        },
        {
          name: 'new object literal',
          fn: () => {
            const o = makeOrder();
            o.price = price++;
            return o;
          },
          allocationCheck: 2_000_000,
        },
      ],
    },
  ],
  extras: async () => {
    const fresh: Churn[] = [];
    const pooled: Churn[] = [];
    for (let round = 0; round < 3; round++) {
      progressDetail(`GC churn, round ${round + 1}/3: new objects`);
      fresh.push(await churn(false));
      progressDetail(`GC churn, round ${round + 1}/3: ObjectPool + SlabAllocator`);
      pooled.push(await churn(true));
    }
    const f = medianOf(fresh);
    const p = medianOf(pooled);
    const group = 'gc-churn';
    console.log(`\n-- ${group}: ${(kMessages / 1e6).toFixed(0)} M messages, each an order object and a 64-byte payload alive for the next ${kInFlight}; median of 3 runs`);
    const row = (name: string, c: Churn): string[] => [
      name,
      formatMs(c.wallMs),
      String(c.gcCount),
      `${c.minor} / ${c.major}`,
      formatMs(c.gcTotalMs),
      formatMs(c.gcMaxMs),
      formatMs(c.gcP99Ms),
    ];
    console.log(
      table(['workload', 'wall', 'GCs', 'minor / major', 'GC total', 'GC max', 'GC p99'], [row('new objects + new Uint8Array(64)', f), row('ObjectPool + SlabAllocator', p)]),
    );
    const figures: Figure[] = [
      { group, name: 'new objects + new Uint8Array(64) wall', unit: 'ns', median: f.wallMs * 1e6 },
      { group, name: 'ObjectPool + SlabAllocator wall', unit: 'ns', median: p.wallMs * 1e6 },
    ];
    return {
      figures,
      targetsNs: kTargetsNs,
      gcChurn: {
        workload: `${kMessages} messages, each an order object and a 64-byte payload alive for the next ${kInFlight}; median of 3 runs`,
        'new objects + new Uint8Array(64)': medianOf(fresh),
        'ObjectPool + SlabAllocator': medianOf(pooled),
      },
    };
  },
});
