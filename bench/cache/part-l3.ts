/**
 * L3's part of `npm run bench -- cache` (issue 16): on a redis-server this part starts on a free
 * loopback port (test/helpers/redis.ts; skipped with a printed reason when there is none):
 *
 * 1. The client choice: node-redis (RESP3 and RESP2) vs ioredis (RESP2; with and without
 *    auto-pipelining) on one sequential GET, an MGET of 16 keys, a pipeline of 16 SETs, and 64
 *    concurrent GETs (auto-pipelining under concurrency), plus which of them can do RESP3
 *    client tracking.
 * 2. L3 get through RedisLevel (GET + decodeEntry + expiry check) vs a bare node-redis GET of the
 *    same bytes, interleaved sample by sample; target within 1.2×. The seed's claim (L3 0.85 ms)
 *    beside.
 * 3. Cross-process invalidation delay on loopback, p50/p99 (target p99 ≤ 5 ms): the parent asks a
 *    child process (IPC) to write a key and publish its invalidation, and times, with its own
 *    monotonic clock, until its onInvalidate handler fires. That includes the IPC hop to the
 *    child, measured separately (ping round trip) and shown beside.
 */
import { hrtime } from 'node:process';

import { RedisLevel } from '../../lib/cache/l3-redis.js';
import type { CacheEntry } from '../../lib/cache/types.js';
import { formatNs, formatRatio, table } from '../lib/format.mjs';
import type { Figure } from '../lib/suite.js';
import type { CacheBenchPart } from './index.js';

const quick = process.argv.includes('--quick');
const now = (): number => Number(hrtime.bigint());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Dist {
  median: number;
  p99: number;
  n: number;
}

function dist(samples: number[]): Dist {
  const s = samples.slice().sort((a, b) => a - b);
  return { median: s[s.length >> 1]!, p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!, n: s.length };
}

/** ns per call of `fn`, one sample per call, after `warmup` calls. */
async function timeEachSamples(fn: () => Promise<unknown>, samples: number, warmup: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = new Array<number>(samples);
  for (let i = 0; i < samples; i++) {
    const t0 = now();
    await fn();
    out[i] = now() - t0;
  }
  return out;
}

// A quote-sized value (~100 bytes encoded).
const kValue = { symbol: 'AAPL', bid: 189.51, ask: 189.53, bidSize: 300, askSize: 500, ts: 1_732_900_000_123, venue: 'XNAS', seq: 123456 };

interface ClientRow {
  client: string;
  get: Dist;
  mget16: Dist;
  pipeline16: Dist;
  concurrent64PerOp: number;
  /** Client-side CPU (user + system of this process) per GET over the concurrent batches. */
  cpuPerGet: number;
  resp3Tracking: boolean;
}

interface ClientUnderTest {
  client: string;
  resp3Tracking: boolean;
  get(k: string): Promise<unknown>;
  mget(ks: string[]): Promise<unknown>;
  pipelineSet(ks: string[], v: string): Promise<unknown>;
  close(): void;
}

/**
 * Each measurement runs in rounds, the clients taking turns within a round, so load from
 * other work on the machine and JIT warm-up fall on every client alike.
 */
async function compareClients(url: string, port: number): Promise<ClientRow[]> {
  const { createClient } = await import('redis');
  const { Redis } = await import('ioredis');
  const rounds = quick ? 3 : 7;
  const perRound = quick ? 300 : 1000;
  const keys = Array.from({ length: 16 }, (_, i) => `bench:cmp:${i}`);
  const payload = JSON.stringify(kValue);
  const clients: ClientUnderTest[] = [];
  // node-redis 5+ times every command out by default (5 s) with an AbortSignal.timeout per
  // command; RedisLevel turns that off (timeout 0) and runs one watchdog timer instead.
  for (const [resp, timeout] of [[3, 0], [2, 0], [3, undefined]] as const) {
    const c = createClient({ url, RESP: resp, ...(timeout === undefined ? {} : { commandOptions: { timeout } }) });
    c.on('error', () => {});
    await c.connect();
    clients.push({
      client: `node-redis RESP${resp}${timeout === undefined ? ', default per-command timeout' : ', timeout 0 (as RedisLevel)'}`,
      resp3Tracking: resp === 3,
      get: (k) => c.get(k),
      mget: (ks) => c.mGet(ks),
      // node-redis writes every command issued in one tick in one go: a pipeline without asking
      pipelineSet: (ks, v) => Promise.all(ks.map((k) => c.set(k, v))),
      close: () => c.destroy(),
    });
  }
  for (const auto of [true, false]) {
    const c = new Redis({ host: '127.0.0.1', port, enableAutoPipelining: auto, lazyConnect: true });
    c.on('error', () => {});
    await c.connect();
    clients.push({
      client: `ioredis${auto ? ' (autopipelining)' : ''}`,
      resp3Tracking: false, // ioredis speaks RESP2 only: tracking only through REDIRECT to a second connection
      get: (k) => c.get(k),
      mget: (ks) => c.mget(ks),
      pipelineSet: (ks, v) => {
        const p = c.pipeline();
        for (const k of ks) p.set(k, v);
        return p.exec();
      },
      close: () => c.disconnect(),
    });
  }
  await clients[0]!.pipelineSet(keys, payload);
  const measure = async (fn: (c: ClientUnderTest) => Promise<unknown>, samples: number, perOp = 1): Promise<Dist[]> => {
    const all: number[][] = clients.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < clients.length; i++) {
        const c = clients[(i + r) % clients.length]!;
        const d = await timeEachSamples(() => fn(c), samples, r === 0 ? 200 : 20);
        all[(i + r) % clients.length]!.push(...d.map((x) => x / perOp));
      }
    }
    return all.map(dist);
  };
  const get = await measure((c) => c.get(keys[0]!), perRound);
  const mget = await measure((c) => c.mget(keys), perRound);
  const pipe = await measure((c) => c.pipelineSet(keys, payload), perRound);
  const conc = await measure((c) => Promise.all(Array.from({ length: 64 }, (_, i) => c.get(keys[i & 15]!))), perRound >> 3, 64);
  // CPU per GET: the robust figure on a shared machine (wall time waits on the server and on other work).
  const cpu = clients.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < clients.length; i++) {
      const c = clients[i]!;
      const c0 = process.cpuUsage();
      for (let b = 0; b < 20; b++) await Promise.all(Array.from({ length: 500 }, (_, j) => c.get(keys[j & 15]!)));
      const used = process.cpuUsage(c0);
      cpu[i]!.push(((used.user + used.system) * 1000) / 10_000);
    }
  }
  const rows = clients.map((c, i) => ({
    client: c.client,
    resp3Tracking: c.resp3Tracking,
    get: get[i]!,
    mget16: mget[i]!,
    pipeline16: pipe[i]!,
    concurrent64PerOp: conc[i]!.median,
    cpuPerGet: dist(cpu[i]!).median,
  }));
  for (const c of clients) c.close();
  return rows;
}

interface L3VsBare {
  level: Dist;
  bare: Dist;
  ratioMedian: number;
  ratioP99: number;
  valueBytes: number;
  /** Client CPU per read, 500 concurrent reads at a time. */
  cpuLevel: number;
  cpuBare: number;
}

async function l3VsBare(url: string): Promise<L3VsBare> {
  const { createClient, RESP_TYPES } = await import('redis');
  const level = await RedisLevel.connect<typeof kValue>({ url, namespace: 'bench-l3', coherency: 'none' });
  const e: CacheEntry<typeof kValue> = { value: kValue, expiresAt: Infinity, staleUntil: Infinity, version: 1 };
  await level.setEntry('quote', e);
  // A bare client as a user would have it, reading the very same bytes as a Buffer.
  // timeout 0 as RedisLevel runs it: the cheapest node-redis setting, so the ratio is not flattered.
  const bare = createClient({ url, RESP: 3, commandOptions: { timeout: 0 } }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  bare.on('error', () => {});
  await bare.connect();
  const raw = (await bare.get('bench-l3:v:quote')) as unknown as Buffer;
  const n = quick ? 2000 : 10_000;
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < 500; i++) {
    await level.getEntry('quote');
    await bare.get('bench-l3:v:quote');
  }
  // interleaved, alternating which goes first, so drift and GC hit both alike
  for (let i = 0; i < n; i++) {
    if (i & 1) {
      let t0 = now();
      await level.getEntry('quote');
      a.push(now() - t0);
      t0 = now();
      await bare.get('bench-l3:v:quote');
      b.push(now() - t0);
    } else {
      let t0 = now();
      await bare.get('bench-l3:v:quote');
      b.push(now() - t0);
      t0 = now();
      await level.getEntry('quote');
      a.push(now() - t0);
    }
  }
  const cpuOf = async (read: () => Promise<unknown>): Promise<number> => {
    const c0 = process.cpuUsage();
    for (let k = 0; k < 20; k++) await Promise.all(Array.from({ length: 500 }, read));
    const used = process.cpuUsage(c0);
    return ((used.user + used.system) * 1000) / 10_000;
  };
  const cl: number[] = [];
  const cb: number[] = [];
  for (let r = 0; r < (quick ? 3 : 7); r++) {
    cl.push(await cpuOf(() => level.getEntry('quote')));
    cb.push(await cpuOf(() => bare.get('bench-l3:v:quote')));
  }
  await level.close();
  bare.destroy();
  const la = dist(a);
  const lb = dist(b);
  return {
    level: la,
    bare: lb,
    ratioMedian: la.median / lb.median,
    ratioP99: la.p99 / lb.p99,
    valueBytes: raw.length,
    cpuLevel: dist(cl).median,
    cpuBare: dist(cb).median,
  };
}

interface Delay {
  coherency: 'pubsub' | 'tracking';
  delay: Dist;
  ipcRoundTrip: Dist;
}

async function invalidationDelay(url: string, coherency: 'pubsub' | 'tracking'): Promise<Delay> {
  const { forkFleetChild } = await import('../../test/helpers/cache-fleet-parent.js');
  const namespace = `bench-inv-${coherency}`;
  const level = await RedisLevel.connect({ url, namespace, coherency });
  const child = forkFleetChild();
  try {
    await child.request('init', { url, namespace, coherency });
    let arrived: ((t: number) => void) | null = null;
    level.onInvalidate((keys) => {
      const t = now();
      if (keys !== null && keys[0] === 'inv') arrived?.(t);
    });
    const samples = quick ? 100 : 500;
    const delays: number[] = [];
    const pings: number[] = [];
    for (let i = 0; i < samples + 20; i++) {
      const heard = new Promise<number>((r) => (arrived = r));
      const t0 = now();
      void child.request('set', { key: 'inv', value: i, version: i + 1 });
      const t1 = await Promise.race([heard, sleep(1000).then(() => NaN)]);
      const p0 = now();
      await child.request('ping');
      const p1 = now();
      if (i >= 20) {
        delays.push(Number.isNaN(t1) ? 1e9 : t1 - t0);
        pings.push(p1 - p0);
      }
      await sleep(2);
    }
    return { coherency, delay: dist(delays), ipcRoundTrip: dist(pings) };
  } finally {
    await child.close();
    await level.close();
  }
}

export const part: CacheBenchPart = {
  name: 'l3',
  extras: async () => {
    let helper: typeof import('../../test/helpers/redis.js');
    try {
      helper = await import('../../test/helpers/redis.js');
    } catch (err) {
      console.log(`\n-- l3: skipped: ${(err as Error).message}`);
      return { skipped: (err as Error).message };
    }
    if (!helper.hasRedis) {
      console.log('\n-- l3: skipped: no redis-server on PATH (Debian package redis-server)');
      return { skipped: 'no redis-server' };
    }
    const redis = await helper.startRedis();
    try {
      const clients = await compareClients(redis.url, redis.port);
      console.log('\n-- l3: Redis clients on one loopback redis-server (ns per call: median / p99)');
      const cell = (d: Dist) => `${formatNs(d.median)} / ${formatNs(d.p99)}`;
      console.log(
        table(
          ['client', 'GET', 'MGET 16', 'pipeline 16 SET', '64 concurrent GET, per GET', 'client CPU per GET', 'RESP3 tracking'],
          clients.map((c) => [c.client, cell(c.get), cell(c.mget16), cell(c.pipeline16), formatNs(c.concurrent64PerOp), formatNs(c.cpuPerGet), c.resp3Tracking ? 'yes' : 'no']),
          ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
        ),
      );

      const lv = await l3VsBare(redis.url);
      console.log(`\n-- l3: RedisLevel.getEntry (GET + decode of a ${lv.valueBytes}-byte entry) vs a bare node-redis GET of the same bytes`);
      console.log(
        table(
          ['read', 'median', 'p99', 'ratio (median)', 'ratio (p99)', 'client CPU per read (500 concurrent)', 'target'],
          [
            ['RedisLevel.getEntry', formatNs(lv.level.median), formatNs(lv.level.p99), formatRatio(lv.ratioMedian), formatRatio(lv.ratioP99), formatNs(lv.cpuLevel), '≤ 1.2×'],
            ['bare node-redis GET', formatNs(lv.bare.median), formatNs(lv.bare.p99), '1', '1', formatNs(lv.cpuBare), ''],
            ["seed's claim (L3)", '850 µs', '', '', '', '', ''],
          ],
          ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
        ),
      );

      const delays = [await invalidationDelay(redis.url, 'pubsub'), await invalidationDelay(redis.url, 'tracking')];
      console.log('\n-- l3: cross-process invalidation delay on loopback (child writes + publishes; parent times to its handler)');
      console.log(
        table(
          ['coherency', 'p50', 'p99', 'of which IPC parent→child (half the ping round trip, median)', 'target p99'],
          delays.map((d) => [d.coherency, formatNs(d.delay.median), formatNs(d.delay.p99), formatNs(d.ipcRoundTrip.median / 2), '≤ 5 ms']),
          ['l', 'r', 'r', 'r', 'l'],
        ),
      );

      const figures: Figure[] = [
        ...clients.flatMap((c) => [
          { group: 'l3 clients', name: `${c.client} GET`, unit: 'ns', median: c.get.median, p99: c.get.p99 },
          { group: 'l3 clients', name: `${c.client} MGET 16`, unit: 'ns', median: c.mget16.median, p99: c.mget16.p99 },
          { group: 'l3 clients', name: `${c.client} pipeline 16 SET`, unit: 'ns', median: c.pipeline16.median, p99: c.pipeline16.p99 },
          { group: 'l3 clients', name: `${c.client} 64 concurrent GET per op`, unit: 'ns', median: c.concurrent64PerOp },
          { group: 'l3 clients', name: `${c.client} client CPU per GET`, unit: 'ns', median: c.cpuPerGet },
        ]),
        { group: 'l3', name: 'RedisLevel.getEntry', unit: 'ns', median: lv.level.median, p99: lv.level.p99 },
        { group: 'l3', name: 'bare node-redis GET', unit: 'ns', median: lv.bare.median, p99: lv.bare.p99 },
        { group: 'l3', name: 'RedisLevel.getEntry client CPU (500 concurrent)', unit: 'ns', median: lv.cpuLevel },
        { group: 'l3', name: 'bare node-redis GET client CPU (500 concurrent)', unit: 'ns', median: lv.cpuBare },
        ...delays.map((d) => ({ group: 'l3', name: `invalidation delay (${d.coherency})`, unit: 'ns', median: d.delay.median, p99: d.delay.p99 })),
      ];
      return { figures, clients, l3VsBare: lv, invalidationDelay: delays, seedClaimL3Ms: 0.85 };
    } finally {
      await redis.stop();
    }
  },
};
