/**
 * A UDP market-data feed over MoldUDP64 (DESIGN.md "Codecs and transports"): `FeedPublisher`
 * sends sequenced messages packed into MTU-sized packets, heartbeats when idle and an end of
 * session when done, and serves retransmission requests from a `MoldRetransmitStore` on its own
 * UDP port; `FeedSubscriber` receives them through any `PacketSource` (default `dgram`),
 * delivers every message exactly once and in order through `MoldSession`, and fills gaps by
 * re-requesting them, with backoff, from the publisher's request server.
 *
 * Choices (the spec leaves them open):
 * - The subscriber sends requests from a socket of its own; the server answers to the
 *   requester's address as MoldUDP64 says, so replies arrive on that socket (not through the
 *   feed's `PacketSource`) and go through the same sequencer.
 * - Packets that arrive after a gap are copied and held, at most `maxBufferedPackets` of them
 *   (default 4096). Past that a packet is dropped and counted in `bufferOverflow`: nothing is
 *   lost by it, since every message past the gap is requested again once the held ones are used.
 * - A request asks for the first hole only (from the next expected sequence to the first held
 *   packet, or to the highest announced sequence), at most `maxRequestCount` messages. With no
 *   progress after `requestTimeoutMs` it is sent again, the timeout doubling up to
 *   `maxRequestTimeoutMs`; after `maxRequestAttempts` tries without progress the hole is
 *   declared lost (the server evicted it, or is gone): a `FeedGapError` is emitted as `'error'`
 *   and the hole is skipped (`unrecoverableGap: 'skip'`, the default) or the subscriber stops
 *   (`'stop'`). A lost hole is never skipped silently: with no `'error'` listener the emit throws.
 * - Gap-detection time: from the arrival of the last feed packet before the one that revealed
 *   the gap (the lost packet would have come right after it) to that packet's arrival. A lost
 *   last packet is revealed by the next heartbeat, so this is bounded by the heartbeat interval.
 *   Recovery time: from detection to the delivery of the gap's last message.
 * - A late joiner starts at sequence 1 (`start: 'beginning'`, recovering what the server still
 *   stores and reporting the rest as lost) or at the first sequence it sees (`start: 'current'`).
 *   Snapshot recovery of state built from earlier messages (a book) is not done here.
 */
import { EventEmitter } from 'node:events';
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';

import { UltraPerfError, invalidRange, invalidType, invalidValue } from '../errors.js';
import { unknownOptionError } from '../internal/options.js';
import { nowNs } from '../monitor/clock.js';
import { LatencyHistogram, type LatencySummary } from '../monitor/histogram.js';
import { bindSocket, checkHost, checkPort, closeSocket, isMulticastAddress, openDgramSource, resolveSourceOptions } from './dgram-source.js';
import {
  MoldRetransmitStore,
  MoldSession,
  decodeMoldPacket,
  decodeMoldRequest,
  encodeMoldEndOfSession,
  encodeMoldHeartbeat,
  encodeMoldPacketInto,
  encodeMoldRequest,
  kMoldDefaultMtu,
  kMoldHeaderBytes,
  kMoldMaxMessages,
  kMoldMaxMtu,
  type MoldPacket,
} from './moldudp64.js';
import type { PacketInfo, PacketSource, PacketSourceOptions, PacketSourceStats } from './packet-source.js';

export { isMulticastAddress, openDgramSource } from './dgram-source.js';

function checkInteger(value: unknown, argument: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidType(argument, `an integer in [${min}, ${max}]`, value);
  if (!Number.isInteger(value) || value < min || value > max) throw invalidRange(argument, `an integer in [${min}, ${max}]`, value);
  return value;
}

function checkNumber(value: unknown, argument: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidType(argument, `a number in [${min}, ${max}]`, value);
  if (!(value >= min && value <= max)) throw invalidRange(argument, `a number in [${min}, ${max}]`, value);
  return value;
}

function checkObject(options: unknown, argument: string, what: string): Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw invalidType(argument, what, options);
  return options as Record<string, unknown>;
}

/** Refuses keys an options object does not know (a typo would otherwise be ignored silently). */
function checkKeys(options: Record<string, unknown>, known: readonly string[], fn: string): void {
  for (const key of Object.keys(options)) if (!known.includes(key)) throw unknownOptionError(key, fn, known);
}

/** The same session check as MoldUDP64's encoders, naming `argument`. */
function checkSession(session: unknown, argument: string): string {
  if (typeof session !== 'string') throw invalidType(argument, 'a string of at most 10 ASCII characters', session);
  // encodeMoldHeartbeat checks length and characters; rethrow under our argument's name
  try {
    encodeMoldHeartbeat(session, 1);
  } catch {
    throw invalidValue(argument, 'a string of at most 10 printable ASCII characters (0x20-0x7E)', session);
  }
  return session.trimEnd();
}

const kTimeHistogram = { lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, significantFigures: 3 };

// ---------------------------------------------------------------------------------------------
// Publisher

/** Options of `FeedPublisher.open`. */
export interface FeedPublisherOptions {
  /** The MoldUDP64 session, at most 10 printable ASCII characters. */
  session: string;
  /** Destination address of the feed (unicast, or a multicast group where the host routes it). */
  host: string;
  /** Destination port, 1–65535. */
  port: number;
  /** Largest packet (UDP payload) in bytes, [22, 65507]; default 1472. */
  mtu?: number;
  /** A heartbeat is sent when nothing was sent for this long (ms, [1, 60000]); default 1000. */
  heartbeatIntervalMs?: number;
  /** Multicast sending options; only with a multicast `host`. */
  multicast?: { ttl?: number; loopback?: boolean; interface?: string };
  /** Address the request server binds (default 127.0.0.1, or ::1 for an IPv6 `host`). */
  requestHost?: string;
  /** Port the request server binds (default 0: any free port; read `requestAddress`). */
  requestPort?: number;
  /** Messages the retransmission store keeps, [1, 2^24]; default 1_000_000. */
  storeCapacity?: number;
  /** Bytes the store keeps; default storeCapacity × 64. */
  storeMaxBytes?: number;
  /** The most messages one request is answered with (a larger request gets the first ones), [1, 65535]; default 4096. */
  maxReplyMessages?: number;
  /** Requests served per second (token bucket, a second's worth of burst); more are dropped and counted; default 1000. */
  maxRequestsPerSecond?: number;
}

/** Counters of a publisher. */
export interface FeedPublisherStats {
  messages: number;
  packets: number;
  bytes: number;
  heartbeats: number;
  endOfSessions: number;
  /** Requests received (well-formed). */
  requests: number;
  /** Requests answered with at least one packet. */
  requestsServed: number;
  /** Requests dropped by the rate limit. */
  requestsRateLimited: number;
  /** Requests cut to `maxReplyMessages`. */
  requestsTruncated: number;
  /** Requests for messages no longer stored (all or part). */
  requestsEvicted: number;
  /** Requests naming another session. */
  requestsWrongSession: number;
  /** Requests for messages not sent yet. */
  requestsNotSent: number;
  /** Datagrams on the request port that are not a request. */
  requestsMalformed: number;
  /** Packets sent in replies. */
  replyPackets: number;
  /** Socket send errors (the packet may not have left). */
  sendErrors: number;
}

const kPublisherKeys = [
  'session', 'host', 'port', 'mtu', 'heartbeatIntervalMs', 'multicast', 'requestHost', 'requestPort',
  'storeCapacity', 'storeMaxBytes', 'maxReplyMessages', 'maxRequestsPerSecond',
] as const;

/**
 * Sends a MoldUDP64 session over UDP and serves its retransmission requests.
 *
 * `publish(message)` copies the message into the retransmission store and into the packet
 * being filled; a packet is sent when the next message would not fit `mtu`, when `flush()` is
 * called, or at the latest on the next turn of the event loop (`setImmediate`). When nothing
 * was sent for `heartbeatIntervalMs` a heartbeat announces the next sequence number, so a
 * subscriber that lost the last packet sees the gap. `end()` sends the end of session (and
 * repeats it instead of heartbeats) while requests are still served; `close()` ends and closes
 * both sockets.
 *
 * @example
 * const pub = await FeedPublisher.open({ session: 'ITCH1', host: '127.0.0.1', port: 31000 });
 * pub.publish(itchMessage);            // → its sequence number
 * console.log(pub.requestAddress);     // give this to subscribers
 * await pub.close();
 */
export class FeedPublisher {
  readonly session: string;
  readonly mtu: number;
  readonly destination: { address: string; port: number };
  /** Where the request server listens. */
  readonly requestAddress: { address: string; port: number };
  readonly store: MoldRetransmitStore;
  readonly heartbeatIntervalMs: number;
  readonly maxReplyMessages: number;
  readonly maxRequestsPerSecond: number;
  private readonly socket: Socket;
  private readonly requestSocket: Socket;
  private readonly counters: FeedPublisherStats = {
    messages: 0, packets: 0, bytes: 0, heartbeats: 0, endOfSessions: 0, requests: 0, requestsServed: 0,
    requestsRateLimited: 0, requestsTruncated: 0, requestsEvicted: 0, requestsWrongSession: 0, requestsNotSent: 0,
    requestsMalformed: 0, replyPackets: 0, sendErrors: 0,
  };
  /** Message bytes of the packet being filled; `pending` are views of it. */
  private readonly staging: Uint8Array;
  private readonly pending: Uint8Array[] = [];
  private stagingUsed = 0;
  private pendingBytes = kMoldHeaderBytes;
  private flushScheduled: ReturnType<typeof setImmediate> | undefined;
  private readonly heartbeatTimer: ReturnType<typeof setInterval>;
  private sentSinceTick = false;
  private tokens: number;
  private tokensAtNs: number;
  private ended = false;
  private closing: Promise<void> | undefined;
  private readonly onSent = (error: Error | null): void => {
    if (error) this.counters.sendErrors++;
  };

  /** Feed sends not yet completed: dgram drops one still resolving its address when the socket closes first. */
  private sendsInFlight = 0;
  private onSendsDone: (() => void) | undefined;
  private readonly onFeedSent = (error: Error | null): void => {
    this.onSent(error);
    if (--this.sendsInFlight === 0 && this.onSendsDone !== undefined) this.onSendsDone();
  };

  private constructor(o: ResolvedPublisher, socket: Socket, requestSocket: Socket) {
    this.session = o.session;
    this.mtu = o.mtu;
    this.destination = { address: o.host, port: o.port };
    this.heartbeatIntervalMs = o.heartbeatIntervalMs;
    this.maxReplyMessages = o.maxReplyMessages;
    this.maxRequestsPerSecond = o.maxRequestsPerSecond;
    this.store = new MoldRetransmitStore({ session: o.session, capacity: o.storeCapacity, maxBytes: o.storeMaxBytes });
    this.socket = socket;
    this.requestSocket = requestSocket;
    const a = requestSocket.address();
    this.requestAddress = { address: a.address, port: a.port };
    this.staging = new Uint8Array(o.mtu);
    this.tokens = o.maxRequestsPerSecond;
    this.tokensAtNs = nowNs();
    socket.on('error', () => this.counters.sendErrors++);
    requestSocket.on('error', () => this.counters.sendErrors++);
    requestSocket.on('message', (msg, rinfo) => this.serve(msg, rinfo.address, rinfo.port));
    this.heartbeatTimer = setInterval(() => this.tick(), o.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  /**
   * Opens the sending socket and the request server.
   * @throws TypeError/RangeError naming the option (`options.session`, `options.host`,
   *   `options.port`, `options.mtu`, …); rejects with the socket's error when a bind fails.
   */
  static async open(options: FeedPublisherOptions): Promise<FeedPublisher> {
    const o = resolvePublisherOptions(options);
    const family = isIP(o.host) === 6 ? 'udp6' : 'udp4';
    const socket = createSocket({ type: family });
    const requestSocket = createSocket({ type: isIP(o.requestHost) === 6 ? 'udp6' : 'udp4' });
    try {
      await bindSocket(socket, 0, family === 'udp6' ? '::' : '0.0.0.0');
      if (o.multicast !== undefined) {
        if (o.multicast.ttl !== undefined) socket.setMulticastTTL(o.multicast.ttl);
        if (o.multicast.loopback !== undefined) socket.setMulticastLoopback(o.multicast.loopback);
        if (o.multicast.interface !== undefined) socket.setMulticastInterface(o.multicast.interface);
      }
      await bindSocket(requestSocket, o.requestPort, o.requestHost);
    } catch (error) {
      await Promise.all([closeSocket(socket), closeSocket(requestSocket)]);
      throw error;
    }
    return new FeedPublisher(o, socket, requestSocket);
  }

  /** The sequence number the next message gets. */
  get nextSequence(): number {
    return this.store.nextSequence;
  }

  /**
   * Queues one message and returns its sequence number. The message is copied (reuse it).
   * @throws TypeError/RangeError naming `message` (not a Uint8Array, or longer than `mtu − 22`
   *   bytes); an Error with code ERR_ULTRA_PERF_FEED_ENDED after `end()` or `close()`.
   */
  publish(message: Uint8Array): number {
    if (!(message instanceof Uint8Array)) throw invalidType('message', 'a Uint8Array', message);
    if (message.length > this.mtu - kMoldHeaderBytes - 2) {
      throw invalidRange('message.length', `at most mtu - 22 = ${this.mtu - kMoldHeaderBytes - 2} bytes`, message.length);
    }
    if (this.ended) throw new UltraPerfError('ERR_ULTRA_PERF_FEED_ENDED', `publish on session ${this.session} after end() or close()`);
    if (this.pendingBytes + 2 + message.length > this.mtu || this.pending.length === kMoldMaxMessages) this.flush();
    const sequence = this.store.append(message);
    const at = this.stagingUsed;
    this.staging.set(message, at);
    this.stagingUsed = at + message.length;
    this.pending.push(this.staging.subarray(at, at + message.length));
    this.pendingBytes += 2 + message.length;
    this.counters.messages++;
    this.flushScheduled ??= setImmediate(() => {
      this.flushScheduled = undefined;
      this.flush();
    });
    return sequence;
  }

  /** Sends the packet being filled now (nothing when it is empty). */
  flush(): void {
    const n = this.pending.length;
    if (n === 0) return;
    const out = Buffer.allocUnsafe(this.pendingBytes);
    encodeMoldPacketInto({ session: this.session, sequence: this.store.nextSequence - n, messages: this.pending }, out, 0, this.mtu);
    this.pending.length = 0;
    this.stagingUsed = 0;
    this.pendingBytes = kMoldHeaderBytes;
    this.send(out);
  }

  private send(bytes: Uint8Array): void {
    this.counters.packets++;
    this.counters.bytes += bytes.length;
    this.sentSinceTick = true;
    this.sendsInFlight++;
    this.socket.send(bytes, this.destination.port, this.destination.address, this.onFeedSent);
  }

  private tick(): void {
    if (this.sentSinceTick) {
      this.sentSinceTick = false;
      return;
    }
    this.flush();
    if (this.ended) {
      this.counters.endOfSessions++;
      this.send(encodeMoldEndOfSession(this.session, this.store.nextSequence, Buffer.allocUnsafe(kMoldHeaderBytes)));
    } else {
      this.counters.heartbeats++;
      this.send(encodeMoldHeartbeat(this.session, this.store.nextSequence, Buffer.allocUnsafe(kMoldHeaderBytes)));
    }
    this.sentSinceTick = false;
  }

  /** Answers one datagram on the request port. */
  private serve(msg: Uint8Array, address: string, port: number): void {
    const c = this.counters;
    let request;
    try {
      request = decodeMoldRequest(msg);
    } catch {
      c.requestsMalformed++;
      return;
    }
    c.requests++;
    const now = nowNs();
    const rate = this.maxRequestsPerSecond;
    this.tokens = Math.min(rate, this.tokens + ((now - this.tokensAtNs) * rate) / 1e9);
    this.tokensAtNs = now;
    if (this.tokens < 1) {
      c.requestsRateLimited++;
      return;
    }
    this.tokens -= 1;
    if (request.count > this.maxReplyMessages) {
      request.count = this.maxReplyMessages;
      c.requestsTruncated++;
    }
    const packets = this.store.reply(request, this.mtu);
    const status = this.store.lastReply.status;
    if (status === 'wrong-session') c.requestsWrongSession++;
    else if (status === 'not-sent') c.requestsNotSent++;
    else if (status === 'evicted' || (status === 'partial' && this.store.lastReply.sequence > request.sequence)) c.requestsEvicted++;
    if (packets.length > 0) c.requestsServed++;
    for (const p of packets) {
      c.replyPackets++;
      this.requestSocket.send(p, port, address, this.onSent);
    }
  }

  /**
   * Ends the session: sends what is pending and an end-of-session packet, then repeats the end
   * of session at the heartbeat interval. Requests are still served until `close()`. Idempotent.
   */
  end(): void {
    if (this.ended) return;
    this.flush();
    this.ended = true;
    this.counters.endOfSessions++;
    this.send(encodeMoldEndOfSession(this.session, this.store.nextSequence, Buffer.allocUnsafe(kMoldHeaderBytes)));
  }

  /** Ends the session (when not ended yet) and closes both sockets. Idempotent: every call returns the same promise. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (!this.ended) this.end();
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    clearInterval(this.heartbeatTimer);
    // The end of session (and the flush before it) were just sent: closing at once would drop them.
    const sent = this.sendsInFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.onSendsDone = resolve));
    this.closing = sent.then(() => Promise.all([closeSocket(this.socket), closeSocket(this.requestSocket)])).then(() => undefined);
    return this.closing;
  }

  /** A copy of the counters. */
  stats(): FeedPublisherStats {
    return { ...this.counters };
  }
}

interface ResolvedPublisher {
  session: string;
  host: string;
  port: number;
  mtu: number;
  heartbeatIntervalMs: number;
  multicast: { ttl?: number; loopback?: boolean; interface?: string } | undefined;
  requestHost: string;
  requestPort: number;
  storeCapacity: number;
  storeMaxBytes: number | undefined;
  maxReplyMessages: number;
  maxRequestsPerSecond: number;
}

function resolvePublisherOptions(options: unknown): ResolvedPublisher {
  const o = checkObject(options, 'options', 'an object { session, host, port, … }');
  checkKeys(o, kPublisherKeys, 'FeedPublisher.open');
  const session = checkSession(o.session, 'options.session');
  const host = checkHost(o.host, 'options.host');
  const port = checkPort(o.port, 'options.port', false);
  const mtu = checkInteger(o.mtu ?? kMoldDefaultMtu, 'options.mtu', kMoldHeaderBytes + 2, kMoldMaxMtu);
  const heartbeatIntervalMs = checkInteger(o.heartbeatIntervalMs ?? 1000, 'options.heartbeatIntervalMs', 1, 60_000);
  let multicast: ResolvedPublisher['multicast'];
  if (o.multicast !== undefined) {
    const m = checkObject(o.multicast, 'options.multicast', 'an object { ttl?, loopback?, interface? }');
    checkKeys(m, ['ttl', 'loopback', 'interface'], 'FeedPublisher.open options.multicast');
    if (!isMulticastAddress(host)) throw invalidValue('options.multicast', `options only for a multicast options.host (it is ${host})`, o.multicast);
    if (m.ttl !== undefined) checkInteger(m.ttl, 'options.multicast.ttl', 0, 255);
    if (m.loopback !== undefined && typeof m.loopback !== 'boolean') throw invalidType('options.multicast.loopback', 'a boolean', m.loopback);
    if (m.interface !== undefined) checkHost(m.interface, 'options.multicast.interface');
    multicast = m as ResolvedPublisher['multicast'];
  }
  const requestHost = checkHost(o.requestHost ?? (isIP(host) === 6 ? '::1' : '127.0.0.1'), 'options.requestHost');
  const requestPort = checkPort(o.requestPort ?? 0, 'options.requestPort', true);
  const storeCapacity = checkInteger(o.storeCapacity ?? 1_000_000, 'options.storeCapacity', 1, 1 << 24);
  const storeMaxBytes = o.storeMaxBytes === undefined ? undefined : checkInteger(o.storeMaxBytes, 'options.storeMaxBytes', 1, 0x7fffffff);
  const maxReplyMessages = checkInteger(o.maxReplyMessages ?? 4096, 'options.maxReplyMessages', 1, 0xffff);
  const maxRequestsPerSecond = checkNumber(o.maxRequestsPerSecond ?? 1000, 'options.maxRequestsPerSecond', 1, 1e9);
  return { session, host, port, mtu, heartbeatIntervalMs, multicast, requestHost, requestPort, storeCapacity, storeMaxBytes, maxReplyMessages, maxRequestsPerSecond };
}

// ---------------------------------------------------------------------------------------------
// Subscriber

/**
 * A hole the subscriber could not recover: `[from, from + count)` was requested
 * `attempts` times without progress (the server no longer stores it, or does not answer).
 * Code ERR_ULTRA_PERF_FEED_GAP_LOST.
 */
export class FeedGapError extends UltraPerfError {
  readonly session: string;
  readonly from: number;
  readonly count: number;
  readonly attempts: number;
  constructor(session: string, from: number, count: number, attempts: number) {
    super(
      'ERR_ULTRA_PERF_FEED_GAP_LOST',
      `session ${session}: messages ${from} to ${from + count - 1} (${count}) could not be recovered after ${attempts} requests (evicted from the server's store, or no server answers)`,
    );
    this.session = session;
    this.from = from;
    this.count = count;
    this.attempts = attempts;
  }
}

/** Options of `FeedSubscriber.open`. */
export interface FeedSubscriberOptions {
  /** Called once per message, in sequence order. `message` is valid only during the call. */
  onMessage: (message: Uint8Array, sequence: number) => void;
  /** The session to follow (default: the first packet's). */
  session?: string;
  /**
   * Where feed packets come from: a `PacketSource` not yet started (the subscriber starts and
   * closes it) or a function opening one from `bind`; default `openDgramSource`.
   */
  source?: PacketSource | ((options: PacketSourceOptions) => Promise<PacketSource>);
  /** Where the default source binds (host, port, multicastGroup, receiveBufferBytes). */
  bind?: PacketSourceOptions;
  /** The publisher's request server. Without it gaps cannot be recovered and are declared lost after the retries. */
  requestHost?: string;
  requestPort?: number;
  /** `'beginning'` (default): expect sequence 1; `'current'`: start at the first packet seen; or a sequence number. */
  start?: 'beginning' | 'current' | number;
  /** Out-of-order packets held while a gap is open, [1, 65536]; default 4096. */
  maxBufferedPackets?: number;
  /** Wait for a reply before asking again (ms, [1, 60000]); default 10, doubled per try. */
  requestTimeoutMs?: number;
  /** Cap of the doubled timeout (ms); default 1000. */
  maxRequestTimeoutMs?: number;
  /** Tries without progress before a hole is declared lost, [1, 1000]; default 10. */
  maxRequestAttempts?: number;
  /** The most messages one request asks for, [1, 65535]; default 4096. */
  maxRequestCount?: number;
  /** What follows a lost hole (after the `'error'` event): skip past it (default) or stop. */
  unrecoverableGap?: 'skip' | 'stop';
}

/** Counters of a subscriber. */
export interface FeedSubscriberStats {
  /** Messages delivered. */
  messages: number;
  /** Datagrams received on the feed and on the request socket. */
  packets: number;
  heartbeats: number;
  /** Gaps seen: a packet or heartbeat that announced sequence numbers past all received so far. */
  gapsDetected: number;
  /** Retransmitted packets that delivered or filled something. */
  packetsRecovered: number;
  /** Messages delivered from retransmitted packets. */
  messagesRecovered: number;
  /** Requests sent (first tries and retries). */
  requestsSent: number;
  /** Retries after a timeout. */
  requestRetries: number;
  /** Packets whose every message was delivered already. */
  duplicates: number;
  /** Packets of another session (ignored). */
  wrongSession: number;
  /** Datagrams that are not MoldUDP64 packets (ignored). */
  malformed: number;
  /** Packets held now, waiting for a gap to fill. */
  buffered: number;
  /** Packets not held because `maxBufferedPackets` were (they are requested again later). */
  bufferOverflow: number;
  /** Messages declared lost (each hole also emitted a `FeedGapError`). */
  lost: number;
  /** True once the end of session was seen and every message before it delivered. */
  ended: boolean;
  /** The next sequence number to deliver. */
  nextSequence: number;
  /** Gap-detection time, ns. */
  gapDetectionNs: LatencySummary;
  /** Gap recovery time (detection to the gap's last message delivered), ns. */
  gapRecoveryNs: LatencySummary;
  /** The feed source's own counters. */
  source: PacketSourceStats;
}

interface Held {
  sequence: number;
  packet: MoldPacket;
  retransmitted: boolean;
}

const kSubscriberKeys = [
  'onMessage', 'session', 'source', 'bind', 'requestHost', 'requestPort', 'start', 'maxBufferedPackets',
  'requestTimeoutMs', 'maxRequestTimeoutMs', 'maxRequestAttempts', 'maxRequestCount', 'unrecoverableGap',
] as const;

interface ResolvedSubscriber {
  onMessage: (message: Uint8Array, sequence: number) => void;
  session: string | undefined;
  source: PacketSource | ((options: PacketSourceOptions) => Promise<PacketSource>);
  bind: PacketSourceOptions;
  request: { host: string; port: number } | undefined;
  start: 'beginning' | 'current' | number;
  maxBufferedPackets: number;
  requestTimeoutMs: number;
  maxRequestTimeoutMs: number;
  maxRequestAttempts: number;
  maxRequestCount: number;
  unrecoverableGap: 'skip' | 'stop';
}

function resolveSubscriberOptions(options: unknown): ResolvedSubscriber {
  const o = checkObject(options, 'options', 'an object { onMessage, requestHost?, requestPort?, … }');
  checkKeys(o, kSubscriberKeys, 'FeedSubscriber.open');
  if (typeof o.onMessage !== 'function') throw invalidType('options.onMessage', 'a function (message, sequence) => void', o.onMessage);
  const session = o.session === undefined ? undefined : checkSession(o.session, 'options.session');
  const source = o.source ?? openDgramSource;
  if (typeof source !== 'function') {
    const s = source as Partial<PacketSource> | null;
    if (s === null || typeof s !== 'object' || typeof s.start !== 'function' || typeof s.close !== 'function' || typeof s.stats !== 'function') {
      throw invalidType('options.source', 'a PacketSource { start, stats, close } or a function opening one', source);
    }
  }
  const bind = resolveSourceOptions(o.bind, 'options.bind');
  let request: ResolvedSubscriber['request'];
  if (o.requestHost !== undefined || o.requestPort !== undefined) {
    request = { host: checkHost(o.requestHost ?? '127.0.0.1', 'options.requestHost'), port: checkPort(o.requestPort, 'options.requestPort', false) };
  }
  const start = o.start ?? 'beginning';
  if (start !== 'beginning' && start !== 'current') {
    if (typeof start !== 'number') throw invalidType('options.start', "'beginning', 'current' or a sequence number", start);
    checkInteger(start, 'options.start', 1, Number.MAX_SAFE_INTEGER);
  }
  const requestTimeoutMs = checkInteger(o.requestTimeoutMs ?? 10, 'options.requestTimeoutMs', 1, 60_000);
  const maxRequestTimeoutMs = checkInteger(o.maxRequestTimeoutMs ?? Math.max(1000, requestTimeoutMs), 'options.maxRequestTimeoutMs', requestTimeoutMs, 600_000);
  const unrecoverableGap = o.unrecoverableGap ?? 'skip';
  if (unrecoverableGap !== 'skip' && unrecoverableGap !== 'stop') throw invalidValue('options.unrecoverableGap', "'skip' or 'stop'", unrecoverableGap);
  return {
    onMessage: o.onMessage as ResolvedSubscriber['onMessage'],
    session,
    source: source as ResolvedSubscriber['source'],
    bind,
    request,
    start: start as ResolvedSubscriber['start'],
    maxBufferedPackets: checkInteger(o.maxBufferedPackets ?? 4096, 'options.maxBufferedPackets', 1, 65536),
    requestTimeoutMs,
    maxRequestTimeoutMs,
    maxRequestAttempts: checkInteger(o.maxRequestAttempts ?? 10, 'options.maxRequestAttempts', 1, 1000),
    maxRequestCount: checkInteger(o.maxRequestCount ?? 4096, 'options.maxRequestCount', 1, 0xffff),
    unrecoverableGap,
  };
}

/**
 * Receives a MoldUDP64 session and delivers each message exactly once, in order, filling
 * gaps from the publisher's request server (see the file comment for the policies).
 *
 * Events: `'gap'` (from, count) when a gap is detected, `'error'` (FeedGapError) when a hole
 * is lost, `'end'` (stats) once the end of session is seen and everything before it delivered.
 *
 * @example
 * const sub = await FeedSubscriber.open({
 *   bind: { host: '127.0.0.1', port: 31000 },
 *   requestHost: '127.0.0.1', requestPort: pub.requestAddress.port,
 *   onMessage: (bytes, seq) => book.apply(decodeItch(bytes)),
 * });
 * sub.on('error', (e) => log(e));      // a hole the server no longer has
 * await sub.ended;                     // end of session, all delivered
 * console.log(sub.stats().gapRecoveryNs.p99);
 * await sub.close();
 */
export class FeedSubscriber extends EventEmitter {
  /** The feed's source (its `local.port` is where publishers send). */
  readonly source: PacketSource;
  /** Resolves once the end of session is seen and every message before it delivered (or the subscriber stopped). */
  readonly ended: Promise<FeedSubscriberStats>;
  readonly gapDetectionNs = new LatencyHistogram(kTimeHistogram);
  readonly gapRecoveryNs = new LatencyHistogram(kTimeHistogram);
  private readonly o: ResolvedSubscriber;
  private sequencer: MoldSession | undefined;
  private readonly requestSocket: Socket | undefined;
  private readonly requestBytes = Buffer.alloc(kMoldHeaderBytes);
  private readonly held: Held[] = [];
  /** Open gaps for the recovery-time histogram: end sequence and detection time, in order. */
  private readonly gapEnds: number[] = [];
  private readonly gapDetectedNs: number[] = [];
  private lastFeedNs = -1;
  /** Highest sequence known to exist (exclusive), from packets and heartbeats received. */
  private received = 1;
  // the outstanding request
  private requestFrom = 0;
  private requestEnd = 0;
  private requestNextAtSend = 0;
  private requestAttempts = 0;
  private requestTimeout: number;
  private requestDeadlineNs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly counters = {
    messages: 0, packets: 0, heartbeats: 0, gapsDetected: 0, packetsRecovered: 0, messagesRecovered: 0,
    requestsSent: 0, requestRetries: 0, duplicates: 0, wrongSession: 0, malformed: 0, bufferOverflow: 0, lost: 0,
  };
  private done = false;
  /** The end of session was seen and every message before it delivered. */
  private complete = false;
  private resolveEnded!: (stats: FeedSubscriberStats) => void;
  private closing: Promise<void> | undefined;

  private constructor(o: ResolvedSubscriber, source: PacketSource, requestSocket: Socket | undefined) {
    super();
    this.o = o;
    this.source = source;
    this.requestSocket = requestSocket;
    this.requestTimeout = o.requestTimeoutMs;
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
    if (typeof o.start === 'number' || o.start === 'beginning') {
      this.sequencer = new MoldSession({ session: o.session, nextSequence: typeof o.start === 'number' ? o.start : 1 });
      this.received = this.sequencer.nextSequence;
    }
    if (requestSocket) {
      requestSocket.on('error', () => undefined); // a send to a closed port; the retry timer covers it
      requestSocket.on('message', (msg) => this.onDatagram(msg, true, nowNs()));
    }
    source.start((bytes: Uint8Array, info: PacketInfo) => this.onDatagram(bytes, false, info.receivedNs));
  }

  /**
   * Opens the source (unless given one) and the request socket, and starts receiving.
   * @throws TypeError/RangeError naming the option (`options.onMessage`, `options.bind.port`,
   *   `options.requestPort`, `options.maxBufferedPackets`, …); rejects when a bind fails.
   */
  static async open(options: FeedSubscriberOptions): Promise<FeedSubscriber> {
    const o = resolveSubscriberOptions(options);
    const source = typeof o.source === 'function' ? await o.source(o.bind) : o.source;
    let requestSocket: Socket | undefined;
    if (o.request) {
      const v6 = isIP(o.request.host) === 6;
      requestSocket = createSocket({ type: v6 ? 'udp6' : 'udp4' });
      try {
        await bindSocket(requestSocket, 0, v6 ? '::1' : '127.0.0.1');
      } catch (error) {
        await source.close();
        throw error;
      }
    }
    return new FeedSubscriber(o, source, requestSocket);
  }

  /** The next sequence number to deliver (0 before the first packet with `start: 'current'`). */
  get nextSequence(): number {
    return this.sequencer?.nextSequence ?? 0;
  }

  private onDatagram(bytes: Uint8Array, retransmitted: boolean, atNs: number): void {
    if (this.done) return;
    const c = this.counters;
    c.packets++;
    let packet: MoldPacket;
    try {
      packet = decodeMoldPacket(bytes);
    } catch {
      c.malformed++;
      return;
    }
    let seq = this.sequencer;
    if (seq === undefined) {
      if (this.o.session !== undefined && packet.session !== this.o.session) {
        c.wrongSession++;
        return;
      }
      seq = this.sequencer = new MoldSession({ session: packet.session, nextSequence: packet.sequence });
      this.received = packet.sequence;
    }
    seq.session ??= packet.session;
    if (packet.session !== seq.session) {
      c.wrongSession++;
      return;
    }
    if (packet.count === 0) c.heartbeats++;
    const end = packet.sequence + packet.count;
    if (!retransmitted) {
      if (packet.sequence > this.received) {
        // the packets before this one, back to the last one received, were lost (or are late)
        c.gapsDetected++;
        if (this.lastFeedNs >= 0) this.gapDetectionNs.record(Math.max(0, atNs - this.lastFeedNs));
        this.gapEnds.push(packet.sequence);
        this.gapDetectedNs.push(atNs);
        this.emit('gap', this.received, packet.sequence - this.received);
      }
      this.lastFeedNs = atNs;
    }
    if (end > this.received) this.received = end;
    this.offer(seq, packet, retransmitted, bytes);
    this.drain(seq);
    this.afterProgress(seq);
  }

  /** Runs one packet through the sequencer: deliver, hold or drop. `bytes` is copied when held. */
  private offer(seq: MoldSession, packet: MoldPacket, retransmitted: boolean, bytes: Uint8Array | undefined): void {
    const c = this.counters;
    const v = seq.accept(packet);
    switch (v.status) {
      case 'deliver': {
        const onMessage = this.o.onMessage;
        const messages = packet.messages;
        let i = v.deliverFrom;
        try {
          while (i < messages.length) {
            const m = messages[i]!;
            i++;
            onMessage(m, packet.sequence + i - 1);
          }
        } finally {
          // onMessage threw: accept() already moved past the whole packet, which would skip the
          // messages after the one that threw without a word. Resume after it instead: the rest
          // is a hole, requested again (or reported lost) as any other.
          if (i < messages.length) seq.nextSequence = packet.sequence + i;
          c.messages += i - v.deliverFrom;
          if (retransmitted) {
            c.packetsRecovered++;
            c.messagesRecovered += i - v.deliverFrom;
          }
        }
        break;
      }
      case 'duplicate':
        c.duplicates++;
        break;
      case 'gap':
        if (packet.count > 0) this.hold(packet, retransmitted, bytes);
        break;
      case 'wrong-session':
        c.wrongSession++;
        break;
      default:
        break;
    }
  }

  /** Keeps a packet that came after a gap, sorted by sequence, at most maxBufferedPackets. */
  private hold(packet: MoldPacket, retransmitted: boolean, bytes: Uint8Array | undefined): void {
    const held = this.held;
    let lo = 0;
    let hi = held.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (held[mid]!.sequence < packet.sequence) lo = mid + 1;
      else hi = mid;
    }
    if (lo < held.length && held[lo]!.sequence === packet.sequence && held[lo]!.packet.count >= packet.count) {
      this.counters.duplicates++;
      return;
    }
    if (held.length >= this.o.maxBufferedPackets) {
      this.counters.bufferOverflow++;
      return;
    }
    const copy = bytes === undefined ? undefined : Uint8Array.prototype.slice.call(bytes);
    const kept = copy === undefined ? packet : decodeMoldPacket(copy);
    if (lo < held.length && held[lo]!.sequence === packet.sequence) held[lo] = { sequence: packet.sequence, packet: kept, retransmitted };
    else held.splice(lo, 0, { sequence: packet.sequence, packet: kept, retransmitted });
  }

  /** Offers held packets that the sequencer has reached. */
  private drain(seq: MoldSession): void {
    const held = this.held;
    let used = 0;
    while (used < held.length && held[used]!.sequence <= seq.nextSequence) {
      const h = held[used++]!;
      this.offer(seq, h.packet, h.retransmitted, undefined);
    }
    if (used > 0) held.splice(0, used);
  }

  /** Records recoveries, requests the first hole if needed, and ends when the session has. */
  private afterProgress(seq: MoldSession): void {
    const next = seq.nextSequence;
    const now = nowNs();
    const ends = this.gapEnds;
    let closed = 0;
    while (closed < ends.length && ends[closed]! <= next) {
      this.gapRecoveryNs.record(Math.max(0, now - this.gapDetectedNs[closed]!));
      closed++;
    }
    if (closed > 0) {
      ends.splice(0, closed);
      this.gapDetectedNs.splice(0, closed);
    }
    if (next >= this.received) {
      this.requestEnd = 0;
      this.requestAttempts = 0;
      this.requestTimeout = this.o.requestTimeoutMs;
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      if (seq.ended && next >= seq.highWater) {
        this.complete = true;
        this.finish();
      }
      return;
    }
    if (this.requestEnd > next && now < this.requestDeadlineNs) return; // the outstanding request covers it
    if (this.requestEnd <= next) {
      // a new hole (or the last request was answered): ask at once
      this.requestAttempts = 0;
      this.requestTimeout = this.o.requestTimeoutMs;
    }
    this.request(seq, now);
  }

  private request(seq: MoldSession, now: number): void {
    const next = seq.nextSequence;
    if (this.requestEnd > next && next > this.requestNextAtSend) {
      // progress since the last request: not a failed try
      this.requestAttempts = 0;
      this.requestTimeout = this.o.requestTimeoutMs;
    }
    const holeEnd = this.held.length > 0 ? this.held[0]!.sequence : this.received;
    if (this.requestAttempts >= this.o.maxRequestAttempts || (this.requestSocket === undefined && this.requestAttempts > 0)) {
      this.lose(seq, next, holeEnd - next);
      return;
    }
    const count = Math.min(holeEnd - next, this.o.maxRequestCount);
    if (this.requestAttempts > 0) this.counters.requestRetries++;
    this.requestAttempts++;
    this.requestFrom = next;
    this.requestEnd = next + count;
    this.requestNextAtSend = next;
    this.requestDeadlineNs = now + this.requestTimeout * 1e6;
    if (this.requestSocket && this.o.request) {
      this.counters.requestsSent++;
      encodeMoldRequest({ session: seq.session!, sequence: next, count }, this.requestBytes);
      this.requestSocket.send(this.requestBytes, this.o.request.port, this.o.request.host);
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.done || this.sequencer === undefined) return;
      this.requestTimeout = Math.min(this.requestTimeout * 2, this.o.maxRequestTimeoutMs);
      this.requestDeadlineNs = 0;
      this.afterProgress(this.sequencer);
    }, this.requestTimeout);
    this.timer.unref?.();
  }

  /** A hole that cannot be recovered: report it, then skip past it or stop. */
  private lose(seq: MoldSession, from: number, count: number): void {
    const error = new FeedGapError(seq.session!, from, count, this.requestAttempts);
    this.counters.lost += count;
    this.requestEnd = 0;
    this.requestAttempts = 0;
    this.requestTimeout = this.o.requestTimeoutMs;
    if (this.o.unrecoverableGap === 'stop') {
      this.finish();
      this.emit('error', error);
      return;
    }
    seq.nextSequence = from + count;
    // gaps whose messages were lost are not recoveries
    while (this.gapEnds.length > 0 && this.gapEnds[0]! <= seq.nextSequence) {
      this.gapEnds.shift();
      this.gapDetectedNs.shift();
    }
    this.emit('error', error);
    if (this.done) return;
    this.drain(seq);
    this.afterProgress(seq);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const stats = this.stats();
    this.resolveEnded(stats);
    this.emit('end', stats);
  }

  /** Counters, histogram summaries and the source's own counters (a new object). */
  stats(): FeedSubscriberStats {
    return {
      ...this.counters,
      buffered: this.held.length,
      ended: this.complete,
      nextSequence: this.nextSequence,
      gapDetectionNs: this.gapDetectionNs.summary(),
      gapRecoveryNs: this.gapRecoveryNs.summary(),
      source: this.source.stats(),
    };
  }

  /** Stops delivery and closes the source and the request socket. Idempotent: every call returns the same promise. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (!this.done) {
      this.done = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.resolveEnded(this.stats());
    }
    this.held.length = 0;
    this.closing = Promise.all([this.source.close(), this.requestSocket ? closeSocket(this.requestSocket) : undefined]).then(() => undefined);
    return this.closing;
  }
}
