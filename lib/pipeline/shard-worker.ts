/**
 * A shard worker of runSharded (lib/pipeline/shard.ts): pops the main thread's decoded
 * records from its SpscQueue and runs book → signal → risk → venue for its symbols with
 * runPipeline's stage functions, then posts its symbols' results. tsup builds it as the entry
 * dist/pipeline-worker.js (.cjs); from source, shard-worker-source.mjs loads it through tsx.
 */
import { parentPort, workerData } from 'node:worker_threads';

import { SpscQueue } from '../queue/spsc.js';
import { setThreadAffinity } from '../system/affinity.js';
import { kEventStride, type MarketDataSource } from './events.js';
import { RiskGate } from './risk-gate.js';
import { attachRisk, createLane, type Lane, laneResult, mboBook, type PipelineRisk, stepRecord } from './run.js';
import type { ShardWorkerData, ShardWorkerReply } from './shard.js';
import { quoteAroundMid, type Strategy } from './strategy.js';

/** A symbol's records as the main thread decoded them: decode() copies the current message's events. */
class QueueSource implements MarketDataSource {
  readonly kind = 'lobster' as const;
  readonly symbol: string;
  readonly tickSize: number;
  readonly lotSize: number;
  readonly length: number;
  readonly maxEventsPerRecord: number;
  private readonly init: Float64Array;
  private readonly message: Float64Array;
  /** Where the current message starts in `message`. */
  base = 0;

  constructor(meta: ShardWorkerData['symbols'][number], message: Float64Array) {
    this.symbol = meta.symbol;
    this.tickSize = meta.tickSize;
    this.lotSize = meta.lotSize;
    this.length = meta.length;
    this.maxEventsPerRecord = meta.maxEventsPerRecord;
    this.init = meta.initial;
    this.message = message;
  }

  initial(): Float64Array {
    return this.init;
  }

  decode(_index: number, out: Float64Array, at: number): number {
    const m = this.message;
    const b = this.base;
    const n = m[b + 2]!;
    const from = b + kEventStride;
    const to = at * kEventStride;
    for (let i = 0; i < n * kEventStride; i++) out[to + i] = m[from + i]!;
    return n;
  }
}

async function main(data: ShardWorkerData): Promise<ShardWorkerReply> {
  let pinned = false;
  if (data.core >= 0) {
    try {
      setThreadAffinity([data.core]);
      pinned = true;
    } catch {
      pinned = false;
    }
  }
  const batch = 64;
  const slotBytes = 8 * data.messageDoubles;
  const message = new Float64Array(batch * data.messageDoubles);
  const bytes = new Uint8Array(message.buffer);
  const lengths = new Uint32Array(batch);
  let makeStrategy: (symbol: string, index: number) => Strategy = () => quoteAroundMid(data.strategy);
  if (data.makeStrategyFrom !== undefined) {
    const mod = (await import(data.makeStrategyFrom)) as { makeStrategy?: (symbol: string, index: number) => Strategy };
    if (typeof mod.makeStrategy !== 'function') throw new Error(`${data.makeStrategyFrom} has no makeStrategy export`);
    makeStrategy = mod.makeStrategy;
  }
  const sources = data.symbols.map((meta) => new QueueSource(meta, message));
  const lanes: Lane[] = sources.map((source, i) =>
    createLane(i, source, { backend: data.backend, makeBook: mboBook, makeStrategy: (symbol) => makeStrategy(symbol, data.symbols[i]!.index), venue: data.venue }, 0, source.length),
  );
  let risk: PipelineRisk | null = null;
  if (data.risk !== null && lanes.length > 0) {
    const mine = new Set(sources.map((s) => s.symbol));
    risk = new RiskGate({ ...data.risk, symbols: data.risk.symbols.filter((s) => mine.has(s.name)) });
  }
  attachRisk(lanes, risk);
  const queue = SpscQueue.attach(data.queue);
  const one = bytes.subarray(0, slotBytes);
  for (;;) {
    let n = queue.popBatch(bytes, lengths, batch);
    if (n === 0) {
      // Empty: wait for one message (spin, then sleep), or the end.
      if (queue.pop(one) < 0) break;
      n = 1;
    }
    for (let k = 0; k < n; k++) {
      const base = k * data.messageDoubles;
      const lane = lanes[message[base]!]!;
      (lane.source as QueueSource).base = base;
      stepRecord(lane, message[base + 1]!, risk);
    }
  }
  return { symbols: lanes.map((lane) => laneResult(lane)), pinned };
}

main(workerData as ShardWorkerData).then(
  (r) => parentPort!.postMessage(r),
  (err: unknown) => parentPort!.postMessage({ symbols: [], pinned: false, error: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) }),
);
