// ITCH 5.0 decoder (lib/net/itch.ts, issue 14 item 2, issue 13 items 2 and 8): the real AAPL
// excerpt decodes into exactly the message mix its PROVENANCE lists and re-encodes to the same
// bytes; every type of the spec round-trips; the batch decoder agrees with the object decoder;
// bad bytes give a SourceFormatError naming the byte.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { SourceFormatError } from '../lib/errors.js';
import {
  createItchColumns,
  decodeItch,
  decodeItchBatch,
  encodeItch,
  encodeItchFile,
  indexItchFrames,
  itchMessageLength,
  kItchMessageTypes,
  type ItchMessage,
  type ItchMessageType,
} from '../lib/net/index.js';

import { catchError } from './pipeline-sources-helpers.js';

const kFile = 'bench/data/itch50-aapl-2020-01-30/locate-13-10k.bin';
const bytes = readFileSync(kFile);

/** Message lengths as the spec's tables give them (§4), type byte included. */
const kSpecLengths: Record<ItchMessageType, number> = {
  S: 12, R: 39, H: 25, Y: 20, L: 26, V: 35, W: 12, K: 28, J: 35, h: 21,
  A: 36, F: 40, E: 31, C: 36, X: 23, D: 19, U: 35, P: 44, Q: 40, B: 19, I: 50, N: 20, O: 48,
};

/** One message of each type with every field set to a distinct value. */
function sample(type: ItchMessageType, k = 1): ItchMessage {
  const h = { stockLocate: 13 + k, trackingNumber: 7 * k, timestamp: 34_200_000_000_123 + k };
  const big = (n: number): bigint => BigInt(n) * 1_000_003n + BigInt(k);
  switch (type) {
    case 'S': return { type, ...h, eventCode: 'Q' };
    case 'R': return {
      type, ...h, stock: 'AAPL', marketCategory: 'Q', financialStatusIndicator: 'N', roundLotSize: 100, roundLotsOnly: 'N',
      issueClassification: 'C', issueSubType: 'Z', authenticity: 'P', shortSaleThresholdIndicator: 'N', ipoFlag: ' ',
      luldReferencePriceTier: '1', etpFlag: 'N', etpLeverageFactor: 0, inverseIndicator: 'N',
    };
    case 'H': return { type, ...h, stock: 'MSFT', tradingState: 'H', reserved: ' ', reason: 'T1' };
    case 'Y': return { type, ...h, stock: 'ZVZZT', regShoAction: '1' };
    case 'L': return { type, ...h, mpid: 'GSCO', stock: 'AAPL', primaryMarketMaker: 'Y', marketMakerMode: 'N', marketParticipantState: 'A' };
    case 'V': return { type, ...h, level1: 3_000_000_000_00n, level2: 2_800_000_000_00n, level3: big(9) };
    case 'W': return { type, ...h, breachedLevel: '2' };
    case 'K': return { type, ...h, stock: 'NEWCO', ipoQuotationReleaseTime: 41_400, ipoQuotationReleaseQualifier: 'A', ipoPrice: 170_000 };
    case 'J': return {
      type, ...h, stock: 'AAPL', auctionCollarReferencePrice: 3_200_000, upperAuctionCollarPrice: 3_360_000,
      lowerAuctionCollarPrice: 3_040_000, auctionCollarExtension: 2,
    };
    case 'h': return { type, ...h, stock: 'AAPL', marketCode: 'Q', operationalHaltAction: 'H' };
    case 'A': return { type, ...h, orderRef: big(1), side: 'B', shares: 100, stock: 'AAPL', price: 3_212_300 };
    case 'F': return { type, ...h, orderRef: big(2), side: 'S', shares: 300, stock: 'AAPL', price: 3_212_400, attribution: 'NITE' };
    case 'E': return { type, ...h, orderRef: big(1), executedShares: 40, matchNumber: big(3) };
    case 'C': return { type, ...h, orderRef: big(1), executedShares: 10, matchNumber: big(4), printable: 'Y', executionPrice: 3_212_000 };
    case 'X': return { type, ...h, orderRef: big(2), cancelledShares: 50 };
    case 'D': return { type, ...h, orderRef: big(2) };
    case 'U': return { type, ...h, originalOrderRef: big(1), newOrderRef: big(5), shares: 200, price: 3_212_500 };
    case 'P': return { type, ...h, orderRef: 0n, side: 'B', shares: 25, stock: 'AAPL', price: 3_212_350, matchNumber: big(6) };
    case 'Q': return { type, ...h, shares: 1_234_567n, stock: 'AAPL', crossPrice: 3_210_000, matchNumber: big(7), crossType: 'O' };
    case 'B': return { type, ...h, matchNumber: big(8) };
    case 'I': return {
      type, ...h, pairedShares: 100_000n, imbalanceShares: 25_000n, imbalanceDirection: 'B', stock: 'AAPL', farPrice: 0,
      nearPrice: 3_209_000, currentReferencePrice: 3_210_000, crossType: 'O', priceVariationIndicator: 'L',
    };
    case 'N': return { type, ...h, stock: 'AAPL', interestFlag: 'A' };
    case 'O': return {
      type, ...h, stock: 'DLCR', openEligibilityStatus: 'Y', minimumAllowablePrice: 80_000, maximumAllowablePrice: 180_000,
      nearExecutionPrice: 120_000, nearExecutionTime: 36_000_000_000_000n, lowerPriceRangeCollar: 108_000, upperPriceRangeCollar: 132_000,
    };
  }
}

describe('ITCH 5.0 message table', () => {
  it('knows the 23 types of the spec with the spec lengths', () => {
    expect([...kItchMessageTypes].sort()).toEqual(Object.keys(kSpecLengths).sort());
    for (const type of kItchMessageTypes) expect([type, itchMessageLength(type)]).toEqual([type, kSpecLengths[type]]);
    expect(itchMessageLength('Z')).toBe(0);
  });

  it('round-trips one message of every type, and random ones (fast-check)', () => {
    for (const type of kItchMessageTypes) {
      const msg = sample(type);
      const buf = new Uint8Array(itchMessageLength(type) + 3);
      expect(encodeItch(msg, buf, 3)).toBe(kSpecLengths[type]);
      expect(decodeItch(buf, 3)).toEqual(msg);
    }
    fc.assert(
      fc.property(fc.constantFrom(...kItchMessageTypes), fc.integer({ min: 0, max: 1000 }), (type, k) => {
        const msg = sample(type, k);
        const framed = encodeItchFile([msg, sample('D', k)]);
        const index = indexItchFrames(framed);
        expect(index.count).toBe(2);
        expect(decodeItch(framed, index.offsets[0]!, { length: kSpecLengths[type] })).toEqual(msg);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses to encode values that do not fit, naming the field', () => {
    const a = sample('A') as Extract<ItchMessage, { type: 'A' }>;
    expect(() => encodeItch({ ...a, stock: 'TOOLONGNAME' })).toThrow(/message\.stock \(type 'A'\)/);
    expect(() => encodeItch({ ...a, shares: 2 ** 32 })).toThrow(/message\.shares/);
    expect(() => encodeItch({ ...a, orderRef: -1n })).toThrow(/message\.orderRef/);
    expect(() => encodeItch({ ...a, timestamp: 2 ** 48 })).toThrow(/message\.timestamp/);
    expect(() => encodeItch({ ...a, type: 'Z' } as unknown as ItchMessage)).toThrow(/message\.type/);
    expect(() => encodeItch(a, new Uint8Array(10))).toThrow(/offset/);
  });
});

describe('the real AAPL excerpt (NASDAQ 2020-01-30, 10,000 messages)', () => {
  it('is the file PROVENANCE.md describes', () => {
    expect(createHash('sha256').update(bytes).digest('hex')).toBe('5d407a266e807e75aa8f6d2cd7427d0eb92183023c0f92fbbf9a0e09eb86a860');
  });

  const index = indexItchFrames(bytes, { file: kFile });
  const messages = Array.from({ length: index.count }, (_, i) => decodeItch(bytes, index.offsets[i]!));

  it('decodes into exactly the message mix of its PROVENANCE', () => {
    expect(index.count).toBe(10_000);
    const counts: Record<string, number> = {};
    for (const m of messages) counts[m.type] = (counts[m.type] ?? 0) + 1;
    expect(counts).toEqual({ A: 4758, D: 4083, E: 849, P: 240, L: 52, U: 7, X: 6, F: 2, R: 1, H: 1, Y: 1 });
    expect(new Set(messages.map((m) => m.stockLocate))).toEqual(new Set([13]));
    const first = messages[0]!;
    expect(first).toMatchObject({ type: 'R', stock: 'AAPL', timestamp: 11_234_909_934_345, roundLotSize: 100, marketCategory: 'Q' });
    expect(messages[3]).toMatchObject({ type: 'L', mpid: 'GSCO', stock: 'AAPL' });
    for (const m of messages) if (m.type === 'A' || m.type === 'F') expect(m.stock).toBe('AAPL');
    for (let i = 1; i < messages.length; i++) expect(messages[i]!.timestamp >= messages[i - 1]!.timestamp).toBe(true);
  });

  it('re-encodes to identical bytes', () => {
    const again = encodeItchFile(messages);
    expect(again.length).toBe(bytes.length);
    expect(Buffer.from(again).equals(bytes)).toBe(true);
  });

  it('batch-decodes into columns that agree with the object decoder, across batch boundaries', () => {
    const cols = createItchColumns(777);
    let row = 0;
    for (let at = 0; at < bytes.length; at = cols.end) {
      const n = decodeItchBatch(bytes, cols, at, { file: kFile });
      expect(n).toBeGreaterThan(0);
      for (let i = 0; i < n; i++, row++) {
        const m = messages[row]!;
        expect(String.fromCharCode(cols.type[i]!)).toBe(m.type);
        expect(cols.timestamp[i]).toBe(m.timestamp);
        expect(cols.stockLocate[i]).toBe(m.stockLocate);
        expect(cols.trackingNumber[i]).toBe(m.trackingNumber);
        expect(cols.offset[i]).toBe(index.offsets[row]);
        switch (m.type) {
          case 'A':
          case 'F':
            expect([cols.orderRef[i], cols.side[i], cols.shares[i], cols.price[i]]).toEqual([Number(m.orderRef), m.side === 'B' ? 0 : 1, m.shares, m.price]);
            break;
          case 'E':
            expect([cols.orderRef[i], cols.shares[i], cols.matchNumber[i]]).toEqual([Number(m.orderRef), m.executedShares, Number(m.matchNumber)]);
            break;
          case 'X':
            expect([cols.orderRef[i], cols.shares[i]]).toEqual([Number(m.orderRef), m.cancelledShares]);
            break;
          case 'D':
            expect([cols.orderRef[i], cols.shares[i], cols.side[i]]).toEqual([Number(m.orderRef), 0, -1]);
            break;
          case 'U':
            expect([cols.orderRef[i], cols.newOrderRef[i], cols.shares[i], cols.price[i]]).toEqual([Number(m.originalOrderRef), Number(m.newOrderRef), m.shares, m.price]);
            break;
          case 'P':
            expect([cols.orderRef[i], cols.shares[i], cols.price[i], cols.matchNumber[i]]).toEqual([Number(m.orderRef), m.shares, m.price, Number(m.matchNumber)]);
            break;
          default:
            expect([cols.orderRef[i], cols.shares[i], cols.price[i]]).toEqual([0, 0, 0]);
        }
      }
    }
    expect(row).toBe(10_000);
  });

  it('batch-decodes every synthetic type into its columns', () => {
    const all = kItchMessageTypes.map((t) => sample(t));
    const framed = encodeItchFile(all);
    const cols = createItchColumns(64);
    expect(decodeItchBatch(framed, cols)).toBe(all.length);
    const row = (t: ItchMessageType): number => kItchMessageTypes.indexOf(t);
    const c = sample('C') as Extract<ItchMessage, { type: 'C' }>;
    expect([cols.orderRef[row('C')], cols.shares[row('C')], cols.price[row('C')]]).toEqual([Number(c.orderRef), 10, 3_212_000]);
    const q = sample('Q') as Extract<ItchMessage, { type: 'Q' }>;
    expect([cols.shares[row('Q')], cols.price[row('Q')], cols.matchNumber[row('Q')]]).toEqual([1_234_567, 3_210_000, Number(q.matchNumber)]);
    expect([cols.shares[row('I')], cols.price[row('I')]]).toEqual([100_000, 3_210_000]);
    expect(cols.matchNumber[row('B')]).toBe(Number((sample('B') as Extract<ItchMessage, { type: 'B' }>).matchNumber));
    expect(cols.side[row('F')]).toBe(1);
  });
});

describe('bad ITCH bytes give a SourceFormatError naming the byte', () => {
  const two = encodeItchFile([sample('A'), sample('D')]); // A frame: bytes 0..37, D frame from 38

  it('unknown message type', () => {
    const bad = Uint8Array.from(two);
    bad[40] = 0x5a; // 'Z' where the D's type byte is
    const error = catchError(() => indexItchFrames(bad, { file: 'x.itch' }));
    expect(error).toBeInstanceOf(SourceFormatError);
    expect(error.code).toBe('ERR_ULTRA_PERF_SOURCE_FORMAT');
    expect(error.where).toBe('byte 40');
    expect(error.message).toMatch(/x\.itch, byte 40: unknown ITCH 5\.0 message type 0x5a \('Z'\)/);
    expect(() => decodeItch(bad, 40)).toThrow(/byte 40: unknown/);
    expect(() => decodeItchBatch(bad, createItchColumns(4))).toThrow(/byte 40: unknown/);
  });

  it('truncated message and truncated length prefix', () => {
    const cut = two.subarray(0, two.length - 5);
    expect(() => indexItchFrames(cut)).toThrow(/byte 40: truncated message: type 'D' needs 19 bytes, 14 left/);
    expect(() => decodeItch(cut, 40)).toThrow(/byte 40: truncated/);
    expect(() => indexItchFrames(two.subarray(0, 39))).toThrow(/byte 38: truncated length prefix/);
    expect(() => decodeItchBatch(cut, createItchColumns(4))).toThrow(/byte 40: truncated/);
    expect(() => indexItchFrames(bytes.subarray(0, 1000))).toThrow(SourceFormatError);
  });

  it('a length prefix that is not the type length', () => {
    const bad = Uint8Array.from(two);
    bad[39] = 20; // the D frame says 20 bytes; a D is 19
    expect(() => indexItchFrames(bad)).toThrow(/byte 38: length prefix 20 for message type 'D', which is 19 bytes/);
    expect(() => decodeItch(bad, 40, { length: 20 })).toThrow(/length prefix 20/);
  });

  it('a LOBSTER CSV given as ITCH', () => {
    const csv = Buffer.from('34200.004241176,1,16113575,18,5853300,1\n34200.025551141,1,16120456,18,5859100,-1\n');
    const error = catchError(() => indexItchFrames(csv, { file: 'message_1.csv' }));
    expect(error).toBeInstanceOf(SourceFormatError);
    expect(error.message).toMatch(/message_1\.csv, byte 2: unknown ITCH 5\.0 message type 0x32 \('2'\)/);
  });

  it('an order reference beyond 2^53 in the batch path, and a bad side byte', () => {
    const a = sample('A') as Extract<ItchMessage, { type: 'A' }>;
    expect(() => decodeItchBatch(encodeItchFile([{ ...a, orderRef: 2n ** 60n }]), createItchColumns(1))).toThrow(/byte 13: order reference 1152921504606846976 is not exact/);
    expect(decodeItch(encodeItchFile([{ ...a, orderRef: 2n ** 60n }]), 2)).toMatchObject({ orderRef: 2n ** 60n });
    expect(() => decodeItchBatch(encodeItchFile([{ ...a, side: 'X' }]), createItchColumns(1))).toThrow(/byte 21: buy\/sell indicator 0x58/);
  });

  it('mutated and truncated slices of the real file give only SourceFormatErrors (fast-check)', () => {
    const cols = createItchColumns(512);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        (start, len, flips) => {
          const slice = Uint8Array.from(bytes.subarray(start, start + len));
          for (const [at, v] of flips) slice[at % slice.length] = v;
          for (const run of [() => indexItchFrames(slice), () => decodeItchBatch(slice, cols), () => decodeItch(slice, 0)]) {
            try {
              run();
            } catch (error) {
              expect(error).toBeInstanceOf(SourceFormatError);
              expect((error as SourceFormatError).where).toMatch(/^byte \d+$/);
            }
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('names a bad argument', () => {
    expect(() => decodeItch('abc' as unknown as Uint8Array)).toThrow(/bytes/);
    expect(() => decodeItch(two, -1)).toThrow(/offset/);
    expect(() => createItchColumns(0)).toThrow(/capacity/);
    expect(() => decodeItchBatch(two, createItchColumns(1), 999)).toThrow(/start/);
  });
});
