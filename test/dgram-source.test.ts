// The `dgram` PacketSource (lib/net/dgram-source.ts, issue 14 items 6 and 7): it binds where
// asked, hands each datagram with its sender and receive time to the one consumer, counts
// packets and bytes, refuses a second consumer, closes idempotently with no delivery after, and
// names every bad option.
import { createSocket } from 'node:dgram';

import { describe, expect, it } from 'vitest';

import { openDgramSource, type PacketSourceOptions } from '../lib/net/index.js';

describe('openDgramSource', () => {
  it('delivers each datagram with its sender and receive time, counts them, and closes idempotently', async () => {
    const source = await openDgramSource({ host: '127.0.0.1', port: 0, receiveBufferBytes: 1 << 20 });
    expect(source.kind).toBe('dgram');
    expect(source.local.address).toBe('127.0.0.1');
    expect(source.local.port).toBeGreaterThan(0);
    const got: { bytes: number[]; address: string; port: number; receivedNs: number; kernelNs: number }[] = [];
    source.start((bytes, info) => got.push({ bytes: [...bytes], address: info.address, port: info.port, receivedNs: info.receivedNs, kernelNs: info.kernelNs }));
    expect(() => source.start(() => undefined)).toThrow(/one call per source/);
    const sender = createSocket('udp4');
    await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
    for (const payload of [[1], [2, 3], [4, 5, 6]]) {
      await new Promise<void>((resolve) => sender.send(new Uint8Array(payload), source.local.port, '127.0.0.1', () => resolve()));
    }
    const t0 = Date.now();
    while (got.length < 3 && Date.now() - t0 < 5000) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(got.map((g) => g.bytes)).toEqual([[1], [2, 3], [4, 5, 6]]);
    expect(got.every((g) => g.address === '127.0.0.1' && g.port === sender.address().port)).toBe(true);
    expect(got[2]!.receivedNs).toBeGreaterThanOrEqual(got[0]!.receivedNs);
    expect(Number.isNaN(got[0]!.kernelNs)).toBe(true);
    expect(source.stats()).toEqual({ packets: 3, bytes: 6, dropped: 0, truncated: 0 });
    const closing = source.close();
    expect(source.close()).toBe(closing);
    await closing;
    await new Promise<void>((resolve) => sender.send(new Uint8Array([9]), source.local.port, '127.0.0.1', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(got.length).toBe(3);
    expect(() => source.start(() => undefined)).toThrow();
    sender.close();
  });

  it('binds IPv6 loopback', async () => {
    const source = await openDgramSource({ host: '::1' });
    expect(source.local.address).toBe('::1');
    await source.close();
  });

  it('rejects with the socket error when the port is taken', async () => {
    const a = await openDgramSource();
    await expect(openDgramSource({ port: a.local.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await a.close();
  });

  const cases: [string, unknown, string, string][] = [
    ['options not an object', 5, 'options', 'ERR_INVALID_ARG_TYPE'],
    ['host a name', { host: 'localhost' }, 'options.host', 'ERR_INVALID_ARG_VALUE'],
    ['host not a string', { host: [127, 0, 0, 1] }, 'options.host', 'ERR_INVALID_ARG_TYPE'],
    ['port -1', { port: -1 }, 'options.port', 'ERR_OUT_OF_RANGE'],
    ['port 65536', { port: 65536 }, 'options.port', 'ERR_OUT_OF_RANGE'],
    ['port a string', { port: '0' }, 'options.port', 'ERR_INVALID_ARG_TYPE'],
    ['group unicast', { multicastGroup: '127.0.0.1' }, 'options.multicastGroup', 'ERR_INVALID_ARG_VALUE'],
    ['group of the other family', { multicastGroup: 'ff02::1' }, 'options.multicastGroup', 'ERR_INVALID_ARG_VALUE'],
    ['receive buffer 0', { receiveBufferBytes: 0 }, 'options.receiveBufferBytes', 'ERR_OUT_OF_RANGE'],
    ['receive buffer 2^31', { receiveBufferBytes: 2 ** 31 }, 'options.receiveBufferBytes', 'ERR_OUT_OF_RANGE'],
  ];
  it.each(cases)('%s → error naming %s', async (_name, options, argument, code) => {
    const error = await openDgramSource(options as PacketSourceOptions).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(error?.code).toBe(code);
    expect(error?.message).toContain(`for ${argument} but received`);
  });
});
