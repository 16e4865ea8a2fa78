/**
 * NASDAQ TotalView-ITCH 5.0: every message type of the specification decoded into a typed
 * object (`decodeItch`) and encoded back (`encodeItch`, for tests and synthetic feeds), a
 * batch decoder that fills struct-of-arrays columns in one call with no allocation per
 * message (`decodeItchBatch`), and the reader for the binary file framing NASDAQ's
 * historical files use (`[u16 big-endian length][message]`, `indexItchFrames`).
 *
 * Source: "Nasdaq TotalView-ITCH 5.0" specification (section numbers below are the
 * specification's; §4 "Message Formats"). Every field is big-endian. Data types (§3):
 * - Integer: unsigned big-endian; 8-byte integers (order reference, match number, 8-byte
 *   share counts) are returned as `bigint` by `decodeItch`, so they round-trip exactly.
 * - Price(4): unsigned 4-byte integer with 4 implied decimals (USD × 10⁴), kept as the integer.
 * - Price(8): unsigned 8-byte integer with 8 implied decimals (MWCB levels only), `bigint`.
 * - Timestamp: 6-byte integer, nanoseconds since midnight (exchange local time), a `number`
 *   (< 2^48, exact).
 * - Alpha: left-justified, space-padded ASCII. Multi-byte alpha fields are returned without
 *   their trailing spaces (`'AAPL'`) and padded again on encode; one-byte fields are the raw
 *   character (`' '` stays `' '`).
 *
 * Every message starts with the same 11 bytes: message type (1), stock locate (2), tracking
 * number (2), timestamp (6).
 *
 * Errors: bad bytes throw `SourceFormatError(file, 'byte N', …)` where N is the offset in
 * the buffer of the field that is wrong (the type byte for an unknown type, the length
 * prefix for a wrong length, the start of a message that is cut short).
 */

import { SourceFormatError, invalidType, invalidValue } from '../errors.js';
import { nativeItchDecodeBatch } from './itch-native.js';

/** Bytes of the common header: type, stock locate, tracking number, timestamp. */
export const kItchHeaderBytes = 11;

/** Fields every ITCH 5.0 message carries (§4, first four fields of each format). */
export interface ItchHeader {
  /** Stock locate code: the instrument's index for the day (0 for system-wide messages). */
  stockLocate: number;
  /** NASDAQ internal tracking number. */
  trackingNumber: number;
  /** Nanoseconds since midnight, exchange local time. */
  timestamp: number;
}

/** §4.1 System Event ('S', 12 bytes). */
export interface ItchSystemEvent extends ItchHeader { type: 'S'; eventCode: string }
/** §4.2.1 Stock Directory ('R', 39 bytes). */
export interface ItchStockDirectory extends ItchHeader {
  type: 'R';
  stock: string;
  marketCategory: string;
  financialStatusIndicator: string;
  roundLotSize: number;
  roundLotsOnly: string;
  issueClassification: string;
  issueSubType: string;
  authenticity: string;
  shortSaleThresholdIndicator: string;
  ipoFlag: string;
  luldReferencePriceTier: string;
  etpFlag: string;
  etpLeverageFactor: number;
  inverseIndicator: string;
}
/** §4.2.2 Stock Trading Action ('H', 25 bytes). `tradingState`: H halted, P paused, Q quotation only, T trading. */
export interface ItchStockTradingAction extends ItchHeader {
  type: 'H';
  stock: string;
  tradingState: string;
  reserved: string;
  reason: string;
}
/** §4.2.3 Reg SHO Short Sale Price Test Restricted Indicator ('Y', 20 bytes). */
export interface ItchRegSho extends ItchHeader { type: 'Y'; stock: string; regShoAction: string }
/** §4.2.4 Market Participant Position ('L', 26 bytes). */
export interface ItchMarketParticipantPosition extends ItchHeader {
  type: 'L';
  mpid: string;
  stock: string;
  primaryMarketMaker: string;
  marketMakerMode: string;
  marketParticipantState: string;
}
/** §4.2.5.1 MWCB Decline Level ('V', 35 bytes); levels are Price(8). */
export interface ItchMwcbDeclineLevel extends ItchHeader { type: 'V'; level1: bigint; level2: bigint; level3: bigint }
/** §4.2.5.2 MWCB Status ('W', 12 bytes). */
export interface ItchMwcbStatus extends ItchHeader { type: 'W'; breachedLevel: string }
/** §4.2.6 IPO Quoting Period Update ('K', 28 bytes); release time in seconds since midnight. */
export interface ItchIpoQuotingPeriod extends ItchHeader {
  type: 'K';
  stock: string;
  ipoQuotationReleaseTime: number;
  ipoQuotationReleaseQualifier: string;
  ipoPrice: number;
}
/** §4.2.7 LULD Auction Collar ('J', 35 bytes); prices are Price(4). */
export interface ItchLuldAuctionCollar extends ItchHeader {
  type: 'J';
  stock: string;
  auctionCollarReferencePrice: number;
  upperAuctionCollarPrice: number;
  lowerAuctionCollarPrice: number;
  auctionCollarExtension: number;
}
/** §4.2.8 Operational Halt ('h', 21 bytes). */
export interface ItchOperationalHalt extends ItchHeader { type: 'h'; stock: string; marketCode: string; operationalHaltAction: string }
/** §4.3.1 Add Order, no MPID attribution ('A', 36 bytes). `side`: 'B' buy, 'S' sell. */
export interface ItchAddOrder extends ItchHeader {
  type: 'A';
  orderRef: bigint;
  side: string;
  shares: number;
  stock: string;
  price: number;
}
/** §4.3.2 Add Order with MPID attribution ('F', 40 bytes). */
export interface ItchAddOrderMpid extends ItchHeader {
  type: 'F';
  orderRef: bigint;
  side: string;
  shares: number;
  stock: string;
  price: number;
  attribution: string;
}
/** §4.4.1 Order Executed ('E', 31 bytes): at the resting order's price. */
export interface ItchOrderExecuted extends ItchHeader { type: 'E'; orderRef: bigint; executedShares: number; matchNumber: bigint }
/** §4.4.2 Order Executed With Price ('C', 36 bytes): at `executionPrice`, which may differ from the order's. */
export interface ItchOrderExecutedWithPrice extends ItchHeader {
  type: 'C';
  orderRef: bigint;
  executedShares: number;
  matchNumber: bigint;
  printable: string;
  executionPrice: number;
}
/** §4.4.3 Order Cancel ('X', 23 bytes): a partial cancel. */
export interface ItchOrderCancel extends ItchHeader { type: 'X'; orderRef: bigint; cancelledShares: number }
/** §4.4.4 Order Delete ('D', 19 bytes). */
export interface ItchOrderDelete extends ItchHeader { type: 'D'; orderRef: bigint }
/** §4.4.5 Order Replace ('U', 35 bytes): the original order leaves, the new one keeps its side. */
export interface ItchOrderReplace extends ItchHeader {
  type: 'U';
  originalOrderRef: bigint;
  newOrderRef: bigint;
  shares: number;
  price: number;
}
/** §4.5.1 Trade, non-cross ('P', 44 bytes): an execution against a non-displayed order. */
export interface ItchTrade extends ItchHeader {
  type: 'P';
  orderRef: bigint;
  side: string;
  shares: number;
  stock: string;
  price: number;
  matchNumber: bigint;
}
/** §4.5.2 Cross Trade ('Q', 40 bytes); shares are 8 bytes. */
export interface ItchCrossTrade extends ItchHeader {
  type: 'Q';
  shares: bigint;
  stock: string;
  crossPrice: number;
  matchNumber: bigint;
  crossType: string;
}
/** §4.5.3 Broken Trade / Order Execution ('B', 19 bytes). */
export interface ItchBrokenTrade extends ItchHeader { type: 'B'; matchNumber: bigint }
/** §4.6 Net Order Imbalance Indicator ('I', 50 bytes). */
export interface ItchNoii extends ItchHeader {
  type: 'I';
  pairedShares: bigint;
  imbalanceShares: bigint;
  imbalanceDirection: string;
  stock: string;
  farPrice: number;
  nearPrice: number;
  currentReferencePrice: number;
  crossType: string;
  priceVariationIndicator: string;
}
/** §4.7 Retail Price Improvement Indicator ('N', 20 bytes). */
export interface ItchRpii extends ItchHeader { type: 'N'; stock: string; interestFlag: string }
/** §4.8 Direct Listing with Capital Raise Price Discovery ('O', 48 bytes). */
export interface ItchDirectListing extends ItchHeader {
  type: 'O';
  stock: string;
  openEligibilityStatus: string;
  minimumAllowablePrice: number;
  maximumAllowablePrice: number;
  nearExecutionPrice: number;
  nearExecutionTime: bigint;
  lowerPriceRangeCollar: number;
  upperPriceRangeCollar: number;
}

/** Any ITCH 5.0 message, discriminated by `type`. */
export type ItchMessage =
  | ItchSystemEvent
  | ItchStockDirectory
  | ItchStockTradingAction
  | ItchRegSho
  | ItchMarketParticipantPosition
  | ItchMwcbDeclineLevel
  | ItchMwcbStatus
  | ItchIpoQuotingPeriod
  | ItchLuldAuctionCollar
  | ItchOperationalHalt
  | ItchAddOrder
  | ItchAddOrderMpid
  | ItchOrderExecuted
  | ItchOrderExecutedWithPrice
  | ItchOrderCancel
  | ItchOrderDelete
  | ItchOrderReplace
  | ItchTrade
  | ItchCrossTrade
  | ItchBrokenTrade
  | ItchNoii
  | ItchRpii
  | ItchDirectListing;

export type ItchMessageType = ItchMessage['type'];

/** Field kinds of the layout table: unsigned integers of 1/2/4 bytes as numbers, 8 bytes as bigint, alpha as string. */
type FieldKind = 'u32' | 'u64' | 'char' | 'alpha';
type Field = readonly [name: string, kind: FieldKind, bytes: number];

/** Body layouts after the 11-byte header, in wire order (§4). Price(4) fields are 'u32', Price(8) 'u64'. */
const layouts: Record<ItchMessageType, readonly Field[]> = {
  S: [['eventCode', 'char', 1]],
  R: [
    ['stock', 'alpha', 8],
    ['marketCategory', 'char', 1],
    ['financialStatusIndicator', 'char', 1],
    ['roundLotSize', 'u32', 4],
    ['roundLotsOnly', 'char', 1],
    ['issueClassification', 'char', 1],
    ['issueSubType', 'alpha', 2],
    ['authenticity', 'char', 1],
    ['shortSaleThresholdIndicator', 'char', 1],
    ['ipoFlag', 'char', 1],
    ['luldReferencePriceTier', 'char', 1],
    ['etpFlag', 'char', 1],
    ['etpLeverageFactor', 'u32', 4],
    ['inverseIndicator', 'char', 1],
  ],
  H: [
    ['stock', 'alpha', 8],
    ['tradingState', 'char', 1],
    ['reserved', 'char', 1],
    ['reason', 'alpha', 4],
  ],
  Y: [
    ['stock', 'alpha', 8],
    ['regShoAction', 'char', 1],
  ],
  L: [
    ['mpid', 'alpha', 4],
    ['stock', 'alpha', 8],
    ['primaryMarketMaker', 'char', 1],
    ['marketMakerMode', 'char', 1],
    ['marketParticipantState', 'char', 1],
  ],
  V: [
    ['level1', 'u64', 8],
    ['level2', 'u64', 8],
    ['level3', 'u64', 8],
  ],
  W: [['breachedLevel', 'char', 1]],
  K: [
    ['stock', 'alpha', 8],
    ['ipoQuotationReleaseTime', 'u32', 4],
    ['ipoQuotationReleaseQualifier', 'char', 1],
    ['ipoPrice', 'u32', 4],
  ],
  J: [
    ['stock', 'alpha', 8],
    ['auctionCollarReferencePrice', 'u32', 4],
    ['upperAuctionCollarPrice', 'u32', 4],
    ['lowerAuctionCollarPrice', 'u32', 4],
    ['auctionCollarExtension', 'u32', 4],
  ],
  h: [
    ['stock', 'alpha', 8],
    ['marketCode', 'char', 1],
    ['operationalHaltAction', 'char', 1],
  ],
  A: [
    ['orderRef', 'u64', 8],
    ['side', 'char', 1],
    ['shares', 'u32', 4],
    ['stock', 'alpha', 8],
    ['price', 'u32', 4],
  ],
  F: [
    ['orderRef', 'u64', 8],
    ['side', 'char', 1],
    ['shares', 'u32', 4],
    ['stock', 'alpha', 8],
    ['price', 'u32', 4],
    ['attribution', 'alpha', 4],
  ],
  E: [
    ['orderRef', 'u64', 8],
    ['executedShares', 'u32', 4],
    ['matchNumber', 'u64', 8],
  ],
  C: [
    ['orderRef', 'u64', 8],
    ['executedShares', 'u32', 4],
    ['matchNumber', 'u64', 8],
    ['printable', 'char', 1],
    ['executionPrice', 'u32', 4],
  ],
  X: [
    ['orderRef', 'u64', 8],
    ['cancelledShares', 'u32', 4],
  ],
  D: [['orderRef', 'u64', 8]],
  U: [
    ['originalOrderRef', 'u64', 8],
    ['newOrderRef', 'u64', 8],
    ['shares', 'u32', 4],
    ['price', 'u32', 4],
  ],
  P: [
    ['orderRef', 'u64', 8],
    ['side', 'char', 1],
    ['shares', 'u32', 4],
    ['stock', 'alpha', 8],
    ['price', 'u32', 4],
    ['matchNumber', 'u64', 8],
  ],
  Q: [
    ['shares', 'u64', 8],
    ['stock', 'alpha', 8],
    ['crossPrice', 'u32', 4],
    ['matchNumber', 'u64', 8],
    ['crossType', 'char', 1],
  ],
  B: [['matchNumber', 'u64', 8]],
  I: [
    ['pairedShares', 'u64', 8],
    ['imbalanceShares', 'u64', 8],
    ['imbalanceDirection', 'char', 1],
    ['stock', 'alpha', 8],
    ['farPrice', 'u32', 4],
    ['nearPrice', 'u32', 4],
    ['currentReferencePrice', 'u32', 4],
    ['crossType', 'char', 1],
    ['priceVariationIndicator', 'char', 1],
  ],
  N: [
    ['stock', 'alpha', 8],
    ['interestFlag', 'char', 1],
  ],
  O: [
    ['stock', 'alpha', 8],
    ['openEligibilityStatus', 'char', 1],
    ['minimumAllowablePrice', 'u32', 4],
    ['maximumAllowablePrice', 'u32', 4],
    ['nearExecutionPrice', 'u32', 4],
    ['nearExecutionTime', 'u64', 8],
    ['lowerPriceRangeCollar', 'u32', 4],
    ['upperPriceRangeCollar', 'u32', 4],
  ],
};

/** Message types of the specification, in its order (§4). */
export const kItchMessageTypes: readonly ItchMessageType[] = Object.keys(layouts) as ItchMessageType[];

/**
 * Length in bytes of each message type (type byte included, length prefix excluded), indexed
 * by the type's character code; 0 for a byte that is not an ITCH 5.0 type.
 */
export const kItchMessageLength: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (const type of kItchMessageTypes) {
    table[type.charCodeAt(0)] = kItchHeaderBytes + layouts[type].reduce((sum, f) => sum + f[2], 0);
  }
  return table;
})();

/**
 * Length of an ITCH 5.0 message of `type` (type byte included), or 0 when `type` is not one.
 * @example
 * itchMessageLength('A'); // 36 (§4.3.1)
 */
export function itchMessageLength(type: string): number {
  return type.length === 1 ? kItchMessageLength[type.charCodeAt(0)]! : 0;
}

const kDefaultFile = '<buffer>';

function describeType(code: number): string {
  return code >= 0x20 && code < 0x7f ? `0x${code.toString(16).padStart(2, '0')} ('${String.fromCharCode(code)}')` : `0x${code.toString(16).padStart(2, '0')}`;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The 6-byte timestamp at `at` (§3: nanoseconds since midnight). */
function readU48(view: DataView, at: number): number {
  return view.getUint16(at) * 4294967296 + view.getUint32(at + 2);
}

/**
 * Checks the message starting at `offset` (its type byte): known type, fully inside the
 * buffer, and of the spec's length when the framing says how long it is. Returns its length.
 */
function checkMessage(bytes: Uint8Array, offset: number, framedLength: number, file: string, prefixAt: number): number {
  if (offset >= bytes.length) throw new SourceFormatError(file, `byte ${offset}`, 'truncated message: no type byte');
  const code = bytes[offset]!;
  const length = kItchMessageLength[code]!;
  if (length === 0) throw new SourceFormatError(file, `byte ${offset}`, `unknown ITCH 5.0 message type ${describeType(code)}`);
  if (framedLength >= 0 && framedLength !== length) {
    throw new SourceFormatError(
      file,
      `byte ${prefixAt}`,
      `length prefix ${framedLength} for message type '${String.fromCharCode(code)}', which is ${length} bytes in ITCH 5.0`,
    );
  }
  if (offset + length > bytes.length) {
    throw new SourceFormatError(
      file,
      `byte ${offset}`,
      `truncated message: type '${String.fromCharCode(code)}' needs ${length} bytes, ${bytes.length - offset} left`,
    );
  }
  return length;
}

/**
 * Decodes the one message whose type byte is at `offset` into a typed object. `length`, when
 * given (the framing's length prefix), must equal the spec's length for the type.
 *
 * @throws SourceFormatError (`byte N`) for an unknown type, a message cut short by the end of
 *   the buffer, or a `length` that is not the type's.
 * @example
 * const msg = decodeItch(bytes, 2); // skip the u16 length prefix of the file format
 * if (msg.type === 'A') console.log(msg.orderRef, msg.side, msg.shares, msg.price / 1e4);
 */
export function decodeItch(bytes: Uint8Array, offset = 0, options: { length?: number; file?: string } = {}): ItchMessage {
  if (!(bytes instanceof Uint8Array)) throw invalidType('bytes', 'a Uint8Array', bytes);
  if (!Number.isInteger(offset) || offset < 0) throw invalidValue('offset', 'a non-negative integer', offset);
  const file = options.file ?? kDefaultFile;
  checkMessage(bytes, offset, options.length ?? -1, file, Math.max(0, offset - 2));
  const view = viewOf(bytes);
  const type = String.fromCharCode(bytes[offset]!) as ItchMessageType;
  const msg: Record<string, unknown> = {
    type,
    stockLocate: view.getUint16(offset + 1),
    trackingNumber: view.getUint16(offset + 3),
    timestamp: readU48(view, offset + 5),
  };
  let at = offset + kItchHeaderBytes;
  for (const [name, kind, size] of layouts[type]) {
    switch (kind) {
      case 'u32':
        msg[name] = view.getUint32(at);
        break;
      case 'u64':
        msg[name] = view.getBigUint64(at);
        break;
      case 'char':
        msg[name] = String.fromCharCode(bytes[at]!);
        break;
      case 'alpha': {
        let end = at + size;
        while (end > at && bytes[end - 1] === 0x20) end--;
        let s = '';
        for (let i = at; i < end; i++) s += String.fromCharCode(bytes[i]!);
        msg[name] = s;
        break;
      }
    }
    at += size;
  }
  return msg as unknown as ItchMessage;
}

function fieldError(type: string, name: string, expected: string, value: unknown): never {
  throw invalidValue(`message.${name} (type '${type}')`, expected, value);
}

/**
 * Encodes `msg` into `out` at `offset` (or into a new buffer of the message's length) and
 * returns the bytes written (the message's length; no length prefix, see `encodeItchFile`).
 * Multi-byte alpha fields are space-padded on the right; integers must fit their field.
 *
 * @throws TypeError/RangeError naming the field for an unknown type, a value that does not
 *   fit, or a string longer than its field.
 * @example
 * const bytes = new Uint8Array(itchMessageLength('D'));
 * encodeItch({ type: 'D', stockLocate: 13, trackingNumber: 0, timestamp: 34_200e9, orderRef: 42n }, bytes);
 */
export function encodeItch(msg: ItchMessage, out?: Uint8Array, offset = 0): number {
  const type = msg?.type;
  const length = typeof type === 'string' ? itchMessageLength(type) : 0;
  if (length === 0) throw invalidValue('message.type', 'an ITCH 5.0 message type', type);
  const bytes = out ?? new Uint8Array(length);
  if (!(bytes instanceof Uint8Array)) throw invalidType('out', 'a Uint8Array', out);
  if (!Number.isInteger(offset) || offset < 0 || offset + length > bytes.length) {
    throw invalidValue('offset', `an integer with ${length} bytes of out after it`, offset);
  }
  const view = viewOf(bytes);
  const fields = msg as unknown as Record<string, unknown>;
  const u = (name: string, max: number): number => {
    const v = fields[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fieldError(type, name, `an integer in [0, ${max}]`, v);
    return v;
  };
  bytes[offset] = type.charCodeAt(0);
  view.setUint16(offset + 1, u('stockLocate', 0xffff));
  view.setUint16(offset + 3, u('trackingNumber', 0xffff));
  const ts = u('timestamp', 2 ** 48 - 1);
  view.setUint16(offset + 5, Math.floor(ts / 4294967296));
  view.setUint32(offset + 7, ts % 4294967296);
  let at = offset + kItchHeaderBytes;
  for (const [name, kind, size] of layouts[type]) {
    const v = fields[name];
    switch (kind) {
      case 'u32':
        view.setUint32(at, u(name, 0xffffffff));
        break;
      case 'u64':
        if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) fieldError(type, name, 'a bigint in [0, 2^64)', v);
        view.setBigUint64(at, v);
        break;
      case 'char':
      case 'alpha': {
        if (typeof v !== 'string' || v.length > size || (kind === 'char' && v.length !== 1)) {
          fieldError(type, name, kind === 'char' ? 'a one-character string' : `a string of at most ${size} characters`, v);
        }
        for (let i = 0; i < size; i++) {
          const c = i < v.length ? v.charCodeAt(i) : 0x20;
          if (c > 0xff) fieldError(type, name, 'a string of 8-bit characters', v);
          bytes[at + i] = c;
        }
        break;
      }
    }
    at += size;
  }
  return length;
}

/**
 * Encodes messages in the file framing: each as `[u16 big-endian length][message]`.
 * @throws as `encodeItch` does, naming the field.
 * @example
 * writeFileSync('test.itch', encodeItchFile([addOrder, orderDelete]));
 */
export function encodeItchFile(messages: readonly ItchMessage[]): Uint8Array {
  let total = 0;
  for (const m of messages) total += 2 + itchMessageLength(m?.type ?? '');
  const out = new Uint8Array(total);
  let at = 0;
  for (const m of messages) {
    const n = encodeItch(m, out, at + 2);
    out[at] = n >> 8;
    out[at + 1] = n & 0xff;
    at += 2 + n;
  }
  return out;
}

/** Where each message of a framed buffer starts (its type byte) and how long it is. */
export interface ItchFrameIndex {
  /** Byte offset of each message's type byte (the length prefix is the 2 bytes before it). */
  offsets: Float64Array;
  /** Message count. */
  count: number;
}

/**
 * Walks the file framing (`[u16 big-endian length][message]` repeated, as in NASDAQ's
 * historical `*.NASDAQ_ITCH50` files) and checks every frame: a known type, the spec's
 * length for that type, and the whole message inside the buffer.
 *
 * @throws SourceFormatError naming the byte of the bad frame: an unknown type, a length
 *   prefix that is not the type's length, a message or a length prefix cut short.
 * @example
 * const { offsets, count } = indexItchFrames(readFileSync(path), { file: path });
 * for (let i = 0; i < count; i++) decodeItch(bytes, offsets[i]);
 */
export function indexItchFrames(bytes: Uint8Array, options: { file?: string } = {}): ItchFrameIndex {
  if (!(bytes instanceof Uint8Array)) throw invalidType('bytes', 'a Uint8Array', bytes);
  const file = options.file ?? kDefaultFile;
  let offsets = new Float64Array(Math.max(16, Math.ceil(bytes.length / 24)));
  let count = 0;
  let at = 0;
  while (at < bytes.length) {
    if (at + 2 > bytes.length) throw new SourceFormatError(file, `byte ${at}`, 'truncated length prefix: 1 byte left, 2 needed');
    const framed = (bytes[at]! << 8) | bytes[at + 1]!;
    const length = checkMessage(bytes, at + 2, framed, file, at);
    if (count === offsets.length) {
      const grown = new Float64Array(offsets.length * 2);
      grown.set(offsets);
      offsets = grown;
    }
    offsets[count++] = at + 2;
    at += 2 + length;
  }
  return { offsets: offsets.subarray(0, count), count };
}

/**
 * Struct-of-arrays output of `decodeItchBatch`: row i is message i. Fields a type does not
 * have are 0 (side: -1). Order references and match numbers are doubles (exact below 2^53;
 * the batch decoder refuses larger ones).
 */
export interface ItchColumns {
  readonly capacity: number;
  /** Type character code ('A' = 65). */
  type: Uint8Array;
  stockLocate: Uint16Array;
  trackingNumber: Uint16Array;
  /** Nanoseconds since midnight. */
  timestamp: Float64Array;
  /** A, F, E, C, X, D, P: the order reference; U: the original order reference. */
  orderRef: Float64Array;
  /** U: the new order reference. */
  newOrderRef: Float64Array;
  /** A, F, P: 0 buy, 1 sell; -1 otherwise. */
  side: Int8Array;
  /** A, F, P, U: shares; E, C: executed; X: cancelled; Q: cross shares; I: paired shares. */
  shares: Float64Array;
  /** Price(4) integer: A, F, P, U price; C execution price; Q cross price; I current reference price. */
  price: Float64Array;
  /** E, C, P, Q, B: the match number. */
  matchNumber: Float64Array;
  /** Byte offset of the message's type byte in the decoded buffer (to read the other fields). */
  offset: Float64Array;
  /** Rows filled by the last `decodeItchBatch`. */
  count: number;
  /** Byte offset after the last decoded frame (where the next batch starts). */
  end: number;
}

/**
 * Allocates columns for `capacity` messages (reuse them across `decodeItchBatch` calls).
 * @throws TypeError naming `capacity` unless it is an integer in [1, 2^28].
 * @example
 * const cols = createItchColumns(4096);
 */
export function createItchColumns(capacity: number): ItchColumns {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 2 ** 28) throw invalidValue('capacity', 'an integer in [1, 2^28]', capacity);
  return {
    capacity,
    type: new Uint8Array(capacity),
    stockLocate: new Uint16Array(capacity),
    trackingNumber: new Uint16Array(capacity),
    timestamp: new Float64Array(capacity),
    orderRef: new Float64Array(capacity),
    newOrderRef: new Float64Array(capacity),
    side: new Int8Array(capacity),
    shares: new Float64Array(capacity),
    price: new Float64Array(capacity),
    matchNumber: new Float64Array(capacity),
    offset: new Float64Array(capacity),
    count: 0,
    end: 0,
  };
}

function exact(view: DataView, at: number, file: string, name: string): number {
  const hi = view.getUint32(at);
  if (hi >= 0x200000) throw new SourceFormatError(file, `byte ${at}`, `${name} ${view.getBigUint64(at)} is not exact in a double (>= 2^53)`);
  return hi * 4294967296 + view.getUint32(at + 4);
}

function sideCode(view: DataView, at: number, file: string): number {
  const c = view.getUint8(at);
  if (c === 0x42) return 0;
  if (c === 0x53) return 1;
  throw new SourceFormatError(file, `byte ${at}`, `buy/sell indicator ${describeType(c)}, expected 'B' or 'S'`);
}

const kColumnKeys = ['type', 'stockLocate', 'trackingNumber', 'timestamp', 'orderRef', 'newOrderRef', 'side', 'shares', 'price', 'matchNumber', 'offset'] as const;

/**
 * Throws unless every column holds `capacity` rows: the TS decoder would otherwise drop the
 * rows past a short array without a word (a typed array ignores writes past its end) while
 * the native binding refuses them, and the two must give the same errors.
 */
function checkColumns(columns: ItchColumns): void {
  const capacity = columns?.capacity;
  if (!Number.isInteger(capacity) || capacity < 0) throw invalidValue('columns.capacity', 'an integer >= 0 (columns from createItchColumns)', capacity);
  for (const key of kColumnKeys) {
    const column = columns[key];
    if (!(column?.length >= capacity)) throw invalidValue(`columns.${key}`, `a typed array of at least columns.capacity (${capacity}) elements`, column);
  }
}

/** The TS batch decoder; `decodeItchBatch` is this or the native one (same rows, same errors). */
export function decodeItchBatchTs(bytes: Uint8Array, columns: ItchColumns, start = 0, options: { file?: string } = {}): number {
  if (!(bytes instanceof Uint8Array)) throw invalidType('bytes', 'a Uint8Array', bytes);
  if (!Number.isInteger(start) || start < 0 || start > bytes.length) throw invalidValue('start', `an integer in [0, ${bytes.length}]`, start);
  checkColumns(columns);
  const file = options.file ?? kDefaultFile;
  const view = viewOf(bytes);
  const { type, stockLocate, trackingNumber, timestamp, orderRef, newOrderRef, side, shares, price, matchNumber, offset } = columns;
  const capacity = columns.capacity;
  const n = bytes.length;
  let at = start;
  let i = 0;
  while (i < capacity && at < n) {
    if (at + 2 > n) throw new SourceFormatError(file, `byte ${at}`, 'truncated length prefix: 1 byte left, 2 needed');
    const m = at + 2;
    const code = m < n ? bytes[m]! : 0;
    const length = kItchMessageLength[code]!;
    // One compare per check on the fast path; checkMessage says which one failed.
    if (length === 0 || view.getUint16(at) !== length || m + length > n) checkMessage(bytes, m, view.getUint16(at), file, at);
    type[i] = code;
    stockLocate[i] = view.getUint16(m + 1);
    trackingNumber[i] = view.getUint16(m + 3);
    timestamp[i] = view.getUint16(m + 5) * 4294967296 + view.getUint32(m + 7);
    offset[i] = m;
    let ref = 0;
    let newRef = 0;
    let sd = -1;
    let qty = 0;
    let px = 0;
    let match = 0;
    const b = m + kItchHeaderBytes;
    switch (code) {
      case 0x41: // A §4.3.1
      case 0x46: // F §4.3.2
        ref = exact(view, b, file, 'order reference');
        sd = sideCode(view, b + 8, file);
        qty = view.getUint32(b + 9);
        px = view.getUint32(b + 21);
        break;
      case 0x45: // E §4.4.1
        ref = exact(view, b, file, 'order reference');
        qty = view.getUint32(b + 8);
        match = exact(view, b + 12, file, 'match number');
        break;
      case 0x43: // C §4.4.2
        ref = exact(view, b, file, 'order reference');
        qty = view.getUint32(b + 8);
        match = exact(view, b + 12, file, 'match number');
        px = view.getUint32(b + 21);
        break;
      case 0x58: // X §4.4.3
        ref = exact(view, b, file, 'order reference');
        qty = view.getUint32(b + 8);
        break;
      case 0x44: // D §4.4.4
        ref = exact(view, b, file, 'order reference');
        break;
      case 0x55: // U §4.4.5
        ref = exact(view, b, file, 'order reference');
        newRef = exact(view, b + 8, file, 'new order reference');
        qty = view.getUint32(b + 16);
        px = view.getUint32(b + 20);
        break;
      case 0x50: // P §4.5.1
        ref = exact(view, b, file, 'order reference');
        sd = sideCode(view, b + 8, file);
        qty = view.getUint32(b + 9);
        px = view.getUint32(b + 21);
        match = exact(view, b + 25, file, 'match number');
        break;
      case 0x51: // Q §4.5.2
        qty = exact(view, b, file, 'cross shares');
        px = view.getUint32(b + 16);
        match = exact(view, b + 20, file, 'match number');
        break;
      case 0x42: // B §4.5.3
        match = exact(view, b, file, 'match number');
        break;
      case 0x49: // I §4.6
        qty = exact(view, b, file, 'paired shares');
        px = view.getUint32(b + 33);
        break;
      default:
        break;
    }
    orderRef[i] = ref;
    newOrderRef[i] = newRef;
    side[i] = sd;
    shares[i] = qty;
    price[i] = px;
    matchNumber[i] = match;
    i++;
    at = m + length;
  }
  columns.count = i;
  columns.end = at;
  return i;
}

/** The 8-byte fields the native decoder names by index (cpp/net/itch_batch.hpp ItchField). */
const kNativeExactFields = ['order reference', 'new order reference', 'match number', 'cross shares', 'paired shares'] as const;
/** count, end, errorAt, field: written by every native call (no allocation per call). */
const nativeResult = new Float64Array(4);

/**
 * The native decoder's status for bad bytes, thrown as the TS decoder throws it: the same
 * checks run again at the offset the native side reports, so message and offset are the TS ones.
 */
function throwNativeItchError(status: number, at: number, field: number, bytes: Uint8Array, file: string): never {
  const view = viewOf(bytes);
  if (status === 1) {
    if (at + 2 > bytes.length) throw new SourceFormatError(file, `byte ${at}`, 'truncated length prefix: 1 byte left, 2 needed');
    checkMessage(bytes, at + 2, view.getUint16(at), file, at);
  } else if (status === 2) {
    exact(view, at, file, kNativeExactFields[field] ?? 'field');
  } else if (status === 3) {
    sideCode(view, at, file);
  }
  throw new Error(`decodeItchBatch: the native decoder reported status ${status} at byte ${at}, which the TS checks accept`);
}

function decodeItchBatchNativeWith(decode: NonNullable<typeof nativeItchDecodeBatch>) {
  return function decodeItchBatchNative(bytes: Uint8Array, columns: ItchColumns, start = 0, options: { file?: string } = {}): number {
    if (!(bytes instanceof Uint8Array)) throw invalidType('bytes', 'a Uint8Array', bytes);
    if (!Number.isInteger(start) || start < 0 || start > bytes.length) throw invalidValue('start', `an integer in [0, ${bytes.length}]`, start);
    checkColumns(columns);
    const c = columns;
    const r = nativeResult;
    const status = decode(bytes, start, c.capacity, c.type, c.stockLocate, c.trackingNumber, c.timestamp, c.orderRef, c.newOrderRef, c.side, c.shares, c.price, c.matchNumber, c.offset, r);
    if (status !== 0) throwNativeItchError(status, r[2]!, r[3]!, bytes, options.file ?? kDefaultFile);
    c.count = r[0]!;
    c.end = r[1]!;
    return r[0]!;
  };
}

/** The native batch decoder (CPU addon), or null when the addon is not in use (ULTRA_PERF_BACKEND=ts, not built). */
export const decodeItchBatchNative: typeof decodeItchBatchTs | null =
  nativeItchDecodeBatch === null ? null : decodeItchBatchNativeWith(nativeItchDecodeBatch);

/**
 * Decodes framed messages (`[u16 length][message]`…) from `bytes[start]` into `columns`, as
 * many as fit (`columns.capacity`) or until the buffer ends, in one call and with no
 * allocation per message. Sets `columns.count` and `columns.end` (the byte after the last
 * frame decoded) and returns the count; call again from `columns.end` for the rest.
 * Runs in the CPU addon (cpp/net/itch_batch.cc) when it is loaded and ULTRA_PERF_BACKEND
 * allows, else in TS (`decodeItchBatchTs`); the rows and the errors are the same either way.
 *
 * @throws SourceFormatError (`byte N`) as `indexItchFrames` does, and for an 8-byte order
 *   reference or match number ≥ 2^53 or a buy/sell indicator other than 'B'/'S'.
 * @example
 * const cols = createItchColumns(4096);
 * for (let at = 0; at < bytes.length; at = cols.end) {
 *   const n = decodeItchBatch(bytes, cols, at);
 *   for (let i = 0; i < n; i++) if (cols.type[i] === 0x41) total += cols.shares[i];
 * }
 */
export const decodeItchBatch: (bytes: Uint8Array, columns: ItchColumns, start?: number, options?: { file?: string }) => number =
  decodeItchBatchNative ?? decodeItchBatchTs;
