// A lossy UDP relay on loopback for the feed tests: datagrams from any sender go to `target`,
// datagrams from `target` go back to the last other sender (so one relay can sit on the
// request path too). Drops and reorders are drawn from a seeded PRNG, so a failing run can be
// replayed; `drop` can also pick packets by index.
import { createSocket, type Socket } from 'node:dgram';

import { seeded } from './fixtures/seeded.js';

export interface RelayOptions {
  target: { address: string; port: number };
  /** Probability a forward datagram is dropped. */
  dropRate?: number;
  /** Probability a datagram is held and sent after the next one. */
  reorderRate?: number;
  seed?: number;
  /** Drops the forward datagram with this index (0-based) when it returns true. */
  drop?: (index: number, bytes: Uint8Array) => boolean;
  /** Apply drops and reorders to the reverse direction too (replies to the last sender). */
  lossyBack?: boolean;
}

export interface Relay {
  port: number;
  forwarded: number;
  dropped: number;
  reordered: number;
  close(): Promise<void>;
}

export async function openRelay(options: RelayOptions): Promise<Relay> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const random = seeded(options.seed ?? 1);
  const dropRate = options.dropRate ?? 0;
  const reorderRate = options.reorderRate ?? 0;
  let client: { address: string; port: number } | undefined;
  let held: { bytes: Uint8Array; to: { address: string; port: number } } | undefined;
  let index = 0;
  const relay: Relay = {
    port: socket.address().port,
    forwarded: 0,
    dropped: 0,
    reordered: 0,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  const send = (bytes: Uint8Array, to: { address: string; port: number }): void => {
    relay.forwarded++;
    socket.send(bytes, to.port, to.address);
  };
  socket.on('error', () => undefined);
  socket.on('message', (msg, rinfo) => {
    const back = rinfo.port === options.target.port && rinfo.address === options.target.address;
    if (!back) client = { address: rinfo.address, port: rinfo.port };
    const to = back ? client : options.target;
    if (to === undefined) return;
    const lossy = !back || options.lossyBack === true;
    if (lossy) {
      const i = index++;
      if ((options.drop !== undefined && options.drop(i, msg)) || random() < dropRate) {
        relay.dropped++;
        return;
      }
      if (held === undefined && random() < reorderRate) {
        held = { bytes: msg, to };
        relay.reordered++;
        return;
      }
    }
    send(msg, to);
    if (held !== undefined) {
      send(held.bytes, held.to);
      held = undefined;
    }
  });
  return relay;
}
