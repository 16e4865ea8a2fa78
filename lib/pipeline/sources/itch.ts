/**
 * An ITCH 5.0 file as a `MarketDataSource`: the u16-length-framed binary format of NASDAQ's
 * historical files, decoded with lib/net's ITCH decoder, one record per message.
 *
 * Events (lib/pipeline/events.ts), one per record at most:
 * - A, F (add order, §4.3) → add (order id, side, Price(4) ticks, shares)
 * - E (executed, §4.4.1) → execute of the executed shares at the resting order's level
 * - C (executed with price, §4.4.2) → execute the same way: the shares leave the resting
 *   order whatever the print price (the price slot holds the resting order's price, so the
 *   level is named; the print price is the decoder's `executionPrice`)
 * - X (cancel, §4.4.3) → reduce; D (delete, §4.4.4) → delete (size = what the order had)
 * - U (replace, §4.4.5) → replace (orderId = original, newOrderId, new price and shares, same side)
 * - P (non-cross trade, §4.5.1) → hiddenExecute; Q (cross, §4.5.2) → cross
 * - H (trading action, §4.2.2) → halt with price -1 halted/paused, 0 quotation only, 1 trading
 * - every other type, and every message of another stock locate → 0 events.
 *
 * E, C, X and D carry only the order reference, so the source keeps each live order's side,
 * price and remaining shares (as a feed handler does) to put the level in every event:
 * records must be decoded in order, from 0, after `initial()` (which resets that state).
 * `aux` is the message's tracking number. Times are the messages' ns since midnight (ET).
 */

import { readFileSync } from 'node:fs';

import { SourceFormatError, invalidType, invalidValue } from '../../errors.js';
import { indexItchFrames, kItchHeaderBytes } from '../../net/itch.js';
import { EventField, EventOp, EventSide, kEventStride, type MarketDataSource } from '../events.js';

/** Options of `ItchSource`. */
export interface ItchSourceOptions {
  /** Name used in errors (default '<buffer>'). */
  file?: string;
  /**
   * The stock to keep (its stock directory 'R' message gives its locate). Optional when the
   * file holds a single stock locate; required (or `stockLocate`) when it holds several.
   */
  symbol?: string;
  /** The stock locate to keep, when the file has no stock directory message for it. */
  stockLocate?: number;
  /**
   * An E, C, X, D or U for an order the file never added: 'error' (default; right for a file
   * that starts at the start of the day, as NASDAQ's do) throws a SourceFormatError; 'skip'
   * writes no event and counts it in `unknownOrders` (a file cut from the middle of a day).
   */
  unknownOrders?: 'error' | 'skip';
}

const kMaxExact = 2 ** 53;

function readU64(view: DataView, at: number, file: string): number {
  const v = view.getUint32(at) * 4294967296 + view.getUint32(at + 4);
  if (v >= kMaxExact) throw new SourceFormatError(file, `byte ${at}`, `order reference ${view.getBigUint64(at)} is not exact in a double (>= 2^53)`);
  return v;
}

function readStock(bytes: Uint8Array, at: number): string {
  let end = at + 8;
  while (end > at && bytes[end - 1] === 0x20) end--;
  let s = '';
  for (let i = at; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/**
 * @example
 * const source = ItchSource.fromFile('bench/data/itch50-aapl-2020-01-30/locate-13-10k.bin');
 * const out = new Float64Array(source.maxEventsPerRecord * kEventStride);
 * source.initial();
 * for (let i = 0; i < source.length; i++) book.apply(out, source.decode(i, out, 0));
 */
export class ItchSource implements MarketDataSource {
  readonly kind = 'itch' as const;
  readonly symbol: string;
  readonly tickSize = 0.0001;
  readonly lotSize = 1;
  readonly length: number;
  readonly maxEventsPerRecord = 1;
  /** The stock locate whose messages become events. */
  readonly stockLocate: number;
  readonly file: string;
  /** Messages skipped because their order was never added (`unknownOrders: 'skip'`), since `initial()`. */
  unknownOrders = 0;

  private readonly skipUnknown: boolean;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly offsets: Float64Array;
  /** Live orders: id → slot in the three arrays below. */
  private readonly orders = new Map<number, number>();
  private orderSide = new Float64Array(1024);
  private orderPrice = new Float64Array(1024);
  private orderShares = new Float64Array(1024);
  private freeSlots: number[] = [];
  private nextSlot = 0;
  private next = 0;

  /** Reads the file whole. @throws SourceFormatError as the constructor does. */
  static fromFile(path: string, options: Omit<ItchSourceOptions, 'file'> = {}): ItchSource {
    return new ItchSource(readFileSync(path), { ...options, file: path });
  }

  /**
   * Indexes and checks the whole buffer: framing, types, lengths (lib/net `indexItchFrames`)
   * and timestamps that never go backwards.
   * @throws SourceFormatError (`byte N`) for a bad frame or a timestamp earlier than the previous message's.
   * @throws TypeError when the symbol or locate cannot be chosen (several locates and none named, or a symbol not in the file).
   */
  constructor(bytes: Uint8Array, options: ItchSourceOptions = {}) {
    if (!(bytes instanceof Uint8Array)) throw invalidType('bytes', 'a Uint8Array', bytes);
    this.file = options.file ?? '<buffer>';
    if (options.unknownOrders !== undefined && options.unknownOrders !== 'error' && options.unknownOrders !== 'skip') {
      throw invalidValue('options.unknownOrders', "'error' or 'skip'", options.unknownOrders);
    }
    this.skipUnknown = options.unknownOrders === 'skip';
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const { offsets, count } = indexItchFrames(bytes, { file: this.file });
    this.offsets = offsets;
    this.length = count;
    if (count === 0) throw new SourceFormatError(this.file, 'byte 0', 'no ITCH messages: the file is empty');

    const locates = new Set<number>();
    const directory = new Map<string, number>();
    let last = -1;
    for (let i = 0; i < count; i++) {
      const at = offsets[i]!;
      const ts = this.view.getUint16(at + 5) * 4294967296 + this.view.getUint32(at + 7);
      if (ts < last) {
        throw new SourceFormatError(this.file, `byte ${at + 5}`, `timestamp ${ts} ns is earlier than the previous message's ${last} ns (message ${i})`);
      }
      last = ts;
      const locate = this.view.getUint16(at + 1);
      if (locate !== 0) locates.add(locate);
      if (bytes[at] === 0x52) directory.set(readStock(bytes, at + kItchHeaderBytes), locate);
    }

    let locate: number;
    if (options.stockLocate !== undefined) {
      if (!Number.isInteger(options.stockLocate) || options.stockLocate < 1 || options.stockLocate > 0xffff) {
        throw invalidValue('options.stockLocate', 'an integer in [1, 65535]', options.stockLocate);
      }
      locate = options.stockLocate;
    } else if (options.symbol !== undefined) {
      const found = directory.get(options.symbol);
      if (found === undefined) {
        throw invalidValue('options.symbol', `a stock with a stock directory message in ${this.file} (${[...directory.keys()].slice(0, 8).join(', ') || 'none'})`, options.symbol);
      }
      locate = found;
    } else if (locates.size === 1) {
      locate = locates.values().next().value as number;
    } else {
      const list = [...locates].slice(0, 8).join(', ');
      throw invalidValue('options.symbol', `a stock to keep: ${this.file} holds ${locates.size} stock locates (${list}${locates.size > 8 ? ', ...' : ''}; its stock directory names ${[...directory.keys()].slice(0, 8).join(', ') || 'none'})`, options.symbol);
    }
    this.stockLocate = locate;
    let symbol = options.symbol;
    if (symbol === undefined) for (const [name, l] of directory) if (l === locate) symbol = name;
    this.symbol = symbol ?? `locate ${locate}`;
  }

  /** Resets the order state; an ITCH file starts from an empty book, so there are no events. */
  initial(): Float64Array {
    this.orders.clear();
    this.freeSlots = [];
    this.nextSlot = 0;
    this.next = 0;
    this.unknownOrders = 0;
    return new Float64Array(0);
  }

  /** The byte offset of record `index`'s type byte (for errors and the decoder's `decodeItch`). */
  offsetOf(index: number): number {
    return this.offsets[index]!;
  }

  decode(index: number, out: Float64Array, at: number): number {
    if (index !== this.next) {
      throw invalidValue('index', `record ${this.next} (ITCH records are decoded in order after initial())`, index);
    }
    this.next = index + 1;
    const m = this.offsets[index]!;
    const view = this.view;
    if (view.getUint16(m + 1) !== this.stockLocate) return 0;
    const code = this.bytes[m]!;
    const b = m + kItchHeaderBytes;
    const o = at * kEventStride;
    let op: number;
    let id = 0;
    let side = 0;
    let price = 0;
    let size = 0;
    let newId = 0;
    switch (code) {
      case 0x41: // A
      case 0x46: {
        // F
        op = EventOp.add;
        id = readU64(view, b, this.file);
        const s = this.bytes[b + 8];
        if (s !== 0x42 && s !== 0x53) throw new SourceFormatError(this.file, `byte ${b + 8}`, `buy/sell indicator ${s}, expected 'B' or 'S'`);
        side = s === 0x42 ? EventSide.buy : EventSide.sell;
        size = view.getUint32(b + 9);
        price = view.getUint32(b + 21);
        if (size === 0) throw new SourceFormatError(this.file, `byte ${b + 9}`, `add of order ${id} with 0 shares`);
        if (this.orders.has(id)) throw new SourceFormatError(this.file, `byte ${b}`, `add of order ${id}, which is already live`);
        this.track(id, side, price, size);
        break;
      }
      case 0x45: // E
      case 0x43: // C
      case 0x58: // X
      case 0x44: {
        // D
        id = readU64(view, b, this.file);
        const slot = this.slotOf(id, b);
        if (slot < 0) return 0;
        side = this.orderSide[slot]!;
        price = this.orderPrice[slot]!;
        const left = this.orderShares[slot]!;
        if (code === 0x44) {
          op = EventOp.delete;
          size = left;
          this.untrack(id, slot);
        } else {
          op = code === 0x58 ? EventOp.reduce : EventOp.execute;
          size = view.getUint32(b + 8);
          if (size > left) {
            throw new SourceFormatError(this.file, `byte ${b + 8}`, `${size} shares ${code === 0x58 ? 'cancelled' : 'executed'} from order ${id}, which has ${left}`);
          }
          if (size === left) this.untrack(id, slot);
          else this.orderShares[slot] = left - size;
        }
        break;
      }
      case 0x55: {
        // U
        op = EventOp.replace;
        id = readU64(view, b, this.file);
        newId = readU64(view, b + 8, this.file);
        size = view.getUint32(b + 16);
        price = view.getUint32(b + 20);
        if (size === 0) throw new SourceFormatError(this.file, `byte ${b + 16}`, `replace of order ${id} by order ${newId} with 0 shares`);
        const slot = this.slotOf(id, b);
        if (slot < 0) return 0;
        side = this.orderSide[slot]!;
        this.untrack(id, slot);
        if (this.orders.has(newId)) throw new SourceFormatError(this.file, `byte ${b + 8}`, `replace into order ${newId}, which is already live`);
        this.track(newId, side, price, size);
        break;
      }
      case 0x50: // P
        op = EventOp.hiddenExecute;
        id = readU64(view, b, this.file);
        side = this.bytes[b + 8] === 0x53 ? EventSide.sell : EventSide.buy;
        size = view.getUint32(b + 9);
        price = view.getUint32(b + 21);
        break;
      case 0x51: // Q
        op = EventOp.cross;
        size = readU64(view, b, this.file);
        price = view.getUint32(b + 16);
        break;
      case 0x48: {
        // H: trading state at b + 8
        op = EventOp.halt;
        const state = this.bytes[b + 8];
        price = state === 0x54 ? 1 : state === 0x51 ? 0 : -1;
        break;
      }
      default:
        return 0;
    }
    out[o + EventField.op] = op;
    out[o + EventField.time] = view.getUint16(m + 5) * 4294967296 + view.getUint32(m + 7);
    out[o + EventField.orderId] = id;
    out[o + EventField.side] = side;
    out[o + EventField.price] = price;
    out[o + EventField.size] = size;
    out[o + EventField.newOrderId] = newId;
    out[o + EventField.aux] = view.getUint16(m + 3);
    return 1;
  }

  private slotOf(id: number, at: number): number {
    const slot = this.orders.get(id);
    if (slot !== undefined) return slot;
    if (this.skipUnknown) {
      this.unknownOrders++;
      return -1;
    }
    throw new SourceFormatError(this.file, `byte ${at}`, `order reference ${id} is not a live order`);
  }

  private track(id: number, side: number, price: number, shares: number): void {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.nextSlot++;
      if (slot === this.orderSide.length) {
        const grow = (a: Float64Array): Float64Array<ArrayBuffer> => {
          const g = new Float64Array(a.length * 2);
          g.set(a);
          return g;
        };
        this.orderSide = grow(this.orderSide);
        this.orderPrice = grow(this.orderPrice);
        this.orderShares = grow(this.orderShares);
      }
    }
    this.orderSide[slot] = side;
    this.orderPrice[slot] = price;
    this.orderShares[slot] = shares;
    this.orders.set(id, slot);
  }

  private untrack(id: number, slot: number): void {
    this.orders.delete(id);
    this.freeSlots.push(slot);
  }
}
