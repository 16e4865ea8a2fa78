/**
 * Framed TCP connections (DESIGN.md "Codecs and transports"; issue 14 item 4): length-prefixed
 * frames (lib/net/frame.ts) with TCP_NODELAY, cork/uncork batching, heartbeats, reconnect
 * with exponential backoff and jitter, a bounded send queue with a named overflow policy,
 * a registry by id and `measureLatency`.
 *
 * What a successful send means. `send(message)` resolves when the peer Connection has
 * received the message: it is parsed and queued for the peer's iterator, and the peer said so
 * with a cumulative acknowledgement (every DATA, ACK, HEARTBEAT and CLOSE frame carries how
 * many DATA frames its sender has received). Bytes the kernel accepted are not enough: a
 * peer can die with them in a socket buffer. So:
 * - Until acknowledged, a message stays in the send queue (the resend buffer). When the
 *   socket is lost, the client reconnects and says which session it is (a random 8-byte id);
 *   a server that still holds the session resumes it: each side tells the other how many
 *   DATA frames it received, and the other replays exactly the frames after those. Frames
 *   are numbered by their position in the session, so nothing is delivered twice and nothing
 *   is skipped: every message arrives exactly once and its `send` resolves.
 * - When the session cannot be resumed (the server restarted and forgot it, reconnect gave
 *   up, the peer closed, the connection was closed or destroyed here), every message still
 *   unacknowledged has its `send` rejected with a coded error: `DeliveryUnknownError`
 *   (written, maybe delivered: the peer died before acknowledging), `ConnectionLostError`,
 *   `ConnectionClosedError`. Messages never written are sent on the new session.
 * The guarantee: a message whose `send` resolved has reached the peer Connection; a message
 * whose `send` rejected may or may not have; none is delivered twice within a session.
 * What it does not cover: a peer process that dies after acknowledging but before its
 * application read the message from the iterator (acknowledgement is on receipt, not on
 * processing), and delivery across two server processes (a restarted server starts a new
 * session; sends outstanding at the crash are rejected, never silently replayed).
 *
 * Threading: everything runs on the event loop of the thread that created the connection.
 */

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';

import { UltraPerfError, invalidRange, invalidType, invalidValue } from '../errors.js';
import {
  type OptionCheck,
  booleanCheck,
  defineOptions,
  functionCheck,
  integerCheck,
  isPlainObject,
  nonEmptyStringCheck,
  oneOfCheck,
  readOptions,
} from '../internal/options.js';
import { LatencyHistogram } from '../monitor/histogram.js';
import { nowNs } from '../monitor/clock.js';
import {
  FrameDecoder,
  FrameType,
  type FrameTypeCode,
  type Hello,
  checkMaxFrameBytes,
  encodeAckFrame,
  encodeHelloFrame,
  encodePingFrame,
  kDataHeaderBytes,
  kDefaultMaxFrameBytes,
  kHelloResumed,
  kSessionBytes,
  readHello,
  readU32,
  writeDataHeader,
  writeU32,
} from './frame.js';

export * from './frame.js';

// ---------------------------------------------------------------------------------------
// Errors

/** A connection's own failures carry one of these codes (the class names the kind). */
export class ConnectionError extends UltraPerfError {}

/** The send queue is full and its overflow policy is 'error' (or nothing unsent was left to drop). Code ERR_ULTRA_PERF_SEND_QUEUE_FULL. */
export class SendQueueFullError extends ConnectionError {
  constructor(message: string) {
    super('ERR_ULTRA_PERF_SEND_QUEUE_FULL', message);
  }
}

/** The message was dropped unsent by the 'drop-oldest' policy to make room. Code ERR_ULTRA_PERF_MESSAGE_DROPPED. */
export class MessageDroppedError extends ConnectionError {
  constructor(message: string) {
    super('ERR_ULTRA_PERF_MESSAGE_DROPPED', message);
  }
}

/** The connection was closed or destroyed (by this side or by the peer's CLOSE) before the message was acknowledged. Code ERR_ULTRA_PERF_CONNECTION_CLOSED. */
export class ConnectionClosedError extends ConnectionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ULTRA_PERF_CONNECTION_CLOSED', message, options);
  }
}

/** The connection is gone for good: reconnect disabled or exhausted, or a server-side session not resumed in time. Code ERR_ULTRA_PERF_CONNECTION_LOST. */
export class ConnectionLostError extends ConnectionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ULTRA_PERF_CONNECTION_LOST', message, options);
  }
}

/**
 * The message was written but the session ended before the peer acknowledged it, and the
 * new peer session does not know the old one: it may or may not have been delivered.
 * Code ERR_ULTRA_PERF_DELIVERY_UNKNOWN.
 */
export class DeliveryUnknownError extends ConnectionError {
  constructor(message: string) {
    super('ERR_ULTRA_PERF_DELIVERY_UNKNOWN', message);
  }
}

/** The peer was silent past `heartbeatTimeoutMs` (a half-open connection): the socket is dropped. Code ERR_ULTRA_PERF_HEARTBEAT_TIMEOUT. */
export class HeartbeatTimeoutError extends ConnectionError {
  constructor(message: string) {
    super('ERR_ULTRA_PERF_HEARTBEAT_TIMEOUT', message);
  }
}

// ---------------------------------------------------------------------------------------
// Options

/** What `protocol` names; every one but 'raw' needs a `codec`. */
export type TcpProtocol = 'raw' | 'msgpack' | 'json' | 'binary-struct';

/** The part of lib/net/codec.ts's `Codec<T>` a connection uses (typed by shape). */
export interface MessageCodec<T> {
  readonly name?: string;
  /** A fresh array of the encoded bytes (kept until the peer acknowledges them). */
  encodeToBytes(value: T): Uint8Array;
  decode(bytes: Uint8Array, offset?: number, length?: number): T;
}

/** What a full send queue does with one more message. */
export type OverflowPolicy = 'error' | 'drop-oldest' | 'block';

export interface SendQueueOptions {
  /** Messages queued or awaiting acknowledgement at most. Default 65536. */
  maxMessages?: number;
  /** Message bytes queued or awaiting acknowledgement at most. Default 64 MiB. */
  maxBytes?: number;
  /**
   * 'error': the send rejects with SendQueueFullError. 'drop-oldest': the oldest message not
   * yet written is dropped (its send rejects with MessageDroppedError, `stats().dropped`
   * counts it); when every queued message is already written the new one is refused as for
   * 'error'. 'block' (default): the send waits, in order, until there is room.
   */
  overflow?: OverflowPolicy;
}

export interface ReconnectOptions {
  /** First delay, ms. Default 50. */
  initialDelayMs?: number;
  /** Cap on the delay, ms. Default 5000. */
  maxDelayMs?: number;
  /** Growth per attempt, ≥ 1. Default 2. */
  factor?: number;
  /** Fraction of each delay taken off at random, in [0, 1]. Default 0.5. */
  jitter?: number;
  /** Attempts in a row before giving up (ConnectionLostError); Infinity for no limit (default). */
  maxAttempts?: number;
}

interface CommonOptions<T> {
  protocol?: TcpProtocol;
  codec?: MessageCodec<T>;
  /** TCP_NODELAY. Default true. */
  noDelay?: boolean;
  /** Flush at once when this many message bytes are queued. Default 65536. */
  batchBytes?: number;
  /** Flush this long after the first queued message; 0 (default) flushes at the end of the current task (a microtask). Timers have ms resolution: values round up to whole ms. */
  batchDelayUs?: number;
  /** A HEARTBEAT is sent when nothing was sent for this long. Default 1000. */
  heartbeatMs?: number;
  /** The peer is declared dead after this long without a byte from it. Default 3 × heartbeatMs. */
  heartbeatTimeoutMs?: number;
  sendQueue?: SendQueueOptions;
  /** Received messages queued for the iterator before the socket stops reading. Default 65536. */
  receiveQueueMessages?: number;
  /** Largest frame accepted (length field); larger ones fail the connection before any allocation. Default 16 MiB. */
  maxFrameBytes?: number;
}

export interface ConnectionOptions<T = Uint8Array> extends CommonOptions<T> {
  /** Registry id, unique among open connections. */
  id: string;
  host: string;
  /** 1..65535. */
  port: number;
  /** true (default), false, or backoff settings. */
  reconnect?: boolean | ReconnectOptions;
}

export interface ServerOptions<T = Uint8Array> extends CommonOptions<T> {
  /** Registry id prefix of accepted connections (`<id>/<n>`). Default 'tcp-server-<n>'. */
  id?: string;
  /** Default '127.0.0.1'. */
  host?: string;
  /** 0..65535; 0 (default) lets the kernel choose. */
  port?: number;
  /** How long an accepted connection whose socket dropped waits for its client to resume it. Default 30000. */
  resumeTimeoutMs?: number;
  /** Called with each new connection (a resumed one is not new). */
  onConnection?: (connection: Connection<T>) => void;
}

const kTwoPow32 = 4294967296;
const kProtocols = ['raw', 'msgpack', 'json', 'binary-struct'] as const;
const kPolicies = ['error', 'drop-oldest', 'block'] as const;

const finiteCheck = (min: number, max: number): OptionCheck => (value, argument) => {
  if (typeof value !== 'number') throw invalidType(argument, `a number in [${min}, ${max}]`, value);
  if (!(value >= min && value <= max)) throw invalidRange(argument, `a number in [${min}, ${max}]`, value);
  return value;
};

const codecCheck: OptionCheck = (value, argument) => {
  if (value === null || typeof value !== 'object') throw invalidType(argument, 'a codec { encodeToBytes, decode }', value);
  const c = value as Partial<MessageCodec<unknown>>;
  if (typeof c.encodeToBytes !== 'function' || typeof c.decode !== 'function') {
    throw invalidType(argument, 'a codec { encodeToBytes, decode }', value);
  }
  return value;
};

const kSendQueueSchema = defineOptions('createConnection sendQueue', {
  maxMessages: { check: integerCheck(1, 2 ** 31), default: 65536 },
  maxBytes: { check: integerCheck(1, Number.MAX_SAFE_INTEGER), default: 64 * 1024 * 1024 },
  overflow: { check: oneOfCheck(kPolicies), default: 'block' },
});

const kReconnectSchema = defineOptions('createConnection reconnect', {
  initialDelayMs: { check: finiteCheck(0, 3_600_000), default: 50 },
  maxDelayMs: { check: finiteCheck(0, 3_600_000), default: 5000 },
  factor: { check: finiteCheck(1, 1000), default: 2 },
  jitter: { check: finiteCheck(0, 1), default: 0.5 },
  maxAttempts: {
    check: (value, argument) => (value === Infinity ? value : integerCheck(1, Number.MAX_SAFE_INTEGER)(value, argument)),
    default: Infinity,
  },
});

const sendQueueCheck: OptionCheck = (value, argument) => readOptions(kSendQueueSchema, value, { argument, what: 'an object { maxMessages, maxBytes, overflow }' });
const reconnectCheck: OptionCheck = (value, argument) => {
  if (value === true || value === undefined) return readOptions(kReconnectSchema, {}, { argument });
  if (value === false) return null;
  if (!isPlainObject(value)) throw invalidType(argument, 'a boolean or an object of reconnect settings', value);
  return readOptions(kReconnectSchema, value, { argument });
};

const kCommonSpecs = {
  protocol: { check: oneOfCheck(kProtocols), default: 'raw' },
  codec: { check: codecCheck },
  noDelay: { check: booleanCheck, default: true },
  batchBytes: { check: integerCheck(1, 2 ** 30), default: 65536 },
  batchDelayUs: { check: finiteCheck(0, 1e9), default: 0 },
  heartbeatMs: { check: integerCheck(1, 2 ** 31 - 1), default: 1000 },
  heartbeatTimeoutMs: { check: integerCheck(1, 2 ** 31 - 1) },
  sendQueue: { check: sendQueueCheck, always: true },
  receiveQueueMessages: { check: integerCheck(1, 2 ** 31), default: 65536 },
  maxFrameBytes: { check: checkMaxFrameBytes, default: kDefaultMaxFrameBytes },
} as const;

const kConnectionSchema = defineOptions('createConnection', {
  id: { check: nonEmptyStringCheck, always: true },
  host: { check: nonEmptyStringCheck, always: true },
  port: { check: integerCheck(1, 65535, 'a port number'), always: true },
  reconnect: { check: reconnectCheck, always: true },
  ...kCommonSpecs,
});

const kServerSchema = defineOptions('createServer', {
  id: { check: nonEmptyStringCheck },
  host: { check: nonEmptyStringCheck, default: '127.0.0.1' },
  port: { check: integerCheck(0, 65535, 'a port number'), default: 0 },
  resumeTimeoutMs: { check: integerCheck(1, 2 ** 31 - 1), default: 30000 },
  onConnection: { check: functionCheck() },
  ...kCommonSpecs,
});

const kLatencySchema = defineOptions('measureLatency', {
  count: { check: integerCheck(1, 1e9), default: 1000 },
  bytes: { check: integerCheck(0, 2 ** 30), default: 64 },
  warmup: { check: integerCheck(0, 1e9) },
});

interface Resolved<T> {
  protocol: TcpProtocol;
  codec: MessageCodec<T> | null;
  noDelay: boolean;
  batchBytes: number;
  batchDelayUs: number;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  maxMessages: number;
  maxBytes: number;
  overflow: OverflowPolicy;
  receiveQueueMessages: number;
  maxFrameBytes: number;
}

function resolveCommon<T>(o: Record<string, unknown>, fn: string): Resolved<T> {
  const protocol = o.protocol as TcpProtocol;
  const codec = (o.codec as MessageCodec<T> | undefined) ?? null;
  if (protocol !== 'raw' && codec === null) {
    throw invalidValue('options.codec', `a codec for protocol '${protocol}' (lib/net/codec.ts) passed to ${fn}`, undefined);
  }
  const heartbeatMs = o.heartbeatMs as number;
  const heartbeatTimeoutMs = (o.heartbeatTimeoutMs as number | undefined) ?? 3 * heartbeatMs;
  if (heartbeatTimeoutMs <= heartbeatMs) {
    throw invalidRange('options.heartbeatTimeoutMs', `an integer > heartbeatMs (${heartbeatMs})`, heartbeatTimeoutMs);
  }
  const q = o.sendQueue as { maxMessages: number; maxBytes: number; overflow: OverflowPolicy };
  return {
    protocol,
    codec,
    noDelay: o.noDelay as boolean,
    batchBytes: o.batchBytes as number,
    batchDelayUs: o.batchDelayUs as number,
    heartbeatMs,
    heartbeatTimeoutMs,
    maxMessages: q.maxMessages,
    maxBytes: q.maxBytes,
    overflow: q.overflow,
    receiveQueueMessages: o.receiveQueueMessages as number,
    maxFrameBytes: o.maxFrameBytes as number,
  };
}

// ---------------------------------------------------------------------------------------
// The connection

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'suspended' | 'closing' | 'closed';

export interface ConnectionStats {
  state: ConnectionState;
  /** Messages the peer acknowledged (sends resolved). */
  messagesSent: number;
  messagesReceived: number;
  /** Socket bytes written and read, frames included. */
  bytesSent: number;
  bytesReceived: number;
  /** Messages queued, not yet written. */
  queuedMessages: number;
  /** Messages written, awaiting acknowledgement. */
  inFlightMessages: number;
  /** Message bytes queued or in flight (what `sendQueue.maxBytes` bounds). */
  queuedBytes: number;
  /** Sends waiting for room ('block'). */
  blockedSends: number;
  /** Messages dropped by 'drop-oldest'. */
  dropped: number;
  /** Sends refused by a full queue. */
  queueFull: number;
  /** Sessions re-established after a lost socket. */
  reconnects: number;
  /** Frames written again after a resume. */
  replayed: number;
  heartbeatTimeouts: number;
  /** Sends rejected with DeliveryUnknownError. */
  deliveryUnknown: number;
  /** The last socket or protocol error, if any. */
  lastError: Error | null;
}

/** A framed, acknowledged, reconnecting TCP connection. */
export interface Connection<T = Uint8Array> extends AsyncIterable<T> {
  readonly id: string;
  readonly state: ConnectionState;
  /** Resolves when the peer acknowledged `message` (see the module notes); rejects with a coded ConnectionError otherwise. */
  send(message: T): Promise<void>;
  /** Queues `messages` in order; resolves when all are acknowledged, rejects at the first that cannot be. */
  sendBatch(messages: readonly T[]): Promise<void>;
  /**
   * The received messages as arrays: each step yields every message queued at that moment (at
   * least one), so a fast consumer pays one promise per socket read instead of one per message.
   * Shares the queue with the message iterator; read through one of them at a time.
   */
  batches(): AsyncIterable<T[]>;
  /** Resolves once a session is open (rejects if the connection ends first). */
  opened(): Promise<void>;
  /** Graceful: refuses new sends, waits for the queued ones to be acknowledged, says CLOSE, ends the socket. */
  close(): Promise<void>;
  /** Abortive: resets the socket (RST) and rejects every outstanding send with ConnectionClosedError. */
  destroy(): void;
  /** Resolves when the connection has ended, with the error that ended it (undefined after a clean close). */
  readonly closed: Promise<Error | undefined>;
  stats(): ConnectionStats;
}

interface Batch {
  remaining: number;
  settled: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface Entry {
  bytes: Uint8Array;
  batch: Batch;
}

/** A pending `next()` of the message iterator (`batch` false) or of `batches()` (true). */
interface Reader<T> {
  batch: boolean;
  resolve: (r: IteratorResult<T> | IteratorResult<T[]>) => void;
  reject: (e: Error) => void;
}

interface Blocked {
  list: Uint8Array[];
  bytes: number;
  batch: Batch;
}

/** A first-in first-out queue: a ring over a power-of-two array that doubles when full (no per-push allocation once grown). */
class Fifo<E> {
  private items_: (E | undefined)[] = new Array<E | undefined>(16);
  private head_ = 0;
  private size_ = 0;
  private mask_ = 15;

  get length(): number {
    return this.size_;
  }

  push(e: E): void {
    if (this.size_ > this.mask_) this.grow_();
    this.items_[(this.head_ + this.size_++) & this.mask_] = e;
  }

  at(i: number): E {
    return this.items_[(this.head_ + i) & this.mask_] as E;
  }

  shift(): E {
    const e = this.items_[this.head_] as E;
    this.items_[this.head_] = undefined;
    this.head_ = (this.head_ + 1) & this.mask_;
    this.size_--;
    return e;
  }

  /** Removes and returns everything, oldest first. */
  takeAll(): E[] {
    const out = new Array<E>(this.size_);
    for (let i = 0; i < this.size_; i++) {
      const at = (this.head_ + i) & this.mask_;
      out[i] = this.items_[at] as E;
      this.items_[at] = undefined;
    }
    this.head_ = this.size_ = 0;
    return out;
  }

  /** Puts `list` before the current items. */
  prepend(list: E[]): void {
    const rest = this.takeAll();
    for (const e of list) this.push(e);
    for (const e of rest) this.push(e);
  }

  private grow_(): void {
    const n = this.items_.length;
    const next = new Array<E | undefined>(n * 2);
    for (let i = 0; i < n; i++) next[i] = this.items_[(this.head_ + i) & this.mask_];
    this.items_ = next;
    this.head_ = 0;
    this.mask_ = n * 2 - 1;
  }
}

function newBatch(count: number): { batch: Batch; promise: Promise<void> } {
  const batch: Batch = { remaining: count, settled: false, resolve: undefined as never, reject: undefined as never };
  const promise = new Promise<void>((resolve, reject) => {
    batch.resolve = resolve;
    batch.reject = reject;
  });
  return { batch, promise };
}

function rejectBatch(batch: Batch, error: Error): void {
  if (batch.settled) return;
  batch.settled = true;
  batch.reject(error);
}

/** Messages larger than this are written as their own chunk (header, then the message, corked); smaller ones are copied into one buffer per flush. */
const kCopyMaxBytes = 16 * 1024;
/** Messages up to this size are copied with a loop rather than `set`. */
const kLoopCopyBytes = 128;
/** Bytes of small frames coalesced into one write. */
const kCoalesceBytes = 256 * 1024;

const registry = new Map<string, TcpConnection<unknown>>();
const servers = new Set<TcpServer<unknown>>();

type ReconnectSettings = Required<ReconnectOptions>;

/** The one implementation of Connection, client or server side. */
class TcpConnection<T> implements Connection<T> {
  readonly id: string;
  readonly closed: Promise<Error | undefined>;
  private state_: ConnectionState = 'connecting';
  private readonly o_: Resolved<T>;
  private readonly name_: string;
  private readonly client_: { host: string; port: number; reconnect: ReconnectSettings | null } | null;
  private readonly server_: TcpServer<T> | null;
  private session_: Uint8Array;

  private socket_: net.Socket | null = null;
  private decoder_: FrameDecoder;
  private ready_ = false;
  private everOpened_ = false;

  // send side: frames numbered 1, 2, … in the session; acked_ ≤ written_
  private acked_ = 0;
  private written_ = 0;
  private readonly pending_ = new Fifo<Entry>();
  private readonly inflight_ = new Fifo<Entry>();
  private readonly blocked_ = new Fifo<Blocked>();
  private queuedBytes_ = 0;
  private pendingBytes_ = 0;
  private flushScheduled_ = false;
  private readonly flushBound_ = (): void => {
    this.flushScheduled_ = false;
    this.flush_();
  };

  // receive side
  private received_ = 0;
  private ackSent_ = 0;
  private ackScheduled_ = false;
  private readonly recv_ = new Fifo<T>();
  private readonly readers_ = new Fifo<Reader<T>>();
  private paused_ = false;

  // liveness
  private heartbeat_: NodeJS.Timeout | null = null;
  private heard_ = false;
  private sent_ = false;
  private missed_ = 0;
  private attempts_ = 0;
  private reconnectTimer_: NodeJS.Timeout | null = null;
  private resumeTimer_: NodeJS.Timeout | null = null;

  // ending
  private closing_ = false;
  private peerClosed_ = false;
  private terminal_: Error | null | undefined = undefined;
  private resolveClosed_!: (e: Error | undefined) => void;
  private readonly openWaiters_: { resolve: () => void; reject: (e: Error) => void }[] = [];

  // measureLatency
  private pingId_ = 0;
  private pingWaiter_: { id: number; resolve: () => void; reject: (e: Error) => void } | null = null;

  private readonly s_ = {
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    dropped: 0,
    queueFull: 0,
    reconnects: 0,
    replayed: 0,
    heartbeatTimeouts: 0,
    deliveryUnknown: 0,
    lastError: null as Error | null,
  };

  constructor(
    id: string,
    o: Resolved<T>,
    client: { host: string; port: number; reconnect: ReconnectSettings | null } | null,
    server: TcpServer<T> | null,
    session: Uint8Array,
  ) {
    this.id = id;
    this.o_ = o;
    this.client_ = client;
    this.server_ = server;
    this.session_ = session;
    this.name_ = `connection '${id}'`;
    this.decoder_ = new FrameDecoder({ maxFrameBytes: o.maxFrameBytes, name: this.name_ });
    this.closed = new Promise((resolve) => {
      this.resolveClosed_ = resolve;
    });
  }

  get state(): ConnectionState {
    return this.state_;
  }

  stats(): ConnectionStats {
    return {
      state: this.state_,
      ...this.s_,
      queuedMessages: this.pending_.length,
      inFlightMessages: this.inflight_.length,
      queuedBytes: this.queuedBytes_,
      blockedSends: this.blocked_.length,
    };
  }

  // ----- sending

  send(message: T): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = this.encode_(message, 'message');
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.enqueue_([bytes], bytes.length);
  }

  sendBatch(messages: readonly T[]): Promise<void> {
    if (!Array.isArray(messages)) return Promise.reject(invalidType('messages', 'an array of messages', messages));
    const list = new Array<Uint8Array>(messages.length);
    let bytes = 0;
    try {
      for (let i = 0; i < messages.length; i++) {
        const b = this.encode_(messages[i] as T, `messages[${i}]`);
        list[i] = b;
        bytes += b.length;
      }
    } catch (e) {
      return Promise.reject(e as Error);
    }
    if (list.length === 0) return Promise.resolve();
    return this.enqueue_(list, bytes);
  }

  private encode_(message: T, argument: string): Uint8Array {
    let bytes: Uint8Array;
    if (this.o_.codec !== null) bytes = this.o_.codec.encodeToBytes(message);
    else if (message instanceof Uint8Array) bytes = message;
    else throw invalidType(argument, "a Uint8Array (protocol 'raw')", message);
    if (bytes.length > this.o_.maxFrameBytes - 5) {
      throw invalidRange(`${argument}.length`, `at most maxFrameBytes - 5 = ${this.o_.maxFrameBytes - 5} bytes`, bytes.length);
    }
    return bytes;
  }

  private fits_(count: number, bytes: number): boolean {
    return this.pending_.length + this.inflight_.length + count <= this.o_.maxMessages && this.queuedBytes_ + bytes <= this.o_.maxBytes;
  }

  private enqueue_(list: Uint8Array[], bytes: number): Promise<void> {
    if (this.closing_ || this.terminal_ !== undefined || this.peerClosed_) {
      return Promise.reject(new ConnectionClosedError(`${this.name_} is ${this.closing_ ? 'closing' : 'closed'}: send refused`));
    }
    if (list.length > this.o_.maxMessages || bytes > this.o_.maxBytes) {
      this.s_.queueFull++;
      return Promise.reject(
        new SendQueueFullError(
          `${this.name_}: ${list.length} messages of ${bytes} bytes exceed the whole send queue (maxMessages ${this.o_.maxMessages}, maxBytes ${this.o_.maxBytes})`,
        ),
      );
    }
    const { batch, promise } = newBatch(list.length);
    if (this.blocked_.length === 0 && this.fits_(list.length, bytes)) {
      this.admit_(list, bytes, batch);
      return promise;
    }
    switch (this.o_.overflow) {
      case 'block':
        this.blocked_.push({ list, bytes, batch });
        return promise;
      case 'drop-oldest':
        while (!this.fits_(list.length, bytes) && this.pending_.length > 0) {
          const e = this.pending_.shift();
          this.queuedBytes_ -= e.bytes.length;
          this.pendingBytes_ -= e.bytes.length;
          this.s_.dropped++;
          rejectBatch(e.batch, new MessageDroppedError(`${this.name_}: message dropped unsent by the 'drop-oldest' policy (send queue full)`));
        }
        if (this.fits_(list.length, bytes)) {
          this.admit_(list, bytes, batch);
          return promise;
        }
        break;
      case 'error':
        break;
    }
    this.s_.queueFull++;
    rejectBatch(
      batch,
      new SendQueueFullError(
        `${this.name_}: send queue full (${this.pending_.length + this.inflight_.length} messages, ${this.queuedBytes_} bytes; maxMessages ${this.o_.maxMessages}, maxBytes ${this.o_.maxBytes}, overflow '${this.o_.overflow}')`,
      ),
    );
    return promise;
  }

  private admit_(list: Uint8Array[], bytes: number, batch: Batch): void {
    for (let i = 0; i < list.length; i++) this.pending_.push({ bytes: list[i]!, batch });
    this.queuedBytes_ += bytes;
    this.pendingBytes_ += bytes;
    if (this.pendingBytes_ >= this.o_.batchBytes) this.flush_();
    else this.scheduleFlush_();
  }

  private admitBlocked_(): void {
    while (this.blocked_.length > 0) {
      const b = this.blocked_.at(0);
      if (!this.fits_(b.list.length, b.bytes)) return;
      this.blocked_.shift();
      this.admit_(b.list, b.bytes, b.batch);
    }
  }

  private scheduleFlush_(): void {
    if (this.flushScheduled_) return;
    this.flushScheduled_ = true;
    if (this.o_.batchDelayUs === 0) queueMicrotask(this.flushBound_);
    else setTimeout(this.flushBound_, Math.ceil(this.o_.batchDelayUs / 1000));
  }

  /** Writes queued messages while the socket takes them: small frames coalesced into one buffer, large ones as header + message, all corked into one writev. */
  private flush_(): void {
    const s = this.socket_;
    if (s === null || !this.ready_ || this.pending_.length === 0 || s.writableNeedDrain) return;
    s.cork();
    try {
      while (this.pending_.length > 0 && !s.writableNeedDrain) {
        let n = 0;
        let total = 0;
        while (n < this.pending_.length && total < kCoalesceBytes) {
          const len = this.pending_.at(n).bytes.length;
          if (len > kCopyMaxBytes) break;
          total += kDataHeaderBytes + len;
          n++;
        }
        if (n > 0) {
          const buf = Buffer.allocUnsafe(total);
          let at = 0;
          for (let i = 0; i < n; i++) {
            const e = this.pending_.shift();
            const m = e.bytes;
            const len = m.length;
            at = writeDataHeader(buf, at, len, this.received_);
            // a byte loop beats TypedArray.prototype.set (a runtime call) for small messages
            if (len <= kLoopCopyBytes) for (let k = 0; k < len; k++) buf[at + k] = m[k]!;
            else buf.set(m, at);
            at += len;
            this.pendingBytes_ -= e.bytes.length;
            this.inflight_.push(e);
          }
          this.written_ += n;
          s.write(buf);
          this.s_.bytesSent += total;
        } else {
          const e = this.pending_.shift();
          const header = Buffer.allocUnsafe(kDataHeaderBytes);
          writeDataHeader(header, 0, e.bytes.length, this.received_);
          s.write(header);
          s.write(e.bytes);
          this.pendingBytes_ -= e.bytes.length;
          this.inflight_.push(e);
          this.written_++;
          this.s_.bytesSent += kDataHeaderBytes + e.bytes.length;
        }
        this.ackSent_ = this.received_;
        this.sent_ = true;
      }
    } finally {
      s.uncork();
    }
  }

  private writeControl_(frame: Uint8Array): void {
    const s = this.socket_;
    if (s === null || s.destroyed || s.writableEnded) return;
    s.write(frame);
    this.s_.bytesSent += frame.length;
    this.sent_ = true;
  }

  private readonly sendAck_ = (): void => {
    this.ackScheduled_ = false;
    if (this.ready_ && this.received_ !== this.ackSent_) {
      this.ackSent_ = this.received_;
      this.writeControl_(encodeAckFrame(FrameType.ACK, this.received_));
    }
  };

  // ----- receiving

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next_(),
      return: () => Promise.resolve({ done: true, value: undefined }),
    };
  }

  batches(): AsyncIterable<T[]> {
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => this.nextBatch_(),
        return: () => Promise.resolve({ done: true, value: undefined }),
      }),
    };
  }

  private next_(): Promise<IteratorResult<T>> {
    if (this.recv_.length > 0) {
      const value = this.recv_.shift();
      this.maybeResume_();
      return Promise.resolve({ value, done: false });
    }
    if (this.terminal_ !== undefined) {
      return this.terminal_ === null ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(this.terminal_);
    }
    return new Promise((resolve, reject) => this.readers_.push({ batch: false, resolve: resolve as Reader<T>['resolve'], reject }));
  }

  private nextBatch_(): Promise<IteratorResult<T[]>> {
    if (this.recv_.length > 0) {
      const value = this.recv_.takeAll();
      this.maybeResume_();
      return Promise.resolve({ value, done: false });
    }
    if (this.terminal_ !== undefined) {
      return this.terminal_ === null ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(this.terminal_);
    }
    return new Promise((resolve, reject) => this.readers_.push({ batch: true, resolve: resolve as Reader<T>['resolve'], reject }));
  }

  private maybeResume_(): void {
    if (this.paused_ && this.recv_.length <= this.o_.receiveQueueMessages >>> 1) {
      this.paused_ = false;
      this.socket_?.resume();
    }
  }

  private deliver_(value: T): void {
    this.s_.messagesReceived++;
    if (this.readers_.length > 0 && !this.readers_.at(0).batch) {
      this.readers_.shift().resolve({ value, done: false });
      return;
    }
    this.recv_.push(value);
    if (!this.paused_ && this.recv_.length >= this.o_.receiveQueueMessages && this.socket_ !== null) {
      // stop reading: TCP backpressure reaches the sender, whose queue then applies its policy
      this.paused_ = true;
      this.socket_.pause();
    }
  }

  private readonly onData_ = (chunk: Buffer): void => {
    this.heard_ = true;
    this.s_.bytesReceived += chunk.length;
    try {
      this.decoder_.push(chunk, this.onFrame_);
    } catch (e) {
      this.fail_(e as Error);
      return;
    }
    if (this.recv_.length > 0 && this.readers_.length > 0 && this.readers_.at(0).batch) {
      // a batches() reader takes everything this read delivered at once
      this.readers_.shift().resolve({ value: this.recv_.takeAll(), done: false });
      this.maybeResume_();
    }
    if (this.received_ !== this.ackSent_ && !this.ackScheduled_) {
      // coalesce: one ACK per burst of reads, unless an outgoing DATA frame carries it first
      this.ackScheduled_ = true;
      setImmediate(this.sendAck_);
    }
  };

  /** Handles one frame (also called by the server for the frames that follow an accepted HELLO). */
  readonly onFrame_ = (type: FrameTypeCode, bytes: Uint8Array, start: number, end: number, offset: number): void => {
    switch (type) {
      case FrameType.DATA: {
        if (!this.ready_) throw this.protocolError_(offset, 'DATA before the session was established');
        this.ack_(readU32(bytes, start), offset);
        this.received_++;
        const c = this.o_.codec;
        this.deliver_(c === null ? (bytes.subarray(start + 4, end) as T) : c.decode(bytes, start + 4, end - start - 4));
        return;
      }
      case FrameType.ACK:
      case FrameType.HEARTBEAT:
        if (this.ready_) this.ack_(readU32(bytes, start), offset);
        return;
      case FrameType.CLOSE:
        if (this.ready_) this.ack_(readU32(bytes, start), offset);
        this.onPeerClose_();
        return;
      case FrameType.HELLO:
        if (this.client_ === null || this.ready_) throw this.protocolError_(offset, 'unexpected HELLO');
        this.established_(readHello(bytes.subarray(start, end), this.name_, offset + 5));
        return;
      case FrameType.PING:
        // answer with the same bytes, retyped in place: the chunk is this socket's own read buffer
        bytes[start - 1] = FrameType.PONG;
        this.writeControl_(bytes.subarray(start - 5, end));
        return;
      case FrameType.PONG: {
        const w = this.pingWaiter_;
        if (w !== null && w.id === readU32(bytes, start)) {
          this.pingWaiter_ = null;
          w.resolve();
        }
        return;
      }
    }
  };

  private protocolError_(offset: number, message: string): Error {
    return new ConnectionError('ERR_ULTRA_PERF_SOURCE_FORMAT', `${this.name_}, byte ${offset}: ${message}`);
  }

  /** A cumulative acknowledgement: `wire` is the low 32 bits of how many of our DATA frames the peer has. */
  private ack_(wire: number, offset: number): void {
    const delta = (wire - (this.acked_ % kTwoPow32)) >>> 0;
    if (delta === 0) return;
    if (delta > this.inflight_.length) throw this.protocolError_(offset, `acknowledgement of ${delta} frames, only ${this.inflight_.length} in flight`);
    this.acknowledge_(delta);
  }

  private acknowledge_(count: number): void {
    for (let i = 0; i < count; i++) {
      const e = this.inflight_.shift();
      this.queuedBytes_ -= e.bytes.length;
      const b = e.batch;
      if (--b.remaining === 0 && !b.settled) {
        b.settled = true;
        b.resolve();
      }
    }
    this.acked_ += count;
    this.s_.messagesSent += count;
    if (this.blocked_.length > 0) this.admitBlocked_();
    if (this.closing_) this.maybeFinishClose_();
  }

  // ----- sessions and sockets

  /** Client: opens a socket to the server and says HELLO. */
  connect_(): void {
    const c = this.client_!;
    this.reconnectTimer_ = null;
    const s = net.createConnection({ host: c.host, port: c.port });
    this.attach_(s);
    s.once('connect', () => {
      s.setNoDelay(this.o_.noDelay);
      this.writeControl_(encodeHelloFrame(this.session_, this.received_, 0));
    });
  }

  /** Takes `socket` as this connection's socket (handlers, heartbeat timer). */
  attach_(socket: net.Socket, decoder?: FrameDecoder): void {
    this.socket_ = socket;
    this.ready_ = false;
    this.paused_ = false;
    if (decoder !== undefined) this.decoder_ = decoder;
    else this.decoder_.reset();
    socket.on('data', this.onData_);
    socket.on('drain', this.flushBound_);
    socket.on('error', (e) => {
      this.s_.lastError = e;
    });
    socket.on('close', () => this.socketClosed_(socket));
    if (this.recv_.length >= this.o_.receiveQueueMessages) {
      this.paused_ = true;
      socket.pause();
    }
    this.heard_ = false;
    this.missed_ = 0;
    if (this.heartbeat_ === null) {
      this.heartbeat_ = setInterval(this.tick_, this.o_.heartbeatMs);
      this.heartbeat_.unref();
    }
  }

  /**
   * A session is (re-)established on the current socket. `peerReceived` is how many of our
   * DATA frames the peer holds on the session it resumed; `resumed` false means a new session.
   */
  private resumeOrRestart_(resumed: boolean, peerReceived: number, offset: number): void {
    if (resumed) {
      const gained = peerReceived - this.acked_;
      if (gained < 0 || gained > this.inflight_.length) throw this.protocolError_(offset, `HELLO says ${peerReceived} frames received, ${this.acked_}..${this.written_} possible`);
      if (gained > 0) this.acknowledge_(gained);
      // replay, in order and before anything newer, the frames the peer never got
      const replay = this.inflight_.takeAll();
      this.s_.replayed += replay.length;
      for (const e of replay) this.pendingBytes_ += e.bytes.length;
      this.pending_.prepend(replay);
      this.written_ = this.acked_;
    } else {
      const lost = this.inflight_.takeAll();
      if (lost.length > 0) {
        const error = new DeliveryUnknownError(
          `${this.name_}: the session ended before the peer acknowledged this message and the new peer session does not know the old one; it may or may not have been delivered`,
        );
        for (const e of lost) {
          this.queuedBytes_ -= e.bytes.length;
          rejectBatch(e.batch, error);
        }
        this.s_.deliveryUnknown += lost.length;
      }
      this.acked_ = 0;
      this.written_ = 0;
      this.received_ = 0;
      this.ackSent_ = 0;
    }
  }

  /** Client: the server's HELLO arrived. */
  private established_(hello: Hello): void {
    const resumed = (hello.flags & kHelloResumed) !== 0;
    this.resumeOrRestart_(resumed && this.everOpened_, hello.received, 0);
    this.opened_();
  }

  /** Server: a client's HELLO arrived on `socket`, for a new session or this one resumed. */
  adopt_(socket: net.Socket, decoder: FrameDecoder, hello: Hello, resumed: boolean): void {
    if (this.socket_ !== null && this.socket_ !== socket) {
      // the client came back before we noticed its old socket was dead
      const old = this.socket_;
      this.socket_ = null;
      old.destroy();
    }
    if (this.resumeTimer_ !== null) {
      clearTimeout(this.resumeTimer_);
      this.resumeTimer_ = null;
    }
    this.attach_(socket, decoder);
    socket.setNoDelay(this.o_.noDelay);
    if (resumed) this.resumeOrRestart_(true, hello.received, 0);
    this.writeControl_(encodeHelloFrame(this.session_, this.received_, resumed ? kHelloResumed : 0));
    this.opened_();
  }

  private opened_(): void {
    if (this.everOpened_) this.s_.reconnects++;
    this.everOpened_ = true;
    this.ready_ = true;
    this.attempts_ = 0;
    this.state_ = this.closing_ ? 'closing' : 'open';
    for (const w of this.openWaiters_.splice(0)) w.resolve();
    this.flush_();
    if (this.closing_) this.maybeFinishClose_();
  }

  opened(): Promise<void> {
    if (this.ready_) return Promise.resolve();
    if (this.terminal_ !== undefined) return Promise.reject(this.terminal_ ?? new ConnectionClosedError(`${this.name_} is closed`));
    return new Promise((resolve, reject) => this.openWaiters_.push({ resolve, reject }));
  }

  private readonly tick_ = (): void => {
    const s = this.socket_;
    if (s === null) return;
    if (this.heard_ || this.paused_) {
      this.heard_ = false;
      this.missed_ = 0;
    } else if (++this.missed_ * this.o_.heartbeatMs >= this.o_.heartbeatTimeoutMs) {
      this.s_.heartbeatTimeouts++;
      this.lose_(new HeartbeatTimeoutError(`${this.name_}: nothing heard from the peer for ${this.o_.heartbeatTimeoutMs} ms (half-open or dead); dropping the socket`));
      return;
    }
    if (this.ready_ && !this.sent_ && !s.writableNeedDrain) {
      this.ackSent_ = this.received_;
      this.writeControl_(encodeAckFrame(FrameType.HEARTBEAT, this.received_));
    }
    this.sent_ = false;
  };

  /** Drops the current socket for `error`; the close handler decides what follows. */
  private lose_(error: Error): void {
    this.s_.lastError = error;
    this.socket_?.destroy();
  }

  /** A protocol error: the connection ends (no reconnect: the peer speaks something else). */
  fail_(error: Error): void {
    this.s_.lastError = error;
    this.terminate_(error);
  }

  private socketClosed_(socket: net.Socket): void {
    if (socket !== this.socket_) return;
    this.socket_ = null;
    this.ready_ = false;
    if (this.pingWaiter_ !== null) {
      const w = this.pingWaiter_;
      this.pingWaiter_ = null;
      w.reject(new ConnectionLostError(`${this.name_}: socket lost during a ping`, { cause: this.s_.lastError }));
    }
    if (this.terminal_ !== undefined) return;
    if (this.peerClosed_) {
      this.terminate_(null);
      return;
    }
    if (this.closing_) {
      this.terminate_(null, new ConnectionClosedError(`${this.name_}: the socket was lost while closing, before the peer acknowledged this message`, { cause: this.s_.lastError }));
      return;
    }
    const cause = this.s_.lastError;
    if (this.client_ !== null) {
      const r = this.client_.reconnect;
      if (r === null) {
        this.terminate_(new ConnectionLostError(`${this.name_}: socket lost and reconnect is off`, { cause }));
        return;
      }
      if (this.attempts_ >= r.maxAttempts) {
        this.terminate_(new ConnectionLostError(`${this.name_}: gave up after ${this.attempts_} reconnect attempts`, { cause }));
        return;
      }
      const delay = Math.min(r.maxDelayMs, r.initialDelayMs * r.factor ** this.attempts_) * (1 - r.jitter * Math.random());
      this.attempts_++;
      this.state_ = this.everOpened_ ? 'reconnecting' : 'connecting';
      this.reconnectTimer_ = setTimeout(() => this.connect_(), delay);
      return;
    }
    this.state_ = 'suspended';
    this.resumeTimer_ = setTimeout(
      () => this.terminate_(new ConnectionLostError(`${this.name_}: the client did not resume the session within ${this.server_!.resumeTimeoutMs} ms`, { cause })),
      this.server_!.resumeTimeoutMs,
    );
    this.resumeTimer_.unref();
  }

  private onPeerClose_(): void {
    this.peerClosed_ = true;
    const error = new ConnectionClosedError(`${this.name_}: the peer closed the connection before acknowledging this message`);
    this.rejectOutstanding_(error);
    this.socket_?.end();
  }

  private rejectOutstanding_(error: Error): void {
    for (const q of [this.inflight_, this.pending_]) for (const e of q.takeAll()) rejectBatch(e.batch, error);
    for (const b of this.blocked_.takeAll()) rejectBatch(b.batch, error);
    this.queuedBytes_ = 0;
    this.pendingBytes_ = 0;
  }

  close(): Promise<void> {
    if (this.terminal_ !== undefined) return this.closed.then(() => undefined);
    if (!this.closing_) {
      this.closing_ = true;
      for (const b of this.blocked_.takeAll()) rejectBatch(b.batch, new ConnectionClosedError(`${this.name_} was closed while this send waited for room`));
      if (this.ready_) {
        this.state_ = 'closing';
        this.maybeFinishClose_();
      } else {
        this.terminate_(null, new ConnectionClosedError(`${this.name_} was closed while not connected, before this message was acknowledged`));
      }
    }
    return this.closed.then(() => undefined);
  }

  private maybeFinishClose_(): void {
    if (!this.ready_ || this.pending_.length > 0 || this.inflight_.length > 0 || this.socket_ === null) return;
    if (this.socket_.writableEnded) return;
    this.ackSent_ = this.received_;
    this.writeControl_(encodeAckFrame(FrameType.CLOSE, this.received_));
    this.socket_.end();
  }

  destroy(): void {
    if (this.terminal_ !== undefined) return;
    const s = this.socket_;
    if (s !== null && !s.destroyed) {
      if (typeof s.resetAndDestroy === 'function' && s.readyState === 'open') s.resetAndDestroy();
      else s.destroy();
    }
    this.terminate_(null, new ConnectionClosedError(`${this.name_} was destroyed before this message was acknowledged`));
  }

  /** Ends the connection for good: `error` null for a clean end; outstanding sends get `outstanding` (or `error`). */
  private terminate_(error: Error | null, outstanding?: Error): void {
    if (this.terminal_ !== undefined) return;
    this.terminal_ = error;
    this.state_ = 'closed';
    if (this.heartbeat_ !== null) clearInterval(this.heartbeat_);
    if (this.reconnectTimer_ !== null) clearTimeout(this.reconnectTimer_);
    if (this.resumeTimer_ !== null) clearTimeout(this.resumeTimer_);
    this.heartbeat_ = this.reconnectTimer_ = this.resumeTimer_ = null;
    const s = this.socket_;
    this.socket_ = null;
    this.ready_ = false;
    if (s !== null && !s.destroyed) s.destroy();
    this.rejectOutstanding_(outstanding ?? error ?? new ConnectionClosedError(`${this.name_} closed before this message was acknowledged`));
    const end = error ?? new ConnectionClosedError(`${this.name_} is closed`);
    for (const w of this.openWaiters_.splice(0)) w.reject(end);
    if (this.pingWaiter_ !== null) {
      this.pingWaiter_.reject(end);
      this.pingWaiter_ = null;
    }
    for (const r of this.readers_.takeAll()) {
      if (error === null) r.resolve({ value: undefined, done: true });
      else r.reject(error);
    }
    if (registry.get(this.id) === (this as TcpConnection<unknown>)) registry.delete(this.id);
    this.server_?.forget_(this.session_, this);
    this.resolveClosed_(error ?? undefined);
  }

  /** The largest message a frame can carry. */
  maxMessageBytes_(): number {
    return this.o_.maxFrameBytes - 5;
  }

  /** One PING → PONG round trip carrying `frame` (a PING frame this call stamps with a new id). */
  ping_(frame: Buffer): Promise<void> {
    if (!this.ready_ || this.socket_ === null) return Promise.reject(new ConnectionClosedError(`${this.name_} is not open`));
    if (this.pingWaiter_ !== null) return Promise.reject(invalidValue('id', 'a connection with no measureLatency running', this.id));
    const id = (this.pingId_ = (this.pingId_ + 1) >>> 0);
    writeU32(frame, 5, id);
    return new Promise((resolve, reject) => {
      this.pingWaiter_ = { id, resolve, reject };
      this.writeControl_(frame);
    });
  }
}

// ---------------------------------------------------------------------------------------
// Server

/** A listening socket whose accepted sockets become Connections. */
export class TcpServer<T = Uint8Array> extends EventEmitter {
  readonly id: string;
  readonly resumeTimeoutMs: number;
  private readonly o_: Resolved<T>;
  private readonly host_: string;
  private readonly port_: number;
  private readonly server_: net.Server;
  private readonly sessions_ = new Map<string, TcpConnection<T>>();
  private readonly pendingSockets_ = new Set<net.Socket>();
  private readonly accepted_ = new Fifo<Connection<T>>();
  private readonly acceptWaiters_ = new Fifo<(c: Connection<T>) => void>();
  private next_ = 0;
  private listening_: Promise<{ host: string; port: number }> | null = null;

  constructor(id: string, host: string, port: number, resumeTimeoutMs: number, o: Resolved<T>, onConnection?: (c: Connection<T>) => void) {
    super();
    this.id = id;
    this.host_ = host;
    this.port_ = port;
    this.resumeTimeoutMs = resumeTimeoutMs;
    this.o_ = o;
    if (onConnection !== undefined) this.on('connection', onConnection);
    this.server_ = net.createServer({ noDelay: o.noDelay }, (s) => this.onSocket_(s));
  }

  /** Starts listening; resolves with the address (the kernel's port when 0 was asked). */
  listen(): Promise<{ host: string; port: number }> {
    this.listening_ ??= new Promise((resolve, reject) => {
      this.server_.once('error', reject);
      this.server_.listen(this.port_, this.host_, () => {
        this.server_.off('error', reject);
        servers.add(this as TcpServer<unknown>);
        resolve(this.address());
      });
    });
    return this.listening_;
  }

  /** The address listened on. */
  address(): { host: string; port: number } {
    const a = this.server_.address();
    if (a === null || typeof a === 'string') return { host: this.host_, port: this.port_ };
    return { host: a.address, port: a.port };
  }

  /** Resolves with the next new connection (also emitted as 'connection'). */
  accept(): Promise<Connection<T>> {
    if (this.accepted_.length > 0) return Promise.resolve(this.accepted_.shift());
    return new Promise((resolve) => this.acceptWaiters_.push(resolve));
  }

  /** Connections of this server not yet closed. */
  connections(): Connection<T>[] {
    return [...this.sessions_.values()];
  }

  private onSocket_(socket: net.Socket): void {
    this.pendingSockets_.add(socket);
    const decoder = new FrameDecoder({ maxFrameBytes: this.o_.maxFrameBytes, name: `${this.id} accepted socket` });
    let conn: TcpConnection<T> | null = null;
    const timer = setTimeout(() => socket.destroy(), this.o_.heartbeatTimeoutMs);
    const onFrame = (type: FrameTypeCode, bytes: Uint8Array, start: number, end: number, offset: number): void => {
      if (conn !== null) {
        conn.onFrame_(type, bytes, start, end, offset);
        return;
      }
      if (type !== FrameType.HELLO) throw new ConnectionError('ERR_ULTRA_PERF_SOURCE_FORMAT', `${this.id}, byte ${offset}: expected HELLO, got frame type ${type}`);
      const hello = readHello(bytes.subarray(start, end), decoder.name, offset + 5);
      clearTimeout(timer);
      this.pendingSockets_.delete(socket);
      socket.off('data', onData);
      socket.off('close', onClose);
      const key = Buffer.from(hello.session).toString('hex');
      const known = this.sessions_.get(key);
      if (known !== undefined) {
        conn = known;
        known.adopt_(socket, decoder, hello, true);
        return;
      }
      const c = new TcpConnection<T>(`${this.id}/${++this.next_}`, this.o_, null, this, hello.session);
      conn = c;
      this.sessions_.set(key, c);
      registry.set(c.id, c as TcpConnection<unknown>);
      c.adopt_(socket, decoder, hello, false);
      const w = this.acceptWaiters_.length > 0 ? this.acceptWaiters_.shift() : null;
      if (w !== null) w(c);
      else this.accepted_.push(c);
      // A listener that throws must not reach onData's catch, which would fail this new
      // connection as if its peer had sent bad bytes and swallow the error: uncaught instead.
      try {
        this.emit('connection', c);
      } catch (err) {
        process.nextTick(() => {
          throw err;
        });
      }
    };
    const onData = (chunk: Buffer): void => {
      try {
        decoder.push(chunk, onFrame);
      } catch (e) {
        // frames after the HELLO in the same chunk belong to the connection
        if (conn !== null) conn.fail_(e as Error);
        else socket.destroy();
      }
    };
    const onClose = (): void => {
      clearTimeout(timer);
      this.pendingSockets_.delete(socket);
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
    socket.on('close', onClose);
  }

  /** Called by a connection that ended: its session cannot be resumed any more. */
  forget_(session: Uint8Array, conn: TcpConnection<T>): void {
    const key = Buffer.from(session).toString('hex');
    if (this.sessions_.get(key) === conn) this.sessions_.delete(key);
  }

  /** Stops listening and closes every connection gracefully (clients see CLOSE and do not reconnect). */
  async close(): Promise<void> {
    servers.delete(this as TcpServer<unknown>);
    const closing = new Promise<void>((resolve) => this.server_.close(() => resolve()));
    for (const s of this.pendingSockets_) s.destroy();
    await Promise.all([...this.sessions_.values()].map((c) => c.close()));
    await closing;
  }

  /** Stops listening and resets every socket: a crash as the clients see it; every session is forgotten. */
  async destroy(): Promise<void> {
    servers.delete(this as TcpServer<unknown>);
    const closing = new Promise<void>((resolve) => this.server_.close(() => resolve()));
    for (const s of this.pendingSockets_) s.destroy();
    for (const c of [...this.sessions_.values()]) c.destroy();
    this.sessions_.clear();
    await closing;
  }
}

// ---------------------------------------------------------------------------------------
// Public functions

let serverCount = 0;

/**
 * Opens a framed TCP connection to `host:port` (a `createServer` peer) and registers it by
 * `id`. It connects in the background; `opened()` resolves when the session is up, and sends
 * made before then are queued.
 *
 * @throws TypeError/RangeError naming the option: an empty `id` or `host`, a `port` outside
 *   1..65535, negative or NaN sizes, an unknown `sendQueue.overflow`, an `id` in use.
 * @example
 * const server = createServer({ port: 0 });
 * const { port } = await server.listen();
 * const conn = createConnection({ id: 'orders', host: '127.0.0.1', port, noDelay: true,
 *   sendQueue: { maxMessages: 10_000, overflow: 'block' } });
 * await conn.send(new TextEncoder().encode('hello')); // resolved: the server has it
 * for await (const reply of conn) console.log(reply);
 */
export function createConnection<T = Uint8Array>(options: ConnectionOptions<T>): Connection<T> {
  const o = readOptions(kConnectionSchema, options, { required: true, what: 'an options object { id, host, port }' });
  const resolved = resolveCommon<T>(o, 'createConnection');
  const id = o.id as string;
  if (registry.has(id)) throw invalidValue('options.id', 'an id not used by an open connection', id);
  const conn = new TcpConnection<T>(
    id,
    resolved,
    { host: o.host as string, port: o.port as number, reconnect: o.reconnect as ReconnectSettings | null },
    null,
    new Uint8Array(randomBytes(kSessionBytes)),
  );
  registry.set(id, conn as TcpConnection<unknown>);
  conn.connect_();
  return conn;
}

/**
 * A server for framed connections: `await server.listen()`, then `server.accept()` (or the
 * 'connection' event / `onConnection`) gives a Connection per client session. A client that
 * loses its socket and comes back within `resumeTimeoutMs` resumes the same Connection.
 *
 * @example
 * const server = createServer({ port: 0, onConnection: async (c) => { for await (const m of c) await c.send(m); } });
 * const { port } = await server.listen();
 */
export function createServer<T = Uint8Array>(options: ServerOptions<T> = {}): TcpServer<T> {
  const o = readOptions(kServerSchema, options, { what: 'an options object' });
  const resolved = resolveCommon<T>(o, 'createServer');
  const id = (o.id as string | undefined) ?? `tcp-server-${++serverCount}`;
  return new TcpServer<T>(id, o.host as string, o.port as number, o.resumeTimeoutMs as number, resolved, o.onConnection as ((c: Connection<T>) => void) | undefined);
}

/**
 * The open connection registered as `id` (client ids as given; server-side ones
 * `<server id>/<n>`), or undefined.
 * @example
 * getConnection('orders')?.send(bytes);
 */
export function getConnection<T = Uint8Array>(id: string): Connection<T> | undefined {
  if (typeof id !== 'string') throw invalidType('id', 'a string', id);
  return registry.get(id) as Connection<T> | undefined;
}

/**
 * Closes every registered connection gracefully and every listening server.
 * @example
 * process.on('SIGTERM', () => void closeAll());
 */
export async function closeAll(): Promise<void> {
  await Promise.all([...servers].map((s) => s.close()));
  await Promise.all([...registry.values()].map((c) => c.close()));
}

export interface LatencyResult {
  count: number;
  bytes: number;
  /** Round-trip times in ns. */
  p50: number;
  p99: number;
  p999: number;
  min: number;
  max: number;
  mean: number;
  histogram: LatencyHistogram;
}

/**
 * Ping-pong round trips over the connection registered as `id`: a PING frame carrying
 * `bytes` of payload, answered by the peer Connection's receive path with a PONG carrying
 * the same bytes, one at a time; `warmup` (default min(100, count)) unrecorded first.
 * Round trips go into a LatencyHistogram (ns).
 * @example
 * const { p50, p99, p999 } = await measureLatency('orders', { count: 10_000, bytes: 64 });
 */
export async function measureLatency(id: string, options: { count?: number; bytes?: number; warmup?: number } = {}): Promise<LatencyResult> {
  if (typeof id !== 'string') throw invalidType('id', 'the id of a registered connection', id);
  const o = readOptions(kLatencySchema, options);
  const conn = registry.get(id);
  if (conn === undefined) throw invalidValue('id', 'the id of a registered connection', id);
  const count = o.count as number;
  const bytes = o.bytes as number;
  const warmup = (o.warmup as number | undefined) ?? Math.min(100, count);
  const frame = encodePingFrame(FrameType.PING, 0, new Uint8Array(bytes));
  if (bytes + 4 > conn.maxMessageBytes_()) throw invalidRange('options.bytes', `at most maxFrameBytes - 9 = ${conn.maxMessageBytes_() - 4}`, bytes);
  await conn.opened();
  for (let i = 0; i < warmup; i++) await conn.ping_(frame);
  const histogram = new LatencyHistogram({ highestTrackableValue: 60e9 });
  for (let i = 0; i < count; i++) {
    const t0 = nowNs();
    await conn.ping_(frame);
    histogram.record(nowNs() - t0);
  }
  const s = histogram.summary();
  return { count, bytes, p50: s.p50, p99: s.p99, p999: s.p999, min: histogram.min, max: s.max, mean: s.mean, histogram };
}
