/**
 * The seam between a UDP receive path and what consumes its packets (DESIGN.md "Codecs and
 * transports": kernel bypass is not available to Node here, so this interface is where a
 * DPDK / AF_XDP / ef_vi source would plug in). Two implementations ship: `dgram` (Node's
 * own sockets, the fallback everywhere) and the native `recvmmsg` receiver thread, which
 * writes packets into an `SpscQueue` that the JS side drains.
 *
 * Contract:
 * - `start(onPacket)` registers the one consumer and begins delivery; calling it twice throws.
 * - `onPacket(bytes, info)` gets a view that is valid only during the call (a source may
 *   reuse its buffer for the next packet): copy what you keep. `info` may be reused too.
 * - Packets of one sender arrive in the order the kernel delivered them; nothing is
 *   reordered or deduplicated here (that is the MoldUDP64 sequencer's job).
 * - `close()` stops delivery and frees the socket (and the native thread); it resolves once
 *   no further `onPacket` call can happen, and is idempotent.
 */

/** What is known about one received packet. Times are nanoseconds on `nowNs()`'s clock
 * (lib/monitor/clock.ts) unless the field says otherwise. */
export interface PacketInfo {
  /** Sender address and port. */
  address: string;
  port: number;
  /** When the JS side got the packet, `nowNs()`. */
  receivedNs: number;
  /**
   * When the kernel received it (SO_TIMESTAMPNS, CLOCK_REALTIME converted to `nowNs()`'s clock),
   * or NaN where the source or the kernel gives none.
   */
  kernelNs: number;
}

/** Counters of a source since it started. */
export interface PacketSourceStats {
  packets: number;
  bytes: number;
  /** Packets the source itself dropped (a full hand-off queue, a truncated datagram). */
  dropped: number;
  /** Packets truncated because they were larger than the source's slot size. */
  truncated: number;
}

export interface PacketSource {
  /** Which implementation: 'dgram', 'native-recvmmsg', or a plug-in's name. */
  readonly kind: string;
  /** The local address and port the source is bound to. */
  readonly local: { address: string; port: number };
  start(onPacket: (bytes: Uint8Array, info: PacketInfo) => void): void;
  stats(): PacketSourceStats;
  close(): Promise<void>;
}

/** Where and how a UDP source binds. */
export interface PacketSourceOptions {
  /** Local address to bind (default '127.0.0.1'). Only loopback is used by this project's tests. */
  host?: string;
  /** Local port (0 = any free port; read `local.port` after opening). */
  port?: number;
  /** Multicast group to join, where the host allows it. */
  multicastGroup?: string;
  /** Kernel receive buffer size in bytes (SO_RCVBUF), where the host allows it. */
  receiveBufferBytes?: number;
}
