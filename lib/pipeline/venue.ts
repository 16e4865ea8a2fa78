/**
 * The simulated exchange the pipeline trades on: our MatchingEngine holding our own orders,
 * with the market's trades from the feed sent into it as taker orders (docs/pipeline.md
 * "Running the pipeline", fill model).
 *
 * Fill model. Our orders rest in the engine alone (the market's resting orders are in the
 * MboBook, not here). Each execution in the feed (events.ts `execute` and `hiddenExecute`:
 * `size` lots traded against a resting order of `side` at `price`) is a trade by an aggressor
 * of the other side; it is sent into the engine as an immediate-or-cancel limit order of that
 * size at that price, so it fills our quotes priced at or better than the trade:
 * - 'touch' (default): a trade at our price fills us. Queue position is ignored: we are
 *   treated as first in our level's queue, which is optimistic at a busy level.
 * - 'through': only a trade strictly through our price fills us (the taker is sent one tick
 *   less aggressive), the conservative bound: every order ahead of us at our price is assumed
 *   to have been there first.
 * Limits: our fills do not take liquidity from the market's book and the market does not
 * react to our orders (no impact); a trade's size is offered to us in full whatever the
 * displayed size ahead of us; our quotes are never marketable (the default strategy keeps them
 * passive; a quote that would cross the market's best price is refused by the pipeline with
 * the venue reason 'venue:would-take').
 *
 * Latency (as hftbacktest separates them): `feedLatencyNs` (exchange → us) and
 * `orderLatencyNs` (us → exchange). An order we send on a record of exchange time t reaches
 * the venue at t + feedLatencyNs + orderLatencyNs and only trades that happen at or after
 * that time can fill it; a cancel takes effect at that time too. With constant latencies only
 * the sum matters to the fills. Both default to 0 (an order is live for the next record).
 */
import { UltraPerfError, invalidRange } from '../errors.js';
import { defineOptions, readOptions } from '../internal/options.js';
import { MatchingEngine } from '../orderbook/engine.js';

export type FillModel = 'touch' | 'through';

export interface VenueOptions {
  symbol: string;
  tickSize: number;
  lotSize: number;
  backend: 'native' | 'ts';
  /** Default 'touch' (see the file comment). */
  fillModel?: FillModel;
  /** Exchange → us, ns (>= 0). Default 0. */
  feedLatencyNs?: number;
  /** Us → exchange, ns (>= 0). Default 0. */
  orderLatencyNs?: number;
  /** Our orders live or in flight at once (default 64). */
  maxOrders?: number;
  /** Most market executions one record carries (the source's maxEventsPerRecord). */
  maxTradesPerRecord: number;
}

/** SimVenue's options: strict keys; values checked in the constructor (the engine checks symbol, tickSize, lotSize, backend). */
const kVenueSchema = defineOptions(
  'SimVenue',
  Object.fromEntries(
    ['symbol', 'tickSize', 'lotSize', 'backend', 'fillModel', 'feedLatencyNs', 'orderLatencyNs', 'maxOrders', 'maxTradesPerRecord'].map((k) => [k, { check: null, checkedBy: 'SimVenue' }]),
  ),
);

const kOurOwner = 1;
const kMarketOwner = 2;
const kStride = MatchingEngine.commandStride;
const kFillStride = MatchingEngine.fillStride;

/** Slot states. */
const enum Slot {
  free = 0,
  /** Sent, not yet at the venue (latency). */
  inFlight = 1,
  live = 2,
  /** Cancelled (or dropped in flight); the slot is reused once its batch ran and nothing of it is in flight. */
  cancelled = 3,
}

/**
 * One symbol's simulated exchange. Order handles are small integers (slots) we choose at
 * send time, so the strategy's side never waits for the engine's ids. After each `flush`,
 * `fills` holds `fillCount` fills of ours as (slot, side, priceTicks, lots).
 */
export class SimVenue {
  readonly engine: MatchingEngine;
  readonly fillModel: FillModel;
  readonly latencyNs: number;
  /** (slot, side 0/1, priceTicks, lots) per fill of ours in the last flush. */
  readonly fills: Float64Array;
  fillCount = 0;
  /** Slots' state, side, ticks, open lots, engine id, time it reaches the venue. */
  readonly slotState: Uint8Array;
  readonly slotSide: Uint8Array;
  readonly slotTicks: Float64Array;
  readonly slotLots: Float64Array;
  private readonly slotId: Float64Array;
  private readonly slotAt: Float64Array;
  /** One past the highest slot ever used (the scans stop there). */
  private slotHigh = 0;
  /** Slots in the cancelled state (releaseDone has work only when > 0). */
  private done = 0;
  /** 1 while an action of the slot is in flight. */
  private readonly queued: Uint8Array;
  /** In-flight actions in send order: slot * 2 + (0 new, 1 cancel). */
  private readonly flight: Int32Array;
  private flightHead = 0;
  private flightCount = 0;
  private readonly commands: Float64Array;
  /** Per command of the current batch: the slot of a new order of ours, -1 otherwise. */
  private readonly commandSlot: Int32Array;
  private commandCount = 0;
  private readonly engineFills: Float64Array;
  private readonly tickSize: number;
  private readonly lotSize: number;
  private readonly invTick: number;

  constructor(options: VenueOptions) {
    readOptions(kVenueSchema, options, { required: true, what: 'an object of SimVenue options' });
    const maxTrades = options.maxTradesPerRecord;
    if (!Number.isInteger(maxTrades) || maxTrades < 0) throw invalidRange('options.maxTradesPerRecord', 'an integer >= 0', maxTrades);
    this.fillModel = options.fillModel ?? 'touch';
    if (this.fillModel !== 'touch' && this.fillModel !== 'through') throw invalidRange('options.fillModel', "'touch' or 'through'", this.fillModel);
    const feed = options.feedLatencyNs ?? 0;
    const order = options.orderLatencyNs ?? 0;
    if (!(feed >= 0 && Number.isFinite(feed))) throw invalidRange('options.feedLatencyNs', 'ns >= 0', feed);
    if (!(order >= 0 && Number.isFinite(order))) throw invalidRange('options.orderLatencyNs', 'ns >= 0', order);
    this.latencyNs = feed + order;
    const n = options.maxOrders ?? 64;
    if (!Number.isInteger(n) || n < 2) throw invalidRange('options.maxOrders', 'an integer >= 2', n);
    this.engine = new MatchingEngine({
      symbol: options.symbol,
      tickSize: options.tickSize,
      lotSize: options.lotSize,
      backend: options.backend,
      selfTradePrevention: 'cancel-taker',
    });
    this.tickSize = options.tickSize;
    this.lotSize = options.lotSize;
    this.invTick = 1 / options.tickSize;
    this.slotState = new Uint8Array(n);
    this.slotSide = new Uint8Array(n);
    this.slotTicks = new Float64Array(n);
    this.slotLots = new Float64Array(n);
    this.slotId = new Float64Array(n);
    this.slotAt = new Float64Array(n);
    this.queued = new Uint8Array(n);
    this.flight = new Int32Array(2 * n);
    const maxCommands = options.maxTradesPerRecord + 2 * n + 2;
    this.commands = new Float64Array(kStride * maxCommands);
    this.commandSlot = new Int32Array(maxCommands);
    // Each command can fill against every order of ours at most once.
    this.engineFills = new Float64Array(kFillStride * (maxCommands * n + 16));
    this.fills = new Float64Array(4 * (maxCommands * n + 16));
  }

  /** A free slot, or -1 when maxOrders are live or in flight. */
  freeSlot(): number {
    const s = this.slotState;
    for (let i = 0; i < s.length; i++) if (s[i] === Slot.free) return i;
    return -1;
  }

  /**
   * The current record's exchange time, ns: set it before begin(). (A field, not an argument:
   * a time of day in ns is no small integer, and passing it to a call V8 does not inline would
   * box it on the heap.)
   */
  timeNs = 0;

  /** Starts a record's batch at `timeNs`: orders and cancels whose time has come reach the venue first. */
  begin(): void {
    const timeNs = this.timeNs;
    this.commandCount = 0;
    const flight = this.flight;
    while (this.flightCount > 0) {
      const action = flight[this.flightHead]!;
      const slot = action >> 1;
      // FIFO is arrival order: every action arrives a constant latency after it was sent.
      if (this.slotAt[slot]! > timeNs) break;
      this.flightHead = this.flightHead + 1 === flight.length ? 0 : this.flightHead + 1;
      this.flightCount--;
      this.queued[slot] = 0;
      this.arrive(slot, action & 1);
    }
  }

  /** The market traded `lots` against a resting order of `restingSide` at `priceTicks`: fills ours at or better. */
  marketTrade(restingSide: number, priceTicks: number, lots: number): void {
    const takerSide = restingSide === 0 ? 1 : 0;
    // A taker sell at p fills bids >= p; 'through' asks one tick more (bids > p).
    const limit = this.fillModel === 'touch' ? priceTicks : takerSide === 1 ? priceTicks + 1 : priceTicks - 1;
    // Only a trade that can reach a live order of ours goes to the engine (the rest would
    // match nothing there): most of the feed's trades cost no call.
    const st = this.slotState;
    const sd = this.slotSide;
    const tk = this.slotTicks;
    for (let i = 0; i < this.slotHigh; i++) {
      if (st[i] === Slot.live && sd[i] === restingSide && (restingSide === 0 ? tk[i]! >= limit : tk[i]! <= limit)) {
        this.push(0, takerSide, limit, lots, 1, kMarketOwner, -1);
        return;
      }
    }
  }

  /** Sends a new GTC limit order of ours in `slot` (from freeSlot) at `timeNs`. */
  send(slot: number, side: number, priceTicks: number, lots: number): void {
    const timeNs = this.timeNs;
    if (slot >= this.slotHigh) this.slotHigh = slot + 1;
    this.slotState[slot] = Slot.inFlight;
    this.slotSide[slot] = side;
    this.slotTicks[slot] = priceTicks;
    this.slotLots[slot] = lots;
    this.slotId[slot] = 0;
    this.slotAt[slot] = timeNs + this.latencyNs;
    if (this.latencyNs === 0) this.arrive(slot, 0);
    else this.enqueue(slot, 0);
  }

  /**
   * Cancels our order in `slot` at the record's time: at once without latency, else when the
   * cancel reaches the venue (the order can still fill until then). An order still in flight
   * is dropped with its cancel (both would arrive in order).
   */
  cancel(slot: number): void {
    const timeNs = this.timeNs;
    const state = this.slotState[slot];
    if (state === Slot.inFlight) {
      this.slotState[slot] = Slot.cancelled;
      this.slotLots[slot] = 0;
      this.done++;
      return;
    }
    if (state !== Slot.live) return;
    if (this.latencyNs === 0) {
      this.arrive(slot, 1);
      return;
    }
    this.slotAt[slot] = timeNs + this.latencyNs;
    this.enqueue(slot, 1);
  }

  /**
   * Runs the record's batch in the engine and collects our fills into `fills`; returns how
   * many. Fully filled orders free their slot.
   */
  flush(): number {
    this.fillCount = 0;
    const n = this.commandCount;
    if (n === 0) {
      this.releaseDone();
      return 0;
    }
    const engine = this.engine;
    const total = engine.submitBatchCount(this.commands, n, this.engineFills);
    if (total * kFillStride > this.engineFills.length) {
      throw new UltraPerfError('ERR_ULTRA_PERF_PIPELINE', `SimVenue: ${total} fills in one batch, more than its buffer holds (${this.engineFills.length / kFillStride})`);
    }
    // Ids: the k-th submit (op 0) of the batch got firstOrderId + k.
    let id = engine.lastBatchFirstOrderId;
    const c = this.commands;
    for (let i = 0; i < n; i++) {
      if (c[kStride * i] !== 0) continue;
      const slot = this.commandSlot[i]!;
      if (slot >= 0) this.slotId[slot] = id;
      id++;
    }
    const ef = this.engineFills;
    const out = this.fills;
    let k = 0;
    for (let f = 0; f < total; f++) {
      const maker = ef[kFillStride * f]!;
      const slot = this.slotOf(maker);
      if (slot < 0) continue;
      const ticks = Math.round(ef[kFillStride * f + 2]! * this.invTick);
      const lots = Math.round(ef[kFillStride * f + 3]! / this.lotSize);
      out[4 * k] = slot;
      out[4 * k + 1] = this.slotSide[slot]!;
      out[4 * k + 2] = ticks;
      out[4 * k + 3] = lots;
      k++;
      const left = this.slotLots[slot]! - lots;
      this.slotLots[slot] = left;
      if (left <= 0 && this.slotState[slot] === Slot.live) {
        this.slotState[slot] = Slot.cancelled;
        this.done++;
      }
    }
    this.releaseDone();
    this.commandCount = 0;
    this.fillCount = k;
    return k;
  }

  /** Slots done with (filled, cancelled) become free once nothing of theirs is in flight. */
  private releaseDone(): void {
    const st = this.slotState;
    if (this.done === 0) return;
    for (let i = 0; i < st.length; i++) {
      if (st[i] === Slot.cancelled && this.queued[i] === 0) {
        st[i] = Slot.free;
        this.done--;
      }
    }
  }

  private slotOf(engineId: number): number {
    const ids = this.slotId;
    for (let i = 0; i < ids.length; i++) if (ids[i] === engineId && this.slotState[i] !== Slot.free) return i;
    return -1;
  }

  private enqueue(slot: number, kind: number): void {
    if (this.flightCount === this.flight.length) {
      throw new UltraPerfError('ERR_ULTRA_PERF_PIPELINE', `SimVenue: more than ${this.flight.length} orders and cancels in flight; raise maxOrders or lower the latency`);
    }
    this.flight[(this.flightHead + this.flightCount) % this.flight.length] = 2 * slot + kind;
    this.queued[slot] = 1;
    this.flightCount++;
  }

  /** The action reaches the venue: becomes a command of the current batch. */
  private arrive(slot: number, kind: number): void {
    const state = this.slotState[slot];
    if (kind === 0) {
      if (state !== Slot.inFlight) return; // dropped in flight: stays cancelled until released
      this.slotState[slot] = Slot.live;
      this.push(0, this.slotSide[slot]!, this.slotTicks[slot]!, this.slotLots[slot]!, 0, kOurOwner, slot);
      return;
    }
    if (state !== Slot.live) return;
    this.slotState[slot] = Slot.cancelled;
    this.slotLots[slot] = 0;
    this.done++;
    const id = this.slotId[slot]!;
    // Placed in this very batch (no id yet): take the placement out instead.
    if (id === 0) this.dropPlacement(slot);
    else this.push(2, id, 0, 0, 0, 0, -1);
  }

  /** Removes the not-yet-run placement of `slot` from the current batch (later commands move up). */
  private dropPlacement(slot: number): void {
    const cs = this.commandSlot;
    const c = this.commands;
    const n = this.commandCount;
    for (let i = 0; i < n; i++) {
      if (cs[i] !== slot) continue;
      c.copyWithin(kStride * i, kStride * (i + 1), kStride * n);
      cs.copyWithin(i, i + 1, n);
      this.commandCount = n - 1;
      return;
    }
  }

  /** Appends a command; `ticks` and `lots` (integers, so small ones pass unboxed) become the engine's values here. */
  private push(op: number, a1: number, ticks: number, lots: number, flags: number, owner: number, slot: number): void {
    const i = this.commandCount;
    if (kStride * (i + 1) > this.commands.length) {
      throw new UltraPerfError('ERR_ULTRA_PERF_PIPELINE', `SimVenue: more than ${this.commands.length / kStride} commands in one record`);
    }
    const c = this.commands;
    const at = kStride * i;
    c[at] = op;
    c[at + 1] = a1;
    c[at + 2] = ticks * this.tickSize;
    c[at + 3] = lots * this.lotSize;
    c[at + 4] = flags;
    c[at + 5] = owner;
    this.commandSlot[i] = slot;
    this.commandCount = i + 1;
  }
}
