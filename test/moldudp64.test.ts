// MoldUDP64 (lib/net/moldudp64.ts, issue 14 items 2 and 7): packets, heartbeats, end of
// session and requests round-trip byte for byte; the real ITCH excerpt packed into packets
// under an MTU comes back as the same messages in order; the sequencer tells in-order,
// duplicate and gap apart; bad arguments are named, bad bytes give a SourceFormatError with
// the byte, and random cuts and flips of valid packets give nothing else. The retransmission
// store answers requests with the exact stored messages, evicts by count and bytes, and with
// MoldSession fills random drops so every message arrives exactly once in order.
import { readFileSync } from 'node:fs';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { SourceFormatError } from '../lib/errors.js';
import {
  MoldRetransmitStore,
  MoldSession,
  decodeMoldPacket,
  decodeMoldRequest,
  encodeMoldEndOfSession,
  encodeMoldHeartbeat,
  encodeMoldPacket,
  encodeMoldPacketInto,
  encodeMoldRequest,
  indexItchFrames,
  kMoldDefaultMtu,
  kMoldHeaderBytes,
  moldPacketBytes,
  packMoldPackets,
  type MoldPacket,
} from '../lib/net/index.js';

import { catchError } from './pipeline-sources-helpers.js';

const kFile = 'bench/data/itch50-aapl-2020-01-30/locate-13-10k.bin';

const session = fc
  .array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 10 })
  .map((codes) => String.fromCharCode(...codes).trimEnd());
const sequence = fc.oneof(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 2 ** 53 - 70_000 }));
const messages = fc.array(fc.uint8Array({ maxLength: 60 }), { maxLength: 20 });

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function packetOf(bytes: Uint8Array[], seq = 7, s = 'SESSION1'): Uint8Array {
  return encodeMoldPacket({ session: s, sequence: seq, messages: bytes });
}

describe('MoldUDP64 packets', () => {
  it('lays out the header and blocks as the spec says (session padded, u64 and u16 big-endian)', () => {
    const bytes = packetOf([Uint8Array.of(0xaa), Uint8Array.of(1, 2, 3)], 0x0102030405);
    expect(hex(bytes)).toBe(
      Buffer.from('SESSION1  ').toString('hex') + '0000000102030405' + '0002' + '0001aa' + '0003010203',
    );
    expect(bytes.length).toBe(moldPacketBytes([Uint8Array.of(0xaa), Uint8Array.of(1, 2, 3)]));
    const p = decodeMoldPacket(bytes);
    expect(p).toMatchObject({ kind: 'messages', session: 'SESSION1', sequence: 0x0102030405, count: 2 });
    expect(p.messages.map(hex)).toEqual(['aa', '010203']);
    // views of the packet, not copies
    expect(p.messages[1]!.buffer).toBe(bytes.buffer);
    expect(p.messages[1]!.byteOffset).toBe(bytes.byteOffset + 25);
  });

  it('round-trips random sessions, sequences and message lists to identical bytes (fast-check)', () => {
    fc.assert(
      fc.property(session, sequence, messages, (s, seq, ms) => {
        const bytes = encodeMoldPacket({ session: s, sequence: seq, messages: ms }, { mtu: 65507 });
        const p = decodeMoldPacket(bytes);
        expect(p.session).toBe(s);
        expect(p.sequence).toBe(seq);
        expect(p.count).toBe(ms.length);
        expect(p.kind).toBe(ms.length === 0 ? 'heartbeat' : 'messages');
        expect(p.messages.map(hex)).toEqual(ms.map(hex));
        expect(hex(encodeMoldPacket(p, { mtu: 65507 }))).toBe(hex(bytes));
        // the zero-allocation variant writes the same bytes at an offset of a reused buffer
        const out = new Uint8Array(bytes.length + 13).fill(0xee);
        expect(encodeMoldPacketInto({ session: s, sequence: seq, messages: ms }, out, 5, 65507)).toBe(bytes.length);
        expect(hex(out.subarray(5, 5 + bytes.length))).toBe(hex(bytes));
        expect(out[4]).toBe(0xee);
        expect(out[5 + bytes.length]).toBe(0xee);
      }),
    );
  });

  it('packs the real ITCH excerpt into packets under the MTU and unpacks the same messages in order', () => {
    const file = readFileSync(kFile);
    const { offsets, count } = indexItchFrames(file, { file: kFile });
    expect(count).toBe(10_000);
    const itch: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const at = offsets[i]!;
      itch.push(file.subarray(at, at + ((file[at - 2]! << 8) | file[at - 1]!)));
    }
    for (const mtu of [kMoldDefaultMtu, 200, 65507]) {
      const packets = packMoldPackets('20200130A', 1, itch, mtu);
      const seqr = new MoldSession({ session: '20200130A' });
      const out: Uint8Array[] = [];
      for (const bytes of packets) {
        expect(bytes.length).toBeLessThanOrEqual(mtu);
        const p = decodeMoldPacket(bytes);
        const v = seqr.accept(p);
        expect(v.status).toBe('deliver');
        expect(v.deliverFrom).toBe(0);
        out.push(...p.messages);
      }
      expect(out.length).toBe(count);
      for (let i = 0; i < count; i++) expect(hex(out[i]!)).toBe(hex(itch[i]!));
      expect(seqr.nextSequence).toBe(count + 1);
      // full packets: a packet plus its successor's first message would not fit
      for (let k = 0; k + 1 < packets.length; k++) {
        const next = decodeMoldPacket(packets[k + 1]!).messages[0]!;
        expect(packets[k]!.length + 2 + next.length).toBeGreaterThan(mtu);
      }
    }
  });

  it('heartbeats and end of session carry the next sequence number and no payload', () => {
    const hb = encodeMoldHeartbeat('S1', 1001);
    expect(hex(hb)).toBe(Buffer.from('S1        ').toString('hex') + '00000000000003e9' + '0000');
    expect(decodeMoldPacket(hb)).toEqual({ kind: 'heartbeat', session: 'S1', sequence: 1001, count: 0, messages: [] });
    const eos = encodeMoldEndOfSession('S1', 1001);
    expect(hex(eos.subarray(18))).toBe('ffff');
    expect(decodeMoldPacket(eos)).toEqual({ kind: 'end-of-session', session: 'S1', sequence: 1001, count: 0, messages: [] });
    // into a caller's buffer: the returned bytes are a view of it
    const out = new Uint8Array(40);
    const view = encodeMoldHeartbeat('S1', 1001, out, 10);
    expect(view.buffer).toBe(out.buffer);
    expect(hex(out.subarray(10, 30))).toBe(hex(hb));
    // a packet with no messages is a heartbeat
    expect(hex(packetOf([], 1001, 'S1'))).toBe(hex(hb));
  });

  it('requests round-trip (fast-check)', () => {
    fc.assert(
      fc.property(session, sequence, fc.integer({ min: 1, max: 65535 }), (s, seq, count) => {
        const bytes = encodeMoldRequest({ session: s, sequence: seq, count });
        expect(bytes.length).toBe(kMoldHeaderBytes);
        expect(decodeMoldRequest(bytes)).toEqual({ session: s, sequence: seq, count });
      }),
    );
    expect(hex(encodeMoldRequest({ session: 'ABC', sequence: 500, count: 20 }))).toBe(
      Buffer.from('ABC       ').toString('hex') + '00000000000001f4' + '0014',
    );
  });
});

describe('MoldSession', () => {
  const msg = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => Uint8Array.of(i));
  const pkt = (seq: number, n: number, s = 'S'): MoldPacket => decodeMoldPacket(packetOf(msg(n), seq, s));

  it('delivers in order, drops duplicates, delivers the new tail of an overlap', () => {
    const s = new MoldSession({ session: 'S' });
    expect(s.accept(pkt(1, 3))).toMatchObject({ status: 'deliver', deliverFrom: 0 });
    expect(s.nextSequence).toBe(4);
    expect(s.accept(pkt(1, 3)).status).toBe('duplicate');
    expect(s.accept(pkt(2, 2)).status).toBe('duplicate');
    expect(s.accept(pkt(3, 4))).toMatchObject({ status: 'deliver', deliverFrom: 1 });
    expect(s.nextSequence).toBe(7);
    expect(s.missing).toBe(0);
  });

  it('reports a gap as the missing range, then resumes once it is filled', () => {
    const s = new MoldSession();
    expect(s.accept(pkt(1, 2)).status).toBe('deliver');
    expect(s.session).toBe('S');
    expect(s.accept(pkt(10, 5))).toMatchObject({ status: 'gap', gapFrom: 3, gapCount: 7 });
    expect(s.nextSequence).toBe(3);
    expect(s.missing).toBe(12);
    // the retransmission fills it; the held packet is then in order
    expect(s.accept(pkt(3, 7))).toMatchObject({ status: 'deliver', deliverFrom: 0 });
    expect(s.accept(pkt(10, 5))).toMatchObject({ status: 'deliver', deliverFrom: 0 });
    expect(s.nextSequence).toBe(15);
  });

  it('heartbeats and end of session: nothing missing, or the gap they reveal', () => {
    const s = new MoldSession({ session: 'S', nextSequence: 5 });
    const hb = (seq: number): MoldPacket => decodeMoldPacket(encodeMoldHeartbeat('S', seq));
    expect(s.accept(hb(5)).status).toBe('heartbeat');
    expect(s.accept(hb(3)).status).toBe('heartbeat');
    expect(s.accept(hb(8))).toMatchObject({ status: 'gap', gapFrom: 5, gapCount: 3 });
    expect(s.ended).toBe(false);
    expect(s.accept(decodeMoldPacket(encodeMoldEndOfSession('S', 9)))).toMatchObject({ status: 'gap', gapFrom: 5, gapCount: 4 });
    expect(s.ended).toBe(true);
    expect(s.accept(pkt(5, 4)).status).toBe('deliver');
    expect(s.accept(decodeMoldPacket(encodeMoldEndOfSession('S', 9))).status).toBe('heartbeat');
  });

  it('ignores another session', () => {
    const s = new MoldSession({ session: 'A' });
    expect(s.accept(pkt(1, 1, 'B')).status).toBe('wrong-session');
    expect(s.nextSequence).toBe(1);
  });

  it('delivers every message exactly once in order from shuffled, duplicated packets (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 30 }), fc.nat(), (sizes, seed) => {
        const packets: MoldPacket[] = [];
        let seq = 1;
        for (const n of sizes) {
          packets.push(decodeMoldPacket(packetOf(Array.from({ length: n }, (_, i) => Uint8Array.of((seq + i) & 0xff)), seq, 'S')));
          seq += n;
        }
        // arrival order: a seeded shuffle with every packet twice
        const arrivals = [...packets, ...packets];
        let r = seed;
        for (let i = arrivals.length - 1; i > 0; i--) {
          r = (r * 1103515245 + 12345) >>> 0;
          const j = r % (i + 1);
          [arrivals[i], arrivals[j]] = [arrivals[j]!, arrivals[i]!];
        }
        const s = new MoldSession({ session: 'S' });
        const held: MoldPacket[] = [];
        const delivered: number[] = [];
        const offer = (p: MoldPacket): boolean => {
          const v = s.accept(p);
          if (v.status === 'gap') return false;
          if (v.status === 'deliver') for (let i = v.deliverFrom; i < p.count; i++) delivered.push(p.sequence + i);
          return true;
        };
        for (const p of arrivals) {
          if (!offer(p)) held.push(p);
          // a delivery can make any held packet deliverable: rescan until nothing moves
          for (let moved = true; moved; ) {
            moved = false;
            for (let k = 0; k < held.length; k++) if (offer(held[k]!)) (held.splice(k--, 1), (moved = true));
          }
        }
        expect(delivered).toEqual(Array.from({ length: seq - 1 }, (_, i) => i + 1));
      }),
    );
  });
});

describe('MoldUDP64 bad input', () => {
  const ok = { session: 'S', sequence: 1, messages: [Uint8Array.of(1)] };

  it('names the argument on encode', () => {
    const cases: [() => unknown, RegExp, string][] = [
      [() => encodeMoldPacket({ ...ok, session: 'ELEVENCHARS' }), /packet\.session.*"ELEVENCHARS"/, 'ERR_INVALID_ARG_VALUE'],
      [() => encodeMoldPacket({ ...ok, session: 'caf\u00e9' }), /printable ASCII.*packet\.session/, 'ERR_INVALID_ARG_VALUE'],
      [() => encodeMoldPacket({ ...ok, session: 7 as unknown as string }), /packet\.session/, 'ERR_INVALID_ARG_TYPE'],
      [() => encodeMoldPacket({ ...ok, sequence: 2 ** 53 }), /packet\.sequence.*9007199254740992/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldPacket({ ...ok, sequence: 0 }), /packet\.sequence.*0/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldPacket({ ...ok, sequence: 1.5 }), /packet\.sequence/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldPacket({ ...ok, sequence: 2 ** 53 - 1, messages: [Uint8Array.of(1), Uint8Array.of(2)] }), /2\^53 - 1 for packet\.sequence.*9007199254740991/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldPacket({ ...ok, messages: [new Uint8Array(65536)] }, { mtu: 65507 }), /packet\.messages\[0\]\.length.*65536/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldPacket({ ...ok, messages: [new Uint8Array(1451)] }), /packet.*mtu = 1472.*1473/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldPacket({ ...ok, messages: [Uint8Array.of(1), 'x' as unknown as Uint8Array] }), /packet\.messages\[1\]/, 'ERR_INVALID_ARG_TYPE'],
      [() => encodeMoldPacket({ ...ok, messages: new Array(65535).fill(new Uint8Array(0)) }, { mtu: 65507 }), /packet\.messages\.length.*65535/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldPacket(ok, { mtu: 19 }), /mtu.*19/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldPacket(ok, { mtu: 65508 }), /mtu.*65508/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldPacket(ok, { out: new Uint8Array(22) }), /23 bytes of out after it for offset but received 0/, 'ERR_INVALID_ARG_VALUE'],
      [() => encodeMoldPacketInto(ok, new Uint8Array(30), 8), /offset.*8/, 'ERR_INVALID_ARG_VALUE'],
      [() => encodeMoldHeartbeat('S', 2 ** 53), /nextSequence/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldEndOfSession('TOO LONG SESSION', 1), /session/, 'ERR_INVALID_ARG_VALUE'],
      [() => encodeMoldRequest({ session: 'S', sequence: 1, count: 0 }), /request\.count.*0/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldRequest({ session: 'S', sequence: 1, count: 65536 }), /request\.count.*65536/, 'ERR_OUT_OF_RANGE'],
      [() => encodeMoldRequest({ session: 'S', sequence: -1, count: 1 }), /request\.sequence.*-1/, 'ERR_OUT_OF_RANGE'],
      [() => packMoldPackets('S', 1, [new Uint8Array(100)], 100), /78 bytes.*for messages\[0\]\.length but received 100/, 'ERR_OUT_OF_RANGE'],
      [() => new MoldSession({ nextSequence: 0 }), /options\.nextSequence/, 'ERR_OUT_OF_RANGE'],
      [() => decodeMoldPacket([1, 2] as unknown as Uint8Array), /bytes/, 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [fn, message, code] of cases) {
      const error = catchError(fn) as unknown as Error & { code: string };
      expect(error.message, String(fn)).toMatch(message);
      expect(error.code, String(fn)).toBe(code);
    }
    // the largest ones allowed pass
    expect(encodeMoldPacket({ ...ok, messages: [new Uint8Array(1450)] }).length).toBe(1472);
    expect(decodeMoldPacket(encodeMoldPacket({ session: '0123456789', sequence: 2 ** 53 - 1, messages: [Uint8Array.of(9)] })).sequence).toBe(2 ** 53 - 1);
  });

  it('gives a SourceFormatError naming the byte on decode', () => {
    const good = packetOf([Uint8Array.of(1, 2, 3), Uint8Array.of(4)], 9, 'S');
    const patch = (at: number, ...values: number[]): Uint8Array => {
      const b = Uint8Array.from(good);
      b.set(values, at);
      return b;
    };
    const cases: [Uint8Array, string, RegExp][] = [
      [good.subarray(0, 19), 'byte 19', /truncated packet: 19 bytes/],
      [new Uint8Array(0), 'byte 0', /truncated packet/],
      [patch(3, 0x00), 'byte 3', /session byte 0x00/],
      [patch(10, 0x00, 0x20), 'byte 10', /9007199254741001 is past 2\^53 - 1/],
      [patch(10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 'byte 10', /18446744073709551615/],
      [patch(10, 0, 0, 0, 0, 0, 0, 0, 0), 'byte 10', /sequence number 0/],
      [patch(10, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 'byte 10', /runs past 2\^53 - 1/],
      [patch(18, 0x10, 0x00), 'byte 18', /message count 4096 needs at least 8192 bytes/],
      [patch(18, 0, 3), 'byte 28', /message 3 of 3 has no length field/],
      [patch(20, 0, 9), 'byte 20', /message 1 of 2: length 9 runs past the end/],
      [patch(25, 0xff, 0xff), 'byte 25', /message 2 of 2: length 65535 runs past the end \(1 bytes left\)/],
      [patch(18, 0, 1), 'byte 25', /3 bytes after the last of 1 messages/],
      [Uint8Array.from([...encodeMoldHeartbeat('S', 1), 0]), 'byte 20', /1 bytes after a heartbeat header/],
      [Uint8Array.from([...encodeMoldEndOfSession('S', 1), 0, 0]), 'byte 20', /2 bytes after a end-of-session header/],
    ];
    for (const [bytes, where, message] of cases) {
      const error = catchError(() => decodeMoldPacket(bytes));
      expect(error, where).toBeInstanceOf(SourceFormatError);
      expect(error.file).toBe('<packet>');
      expect(error.where, String(message)).toBe(where);
      expect(error.message).toMatch(message);
    }
    const named = catchError(() => decodeMoldPacket(good.subarray(0, 5), { file: 'feed A' }));
    expect(named.message).toMatch(/^feed A, byte 5: /);
    const request = encodeMoldRequest({ session: 'S', sequence: 3, count: 2 });
    expect(catchError(() => decodeMoldRequest(request.subarray(0, 12))).where).toBe('byte 12');
    expect(catchError(() => decodeMoldRequest(Uint8Array.from([...request, 0]))).message).toMatch(/request of 21 bytes/);
    expect(catchError(() => decodeMoldRequest(Uint8Array.from([...request.subarray(0, 18), 0, 0]))).where).toBe('byte 18');
  });

  it('random cuts and byte flips of valid packets and requests give only SourceFormatErrors (fast-check)', () => {
    fc.assert(
      fc.property(
        session,
        sequence,
        messages,
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.boolean(),
        (s, seq, ms, cut, flips, asRequest) => {
          const bytes = Uint8Array.from(
            asRequest
              ? encodeMoldRequest({ session: s, sequence: seq, count: 1 + (cut % 65535) })
              : encodeMoldPacket({ session: s, sequence: seq, messages: ms }, { mtu: 65507 }),
          );
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          const sliced = bytes.subarray(0, cut % (bytes.length + 1));
          for (const input of [bytes, sliced]) {
            try {
              if (asRequest) decodeMoldRequest(input);
              else {
                const p = decodeMoldPacket(input);
                let total = kMoldHeaderBytes;
                for (const m of p.messages) total += 2 + m.length;
                expect(total).toBe(input.length);
              }
            } catch (error) {
              expect(error).toBeInstanceOf(SourceFormatError);
              expect((error as SourceFormatError).where).toMatch(/^byte \d+$/);
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('MoldRetransmitStore', () => {
  const body = (seq: number, length = 1 + (seq % 7)): Uint8Array => Uint8Array.from({ length }, (_, i) => (seq * 31 + i) & 0xff);
  /** Decodes reply packets into [sequence, hex] pairs, checking each packet's session. */
  const unpack = (packets: Uint8Array[], s = 'SESS'): [number, string][] =>
    packets.flatMap((bytes) => {
      const p = decodeMoldPacket(bytes);
      expect(p.kind).toBe('messages');
      expect(p.session).toBe(s);
      return p.messages.map((m, i): [number, string] => [p.sequence + i, hex(m)]);
    });
  const expected = (from: number, to: number): [number, string][] => Array.from({ length: to - from }, (_, i) => [from + i, hex(body(from + i))]);

  it('numbers appended messages from 1 and replies to a decoded request with the exact messages in order', () => {
    const store = new MoldRetransmitStore({ session: 'SESS', capacity: 100 });
    for (let seq = 1; seq <= 60; seq++) expect(store.append(body(seq))).toBe(seq);
    expect([store.firstSequence, store.nextSequence, store.size]).toEqual([1, 61, 60]);
    const request = decodeMoldRequest(encodeMoldRequest({ session: 'SESS', sequence: 5, count: 40 }));
    const packets = store.reply(request, 100);
    expect(packets.length).toBeGreaterThan(1);
    for (const p of packets) expect(p.length).toBeLessThanOrEqual(100);
    expect(unpack(packets)).toEqual(expected(5, 45));
    expect(store.lastReply).toEqual({ status: 'served', sequence: 5, count: 40 });
    // the copies are the store's: changing the caller's buffer afterwards changes nothing
    const m = Uint8Array.of(1, 2, 3);
    store.append(m);
    m.fill(0);
    expect(unpack(store.reply({ session: 'SESS', sequence: 61, count: 1 }))).toEqual([[61, '010203']]);
  });

  it('evicts the oldest messages past capacity, and past maxBytes with wrap-around in the arena', () => {
    const byCount = new MoldRetransmitStore({ session: 'SESS', capacity: 10 });
    for (let seq = 1; seq <= 25; seq++) byCount.append(body(seq));
    expect([byCount.firstSequence, byCount.size]).toEqual([16, 10]);
    expect(unpack(byCount.reply({ session: 'SESS', sequence: 16, count: 10 }))).toEqual(expected(16, 26));
    expect(byCount.reply({ session: 'SESS', sequence: 3, count: 5 })).toEqual([]);
    expect(byCount.lastReply).toEqual({ status: 'evicted', sequence: 0, count: 0 });

    // 16-byte messages in a 40-byte arena: two fit (the third would run past the end and wraps)
    const byBytes = new MoldRetransmitStore({ session: 'SESS', capacity: 10, maxBytes: 40 });
    for (let seq = 1; seq <= 9; seq++) {
      byBytes.append(body(seq, 16));
      expect(byBytes.size).toBe(Math.min(seq, 2));
      expect(unpack(byBytes.reply({ session: 'SESS', sequence: 1, count: 100 }))).toEqual(
        Array.from({ length: Math.min(seq, 2) }, (_, i): [number, string] => [seq - Math.min(seq, 2) + 1 + i, hex(body(seq - Math.min(seq, 2) + 1 + i, 16))]),
      );
    }
  });

  it('serves the stored part of a request spanning evicted and stored messages, capped at the last sent', () => {
    const store = new MoldRetransmitStore({ session: 'SESS', capacity: 8 });
    for (let seq = 1; seq <= 20; seq++) store.append(body(seq));
    expect(unpack(store.reply({ session: 'SESS', sequence: 10, count: 5 }))).toEqual(expected(13, 15));
    expect(store.lastReply).toEqual({ status: 'partial', sequence: 13, count: 2 });
    expect(unpack(store.reply({ session: 'SESS', sequence: 18, count: 65535 }))).toEqual(expected(18, 21));
    expect(store.lastReply).toEqual({ status: 'partial', sequence: 18, count: 3 });
    expect(unpack(store.reply({ session: 'SESS', sequence: 1, count: 65535 }))).toEqual(expected(13, 21));
    expect(store.lastReply).toEqual({ status: 'partial', sequence: 13, count: 8 });
    expect(store.reply({ session: 'SESS', sequence: 21, count: 1 })).toEqual([]);
    expect(store.lastReply.status).toBe('not-sent');
    expect(new MoldRetransmitStore({ session: 'SESS', capacity: 1 }).reply({ session: 'SESS', sequence: 1, count: 1 })).toEqual([]);
  });

  it('answers another session with nothing, and compares sessions without trailing spaces', () => {
    const store = new MoldRetransmitStore({ session: 'SESS  ', capacity: 4 });
    store.append(body(1));
    expect(store.reply({ session: 'OTHER', sequence: 1, count: 1 })).toEqual([]);
    expect(store.lastReply).toEqual({ status: 'wrong-session', sequence: 0, count: 0 });
    expect(unpack(store.reply({ session: 'SESS', sequence: 1, count: 1 }))).toEqual(expected(1, 2));
  });

  it('names the bad argument', () => {
    const store = new MoldRetransmitStore({ session: 'S', capacity: 4, maxBytes: 100 });
    store.append(new Uint8Array(90));
    const cases: [() => unknown, RegExp, string][] = [
      [() => new MoldRetransmitStore(null as unknown as { session: string; capacity: number }), /options/, 'ERR_INVALID_ARG_TYPE'],
      [() => new MoldRetransmitStore({ session: 'ELEVENCHARS', capacity: 1 }), /options\.session.*"ELEVENCHARS"/, 'ERR_INVALID_ARG_VALUE'],
      [() => new MoldRetransmitStore({ session: 'S', capacity: 0 }), /options\.capacity.*0/, 'ERR_OUT_OF_RANGE'],
      [() => new MoldRetransmitStore({ session: 'S', capacity: 2 ** 24 + 1 }), /options\.capacity.*16777217/, 'ERR_OUT_OF_RANGE'],
      [() => new MoldRetransmitStore({ session: 'S', capacity: 1, maxBytes: 1.5 }), /options\.maxBytes.*1\.5/, 'ERR_OUT_OF_RANGE'],
      [() => store.append('x' as unknown as Uint8Array), /message/, 'ERR_INVALID_ARG_TYPE'],
      [() => store.append(new Uint8Array(101)), /maxBytes = 100.*message\.length.*101/, 'ERR_OUT_OF_RANGE'],
      [() => new MoldRetransmitStore({ session: 'S', capacity: 1, maxBytes: 70000 }).append(new Uint8Array(65536)), /message\.length.*65536/, 'ERR_OUT_OF_RANGE'],
      [() => store.reply(null as unknown as { session: string; sequence: number; count: number }), /request/, 'ERR_INVALID_ARG_TYPE'],
      [() => store.reply({ session: 7 as unknown as string, sequence: 1, count: 1 }), /request\.session/, 'ERR_INVALID_ARG_TYPE'],
      [() => store.reply({ session: 'S', sequence: 0, count: 1 }), /request\.sequence.*0/, 'ERR_OUT_OF_RANGE'],
      [() => store.reply({ session: 'S', sequence: 1, count: 65536 }), /request\.count.*65536/, 'ERR_OUT_OF_RANGE'],
      [() => store.reply({ session: 'S', sequence: 1, count: 1 }, 19), /mtu.*19/, 'ERR_OUT_OF_RANGE'],
      [() => store.reply({ session: 'S', sequence: 1, count: 1 }, 100), /at least 112.*stored message 1.*mtu but received 100/, 'ERR_OUT_OF_RANGE'],
    ];
    for (const [fn, message, code] of cases) {
      const error = catchError(fn) as unknown as Error & { code: string };
      expect(error.message, String(fn)).toMatch(message);
      expect(error.code, String(fn)).toBe(code);
    }
  });

  it('with MoldSession, fills random drops: every message is delivered exactly once in order (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        fc.integer({ min: 60, max: 200 }),
        (sizes, drops, mtu) => {
          const store = new MoldRetransmitStore({ session: 'SESS', capacity: 256 });
          const sent: Uint8Array[] = [];
          for (const [k, n] of sizes.entries()) {
            const batch = Array.from({ length: n }, (_, i) => body(store.nextSequence + i));
            const first = store.nextSequence;
            for (const m of batch) store.append(m);
            // the feed: dropped at random
            if (!drops[k]) sent.push(encodeMoldPacket({ session: 'SESS', sequence: first, messages: batch }));
          }
          sent.push(encodeMoldHeartbeat('SESS', store.nextSequence)); // reveals a dropped tail
          const s = new MoldSession({ session: 'SESS' });
          const delivered: [number, string][] = [];
          const offer = (bytes: Uint8Array): void => {
            const p = decodeMoldPacket(bytes);
            const v = s.accept(p);
            if (v.status === 'deliver') for (let i = v.deliverFrom; i < p.count; i++) delivered.push([p.sequence + i, hex(p.messages[i]!)]);
            else if (v.status === 'gap') {
              const request = decodeMoldRequest(encodeMoldRequest({ session: s.session!, sequence: v.gapFrom, count: Math.min(v.gapCount, 65535) }));
              for (const r of store.reply(request, mtu)) offer(r);
              expect(store.lastReply.status).toBe('served');
              offer(bytes); // the held packet, now in order
            }
          };
          for (const bytes of sent) offer(bytes);
          expect(s.missing).toBe(0);
          expect(delivered).toEqual(expected(1, store.nextSequence));
        },
      ),
    );
  });
});
