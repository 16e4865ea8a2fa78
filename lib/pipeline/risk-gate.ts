/**
 * Pre-trade risk on the hot path, between the strategy and the venue (docs/pipeline.md,
 * "RiskGate"). `check()` answers with a number (0 accepted, else a `RiskReject` code), reads and
 * writes only preallocated typed arrays, and allocates nothing.
 *
 * Units: the pipeline's. Prices are integer ticks and quantities integer lots of the symbol
 * (lib/pipeline/events.ts); each symbol declares `tickSize` (currency per tick) and `lotSize`
 * (instrument units per lot), so a notional in currency is ticks × lots × tickSize × lotSize.
 * Limits are in lots (quantity, position) or currency (notional, gross exposure, VaR, drawdown).
 *
 * Rules, in the order `check()` applies them (the first that fails gives the code):
 *  1 kill-switch         the switch is on (by `killSwitch(true)` or tripped by `maxDrawdown`)
 *  2 max-quantity        quantity > symbol.maxOrderQuantity (lots)
 *  3 max-notional        price × quantity × tickSize × lotSize > symbol.maxOrderNotional
 *  4 no-reference-price  no `setMid()` yet for the symbol
 *  5 price-collar        |price − mid| > priceCollar.fraction × mid
 *  6 position-limit      |position + signed quantity| > symbol.maxPosition (lots)
 *  7 gross-exposure      Σ |position| × mid value after the fill > maxGrossExposure, and above the current one
 *  8 var-budget          portfolio VaR after the fill > varBudget.limit, and above the current VaR
 *  9 rate-throttle       maxOrdersPerSecond orders were already accepted in the last 10⁹ ns
 * Each limit is checked as if the whole order filled at once, against the filled position
 * (working orders are not tracked: the gate sees orders and fills, not acknowledgements).
 * An order that lowers gross exposure or VaR passes those two rules even above their limit
 * (it reduces risk). A rejected order changes nothing but `rejects[code]`.
 *
 * VaR budget: delta-normal portfolio VaR = z_c · √(wᵀΣw) · √horizonDays with w_i the position's
 * value at its mid in currency (negative when short) and Σ the daily log-return covariance of
 * the series each symbol maps to (lib/pipeline/risk-gate-covariance.ts). The gate keeps
 * u = Σw and q = wᵀΣw: a change δ of w_i (a fill, or a new mid under a position) costs O(n)
 * (u += δ·Σ[:,i], q = wᵀu), and a pre-trade check is O(1): q' = q + 2δu_i + δ²Σ_ii.
 * u is rebuilt exactly (O(n²)) every kVaRRefreshUpdates updates so rounding cannot build up.
 */
import { describe, invalidRange, invalidType, invalidValue, withCode } from '../errors.js';
import { type OptionCheck, defineOptions, nonEmptyStringCheck, readOptions } from '../internal/options.js';
import { normalQuantile } from '../risk/detmath.js';
import { checkSymmetric, choleskySync } from '../risk/matrix.js';
import { riskChecks } from '../risk/validate.js';
import type { RiskCovariance } from './risk-gate-covariance.js';

/** `check()` results: 0 accepted, otherwise the first rule the order failed. The number is also its place in the order of checks. */
export const RiskReject = {
  accepted: 0,
  killSwitch: 1,
  maxQuantity: 2,
  maxNotional: 3,
  noReferencePrice: 4,
  priceCollar: 5,
  positionLimit: 6,
  grossExposure: 7,
  varBudget: 8,
  rateThrottle: 9,
} as const;
export type RiskRejectCode = (typeof RiskReject)[keyof typeof RiskReject];

/** Reason names by code (reports, logs, `snapshot().rejects`). */
export const kRiskRejectReason = [
  'accepted',
  'kill-switch',
  'max-quantity',
  'max-notional',
  'no-reference-price',
  'price-collar',
  'position-limit',
  'gross-exposure',
  'var-budget',
  'rate-throttle',
] as const;
export type RiskRejectReason = (typeof kRiskRejectReason)[number];

/** Pre-trade updates of the VaR state between two exact rebuilds of u = Σw. */
export const kVaRRefreshUpdates = 1024;
/** The most orders per second the sliding-window throttle keeps (one double per order). */
export const kMaxOrdersPerSecond = 2 ** 24;
/** Largest price (ticks) or quantity (lots) accepted: exact integers in a double. */
const kMaxUnits = Number.MAX_SAFE_INTEGER;
/** Relative tolerance for limits converted to integer ticks × lots, and for the collar width. */
const kRelTolerance = 1e-12;
const kWindowNs = 1e9;

export interface RiskGateSymbol {
  /** The symbol's name (snapshot keys, the VaR series it maps to by default). */
  name: string;
  /** Currency per price tick; default 1. LOBSTER/ITCH prices in USD × 10⁴: 0.0001. */
  tickSize?: number;
  /** Instrument units per lot; default 1 (shares). */
  lotSize?: number;
  /** Largest order, in lots (an integer, or Infinity for none). */
  maxOrderQuantity: number;
  /** Largest order value price × quantity in currency (or Infinity). */
  maxOrderNotional: number;
  /** Largest absolute position after a fill, in lots (an integer >= 0, or Infinity). */
  maxPosition: number;
  /** The covariance series the VaR uses for this symbol; default its name when the covariance has it, else varBudget.proxy. */
  riskSeries?: string;
}

export interface RiskGateVaRBudget {
  /** Largest portfolio VaR in currency (a positive loss). */
  limit: number;
  /** Probability kept, in (0.5, 1); default 0.99. */
  confidence?: number;
  /** √horizonDays scaling of the daily VaR; default 1. */
  horizonDays?: number;
  /** Daily log-return covariance by series name (covarianceFromPanel's result, or your own). */
  covariance: RiskCovariance;
  /** The series for symbols the covariance does not name; default 'SP500' (the index). */
  proxy?: string;
}

export interface RiskGateOptions {
  /** The instruments, referred to on the hot path by their index in this array. */
  symbols: RiskGateSymbol[];
  /** Largest Σ |position| × mid value over all symbols, in currency (or Infinity). */
  maxGrossExposure: number;
  /** Orders priced further than `fraction × mid` from the mid are refused (0.01 = 1% = 100 bps; Infinity: no collar). */
  priceCollar: { fraction: number };
  /** Accepted orders in any 10⁹ ns window (a sliding window on the caller's clock); Infinity: no throttle. */
  maxOrdersPerSecond: number;
  /** Portfolio VaR budget; absent: no VaR rule. */
  varBudget?: RiskGateVaRBudget;
  /** Trips the kill switch when the PnL falls more than this (currency) below its peak; absent: never. */
  maxDrawdown?: number;
}

export interface RiskGateSymbolSnapshot {
  name: string;
  /** Lots, negative when short. */
  position: number;
  /** Average cost of the open position, in ticks (0 when flat). */
  averagePrice: number;
  /** Latest mid (ticks), or the last fill price before any mid; null when neither. */
  mark: number | null;
  /** Currency. */
  realisedPnl: number;
  /** position × (mark − averagePrice), currency. */
  unrealisedPnl: number;
  /** |position| × mark value, currency. */
  exposure: number;
  /** The covariance series its VaR uses (null without a VaR budget). */
  riskSeries: string | null;
}

export interface RiskGateSnapshot {
  symbols: RiskGateSymbolSnapshot[];
  grossExposure: number;
  pnl: { realised: number; unrealised: number; total: number; peak: number; drawdown: number };
  /** null without a VaR budget. */
  var: { value: number; limit: number; confidence: number; horizonDays: number } | null;
  orders: number;
  accepted: number;
  fills: number;
  /** Orders rejected, by reason name (every reason present, 0 when none). */
  rejects: Record<Exclude<RiskRejectReason, 'accepted'>, number>;
  killSwitch: { on: boolean; reason: string | null };
}

// ---------------------------------------------------------------------------------------
// Options

function lotsLimit(allowZero: boolean): OptionCheck {
  const what = `an integer number of lots >= ${allowZero ? 0 : 1}, or Infinity`;
  return (value, argument) => {
    if (typeof value !== 'number') throw invalidType(argument, what, value);
    if (value === Infinity) return value;
    if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) throw invalidRange(argument, what, value);
    return value;
  };
}

const amountLimit: OptionCheck = (value, argument) => {
  if (typeof value !== 'number') throw invalidType(argument, 'a positive amount of currency, or Infinity', value);
  if (!(value > 0)) throw invalidRange(argument, 'a positive amount of currency, or Infinity', value);
  return value;
};

const kSymbolSchema = defineOptions('RiskGate symbol', {
  name: { check: nonEmptyStringCheck, always: true },
  tickSize: { check: riskChecks.positive, default: 1 },
  lotSize: { check: riskChecks.positive, default: 1 },
  maxOrderQuantity: { check: lotsLimit(false), always: true },
  maxOrderNotional: { check: amountLimit, always: true },
  maxPosition: { check: lotsLimit(true), always: true },
  riskSeries: { check: nonEmptyStringCheck },
});

const kCollarSchema = defineOptions('RiskGate priceCollar', {
  fraction: {
    check: (value, argument) => {
      if (typeof value !== 'number') throw invalidType(argument, 'a fraction of the mid > 0 (0.01 = 1%), or Infinity', value);
      if (!(value > 0)) throw invalidRange(argument, 'a fraction of the mid > 0 (0.01 = 1%), or Infinity', value);
      return value;
    },
    always: true,
  },
});

const kVaRSchema = defineOptions('RiskGate varBudget', {
  limit: { check: amountLimit, always: true },
  confidence: { check: riskChecks.confidence, default: 0.99 },
  horizonDays: { check: riskChecks.positive, default: 1 },
  covariance: { check: null, checkedBy: 'RiskGate constructor (names, symmetric positive semi-definite matrix)' },
  proxy: { check: nonEmptyStringCheck, default: 'SP500' },
});

const kGateSchema = defineOptions('RiskGate', {
  symbols: { check: null, checkedBy: "RiskGate constructor through the 'RiskGate symbol' schema" },
  maxGrossExposure: { check: amountLimit, always: true },
  priceCollar: { check: null, checkedBy: "RiskGate constructor through the 'RiskGate priceCollar' schema" },
  maxOrdersPerSecond: {
    check: (value, argument) => {
      const what = `an integer in [1, ${kMaxOrdersPerSecond}], or Infinity`;
      if (typeof value !== 'number') throw invalidType(argument, what, value);
      if (value !== Infinity && !(Number.isInteger(value) && value >= 1 && value <= kMaxOrdersPerSecond)) throw invalidRange(argument, what, value);
      return value;
    },
    always: true,
  },
  varBudget: { check: null, checkedBy: "RiskGate constructor through the 'RiskGate varBudget' schema" },
  maxDrawdown: { check: amountLimit },
});

/** Limit in currency → limit in ticks × lots, snapped to the integer it is within kRelTolerance of (0.29 / 0.01 → 29, not 28.999…). */
function toUnits(amount: number, multiplier: number): number {
  const v = amount / multiplier;
  const r = Math.round(v);
  return Math.abs(v - r) <= kRelTolerance * Math.abs(v) ? r : v;
}

function covarianceOf(value: unknown): RiskCovariance {
  const c = value as Partial<RiskCovariance> | null;
  if (typeof c !== 'object' || c === null || !Array.isArray(c.names) || c.names.some((n) => typeof n !== 'string')) {
    throw invalidType('options.varBudget.covariance', 'a covariance { names: string[], matrix: Float64Array } (covarianceFromPanel gives one)', value);
  }
  const m = checkSymmetric('options.varBudget.covariance.matrix', c.matrix, c.names.length);
  return { names: c.names, matrix: m };
}

function badArgument(argument: string, expected: string, value: unknown): Error {
  return typeof value === 'number' ? invalidRange(argument, expected, value) : invalidType(argument, expected, value);
}

// ---------------------------------------------------------------------------------------

/**
 * Pre-trade risk checks for a set of symbols, with positions, PnL and a VaR budget kept from
 * the fills it is told about. See the module header (and docs/pipeline.md) for the rules, their
 * order and units.
 *
 * Errors: constructor options are strict (an unknown key is a TypeError naming it and the
 * nearest known key, code ERR_ULTRA_PERF_UNKNOWN_OPTION; a bad value names `options.<path>` and
 * the value, code ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE). `check`, `onFill` and `setMid`
 * throw the same way for a symbol index out of range, a side other than 0 or 1, a price or
 * quantity that is not a positive integer of ticks or lots, or (check) a clock that went back.
 * @example
 * import { RiskGate, RiskReject, kRiskRejectReason } from 'ultra-performance';
 * const gate = new RiskGate({
 *   symbols: [{ name: 'AAPL', tickSize: 0.0001, maxOrderQuantity: 500, maxOrderNotional: 250_000, maxPosition: 2_000 }],
 *   maxGrossExposure: 1_000_000, priceCollar: { fraction: 0.01 }, maxOrdersPerSecond: 1_000,
 * });
 * gate.setMid(0, 5_855_000);                                  // $585.50 in 10⁻⁴ ticks
 * const code = gate.check(0, 0, 5_855_100, 100, nowNs);       // 0: send it
 * if (code !== RiskReject.accepted) log(kRiskRejectReason[code]);
 * gate.onFill(0, 0, 5_855_100, 100);
 */
export class RiskGate {
  /** Symbol count; indexes run 0 … n − 1 in the order of options.symbols. */
  readonly n: number;
  readonly names: readonly string[];
  /**
   * Orders by result code, indexed by RiskReject: rejects[c] counts rejections for reason c,
   * rejects[0] the accepted orders (so the array sums to the orders checked).
   */
  readonly rejects = new Float64Array(kRiskRejectReason.length);
  private fillCount = 0;

  private readonly maxQty: Float64Array;
  /** maxOrderNotional in ticks × lots. */
  private readonly maxNotional: Float64Array;
  private readonly maxPos: Float64Array;
  /** tickSize × lotSize: currency per tick·lot. */
  private readonly mult: Float64Array;
  /** Latest mid in ticks; NaN before the first setMid. */
  private readonly mid: Float64Array;
  /** Collar half-width in ticks at the current mid. */
  private readonly band: Float64Array;
  /** Mid, or the last fill price before any mid; NaN when neither. */
  private readonly mark: Float64Array;
  private readonly pos: Float64Array;
  private readonly avg: Float64Array;
  private readonly realised: Float64Array;
  private readonly collar: number;
  private readonly maxGross: number;
  private gross = 0;
  /** Cash from fills (sells +, buys −) and Σ position × mark value: PnL = cash + markValue. */
  private cash = 0;
  private markValue = 0;
  private peak = 0;
  private readonly maxDrawdown: number;
  private killed = false;
  private killReason: string | null = null;

  // Sliding-window throttle: times of the last maxOrdersPerSecond accepted orders, a ring.
  private readonly rateOn: boolean;
  private readonly ring: Float64Array;
  private head = 0;
  private lastNs = -Infinity;

  // VaR state.
  private readonly varOn: boolean;
  private readonly sigma: Float64Array;
  private readonly diag: Float64Array;
  private readonly w: Float64Array;
  private readonly u: Float64Array;
  private q = 0;
  private updates = 0;
  private readonly varScale: number;
  private readonly varLimit: number;
  private readonly confidence: number;
  private readonly horizonDays: number;
  private readonly series: readonly (string | null)[];

  constructor(options: RiskGateOptions) {
    const o = readOptions(kGateSchema, options, {
      required: true,
      what: 'an options object { symbols, maxGrossExposure, priceCollar, maxOrdersPerSecond, varBudget?, maxDrawdown? }',
    });
    if (!Array.isArray(o.symbols) || o.symbols.length === 0) throw invalidType('options.symbols', 'a non-empty array of symbol objects', o.symbols);
    const symbols = (o.symbols as unknown[]).map((s, i) =>
      readOptions(kSymbolSchema, s, {
        argument: `options.symbols[${i}]`,
        required: true,
        what: 'a symbol object { name, maxOrderQuantity, maxOrderNotional, maxPosition, tickSize?, lotSize?, riskSeries? }',
      }),
    );
    const n = symbols.length;
    this.n = n;
    this.names = symbols.map((s) => s.name as string);
    this.names.forEach((name, i) => {
      if (this.names.indexOf(name) !== i) throw invalidValue(`options.symbols[${i}].name`, 'a name no earlier symbol has', name);
    });
    const arr = (): Float64Array => new Float64Array(n);
    this.maxQty = arr();
    this.maxNotional = arr();
    this.maxPos = arr();
    this.mult = arr();
    this.mid = arr().fill(NaN);
    this.band = arr().fill(NaN);
    this.mark = arr().fill(NaN);
    this.pos = arr();
    this.avg = arr();
    this.realised = arr();
    symbols.forEach((s, i) => {
      const mult = (s.tickSize as number) * (s.lotSize as number);
      // Each is > 0, but their product can underflow (1e-200 × 1e-200): every notional would
      // then read 0 and the notional, exposure and VaR limits would silently never bind.
      if (!(mult >= Number.MIN_VALUE * 2 ** 64) || !Number.isFinite(mult)) {
        throw invalidRange(`options.symbols[${i}].tickSize × lotSize`, 'a product between 2^-1010 and the largest double (currency per tick·lot)', mult);
      }
      this.mult[i] = mult;
      this.maxQty[i] = s.maxOrderQuantity as number;
      this.maxNotional[i] = toUnits(s.maxOrderNotional as number, mult);
      this.maxPos[i] = s.maxPosition as number;
    });
    this.collar = readOptions(kCollarSchema, o.priceCollar, { argument: 'options.priceCollar', required: true, what: 'an object { fraction }' }).fraction as number;
    this.maxGross = o.maxGrossExposure as number;
    this.maxDrawdown = (o.maxDrawdown as number | undefined) ?? Infinity;

    const rate = o.maxOrdersPerSecond as number;
    this.rateOn = rate !== Infinity;
    this.ring = new Float64Array(this.rateOn ? rate : 1).fill(-Infinity);

    this.varOn = o.varBudget !== undefined;
    this.sigma = new Float64Array(this.varOn ? n * n : 0);
    this.diag = arr();
    this.w = arr();
    this.u = arr();
    if (this.varOn) {
      const v = readOptions(kVaRSchema, o.varBudget, { argument: 'options.varBudget', required: true, what: 'an object { limit, covariance, confidence?, horizonDays?, proxy? }' });
      const cov = covarianceOf(v.covariance);
      const proxy = v.proxy as string;
      const index = this.names.map((name, i) => {
        const wanted = (symbols[i]!.riskSeries as string | undefined) ?? (cov.names.includes(name) ? name : proxy);
        const k = cov.names.indexOf(wanted);
        if (k < 0) {
          const argument = symbols[i]!.riskSeries !== undefined ? `options.symbols[${i}].riskSeries` : 'options.varBudget.proxy';
          throw invalidValue(argument, `a series of options.varBudget.covariance.names (${name} maps to it)`, wanted);
        }
        return k;
      });
      this.series = index.map((k) => cov.names[k]!);
      const m = cov.names.length;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) this.sigma[i * n + j] = cov.matrix[index[i]! * m + index[j]!]!;
      // Refuses a covariance with a negative eigenvalue (wᵀΣw < 0 for some w) before it is trusted.
      try {
        choleskySync(this.sigma, n, { backend: 'ts' });
      } catch (err) {
        throw invalidRange(
          'options.varBudget.covariance.matrix',
          `a positive semi-definite covariance over the symbols' series (${(err as Error).message.replace(/ but received .*$/, '')})`,
          cov.matrix,
        );
      }
      for (let i = 0; i < n; i++) this.diag[i] = this.sigma[i * n + i]!;
      this.confidence = v.confidence as number;
      this.horizonDays = v.horizonDays as number;
      this.varScale = normalQuantile(this.confidence) * (this.horizonDays === 1 ? 1 : Math.sqrt(this.horizonDays));
      this.varLimit = v.limit as number;
    } else {
      this.series = this.names.map(() => null);
      this.confidence = NaN;
      this.horizonDays = NaN;
      this.varScale = 0;
      this.varLimit = Infinity;
    }
  }

  /** The index of a symbol by name (a RangeError naming `name` when there is none). */
  symbolIndex(name: string): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw invalidValue('name', `one of the gate's symbols (${this.names.join(', ')})`, name);
    return i;
  }

  /**
   * Pre-trade check of an order of `quantity` lots at `price` ticks (side 0 buy, 1 sell) at
   * `nowNs` (the caller's clock in ns, never going back). 0: accepted (counted by the rate
   * throttle); otherwise the RiskReject code of the first rule it fails. Allocates nothing.
   */
  check(symbol: number, side: number, price: number, quantity: number, nowNs: number): number {
    if (
      !(symbol >= 0 && symbol < this.n && (symbol | 0) === symbol) ||
      (side !== 0 && side !== 1) ||
      !(price > 0 && price <= kMaxUnits && Math.floor(price) === price) ||
      !(quantity > 0 && quantity <= kMaxUnits && Math.floor(quantity) === quantity) ||
      // Finite both ways: a clock of -Infinity would pass the throttle on every order (-Infinity - -Infinity is NaN, never < 10⁹).
      !(nowNs >= this.lastNs && nowNs <= Number.MAX_VALUE && nowNs >= -Number.MAX_VALUE)
    ) {
      throw this.badOrder(symbol, side, price, quantity, nowNs);
    }
    if (this.killed) return this.reject(1);
    if (quantity > this.maxQty[symbol]!) return this.reject(2);
    if (price * quantity > this.maxNotional[symbol]!) return this.reject(3);
    const mid = this.mid[symbol]!;
    if (mid !== mid) return this.reject(4);
    const diff = price - mid;
    const band = this.band[symbol]!;
    if (diff > band || -diff > band) return this.reject(5);
    const pos = this.pos[symbol]!;
    const signed = side === 0 ? quantity : -quantity;
    const next = pos + signed;
    if ((next < 0 ? -next : next) > this.maxPos[symbol]!) return this.reject(6);
    const value = mid * this.mult[symbol]!;
    const gross = this.gross + ((next < 0 ? -next : next) - (pos < 0 ? -pos : pos)) * value;
    if (gross > this.maxGross && gross > this.gross) return this.reject(7);
    if (this.varOn) {
      const d = signed * value;
      const q = this.q + d * (2 * this.u[symbol]! + d * this.diag[symbol]!);
      if (q > this.q && this.varScale * Math.sqrt(q) > this.varLimit) return this.reject(8);
    }
    if (this.rateOn) {
      const ring = this.ring;
      const head = this.head;
      // The oldest of the last maxOrdersPerSecond accepted orders must be a full window old.
      if (nowNs - ring[head]! < kWindowNs) return this.reject(9);
      ring[head] = nowNs;
      this.head = head + 1 === ring.length ? 0 : head + 1;
    }
    this.lastNs = nowNs;
    this.rejects[0] = this.rejects[0]! + 1;
    return 0;
  }

  /**
   * The reference price for `symbol` (ticks; a mid may be a half tick): sets the collar around
   * it and marks the position to it (exposure, unrealised PnL, VaR: O(n) when a position is open,
   * O(1) when flat). May trip the drawdown kill switch.
   */
  setMid(symbol: number, mid: number): void {
    if (!(symbol >= 0 && symbol < this.n && (symbol | 0) === symbol)) throw this.badSymbol(symbol);
    if (!(mid > 0 && mid <= kMaxUnits)) throw badArgument('mid', 'a positive price in ticks', mid);
    this.mid[symbol] = mid;
    this.band[symbol] = this.collar * mid * (1 + kRelTolerance);
    const old = this.mark[symbol]!;
    this.mark[symbol] = mid;
    const pos = this.pos[symbol]!;
    if (pos === 0 || old === mid) return;
    const mult = this.mult[symbol]!;
    this.markValue += pos * mult * (mid - old);
    this.gross += (pos < 0 ? -pos : pos) * mult * (mid - old);
    if (this.varOn) this.moveWeight(symbol, pos * mid * mult);
    this.checkDrawdown();
  }

  /**
   * A fill of `quantity` lots at `price` ticks (side 0 bought, 1 sold): position, average cost,
   * realised PnL, cash, gross exposure and the VaR state (O(n)). Average-cost accounting: a fill
   * that adds to the position moves the average price; one that reduces it realises
   * (price − average) per lot closed; one that crosses through flat opens the rest at `price`.
   * May trip the drawdown kill switch.
   */
  onFill(symbol: number, side: number, price: number, quantity: number): void {
    if (
      !(symbol >= 0 && symbol < this.n && (symbol | 0) === symbol) ||
      (side !== 0 && side !== 1) ||
      !(price > 0 && price <= kMaxUnits && Math.floor(price) === price) ||
      !(quantity > 0 && quantity <= kMaxUnits && Math.floor(quantity) === quantity)
    ) {
      throw this.badOrder(symbol, side, price, quantity, 0);
    }
    const mult = this.mult[symbol]!;
    const pos = this.pos[symbol]!;
    const signed = side === 0 ? quantity : -quantity;
    const next = pos + signed;
    if (pos === 0 || pos > 0 === signed > 0) {
      const size = pos < 0 ? -pos : pos;
      this.avg[symbol] = (this.avg[symbol]! * size + price * quantity) / (size + quantity);
    } else {
      const closed = Math.min(quantity, pos < 0 ? -pos : pos);
      this.realised[symbol] = this.realised[symbol]! + closed * (price - this.avg[symbol]!) * (pos > 0 ? 1 : -1) * mult;
      if (next === 0) this.avg[symbol] = 0;
      else if (next > 0 !== pos > 0) this.avg[symbol] = price;
    }
    this.pos[symbol] = next;
    this.cash -= signed * price * mult;
    if (this.mark[symbol]! !== this.mark[symbol]!) this.mark[symbol] = price;
    this.fillCount++;
    // Exposure and mark value exactly, O(n), so setMid's increments never drift far.
    let gross = 0;
    let markValue = 0;
    for (let i = 0; i < this.n; i++) {
      const p = this.pos[i]!;
      if (p === 0) continue;
      const v = p * this.mark[i]! * this.mult[i]!;
      markValue += v;
      gross += v < 0 ? -v : v;
    }
    this.gross = gross;
    this.markValue = markValue;
    if (this.varOn) this.moveWeight(symbol, next * this.mark[symbol]! * mult);
    this.checkDrawdown();
  }

  /**
   * Turns the kill switch on (every order gets RiskReject.killSwitch) or off. Turning it off
   * re-arms the drawdown limit from the current PnL (the peak restarts there).
   */
  killSwitch(on: boolean, reason = 'manual'): void {
    if (typeof on !== 'boolean') throw invalidType('on', 'a boolean', on);
    if (typeof reason !== 'string') throw invalidType('reason', 'a string', reason);
    this.killed = on;
    this.killReason = on ? reason : null;
    if (!on) this.peak = this.cash + this.markValue;
  }

  /** Fills applied by onFill. */
  get fills(): number {
    return this.fillCount;
  }

  /** Whether the kill switch is on. */
  get killSwitchOn(): boolean {
    return this.killed;
  }

  /** Current portfolio VaR in currency (0 without a VaR budget). */
  get var(): number {
    return this.varScale * Math.sqrt(this.q > 0 ? this.q : 0);
  }

  /**
   * The VaR (currency) the portfolio would have if an order of `quantity` lots on `side`
   * filled whole at the mid: what rule var-budget compares with the limit. NaN before a mid.
   */
  varIfFilled(symbol: number, side: number, quantity: number): number {
    if (!(symbol >= 0 && symbol < this.n && (symbol | 0) === symbol)) throw this.badSymbol(symbol);
    if (side !== 0 && side !== 1) throw badArgument('side', '0 (buy) or 1 (sell)', side);
    if (!(quantity > 0 && quantity <= kMaxUnits && Math.floor(quantity) === quantity)) throw badArgument('quantity', 'a positive integer number of lots', quantity);
    const mid = this.mid[symbol]!;
    if (mid !== mid) return NaN;
    const d = (side === 0 ? quantity : -quantity) * mid * this.mult[symbol]!;
    const q = this.q + d * (2 * this.u[symbol]! + d * this.diag[symbol]!);
    return this.varScale * Math.sqrt(q > 0 ? q : 0);
  }

  /** The n x n covariance the VaR uses, rows and columns in symbol order (a copy). */
  get covariance(): Float64Array {
    return this.sigma.slice();
  }

  /** Positions, exposure, PnL, VaR and counts as a plain object (allocates: not for the hot path). */
  snapshot(): RiskGateSnapshot {
    let realised = 0;
    let unrealised = 0;
    const symbols = this.names.map((name, i) => {
      const pos = this.pos[i]!;
      const mark = this.mark[i]!;
      const u = pos === 0 ? 0 : pos * (mark - this.avg[i]!) * this.mult[i]!;
      realised += this.realised[i]!;
      unrealised += u;
      return {
        name,
        position: pos,
        averagePrice: this.avg[i]!,
        mark: mark === mark ? mark : null,
        realisedPnl: this.realised[i]!,
        unrealisedPnl: u,
        exposure: pos === 0 ? 0 : Math.abs(pos * mark * this.mult[i]!),
        riskSeries: this.series[i]!,
      };
    });
    const total = this.cash + this.markValue;
    const rejects = {} as RiskGateSnapshot['rejects'];
    for (let c = 1; c < kRiskRejectReason.length; c++) rejects[kRiskRejectReason[c] as Exclude<RiskRejectReason, 'accepted'>] = this.rejects[c]!;
    let orders = 0;
    for (const c of this.rejects) orders += c;
    return {
      symbols,
      grossExposure: this.gross,
      pnl: { realised, unrealised, total, peak: this.peak, drawdown: Math.max(0, this.peak - total) },
      var: this.varOn ? { value: this.var, limit: this.varLimit, confidence: this.confidence, horizonDays: this.horizonDays } : null,
      orders,
      accepted: this.rejects[0]!,
      fills: this.fillCount,
      rejects,
      killSwitch: { on: this.killed, reason: this.killReason },
    };
  }

  /** w_i ← value: u += δ·Σ[:,i] and q = wᵀu, O(n); every kVaRRefreshUpdates updates u = Σw exactly. */
  private moveWeight(i: number, value: number): void {
    const w = this.w;
    const d = value - w[i]!;
    if (d === 0) return;
    w[i] = value;
    const n = this.n;
    const u = this.u;
    const sigma = this.sigma;
    if (++this.updates >= kVaRRefreshUpdates) {
      this.updates = 0;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += sigma[j * n + k]! * w[k]!;
        u[j] = s;
      }
    } else {
      // Σ is symmetric: column i is row i, contiguous.
      const row = i * n;
      for (let j = 0; j < n; j++) u[j] = u[j]! + d * sigma[row + j]!;
    }
    let q = 0;
    for (let j = 0; j < n; j++) q += w[j]! * u[j]!;
    this.q = q;
  }

  /** Counts a rejection and returns its code (inlined by the JIT). */
  private reject(code: number): number {
    this.rejects[code] = this.rejects[code]! + 1;
    return code;
  }

  private checkDrawdown(): void {
    const pnl = this.cash + this.markValue;
    if (pnl > this.peak) this.peak = pnl;
    else if (!this.killed && this.peak - pnl > this.maxDrawdown) {
      this.killed = true;
      this.killReason = `max-drawdown: PnL ${pnl} is ${this.peak - pnl} below its peak ${this.peak}, beyond ${this.maxDrawdown}`;
    }
  }

  private badSymbol(symbol: unknown): Error {
    return badArgument('symbol', `a symbol index, an integer in [0, ${this.n - 1}]`, symbol);
  }

  /** The error for the first bad argument of check/onFill (off the hot path). */
  private badOrder(symbol: unknown, side: unknown, price: unknown, quantity: unknown, nowNs: unknown): Error {
    if (!(typeof symbol === 'number' && Number.isInteger(symbol) && symbol >= 0 && symbol < this.n)) return this.badSymbol(symbol);
    if (side !== 0 && side !== 1) return badArgument('side', '0 (buy) or 1 (sell)', side);
    if (!(typeof price === 'number' && Number.isInteger(price) && price > 0 && price <= kMaxUnits)) {
      return badArgument('price', `a positive integer number of ticks (at most ${kMaxUnits})`, price);
    }
    if (!(typeof quantity === 'number' && Number.isInteger(quantity) && quantity > 0 && quantity <= kMaxUnits)) {
      return badArgument('quantity', `a positive integer number of lots (at most ${kMaxUnits})`, quantity);
    }
    if (typeof nowNs === 'number' && nowNs < this.lastNs) {
      return withCode(
        new RangeError(`Expected a clock that does not go back for nowNs but received ${describe(nowNs)}, before the last accepted order's ${this.lastNs}`),
        'ERR_OUT_OF_RANGE',
      );
    }
    return badArgument('nowNs', 'a finite time in ns', nowNs);
  }
}
