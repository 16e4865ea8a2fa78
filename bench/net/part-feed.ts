/**
 * UDP feed end to end (issue 14 item 5): messages/s from FeedPublisher through a UDP relay to
 * FeedSubscriber on loopback, without loss and with the relay dropping 1% of packets and
 * reordering 1% (requests through a second relay dropping 1%), and the subscriber's gap
 * detection and recovery times. Publisher, relays and subscriber share one process and one
 * event loop (the test's flow control keeps 8192 messages in flight), so the recovery times
 * include that loop's turns: they are an upper bound for a subscriber in its own process.
 */
import { type Figure } from '../lib/index.js';
import { openLossyFeed, publishAll } from '../../test/feed-helpers.js';

import type { NetBenchPart } from './index.js';

const kMessages = 200_000;
const kRuns = 5;

interface Run {
  msgPerSec: number;
  detectP50: number;
  detectP99: number;
  recoverP50: number;
  recoverP99: number;
  gaps: number;
}

async function once(lossy: boolean, seed: number): Promise<Run> {
  const feed = await openLossyFeed({
    session: 'BENCH',
    feed: lossy ? { dropRate: 0.01, reorderRate: 0.01, seed } : {},
    requests: lossy ? { dropRate: 0.01, seed: seed + 1, lossyBack: true } : {},
    publisher: { storeCapacity: kMessages + 1 },
  });
  try {
    const t0 = performance.now();
    await publishAll(feed, kMessages);
    feed.publisher.end();
    const stats = await feed.subscriber.ended;
    const seconds = (performance.now() - t0) / 1000;
    if (feed.sink.bad !== 0 || stats.messages !== kMessages) throw new Error(`feed bench: ${feed.sink.firstBad || `${stats.messages} of ${kMessages} delivered`}`);
    return {
      msgPerSec: kMessages / seconds,
      detectP50: stats.gapDetectionNs.p50,
      detectP99: stats.gapDetectionNs.p99,
      recoverP50: stats.gapRecoveryNs.p50,
      recoverP99: stats.gapRecoveryNs.p99,
      gaps: stats.gapsDetected,
    };
  } finally {
    await feed.close();
  }
}

function median(values: number[]): number {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const part: NetBenchPart = {
  name: 'feed',
  extras: async () => {
    const clean: Run[] = [];
    const lossy: Run[] = [];
    for (let i = 0; i < kRuns; i++) {
      clean.push(await once(false, i));
      lossy.push(await once(true, 100 + i));
    }
    const m = (runs: Run[], k: keyof Run): number => median(runs.map((r) => r[k]));
    const us = (ns: number): string => (Number.isNaN(ns) ? '-' : `${(ns / 1000).toFixed(1)} µs`);
    console.log(`\nUDP feed, publisher → relay → subscriber on loopback, ${kMessages} messages, median of ${kRuns} runs (one process)`);
    console.log('case                  msg/s      gaps   detect p50   detect p99   recover p50   recover p99');
    for (const [name, runs] of [['no loss', clean], ['1% loss, 1% reorder', lossy]] as const) {
      console.log(
        `${name.padEnd(20)} ${String(Math.round(m(runs, 'msgPerSec'))).padStart(8)} ${String(m(runs, 'gaps')).padStart(7)}   ${us(m(runs, 'detectP50')).padStart(10)}   ${us(m(runs, 'detectP99')).padStart(10)}   ${us(m(runs, 'recoverP50')).padStart(11)}   ${us(m(runs, 'recoverP99')).padStart(11)}`,
      );
    }
    const figures: Figure[] = [
      { group: 'udp feed', name: 'publisher→subscriber, no loss', unit: 'msg/s', median: m(clean, 'msgPerSec') },
      { group: 'udp feed', name: 'publisher→subscriber, 1% loss', unit: 'msg/s', median: m(lossy, 'msgPerSec') },
      { group: 'udp feed', name: 'gap recovery (1% loss)', unit: 'ns', median: m(lossy, 'recoverP50'), p99: m(lossy, 'recoverP99') },
      { group: 'udp feed', name: 'gap detection (1% loss)', unit: 'ns', median: m(lossy, 'detectP50'), p99: m(lossy, 'detectP99') },
    ];
    return { figures, clean, lossy };
  },
};
