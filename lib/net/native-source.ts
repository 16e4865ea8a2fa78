/**
 * The native UDP receiver as a `PacketSource` (kind 'native-recvmmsg'): a C++ thread
 * (cpp/net/udp_receiver.hpp) reads datagrams in batches with `recvmmsg` and writes each,
 * behind a 40-byte record header, into an `SpscQueue` that this module drains on the JS
 * thread with `popBatch`.
 *
 * Record (one queue message; `kUdpRecord`, the same table as cpp/net/udp_receiver.hpp):
 * ```
 * offset size field
 *      0    8 kernelNs   f64 CLOCK_MONOTONIC ns of the kernel's receive stamp (SO_TIMESTAMPNS,
 *                        CLOCK_REALTIME mapped once per batch), NaN when the kernel gave none
 *      8    8 threadNs   f64 CLOCK_MONOTONIC ns when recvmmsg returned the batch
 *     16    4 wireBytes  u32 the datagram's length (= the payload here: longer ones are dropped)
 *     20    2 port       u16 sender port
 *     22    1 family     u8 4 or 6
 *     23    1 flags      u8 0 (reserved)
 *     24   16 address    sender address, network order (IPv4 in the first 4 bytes)
 *     40    . payload
 * ```
 * All little-endian (the host's order; the addon is built for x86-64 and arm64).
 *
 * Policies: a full queue drops the newest datagrams (the thread never waits for JS: it
 * counts them in `queueFull` and reads on, so the kernel's buffer keeps draining); a
 * datagram longer than `maxPacketBytes` is dropped and counted in `truncated`. Wake-up
 * ('notify', the default): when a drain finds the queue empty it raises the queue's
 * consumers-asleep flag (the lib/queue protocol) and returns; the thread's next push sees
 * the flag and asks for a drain through a thread-safe function (a native thread cannot
 * `Atomics.notify`, so waiting in `Atomics.waitAsync` would take the same hop plus a
 * promise). 'poll' keeps draining from `setImmediate` while datagrams arrived in the last
 * millisecond, then sleeps as 'notify' does: lower latency under load for a busy event loop.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';

import type { CpuAddon, UdpReceiverHandle } from '../addon-types.js';
import { backendInfo } from '../backend.js';
import { BackendUnavailableError, describe, invalidRange, invalidType, UnsupportedError } from '../errors.js';
import { addonWith } from '../internal/backend.js';
import { booleanCheck, defineOptions, integerCheck, nonEmptyStringCheck, oneOfCheck, readOptions } from '../internal/options.js';
import { nowNs } from '../monitor/clock.js';
import { prepareToSleep, Sleepers } from '../queue/kernel.js';
import { kQueueViews } from '../queue/queue.js';
import { SpscQueue } from '../queue/spsc.js';
import { getThreadAffinity } from '../system/affinity.js';
import type { PacketInfo, PacketSource, PacketSourceOptions, PacketSourceStats } from './packet-source.js';

/** Byte offsets of the record header each queue message starts with (cpp/net/udp_receiver.hpp). */
export const kUdpRecord = Object.freeze({
  kernelNsOffset: 0,
  threadNsOffset: 8,
  wireBytesOffset: 16,
  portOffset: 20,
  familyOffset: 22,
  flagsOffset: 23,
  addressOffset: 24,
  headerBytes: 40,
  statsCount: 11,
  maxBatch: 1024,
  burstSeqOffset: 0,
  burstStampOffset: 8,
  burstMinBytes: 16,
});

export interface NativeUdpReceiverOptions extends PacketSourceOptions {
  /**
   * > 0: ask the kernel for SO_BUSY_POLL with this many µs (needs CAP_NET_ADMIN above
   * net.core.busy_read; a refusal is reported in `settings.busyPoll`, never silent), and
   * spin the receiver thread on a non-blocking recvmmsg for this long after each datagram
   * before it sleeps in poll(). 0 (default): the thread sleeps as soon as the socket is empty.
   */
  busyPollUs?: number;
  /** Core to pin the receiver thread to (one this process may run on); default: not pinned. */
  cpu?: number;
  /** Datagrams per recvmmsg call, 1..1024; default 32. */
  batch?: number;
  /** Ask for kernel receive timestamps (SO_TIMESTAMPNS); default true. */
  timestamps?: boolean;
  /** Queue slots between the thread and JS (a power of two, 2..2^20); default 4096. */
  capacity?: number;
  /** Longest datagram kept, 1..65507 bytes; longer ones are dropped and counted. Default 1472. */
  maxPacketBytes?: number;
  /** Records popped per popBatch call; default 64. */
  drainBatch?: number;
  /** How the JS side learns of new records: 'notify' (default) or 'poll' (see the module comment). */
  wakeup?: 'notify' | 'poll';
}

/** `PacketInfo` plus the receiver thread's own timestamp. */
export interface NativePacketInfo extends PacketInfo {
  /** When recvmmsg returned this datagram's batch on the receiver thread, on `nowNs()`'s clock. */
  threadNs: number;
}

/** What the kernel granted when the socket was opened. */
export interface NativeUdpReceiverSettings {
  receiveBufferBytes: number;
  /** 'off' (not asked), 'on', or 'refused: EPERM' (the errno's name). */
  busyPoll: string;
  timestamps: string;
  /** SO_RXQ_OVFL, the socket's own drop counter ('on' or 'refused: ...'). */
  overflowCounter: string;
  batch: number;
  capacity: number;
  maxPacketBytes: number;
  cpu: number | null;
  wakeup: 'notify' | 'poll';
}

/** Every counter of the receiver thread, plus the JS side's. */
export interface NativeUdpReceiverStats extends PacketSourceStats {
  /** Datagrams the thread read from the kernel. */
  received: number;
  receivedBytes: number;
  /** Records written into the queue. */
  queued: number;
  /** Dropped because the queue was full (drop-newest). */
  queueFull: number;
  /** The socket's overflow count (SO_RXQ_OVFL): datagrams the kernel dropped, as of the latest one read. */
  kernelDropped: number;
  /** recvmmsg calls that returned datagrams (received / batches = the mean batch). */
  batches: number;
  /** Times the thread slept in poll(). */
  sleeps: number;
  /** Drain requests the thread sent to the JS thread. */
  wakes: number;
  errors: number;
  lastErrno: number;
}

const kStatsKeys = ['received', 'receivedBytes', 'queued', 'queueFull', 'truncated', 'kernelDropped', 'batches', 'sleeps', 'wakes', 'errors', 'lastErrno'] as const;

/** 'poll' keeps polling this long after the last record before it sleeps. */
const kPollIdleNs = 1_000_000;
/** popBatch calls per drain turn before yielding to the event loop. */
const kDrainTurns = 64;

const kCapacityCheck = (value: unknown, argument: string): number => {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidType(argument, 'an integer power of two', value);
  if (value < 2 || value > 1 << 20 || (value & (value - 1)) !== 0) throw invalidRange(argument, 'a power of two in [2, 1048576]', value);
  return value;
};

/** openNativeUdpReceiver's options: the one table of their checks and defaults. */
const kNativeUdpOptions = defineOptions('openNativeUdpReceiver', {
  host: { check: nonEmptyStringCheck, default: '127.0.0.1' },
  port: { check: integerCheck(0, 65535, 'a port number'), default: 0 },
  multicastGroup: {
    check: (value, argument) => {
      throw new UnsupportedError(`${argument}: the native receiver does not join multicast groups (received ${describe(value)}); use the dgram source`);
    },
  },
  receiveBufferBytes: { check: integerCheck(0, 2 ** 31 - 1, 'a number of bytes'), default: 0 },
  busyPollUs: { check: integerCheck(0, 1_000_000, 'a number of microseconds'), default: 0 },
  cpu: { check: integerCheck(0, 1023, 'a core index'), default: -1 },
  batch: { check: integerCheck(1, kUdpRecord.maxBatch), default: 32 },
  timestamps: { check: booleanCheck, default: true },
  capacity: { check: kCapacityCheck, default: 4096 },
  maxPacketBytes: { check: integerCheck(1, 65507, 'a number of bytes'), default: 1472 },
  drainBatch: { check: integerCheck(1, 4096), default: 64 },
  wakeup: { check: oneOfCheck(['notify', 'poll']), default: 'notify' },
});

function receiverAddon(): CpuAddon | null {
  return addonWith('udpReceiverOpen');
}

function statusText(status: number): string {
  if (status === 0) return 'on';
  if (status === 1) return 'off';
  let name: string;
  try {
    name = getSystemErrorName(status);
  } catch {
    name = `errno ${-status}`;
  }
  return `refused: ${name}`;
}

/**
 * CLOCK_MONOTONIC nanoseconds (process.hrtime's clock) of `nowNs()`'s zero, so a raw
 * monotonic stamp t (a sender's, on this host) is `t - monotonicOriginNs()` on nowNs()'s
 * clock. nowNs() = hrtime - origin exactly, so each (hrtime, nowNs) pair read in that order
 * gives the origin minus the gap between the reads; the largest of a few is within tens of ns.
 * @example
 * const sentNs = stampFromPayload - monotonicOriginNs();
 * const latencyNs = nowNs() - sentNs;
 */
export function monotonicOriginNs(): number {
  let best = -Infinity;
  for (let i = 0; i < 8; i++) {
    const t = process.hrtime.bigint();
    const n = nowNs();
    const o = Number(t) - n;
    if (o > best) best = o;
  }
  return best;
}

function rethrow(err: unknown): never {
  throw err;
}

function formatIpv6(b: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[off + i]! << 8) | b[off + i + 1]!);
  // RFC 5952: the longest run (>= 2) of zero groups becomes '::'.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestAt === 0 && bestLen === 5 && g[5] === 0xffff) return `::ffff:${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/**
 * The native recvmmsg receiver; made by `openNativeUdpReceiver`. Implements `PacketSource`.
 * @example
 * const source = await openNativeUdpReceiver({ port: 0, receiveBufferBytes: 4 << 20 });
 * source.start((bytes, info) => handle(bytes, info.kernelNs));
 * // ... later
 * await source.close();
 */
export class NativeUdpReceiver implements PacketSource {
  readonly kind = 'native-recvmmsg';
  readonly local: { address: string; port: number };
  readonly settings: Readonly<NativeUdpReceiverSettings>;
  /** The queue between the thread and JS (read-only use: this object is its one consumer). */
  readonly queue: SpscQueue;

  private readonly addon: CpuAddon;
  private readonly handle: UdpReceiverHandle;
  private readonly i32: Int32Array;
  private readonly out: Uint8Array;
  private readonly dv: DataView;
  private readonly lengths: Uint32Array;
  private readonly raw = new Float64Array(kUdpRecord.statsCount);
  private readonly origin: number;
  private readonly info: NativePacketInfo = { address: '', port: 0, receivedNs: 0, kernelNs: NaN, threadNs: 0 };
  private onPacket: ((bytes: Uint8Array, info: PacketInfo) => void) | null = null;
  private closed = false;
  private immediate: NodeJS.Immediate | null = null;
  private lastRecordNs = 0;
  private packets = 0;
  private bytes = 0;
  /** The popped batch being delivered: count, next index, next offset (kept across an onPacket that throws). */
  private batchCount = 0;
  private batchIndex = 0;
  private batchOffset = 0;
  private v4Key = -1;
  private v6Key = '';

  /** @internal Use openNativeUdpReceiver. */
  constructor(addon: CpuAddon, queue: SpscQueue, handle: UdpReceiverHandle, settings: NativeUdpReceiverSettings, private readonly drainBatch: number) {
    this.addon = addon;
    this.queue = queue;
    this.handle = handle;
    this.settings = Object.freeze(settings);
    this.local = Object.freeze({ address: handle.address, port: handle.port });
    this.i32 = queue[kQueueViews].i32;
    this.out = new Uint8Array(drainBatch * queue.slotBytes);
    this.dv = new DataView(this.out.buffer);
    this.lengths = new Uint32Array(drainBatch);
    this.origin = monotonicOriginNs();
  }

  /**
   * Starts the receiver thread and delivery to `onPacket` (once per receiver). Throws when
   * the thread cannot be pinned to `options.cpu`.
   * @example
   * source.start((bytes, info) => console.log(bytes.length, info.address, info.port));
   */
  start(onPacket: (bytes: Uint8Array, info: PacketInfo) => void): void {
    if (typeof onPacket !== 'function') throw invalidType('onPacket', 'a function', onPacket);
    if (this.closed) throw new UnsupportedError('NativeUdpReceiver.start: the receiver is closed');
    if (this.onPacket !== null) throw new UnsupportedError('NativeUdpReceiver.start: already started (a source has one consumer)');
    this.addon.udpReceiverStart(this.handle, this.settings.cpu ?? -1, this.wake);
    this.onPacket = onPacket;
    this.drain();
  }

  stats(): NativeUdpReceiverStats {
    this.addon.udpReceiverStats(this.handle, this.raw);
    const s = { packets: this.packets, bytes: this.bytes, dropped: 0, truncated: 0 } as NativeUdpReceiverStats;
    kStatsKeys.forEach((k, i) => {
      s[k] = this.raw[i]!;
    });
    s.dropped = s.queueFull + s.truncated + s.kernelDropped;
    return s;
  }

  /** Stops the thread and closes the socket; resolves once no `onPacket` call can follow. Idempotent. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.immediate !== null) clearImmediate(this.immediate);
      this.immediate = null;
      this.addon.udpReceiverClose(this.handle);
    }
    return Promise.resolve();
  }

  private readonly scheduled = (): void => {
    this.immediate = null;
    this.drain();
  };

  private schedule(): void {
    if (this.immediate === null) this.immediate = setImmediate(this.scheduled);
  }

  /**
   * The drain as the thread's wake-up calls it. Node 20 swallows an exception thrown into a
   * Node-API callback (DEP0168) unless a flag is set, so one from onPacket is rethrown from
   * process.nextTick: uncaught, as from a dgram 'message' listener.
   */
  private readonly wake = (): void => {
    try {
      this.drain();
    } catch (err) {
      process.nextTick(rethrow, err);
    }
  };

  /** Delivers what the queue holds; ends asleep (flag raised) or with a drain scheduled. */
  private readonly drain = (): void => {
    if (this.closed || this.onPacket === null) return;
    for (let turn = 0; turn < kDrainTurns; turn++) {
      if (this.batchIndex >= this.batchCount && !this.pop()) {
        if (this.settings.wakeup === 'poll' && nowNs() - this.lastRecordNs < kPollIdleNs) {
          this.schedule();
          return;
        }
        // Raise the flag, then look once more: a push after this look sees the flag and wakes us.
        prepareToSleep(this.i32, Sleepers.Consumers);
        if (!this.pop()) return;
      }
      try {
        this.deliver();
      } catch (err) {
        // onPacket threw: the rest of the batch (and the queue) is delivered on the next turn.
        this.schedule();
        throw err;
      }
      if (this.closed) return;
    }
    this.schedule();
  };

  private pop(): boolean {
    const n = this.queue.popBatch(this.out, this.lengths, this.drainBatch);
    this.batchCount = n;
    this.batchIndex = 0;
    this.batchOffset = 0;
    return n > 0;
  }

  private deliver(): void {
    const out = this.out;
    const dv = this.dv;
    const info = this.info;
    const origin = this.origin;
    const onPacket = this.onPacket!;
    while (this.batchIndex < this.batchCount) {
      const off = this.batchOffset;
      const len = this.lengths[this.batchIndex]!;
      this.batchIndex++;
      this.batchOffset = off + len;
      const payload = len - kUdpRecord.headerBytes;
      info.kernelNs = dv.getFloat64(off + kUdpRecord.kernelNsOffset, true) - origin;
      info.threadNs = dv.getFloat64(off + kUdpRecord.threadNsOffset, true) - origin;
      info.port = dv.getUint16(off + kUdpRecord.portOffset, true);
      const a = off + kUdpRecord.addressOffset;
      if (out[off + kUdpRecord.familyOffset] === 4) {
        const key = dv.getUint32(a, false);
        if (key !== this.v4Key) {
          this.v4Key = key;
          info.address = `${out[a]}.${out[a + 1]}.${out[a + 2]}.${out[a + 3]}`;
        }
      } else {
        const key = `${dv.getUint32(a)}:${dv.getUint32(a + 4)}:${dv.getUint32(a + 8)}:${dv.getUint32(a + 12)}`;
        if (key !== this.v6Key) {
          this.v6Key = key;
          this.v4Key = -1;
          info.address = formatIpv6(out, a);
        }
      }
      const now = nowNs();
      info.receivedNs = now;
      this.lastRecordNs = now;
      this.packets++;
      this.bytes += payload;
      const start = off + kUdpRecord.headerBytes;
      onPacket(out.subarray(start, start + payload), info);
      if (this.closed) return;
    }
  }
}

/**
 * Opens the native `recvmmsg` receiver: binds a UDP socket (loopback by default), with a
 * receiver thread started by `start()`. Off Linux or without the CPU addon it throws a
 * BackendUnavailableError; Node's `dgram` is the fallback there. A host name is looked up
 * once here (the thread binds the address).
 * @example
 * const source = await openNativeUdpReceiver({ host: '127.0.0.1', port: 0, batch: 64, cpu: 1 });
 * console.log(source.local.port, source.settings.busyPoll);
 */
export async function openNativeUdpReceiver(options?: NativeUdpReceiverOptions): Promise<NativeUdpReceiver> {
  const o = readOptions(kNativeUdpOptions, options);
  const addon = receiverAddon();
  if (process.platform !== 'linux') {
    throw new BackendUnavailableError(`openNativeUdpReceiver needs Linux (recvmmsg); this is ${process.platform}: use the dgram source`);
  }
  if (addon === null) {
    const why = backendInfo().nativeError ?? 'the loaded CPU addon has no UDP receiver bindings; rebuild it with "npm run build:native"';
    throw new BackendUnavailableError(`openNativeUdpReceiver needs the CPU addon: ${why}; use the dgram source`);
  }
  const cpu = o.cpu as number;
  if (cpu >= 0) {
    const allowed = getThreadAffinity();
    if (!allowed.includes(cpu)) throw invalidRange('options.cpu', `one of the cores this process may run on (${allowed.join(', ')})`, cpu);
  }
  let host = o.host as string;
  if (isIP(host) === 0) host = (await lookup(host)).address;
  const maxPacketBytes = o.maxPacketBytes as number;
  const queue = SpscQueue.create({ capacity: o.capacity as number, slotBytes: kUdpRecord.headerBytes + maxPacketBytes });
  const handle = addon.udpReceiverOpen(
    new Uint8Array(queue.buffer),
    host,
    o.port as number,
    o.receiveBufferBytes as number,
    o.busyPollUs as number,
    o.batch as number,
    o.timestamps as boolean,
  );
  const settings: NativeUdpReceiverSettings = {
    receiveBufferBytes: handle.receiveBufferBytes,
    busyPoll: statusText(handle.busyPoll),
    timestamps: statusText(handle.timestamps),
    overflowCounter: statusText(handle.overflowCounter),
    batch: o.batch as number,
    capacity: o.capacity as number,
    maxPacketBytes,
    cpu: cpu >= 0 ? cpu : null,
    wakeup: o.wakeup as 'notify' | 'poll',
  };
  if (handle.busyPoll < 0) {
    process.emitWarning(
      `openNativeUdpReceiver: the kernel ${settings.busyPoll} SO_BUSY_POLL (${o.busyPollUs as number} µs): it needs CAP_NET_ADMIN above net.core.busy_read; the receiver thread still spins for busyPollUs after each datagram`,
      { code: 'ULTRA_PERF_BUSY_POLL_REFUSED' },
    );
  }
  return new NativeUdpReceiver(addon, queue, handle, settings, o.drainBatch as number);
}
