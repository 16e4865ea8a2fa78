// UDP feed (lib/net/feed.ts, issue 14 items 5 and 7): FeedPublisher and FeedSubscriber on
// loopback. Bad arguments are named; packets of another session and datagrams that are not
// MoldUDP64 are counted and ignored; close() is idempotent; a lost last packet is found through
// the next heartbeat and recovered; a hole the server no longer stores is reported as a
// FeedGapError (then skipped, or the subscriber stops), never skipped silently; a late joiner
// starts at the current sequence or recovers from 1; the request server's limits hold.
// The 10^6-message run through a lossy relay is test/feed-lossy.test.ts.
import { createSocket, type Socket } from 'node:dgram';

import { afterEach, describe, expect, it } from 'vitest';

import {
  FeedGapError,
  FeedPublisher,
  FeedSubscriber,
  decodeMoldPacket,
  encodeMoldHeartbeat,
  encodeMoldPacket,
  encodeMoldRequest,
  openDgramSource,
  type FeedPublisherOptions,
  type FeedSubscriberOptions,
  type PacketSource,
} from '../lib/net/index.js';

import { checkFeedMessage, feedMessage, openLossyFeed, type LossyFeed } from './feed-helpers.js';
import { openRelay } from './feed-relay.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds, checking every few ms; fails the test after `ms`. */
async function until(done: () => boolean, what: string, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

async function feed(options: Parameters<typeof openLossyFeed>[0]): Promise<LossyFeed> {
  const f = await openLossyFeed(options);
  closers.push(() => f.close());
  return f;
}

async function rawSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

function send(socket: Socket, bytes: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve, reject) => socket.send(bytes, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
}

function publishRange(pub: FeedPublisher, count: number): void {
  const scratch = new Uint8Array(64);
  for (let i = 0; i < count; i++) pub.publish(feedMessage(pub.nextSequence, scratch));
  pub.flush();
}

/** The error thrown by `fn` (sync or async), or undefined. */
async function thrown(fn: () => unknown): Promise<(Error & { code?: string }) | undefined> {
  try {
    await fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  return undefined;
}

const okPublisher: FeedPublisherOptions = { session: 'S1', host: '127.0.0.1', port: 9 };

describe('FeedPublisher arguments', () => {
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['no options', { __replace: null }, 'options', 'ERR_INVALID_ARG_TYPE'],
    ['session not a string', { session: 42 }, 'options.session', 'ERR_INVALID_ARG_TYPE'],
    ['session too long', { session: 'ELEVENCHARS' }, 'options.session', 'ERR_INVALID_ARG_VALUE'],
    ['session not ASCII', { session: 'séance' }, 'options.session', 'ERR_INVALID_ARG_VALUE'],
    ['host a name', { host: 'localhost' }, 'options.host', 'ERR_INVALID_ARG_VALUE'],
    ['host a number', { host: 127 }, 'options.host', 'ERR_INVALID_ARG_TYPE'],
    ['port 0', { port: 0 }, 'options.port', 'ERR_OUT_OF_RANGE'],
    ['port 65536', { port: 65536 }, 'options.port', 'ERR_OUT_OF_RANGE'],
    ['port fractional', { port: 80.5 }, 'options.port', 'ERR_OUT_OF_RANGE'],
    ['port a string', { port: '80' }, 'options.port', 'ERR_INVALID_ARG_TYPE'],
    ['mtu below a message', { mtu: 21 }, 'options.mtu', 'ERR_OUT_OF_RANGE'],
    ['mtu past IPv4 UDP', { mtu: 65508 }, 'options.mtu', 'ERR_OUT_OF_RANGE'],
    ['heartbeat 0 ms', { heartbeatIntervalMs: 0 }, 'options.heartbeatIntervalMs', 'ERR_OUT_OF_RANGE'],
    ['multicast options with a unicast host', { multicast: { ttl: 1 } }, 'options.multicast', 'ERR_INVALID_ARG_VALUE'],
    ['multicast ttl 256', { host: '239.1.2.3', multicast: { ttl: 256 } }, 'options.multicast.ttl', 'ERR_OUT_OF_RANGE'],
    ['multicast loopback not boolean', { host: '239.1.2.3', multicast: { loopback: 1 } }, 'options.multicast.loopback', 'ERR_INVALID_ARG_TYPE'],
    ['multicast interface a name', { host: '239.1.2.3', multicast: { interface: 'eth0' } }, 'options.multicast.interface', 'ERR_INVALID_ARG_VALUE'],
    ['request host a name', { requestHost: 'localhost' }, 'options.requestHost', 'ERR_INVALID_ARG_VALUE'],
    ['request port -1', { requestPort: -1 }, 'options.requestPort', 'ERR_OUT_OF_RANGE'],
    ['store capacity 0', { storeCapacity: 0 }, 'options.storeCapacity', 'ERR_OUT_OF_RANGE'],
    ['store capacity past 2^24', { storeCapacity: 2 ** 24 + 1 }, 'options.storeCapacity', 'ERR_OUT_OF_RANGE'],
    ['store bytes 0', { storeMaxBytes: 0 }, 'options.storeMaxBytes', 'ERR_OUT_OF_RANGE'],
    ['reply limit 0', { maxReplyMessages: 0 }, 'options.maxReplyMessages', 'ERR_OUT_OF_RANGE'],
    ['reply limit past 65535', { maxReplyMessages: 65536 }, 'options.maxReplyMessages', 'ERR_OUT_OF_RANGE'],
    ['request rate 0', { maxRequestsPerSecond: 0 }, 'options.maxRequestsPerSecond', 'ERR_OUT_OF_RANGE'],
    ['request rate NaN', { maxRequestsPerSecond: Number.NaN }, 'options.maxRequestsPerSecond', 'ERR_OUT_OF_RANGE'],
  ];
  it.each(cases)('%s → error naming %s', async (_name, change, argument, code) => {
    const options = '__replace' in change ? change.__replace : { ...okPublisher, ...change };
    const error = await thrown(() => FeedPublisher.open(options as FeedPublisherOptions));
    expect(error?.code).toBe(code);
    expect(error?.message).toContain(`for ${argument} but received`);
  });

  it('names an unknown option and the known ones', async () => {
    const error = await thrown(() => FeedPublisher.open({ ...okPublisher, heartbeatMs: 5 } as FeedPublisherOptions));
    expect(error?.code).toBe('ERR_ULTRA_PERF_UNKNOWN_OPTION');
    expect(error?.message).toContain("unknown option 'heartbeatMs' for FeedPublisher.open; ");
    expect(error?.message).toContain("'heartbeatIntervalMs'");
    const sub = await thrown(() => FeedSubscriber.open({ onMessage: () => undefined, requestTimeout: 5 } as FeedSubscriberOptions));
    expect(sub?.code).toBe('ERR_ULTRA_PERF_UNKNOWN_OPTION');
    expect(sub?.message).toContain("unknown option 'requestTimeout' for FeedSubscriber.open");
  });

  it('publish refuses a non-bytes message, one too long for the mtu, and any after end()', async () => {
    const pub = await FeedPublisher.open({ ...okPublisher, mtu: 64 });
    closers.push(() => pub.close());
    expect(() => pub.publish('abc' as unknown as Uint8Array)).toThrow(/for message but received "abc"/);
    expect(() => pub.publish(new Uint8Array(43))).toThrow(/at most mtu - 22 = 42 bytes for message.length but received 43/);
    expect(pub.publish(new Uint8Array(42))).toBe(1);
    pub.end();
    const error = await thrown(() => pub.publish(new Uint8Array(1)));
    expect(error?.code).toBe('ERR_ULTRA_PERF_FEED_ENDED');
  });

  it('packs messages into packets no larger than the mtu, numbered from 1', async () => {
    const sink = await openDgramSource();
    closers.push(() => sink.close());
    const got: Uint8Array[] = [];
    sink.start((bytes) => got.push(Uint8Array.prototype.slice.call(bytes)));
    const pub = await FeedPublisher.open({ ...okPublisher, port: sink.local.port, mtu: 200, heartbeatIntervalMs: 60_000 });
    closers.push(() => pub.close());
    publishRange(pub, 100);
    await until(() => got.reduce((n, b) => n + decodeMoldPacket(b).count, 0) === 100, '100 messages');
    let sequence = 1;
    for (const bytes of got) {
      expect(bytes.length).toBeLessThanOrEqual(200);
      const p = decodeMoldPacket(bytes);
      expect(p.session).toBe('S1');
      expect(p.sequence).toBe(sequence);
      for (const m of p.messages) expect(checkFeedMessage(m, sequence++)).toBe(true);
    }
    expect(got.length).toBe(pub.stats().packets);
    expect(got.length).toBeGreaterThan(10);
  });
});

describe('FeedSubscriber arguments', () => {
  const ok: FeedSubscriberOptions = { onMessage: () => undefined };
  const fakeSource = { kind: 'x', local: { address: '127.0.0.1', port: 1 } };
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['no onMessage', { onMessage: undefined }, 'options.onMessage', 'ERR_INVALID_ARG_TYPE'],
    ['session too long', { session: 'ELEVENCHARS' }, 'options.session', 'ERR_INVALID_ARG_VALUE'],
    ['bind host a name', { bind: { host: 'localhost' } }, 'options.bind.host', 'ERR_INVALID_ARG_VALUE'],
    ['bind port 70000', { bind: { port: 70000 } }, 'options.bind.port', 'ERR_OUT_OF_RANGE'],
    ['bind group not multicast', { bind: { multicastGroup: '10.0.0.1' } }, 'options.bind.multicastGroup', 'ERR_INVALID_ARG_VALUE'],
    ['bind buffer 0 bytes', { bind: { receiveBufferBytes: 0 } }, 'options.bind.receiveBufferBytes', 'ERR_OUT_OF_RANGE'],
    ['source without start', { source: fakeSource }, 'options.source', 'ERR_INVALID_ARG_TYPE'],
    ['request port 0', { requestHost: '127.0.0.1', requestPort: 0 }, 'options.requestPort', 'ERR_OUT_OF_RANGE'],
    ['request port missing', { requestHost: '127.0.0.1' }, 'options.requestPort', 'ERR_INVALID_ARG_TYPE'],
    ['request host a name', { requestHost: 'feed.example', requestPort: 1 }, 'options.requestHost', 'ERR_INVALID_ARG_VALUE'],
    ['start 0', { start: 0 }, 'options.start', 'ERR_OUT_OF_RANGE'],
    ['start a word', { start: 'now' }, 'options.start', 'ERR_INVALID_ARG_TYPE'],
    ['buffer 0 packets', { maxBufferedPackets: 0 }, 'options.maxBufferedPackets', 'ERR_OUT_OF_RANGE'],
    ['timeout 0 ms', { requestTimeoutMs: 0 }, 'options.requestTimeoutMs', 'ERR_OUT_OF_RANGE'],
    ['max timeout below timeout', { requestTimeoutMs: 50, maxRequestTimeoutMs: 10 }, 'options.maxRequestTimeoutMs', 'ERR_OUT_OF_RANGE'],
    ['0 attempts', { maxRequestAttempts: 0 }, 'options.maxRequestAttempts', 'ERR_OUT_OF_RANGE'],
    ['request count 65536', { maxRequestCount: 65536 }, 'options.maxRequestCount', 'ERR_OUT_OF_RANGE'],
    ['unknown gap policy', { unrecoverableGap: 'ignore' }, 'options.unrecoverableGap', 'ERR_INVALID_ARG_VALUE'],
  ];
  it.each(cases)('%s → error naming %s', async (_name, change, argument, code) => {
    const error = await thrown(() => FeedSubscriber.open({ ...ok, ...change } as FeedSubscriberOptions));
    expect(error?.code).toBe(code);
    expect(error?.message).toContain(`for ${argument} but received`);
  });
});

describe('FeedSubscriber on loopback', () => {
  it('ignores and counts packets of another session and datagrams that are not MoldUDP64', async () => {
    const got: number[] = [];
    const sub = await FeedSubscriber.open({ session: 'MINE', onMessage: (_m, s) => got.push(s) });
    closers.push(() => sub.close());
    const raw = await rawSocket();
    const port = sub.source.local.port;
    await send(raw, encodeMoldPacket({ session: 'OTHER', sequence: 1, messages: [new Uint8Array(3)] }), port);
    await send(raw, new Uint8Array([1, 2, 3]), port); // shorter than a header
    await send(raw, encodeMoldPacket({ session: 'MINE', sequence: 1, messages: [new Uint8Array(3)] }).subarray(0, 23), port); // truncated block
    await send(raw, new Uint8Array(20), port); // NUL session bytes
    await send(raw, encodeMoldPacket({ session: 'MINE', sequence: 1, messages: [new Uint8Array(3), new Uint8Array(4)] }), port);
    await until(() => sub.stats().packets === 5, 'five datagrams');
    const s = sub.stats();
    expect(got).toEqual([1, 2]);
    expect(s.wrongSession).toBe(1);
    expect(s.malformed).toBe(3);
    expect(s.messages).toBe(2);
    expect(s.source.packets).toBe(5);
  });

  it('close() is idempotent on both ends and stops delivery', async () => {
    const f = await feed({ session: 'CLOSE' });
    publishRange(f.publisher, 10);
    await until(() => f.subscriber.nextSequence === 11, 'ten messages');
    const a = f.subscriber.close();
    expect(f.subscriber.close()).toBe(a);
    await a;
    await f.subscriber.close();
    const b = f.publisher.close();
    expect(f.publisher.close()).toBe(b);
    await b;
    expect(f.publisher.stats().endOfSessions).toBe(1);
    expect(f.sink.expected).toBe(11);
    expect((await f.subscriber.ended).messages).toBe(10);
  });

  it('finds a lost last packet through the next heartbeat and recovers it', async () => {
    const f = await feed({ session: 'HB', feed: { drop: (i) => i === 1 } }); // the second datagram: 11..20
    publishRange(f.publisher, 10);
    await until(() => f.subscriber.nextSequence === 11, 'first packet');
    publishRange(f.publisher, 10);
    await until(() => f.subscriber.nextSequence === 21, 'messages 11..20 through the heartbeat and a request');
    const s = f.subscriber.stats();
    expect(f.feedRelay.dropped).toBe(1);
    expect(s.heartbeats).toBeGreaterThanOrEqual(1);
    expect(s.gapsDetected).toBe(1);
    expect(s.packetsRecovered).toBe(1);
    expect(s.messagesRecovered).toBe(10);
    expect(s.gapRecoveryNs.count).toBe(1);
    expect(f.sink.bad).toBe(0);
    f.publisher.end();
    expect((await f.subscriber.ended).ended).toBe(true);
  });

  it('holds packets after a gap and delivers them in order once it fills', async () => {
    // drop the 2nd of ~10 packets: the ones after it are held until the request fills it
    const f = await feed({ session: 'HOLD', feed: { drop: (i) => i === 1 }, publisher: { mtu: 100 } });
    publishRange(f.publisher, 30);
    f.publisher.end();
    const s = await f.subscriber.ended;
    expect(f.sink.bad).toBe(0);
    expect(s.messages).toBe(30);
    expect(f.feedRelay.dropped).toBe(1);
    expect(s.gapsDetected).toBe(1);
    expect(s.buffered).toBe(0);
    expect(s.packetsRecovered).toBeGreaterThanOrEqual(1);
  });

  it('drops and counts packets past maxBufferedPackets, and still recovers them by request', async () => {
    const f = await feed({ session: 'FULL', feed: { drop: (i) => i === 0 }, publisher: { mtu: 100 }, subscriber: { maxBufferedPackets: 2 } });
    publishRange(f.publisher, 40); // ~14 packets; the first is dropped, only 2 held
    f.publisher.end();
    const s = await f.subscriber.ended;
    expect(f.sink.bad).toBe(0);
    expect(s.messages).toBe(40);
    expect(s.bufferOverflow).toBeGreaterThan(0);
    expect(s.lost).toBe(0);
  });

  it('reports a hole the server evicted as a FeedGapError and skips past it', async () => {
    const f = await feed({
      session: 'EVICT',
      feed: { drop: (i) => i === 0 },
      publisher: { storeCapacity: 10 },
      subscriber: { requestTimeoutMs: 2, maxRequestTimeoutMs: 4, maxRequestAttempts: 3 },
    });
    const errors: FeedGapError[] = [];
    f.subscriber.on('error', (e: FeedGapError) => errors.push(e));
    const sink = f.sink;
    publishRange(f.publisher, 5); // 1..5, dropped by the relay
    for (let i = 0; i < 4; i++) publishRange(f.publisher, 5); // 6..25 in 4 packets; the store keeps 16..25
    await until(() => errors.length === 1 && f.subscriber.nextSequence === 26, 'the lost hole and the rest');
    expect(errors[0]).toBeInstanceOf(FeedGapError);
    expect(errors[0]!.code).toBe('ERR_ULTRA_PERF_FEED_GAP_LOST');
    expect(errors[0]!.from).toBe(1);
    expect(errors[0]!.count).toBeGreaterThanOrEqual(5);
    expect(errors[0]!.message).toMatch(/messages 1 to \d+ .* could not be recovered after 3 requests/);
    const s = f.subscriber.stats();
    expect(s.lost).toBe(errors[0]!.count);
    expect(s.messages + s.lost).toBe(25);
    expect(sink.expected).toBe(26);
    expect(f.publisher.stats().requestsEvicted).toBeGreaterThanOrEqual(1);
  });

  it("stops on a lost hole with unrecoverableGap: 'stop'", async () => {
    const f = await feed({
      session: 'STOP',
      feed: { drop: (i) => i === 0 },
      publisher: { storeCapacity: 5 },
      subscriber: { requestTimeoutMs: 2, maxRequestTimeoutMs: 2, maxRequestAttempts: 2, unrecoverableGap: 'stop' },
    });
    const errors: FeedGapError[] = [];
    f.subscriber.on('error', (e: FeedGapError) => errors.push(e));
    publishRange(f.publisher, 5);
    publishRange(f.publisher, 5);
    publishRange(f.publisher, 5);
    const s = await f.subscriber.ended;
    expect(errors.map((e) => [e.from, e.count])).toEqual([[1, 5]]);
    expect(s.messages).toBe(0);
    expect(s.ended).toBe(false);
    publishRange(f.publisher, 5);
    await sleep(20);
    expect(f.subscriber.stats().messages).toBe(0);
  });

  it('without a request server, a gap is reported lost after one timeout', async () => {
    const source = await openDgramSource();
    const relay = await openRelay({ target: { address: '127.0.0.1', port: source.local.port }, drop: (i) => i === 0 });
    closers.push(() => relay.close());
    const pub = await FeedPublisher.open({ session: 'NOSRV', host: '127.0.0.1', port: relay.port, heartbeatIntervalMs: 60_000 });
    closers.push(() => pub.close());
    const got: number[] = [];
    const sub = await FeedSubscriber.open({ source, requestTimeoutMs: 5, onMessage: (_m, s) => got.push(s) });
    closers.push(() => sub.close());
    const errors: FeedGapError[] = [];
    sub.on('error', (e: FeedGapError) => errors.push(e));
    publishRange(pub, 3);
    publishRange(pub, 3);
    await until(() => errors.length === 1 && sub.nextSequence === 7, 'the lost hole');
    expect([errors[0]!.from, errors[0]!.count, errors[0]!.attempts]).toEqual([1, 3, 1]);
    expect(got).toEqual([4, 5, 6]);
    expect(sub.stats().requestsSent).toBe(0);
    expect(sub.stats().lost).toBe(3);
  });

  it("a late joiner starts at the current sequence with start: 'current', or recovers from 1 by default", async () => {
    const source = await openDgramSource();
    const lateSource = await openDgramSource();
    const pub = await FeedPublisher.open({ session: 'LATE', host: '127.0.0.1', port: source.local.port, heartbeatIntervalMs: 60_000 });
    closers.push(() => pub.close());
    publishRange(pub, 10); // nobody listens yet: lost to both
    await sleep(20);
    const current: number[] = [];
    const sub = await FeedSubscriber.open({ source, start: 'current', onMessage: (_m, s) => current.push(s) });
    closers.push(() => sub.close());
    publishRange(pub, 10);
    await until(() => sub.nextSequence === 21, 'messages 11..20');
    expect(current).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(sub.stats().requestsSent).toBe(0);

    const pub2 = await FeedPublisher.open({ session: 'LATE', host: '127.0.0.1', port: lateSource.local.port, heartbeatIntervalMs: 60_000 });
    closers.push(() => pub2.close());
    publishRange(pub2, 10);
    await sleep(20);
    const all: number[] = [];
    const sub2 = await FeedSubscriber.open({
      source: lateSource,
      requestHost: '127.0.0.1',
      requestPort: pub2.requestAddress.port,
      onMessage: (_m, s) => all.push(s),
    });
    closers.push(() => sub2.close());
    publishRange(pub2, 10);
    await until(() => sub2.nextSequence === 21, 'messages 1..20 with 1..10 recovered');
    expect(all).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(sub2.stats().messagesRecovered).toBe(10);
  });

  it('works over IPv6 loopback', async () => {
    const source = await openDgramSource({ host: '::1' });
    const pub = await FeedPublisher.open({ session: 'V6', host: '::1', port: source.local.port, heartbeatIntervalMs: 60_000 });
    closers.push(() => pub.close());
    expect(pub.requestAddress.address).toBe('::1');
    const got: number[] = [];
    const sub = await FeedSubscriber.open({ source, requestHost: '::1', requestPort: pub.requestAddress.port, onMessage: (_m, s) => got.push(s) });
    closers.push(() => sub.close());
    publishRange(pub, 3);
    pub.end();
    await sub.ended;
    expect(got).toEqual([1, 2, 3]);
  });

  it('takes any PacketSource, through a factory too', async () => {
    let opened: PacketSource | undefined;
    const sub = await FeedSubscriber.open({
      source: async (bind) => (opened = await openDgramSource(bind)),
      bind: { host: '127.0.0.1', port: 0 },
      onMessage: () => undefined,
    });
    closers.push(() => sub.close());
    expect(sub.source).toBe(opened);
    expect(sub.source.kind).toBe('dgram');
  });
});

describe('request server', () => {
  async function server(options: Partial<FeedPublisherOptions>): Promise<{ pub: FeedPublisher; raw: Socket; replies: Uint8Array[] }> {
    const pub = await FeedPublisher.open({ ...okPublisher, heartbeatIntervalMs: 60_000, ...options });
    closers.push(() => pub.close());
    const raw = await rawSocket();
    const replies: Uint8Array[] = [];
    raw.on('message', (m) => replies.push(m));
    publishRange(pub, 100);
    return { pub, raw, replies };
  }

  it('answers a request with the stored messages, cut to maxReplyMessages', async () => {
    const { pub, raw, replies } = await server({ maxReplyMessages: 10 });
    await send(raw, encodeMoldRequest({ session: 'S1', sequence: 41, count: 50 }), pub.requestAddress.port);
    await until(() => replies.length > 0, 'a reply');
    const p = decodeMoldPacket(replies[0]!);
    expect([p.sequence, p.count]).toEqual([41, 10]);
    p.messages.forEach((m, i) => expect(checkFeedMessage(m, 41 + i)).toBe(true));
    expect(pub.stats().requestsTruncated).toBe(1);
  });

  it('drops requests past maxRequestsPerSecond, malformed ones and other sessions, counting each', async () => {
    const { pub, raw, replies } = await server({ maxRequestsPerSecond: 2 });
    const port = pub.requestAddress.port;
    for (let i = 0; i < 6; i++) await send(raw, encodeMoldRequest({ session: 'S1', sequence: 1, count: 1 }), port);
    await send(raw, new Uint8Array(7), port);
    await send(raw, encodeMoldHeartbeat('S1', 1).subarray(0, 19), port);
    await until(() => pub.stats().requests + pub.stats().requestsMalformed === 8, 'eight datagrams');
    const s = pub.stats();
    expect(s.requestsMalformed).toBe(2);
    expect(s.requestsServed).toBeGreaterThanOrEqual(2);
    expect(s.requestsRateLimited).toBeGreaterThanOrEqual(3);
    expect(s.requestsServed + s.requestsRateLimited).toBe(6);
    await sleep(10);
    expect(replies.length).toBe(s.requestsServed);
  });

  it('counts requests for other sessions, unsent and evicted messages', async () => {
    const { pub, raw } = await server({ storeCapacity: 50 });
    const port = pub.requestAddress.port;
    await send(raw, encodeMoldRequest({ session: 'S2', sequence: 60, count: 1 }), port);
    await send(raw, encodeMoldRequest({ session: 'S1', sequence: 500, count: 1 }), port);
    await send(raw, encodeMoldRequest({ session: 'S1', sequence: 1, count: 10 }), port);
    await until(() => pub.stats().requests === 3, 'three requests');
    const s = pub.stats();
    expect([s.requestsWrongSession, s.requestsNotSent, s.requestsEvicted, s.requestsServed]).toEqual([1, 1, 1, 0]);
  });
});

describe('an onMessage that throws', () => {
  it('does not skip the rest of its packet silently: the sequencer resumes after the message that threw', async () => {
    let push: ((bytes: Uint8Array, info: { address: string; port: number; receivedNs: number; kernelNs: number }) => void) | undefined;
    const source: PacketSource = {
      kind: 'test',
      local: { address: '127.0.0.1', port: 1 },
      start: (onPacket) => {
        push = onPacket;
      },
      stats: () => ({ packets: 0, bytes: 0, dropped: 0, truncated: 0 }),
      close: async () => undefined,
    };
    const got: number[] = [];
    const sub = await FeedSubscriber.open({
      source,
      requestTimeoutMs: 5,
      onMessage: (_m, s) => {
        got.push(s);
        if (s === 2) throw new Error('user onMessage boom');
      },
    });
    closers.push(() => sub.close());
    const errors: FeedGapError[] = [];
    sub.on('error', (e: FeedGapError) => errors.push(e));
    const info = { address: '127.0.0.1', port: 2, receivedNs: 0, kernelNs: NaN };
    const three = [1, 2, 3].map((s) => feedMessage(s, new Uint8Array(40)));
    expect(() => push!(encodeMoldPacket({ session: 'THROW', sequence: 1, messages: three }), info)).toThrow('user onMessage boom');
    expect(got).toEqual([1, 2]);
    expect(sub.nextSequence).toBe(3); // message 3 was never handed over
    push!(encodeMoldHeartbeat('THROW', 4), info);
    await until(() => errors.length === 1, 'message 3 reported lost (no request server here)');
    expect([errors[0]!.from, errors[0]!.count]).toEqual([3, 1]);
    expect(sub.stats().messages).toBe(2);
  });
});

describe('publish then close at once (the docs/net.md example)', () => {
  it('the flushed messages and the end of session reach the subscriber: close waits for the sends it started', async () => {
    const source = await openDgramSource();
    const pub = await FeedPublisher.open({ session: 'CLOSE', host: '127.0.0.1', port: source.local.port, heartbeatIntervalMs: 60_000 });
    closers.push(() => pub.close());
    const got: number[] = [];
    const sub = await FeedSubscriber.open({ source, requestHost: '127.0.0.1', requestPort: pub.requestAddress.port, onMessage: (_m, s) => got.push(s) });
    closers.push(() => sub.close());
    pub.publish(new Uint8Array([1, 2, 3]));
    pub.publish(new Uint8Array([4]));
    await pub.close(); // dgram drops a send still resolving its address when the socket closes first
    const timeout = new Promise<string>((r) => setTimeout(() => r('no end of session within 3 s'), 3000));
    const ended = await Promise.race([sub.ended, timeout]);
    expect(ended).toMatchObject({ ended: true, messages: 2 });
    expect(got).toEqual([1, 2]);
  });
});
