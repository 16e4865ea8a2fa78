// UDP feed through a lossy relay (issue 14 item 5): FeedPublisher → relay dropping 1% of
// packets at random (seeded) and holding 1% to send after the next → FeedSubscriber, with the
// requests and their replies through a second relay that drops 1% both ways. Every message
// must arrive exactly once, in order, with its content intact; gaps are recovered from the
// publisher's request server. Gap-detection and recovery times are printed, not asserted.
//
// Count: 1,000,000 messages in every run (about 1.5 s on the 2-core dev VM, in each of the ts
// and native projects); ULTRA_PERF_FEED_MESSAGES overrides it for longer soaks.
import { afterEach, describe, expect, it } from 'vitest';

import { openLossyFeed, publishAll, type LossyFeed } from './feed-helpers.js';

const kMessages = Number(process.env.ULTRA_PERF_FEED_MESSAGES ?? 1_000_000);

let feed: LossyFeed | undefined;
afterEach(async () => {
  await feed?.close();
  feed = undefined;
});

const us = (ns: number): string => `${(ns / 1000).toFixed(1)} µs`;

describe(`feed over a lossy relay (${kMessages} messages)`, () => {
  it('delivers every message exactly once, in order, recovering 1% loss and reordering', async () => {
    const t0 = performance.now();
    feed = await openLossyFeed({
      session: 'LOSSY1',
      feed: { dropRate: 0.01, reorderRate: 0.01, seed: 14 },
      requests: { dropRate: 0.01, reorderRate: 0, seed: 15, lossyBack: true },
      publisher: { storeCapacity: Math.min(1 << 24, kMessages + 1) },
    });
    const errors: unknown[] = [];
    feed.subscriber.on('error', (e) => errors.push(e));
    await publishAll(feed, kMessages);
    feed.publisher.end();
    const stats = await feed.subscriber.ended;
    const seconds = (performance.now() - t0) / 1000;

    expect(errors).toEqual([]);
    expect(feed.sink.firstBad).toBe('');
    expect(feed.sink.bad).toBe(0);
    expect(feed.sink.expected).toBe(kMessages + 1);
    expect(stats.messages).toBe(kMessages);
    expect(stats.lost).toBe(0);
    expect(stats.ended).toBe(true);
    // the relay dropped packets, so gaps were detected and recovered from the server
    expect(feed.feedRelay.dropped).toBeGreaterThan(0);
    expect(stats.gapsDetected).toBeGreaterThan(0);
    expect(stats.packetsRecovered).toBeGreaterThan(0);

    const p = feed.publisher.stats();
    const d = stats.gapDetectionNs;
    const r = stats.gapRecoveryNs;
    console.log(
      [
        `feed: ${kMessages} messages in ${p.packets} packets, ${seconds.toFixed(2)} s (${Math.round(kMessages / seconds)} msg/s, relays and both ends in one process)`,
        `relay: ${feed.feedRelay.dropped} packets dropped, ${feed.feedRelay.reordered} reordered; request path dropped ${feed.requestRelay.dropped}`,
        `subscriber: ${stats.gapsDetected} gaps, ${stats.requestsSent} requests (${stats.requestRetries} retries), ${stats.packetsRecovered} packets / ${stats.messagesRecovered} messages recovered, ${stats.duplicates} duplicates, ${stats.bufferOverflow} buffer overflows, source dropped ${stats.source.dropped}`,
        `server: ${p.requests} requests, ${p.replyPackets} reply packets, ${p.requestsRateLimited} rate-limited`,
        `gap detection: p50 ${us(d.p50)}  p99 ${us(d.p99)}  max ${us(d.max)}  (n=${d.count})`,
        `gap recovery:  p50 ${us(r.p50)}  p99 ${us(r.p99)}  max ${us(r.max)}  (n=${r.count})`,
      ].join('\n'),
    );
  }, 300_000);
});
