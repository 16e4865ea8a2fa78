// Shared by the feed tests and bench: messages that carry their own sequence number and a
// checksum of their payload, so the receiver can check order and content, and the wiring of
// publisher → lossy relay → subscriber (requests through a second lossy relay).
import { FeedPublisher, FeedSubscriber, openDgramSource, type FeedPublisherOptions, type FeedSubscriberOptions } from '../lib/net/index.js';

import { openRelay, type Relay, type RelayOptions } from './feed-relay.js';

/** FNV-1a over bytes [from, to). */
function fnv1a(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * Message `sequence`: u32 sequence · payload of 0–31 bytes derived from it · u32 FNV-1a of
 * the first two parts. Written into `out` (at least 40 bytes); returns the view.
 */
export function feedMessage(sequence: number, out: Uint8Array): Uint8Array {
  const length = 4 + ((sequence * 2654435761) >>> 27) + 4;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, sequence);
  for (let i = 4; i < length - 4; i++) out[i] = (sequence * 31 + i * 7) & 0xff;
  view.setUint32(length - 4, fnv1a(out, 0, length - 4));
  return out.subarray(0, length);
}

/** True when `bytes` is message `sequence` as `feedMessage` writes it. */
export function checkFeedMessage(bytes: Uint8Array, sequence: number): boolean {
  const length = 4 + ((sequence * 2654435761) >>> 27) + 4;
  if (bytes.length !== length) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== sequence >>> 0) return false;
  for (let i = 4; i < length - 4; i++) if (bytes[i] !== ((sequence * 31 + i * 7) & 0xff)) return false;
  return view.getUint32(length - 4) === fnv1a(bytes, 0, length - 4);
}

export interface LossyFeed {
  publisher: FeedPublisher;
  subscriber: FeedSubscriber;
  feedRelay: Relay;
  requestRelay: Relay;
  /** What onMessage saw: the next sequence expected, and the first wrong one. */
  sink: { expected: number; bad: number; firstBad: string };
  close(): Promise<void>;
}

/**
 * Wires publisher → feedRelay → subscriber, subscriber ⇄ requestRelay ⇄ request server.
 * The subscriber's source is opened first so the relay knows where to send.
 */
export async function openLossyFeed(options: {
  session: string;
  feed?: Omit<RelayOptions, 'target'>;
  requests?: Omit<RelayOptions, 'target'>;
  publisher?: Partial<FeedPublisherOptions>;
  subscriber?: Partial<FeedSubscriberOptions>;
}): Promise<LossyFeed> {
  const source = await openDgramSource({ host: '127.0.0.1', port: 0, receiveBufferBytes: 4 << 20 });
  const feedRelay = await openRelay({ target: { address: '127.0.0.1', port: source.local.port }, ...options.feed });
  const publisher = await FeedPublisher.open({
    session: options.session,
    host: '127.0.0.1',
    port: feedRelay.port,
    heartbeatIntervalMs: 20,
    ...options.publisher,
  });
  const requestRelay = await openRelay({ target: { address: '127.0.0.1', port: publisher.requestAddress.port }, ...options.requests });
  const sink = { expected: 1, bad: 0, firstBad: '' };
  const subscriber = await FeedSubscriber.open({
    session: options.session,
    source,
    requestHost: '127.0.0.1',
    requestPort: requestRelay.port,
    onMessage: (bytes, sequence) => {
      if (sequence !== sink.expected || !checkFeedMessage(bytes, sequence)) {
        if (sink.bad++ === 0) sink.firstBad = `sequence ${sequence} (expected ${sink.expected}), ${bytes.length} bytes`;
      }
      sink.expected = sequence + 1;
    },
    ...options.subscriber,
  });
  return {
    publisher,
    subscriber,
    feedRelay,
    requestRelay,
    sink,
    close: async () => {
      await subscriber.close();
      await publisher.close();
      await feedRelay.close();
      await requestRelay.close();
    },
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Publishes messages 1..count in chunks, keeping at most `window` messages ahead of what the
 * subscriber delivered (the test's flow control: UDP has none, and a 2-core machine running
 * sender, relays and receiver in one process would otherwise overrun the socket buffers).
 */
export async function publishAll(feed: LossyFeed, count: number, window = 8192, chunk = 256): Promise<void> {
  const scratch = new Uint8Array(64);
  let sequence = feed.publisher.nextSequence;
  const last = sequence + count - 1;
  while (sequence <= last) {
    const end = Math.min(last, sequence + chunk - 1);
    for (; sequence <= end; sequence++) feed.publisher.publish(feedMessage(sequence, scratch));
    feed.publisher.flush();
    await tick();
    while (sequence - feed.subscriber.nextSequence > window) await tick();
  }
}
