/**
 * The `dgram` PacketSource: Node's own UDP sockets behind the `PacketSource` seam
 * (lib/net/packet-source.ts). It is the fallback everywhere the native `recvmmsg` receiver
 * is not built, and the default source of `FeedSubscriber`.
 *
 * One `'message'` event per datagram: Node allocates a new Buffer for each, so the view handed
 * to `onPacket` stays valid after the call here, but consumers must not rely on it (the
 * contract lets a source reuse its buffer). No kernel receive timestamps: `kernelNs` is NaN.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';

import { invalidRange, invalidType, invalidValue } from '../errors.js';
import { nowNs } from '../monitor/clock.js';
import type { PacketInfo, PacketSource, PacketSourceOptions, PacketSourceStats } from './packet-source.js';

/** True for an IPv4 multicast address (224.0.0.0/4) or an IPv6 one (ff00::/8). */
export function isMulticastAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) {
    const first = Number(address.slice(0, address.indexOf('.')));
    return first >= 224 && first <= 239;
  }
  return family === 6 && /^ff/i.test(address);
}

/** An IP literal (no name lookups: a feed is configured by address). */
export function checkHost(host: unknown, argument: string): string {
  if (typeof host !== 'string') throw invalidType(argument, 'an IPv4 or IPv6 address string', host);
  if (isIP(host) === 0) throw invalidValue(argument, 'an IPv4 or IPv6 address literal (no host names)', host);
  return host;
}

/** A UDP port; `allowZero` for a local port the kernel may choose. */
export function checkPort(port: unknown, argument: string, allowZero: boolean): number {
  const min = allowZero ? 0 : 1;
  if (typeof port !== 'number') throw invalidType(argument, `an integer in [${min}, 65535]`, port);
  if (!Number.isInteger(port) || port < min || port > 65535) throw invalidRange(argument, `an integer in [${min}, 65535]`, port);
  return port;
}

/** Checks the options of a UDP source; the returned object has every default filled in. */
export function resolveSourceOptions(options: unknown, prefix = 'options'): Required<Omit<PacketSourceOptions, 'multicastGroup' | 'receiveBufferBytes'>> &
  Pick<PacketSourceOptions, 'multicastGroup' | 'receiveBufferBytes'> {
  if (options === undefined) options = {};
  if (options === null || typeof options !== 'object') throw invalidType(prefix, 'an object { host?, port?, multicastGroup?, receiveBufferBytes? }', options);
  const o = options as PacketSourceOptions;
  const host = checkHost(o.host ?? '127.0.0.1', `${prefix}.host`);
  const port = checkPort(o.port ?? 0, `${prefix}.port`, true);
  let multicastGroup: string | undefined;
  if (o.multicastGroup !== undefined) {
    multicastGroup = checkHost(o.multicastGroup, `${prefix}.multicastGroup`);
    if (!isMulticastAddress(multicastGroup)) throw invalidValue(`${prefix}.multicastGroup`, 'a multicast address (224.0.0.0/4 or ff00::/8)', multicastGroup);
    if (isIP(multicastGroup) !== isIP(host)) throw invalidValue(`${prefix}.multicastGroup`, `an address of the same family as host ${host}`, multicastGroup);
  }
  const receiveBufferBytes = o.receiveBufferBytes;
  if (receiveBufferBytes !== undefined) {
    if (typeof receiveBufferBytes !== 'number') throw invalidType(`${prefix}.receiveBufferBytes`, 'an integer in [1, 2^31 - 1]', receiveBufferBytes);
    if (!Number.isInteger(receiveBufferBytes) || receiveBufferBytes < 1 || receiveBufferBytes > 0x7fffffff) {
      throw invalidRange(`${prefix}.receiveBufferBytes`, 'an integer in [1, 2^31 - 1]', receiveBufferBytes);
    }
  }
  return { host, port, multicastGroup, receiveBufferBytes };
}

/** Binds `socket` to `port`/`host`; rejects with the socket's error (EADDRINUSE, EADDRNOTAVAIL). */
export function bindSocket(socket: Socket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      socket.close();
      reject(error);
    };
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

/** Closes a dgram socket once; resolves when it is closed (at once when it already was). */
export function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // ERR_SOCKET_DGRAM_NOT_RUNNING: already closed
    }
  });
}

class DgramSource implements PacketSource {
  readonly kind = 'dgram';
  readonly local: { address: string; port: number };
  private readonly socket: Socket;
  private readonly counters: PacketSourceStats = { packets: 0, bytes: 0, dropped: 0, truncated: 0 };
  private readonly info: PacketInfo = { address: '', port: 0, receivedNs: 0, kernelNs: Number.NaN };
  private started = false;
  private closed: Promise<void> | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
    const { address, port } = socket.address();
    this.local = { address, port };
    // a receive error (ICMP unreachable is not reported for UDP receive) must not crash the process
    socket.on('error', () => {
      this.counters.dropped++;
    });
  }

  start(onPacket: (bytes: Uint8Array, info: PacketInfo) => void): void {
    if (typeof onPacket !== 'function') throw invalidType('onPacket', 'a function (bytes, info) => void', onPacket);
    if (this.started) throw invalidValue('start', 'one call per source (it has a consumer already)', 'a second call');
    if (this.closed !== undefined) throw invalidValue('start', 'a call before close()', 'a call after close()');
    this.started = true;
    const info = this.info;
    const counters = this.counters;
    this.socket.on('message', (msg, rinfo) => {
      if (this.closed !== undefined) return;
      counters.packets++;
      counters.bytes += msg.length;
      info.address = rinfo.address;
      info.port = rinfo.port;
      info.receivedNs = nowNs();
      onPacket(msg, info);
    });
  }

  stats(): PacketSourceStats {
    return { ...this.counters };
  }

  close(): Promise<void> {
    this.closed ??= closeSocket(this.socket);
    return this.closed;
  }
}

/**
 * Opens a `dgram` UDP source bound to `host`:`port` (default 127.0.0.1, any free port; read
 * `local.port`), joining `multicastGroup` when given (on the interface of `host` unless it is
 * a wildcard address; multicast needs a host that routes it, which this project's tests do
 * not assume). Delivery begins with `start(onPacket)`.
 *
 * @throws TypeError/RangeError naming `options.host`, `options.port`, `options.multicastGroup`
 *   or `options.receiveBufferBytes`; rejects with the socket's error when binding fails.
 * @example
 * const source = await openDgramSource({ host: '127.0.0.1', port: 0 });
 * source.start((bytes, info) => handle(bytes, info.receivedNs));
 * console.log(source.local.port);
 * await source.close();
 */
export async function openDgramSource(options: PacketSourceOptions = {}): Promise<PacketSource> {
  const o = resolveSourceOptions(options);
  const socket = createSocket({ type: isIP(o.host) === 6 ? 'udp6' : 'udp4', reuseAddr: o.multicastGroup !== undefined });
  await bindSocket(socket, o.port, o.host);
  try {
    if (o.receiveBufferBytes !== undefined) socket.setRecvBufferSize(o.receiveBufferBytes);
    if (o.multicastGroup !== undefined) {
      const wildcard = o.host === '0.0.0.0' || o.host === '::';
      if (wildcard) socket.addMembership(o.multicastGroup);
      else socket.addMembership(o.multicastGroup, o.host);
    }
  } catch (error) {
    await closeSocket(socket);
    throw error;
  }
  return new DgramSource(socket);
}
