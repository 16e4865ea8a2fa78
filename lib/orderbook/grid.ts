/**
 * Prices as integer ticks and quantities as integer lots. A step is held as num/den (den a
 * power of ten when the step is decimal, so 0.01 is 1/100) and every conversion is the same
 * IEEE operations, in the same order, as cpp/orderbook/price.hpp: the TS and native
 * backends agree bit for bit.
 *
 * A number v is on the grid when x = v * den / num is within kGridTolerance * |x| of an
 * integer. The double nearest k * step carries a relative error of at most 2^-53, and the
 * multiply and divide add at most 2^-53 each, so |x - k| <= 1.5 * 2^-52 * |k|: a tolerance
 * of 4 * 2^-52 relative accepts every such double with room to spare, at every magnitude,
 * and refuses values off the grid by more than a few ulps (never rounded onto it).
 *
 * Units go back to values correctly rounded: units * num is exact below 2^53, so one IEEE
 * division rounds the exact quotient once; beyond that the exact decimal goes through
 * Number() (C++: std::from_chars), which also rounds correctly. Either way a value read back is the
 * double nearest its decimal, so it prints as the decimal that went in.
 */
import { beyondRange, invalidRange, invalidType } from '../errors.js';

/** Relative tolerance, in units of x, within which a number counts as on the grid: 4 * 2^-52. */
export const kGridTolerance = 2 ** -50;
/** Largest |ticks| of a price: 2^53 - 1, so ticks are exact doubles everywhere. */
export const kMaxTicks = 9007199254740991;
/** Largest lots of a quantity, a level total or a filled sum: 2^63 - 1 (int64). */
export const kMaxLots = 9223372036854775807n;
/** The largest double not above kMaxLots (2^63 - 1024). */
export const kMaxLotsDouble = 9223372036854774784;
/** Integers up to here are exact doubles and their sums below it stay exact. */
export const kSafe = 9007199254740991;

export type Decimal = number | string | bigint;

/** Where quantityLots leaves the part of a lot count a double could not hold (0 below 2^53). */
export const lotsScratch = { correction: 0 };

/** d when den = 10^d and num is a whole number below 2^53 (a decimal step), else -1 (price.hpp decimal_digits). */
export function decimalDigits(num: number, den: number): number {
  if (!(num >= 1 && num <= kSafe && num === Math.floor(num))) return -1;
  for (let d = 0, p = 1; d <= 22; d++, p *= 10) if (den === p) return d;
  return -1;
}

/** num / den of a user's step: den = 10^d for a decimal step of up to 12 decimals. */
function stepFraction(step: unknown, argument: string): [number, number] {
  if (typeof step !== 'number') throw invalidType(argument, 'a positive finite number', step);
  if (!Number.isFinite(step) || !(step > 0)) throw invalidRange(argument, 'a positive finite number', step);
  for (let d = 0, p = 1; d <= 12; d++, p *= 10) {
    const n = step * p;
    const r = Math.round(n);
    if (r >= 1 && Math.abs(n - r) <= 1e-9 * r) return [r, p];
  }
  return [step, 1];
}

/**
 * A tick or lot step, num / den: the conversions between values and units, and the range. The
 * public classes build it from the user's step; the cores from (num, den) with Grid.of, so
 * every conversion site sees one class.
 */
export class Grid {
  readonly step: number;
  readonly num: number;
  readonly den: number;
  /** d when den = 10^d and num is a whole number (a decimal step), else -1. */
  readonly digits: number;
  readonly kind: 'price' | 'quantity';
  /** The largest unit count, as a double: kMaxTicks for prices, kMaxLotsDouble for quantities. */
  readonly maxUnits: number;
  /**
   * The smallest tick count a price may have: -kMaxTicks, or 0 for an instrument without
   * negative prices (allowNegativePrices false). price.hpp Grid::min_ticks. Unused for lots.
   */
  readonly minTicks: number;

  constructor(
    step: number,
    argument: string,
    kind: 'price' | 'quantity' = 'price',
    fraction?: readonly [number, number],
    allowNegative = true,
  ) {
    const [num, den] = fraction ?? stepFraction(step, argument);
    this.step = step;
    this.num = num;
    this.den = den;
    this.digits = decimalDigits(num, den);
    this.kind = kind;
    this.maxUnits = kind === 'price' ? kMaxTicks : kMaxLotsDouble;
    this.minTicks = allowNegative ? -kMaxTicks : 0;
  }

  /** The grid of step num / den as the cores receive it. */
  static of(num: number, den: number, kind: 'price' | 'quantity', allowNegative = true): Grid {
    return new Grid(num / den, 'step', kind, [num, den], allowNegative);
  }

  /**
   * Units of the step for v (an integer-valued double, maybe beyond 2^53), or NaN when v is
   * not finite or not on the grid. The range is not checked here.
   */
  toUnits(v: number): number {
    const x = (v * this.den) / this.num;
    // Above 2^52 every double is an integer and x + 0.5 could round up.
    const r = Math.abs(x) < 4503599627370496 ? Math.floor(x + 0.5) : x;
    // Literals on the hot paths (kGridTolerance = 2^-50 here): module constants are slot loads.
    return Math.abs(x - r) <= 8.881784197001252e-16 * Math.abs(x) ? r + 0 : Number.NaN;
  }

  /** The value of `units` (an exact integer), correctly rounded. */
  toValue(units: number): number {
    const p = units * this.num;
    // NaN (an empty side's ticks) takes the plain path too; 2^53 - 1 is kSafe.
    if (!(Math.abs(p) > 9007199254740991) || this.digits < 0) return p / this.den;
    return this.wideValue(units);
  }

  /** toValue past 2^53, kept out of toValue so the hot path inlines. */
  private wideValue(units: number): number {
    return this.bigValue(BigInt(units));
  }

  /** toValue for a unit count of any size (exact decimal through Number()). */
  bigValue(units: bigint): number {
    if (this.digits < 0) return (Number(units) * this.num) / this.den;
    const p = units * BigInt(this.num);
    if (p <= BigInt(kSafe) && p >= -BigInt(kSafe)) return Number(p) / this.den;
    return Number(decimalString(p, this.digits));
  }

  /**
   * The average (in value) of `n / f` units, n and f exact integers (f > 0). While n * num and
   * f * den are exact (below 2^53) one division rounds the exact quotient once, so a whole
   * quotient (one fill, one level) comes out as its own price; past that, a whole quotient
   * goes through bigValue and any other is (n * num) / (f * den) from the correctly rounded
   * n and f. The same operations as price.hpp ratio_value.
   */
  ratioValue(n: number | bigint, f: number | bigint): number {
    if (typeof n === 'number' && typeof f === 'number') {
      if (this.digits >= 0) {
        const a = n * this.num;
        const b = f * this.den;
        if (Math.abs(a) <= 9007199254740991 && b <= 9007199254740991) return a / b;
      }
      const q = n / f;
      // q * f === n only when f divides n (n and f are exact below 2^53; % is a C call in V8).
      if (q === Math.floor(q) && q * f === n) return this.toValue(q);
      return (n * this.num) / (f * this.den);
    }
    const bn = BigInt(n);
    const bf = BigInt(f);
    if (bn % bf === 0n) return this.bigValue(bn / bf);
    return (Number(bn) * this.num) / (Number(bf) * this.den);
  }

  /** Lots (>= 0, at most 2^63 - 1) for v as units, or NaN; for the cores' batch validation. */
  toLots(v: number): number {
    const l = this.toUnits(v);
    return l >= 0 && l <= kMaxLotsDouble ? l : Number.NaN;
  }

  /** Ticks (minTicks <= ticks <= 2^53 - 1) for v, or NaN. */
  toTicks(v: number): number {
    const t = this.toUnits(v);
    return t >= this.minTicks && t <= kMaxTicks ? t : Number.NaN;
  }


  /** A human-readable value of `units` (exact decimal) for error messages. */
  describeUnits(units: bigint): string {
    if (this.digits < 0) return String(Number(units) * this.step);
    return decimalString(units * BigInt(this.num), this.digits);
  }

  /** The largest value in user units, as an exact decimal string. */
  limit(): string {
    return this.describeUnits(this.kind === 'price' ? BigInt(kMaxTicks) : kMaxLots);
  }
}

/** The exact decimal p / 10^digits as a string. */
export function decimalString(p: bigint, digits: number): string {
  const neg = p < 0n;
  let s = (neg ? -p : p).toString();
  if (digits > 0) {
    if (s.length <= digits) s = '0'.repeat(digits - s.length + 1) + s;
    s = `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`.replace(/\.?0+$/, '');
  }
  return neg ? `-${s}` : s;
}

const kDecimal = /^([+-]?)(\d+)(?:\.(\d*))?$|^([+-]?)\.(\d+)$/;

/**
 * Units for a decimal string, exactly (no double in between): a bigint, or undefined when
 * the string is not a plain decimal, or null when it is a decimal off the grid.
 */
function stringUnits(grid: Grid, s: string): bigint | undefined | null {
  const m = kDecimal.exec(s.trim());
  if (m === null) return undefined;
  const sign = m[1] ?? m[4] ?? '';
  const int = m[2] ?? '0';
  const frac = m[3] ?? m[5] ?? '';
  const value = BigInt(int + frac) * (sign === '-' ? -1n : 1n);
  if (grid.digits < 0) {
    const u = grid.toUnits(Number(s));
    return u === u ? BigInt(u) : null;
  }
  // units = value / 10^frac * den / num
  const numer = value * 10n ** BigInt(grid.digits);
  const denom = 10n ** BigInt(frac.length) * BigInt(grid.num);
  return numer % denom === 0n ? numer / denom : null;
}

/** The RangeError of a value beyond the representable range, naming the limit in user units. */
function beyond(grid: Grid, argument: string, value: unknown): RangeError {
  const price = grid.kind === 'price';
  const limit = `${price ? '±' : ''}${grid.limit()} (${price ? '2^53 - 1 ticks at tick' : '2^63 - 1 lots at lot'} size ${grid.step})`;
  return beyondRange(argument, price ? 'a price' : 'a quantity', limit, value);
}

/**
 * Exact units (a bigint) for a string or bigint argument, checked against the grid's range;
 * numbers go through the fast path in priceTicks/quantityLots.
 */
function exactUnits(grid: Grid, v: string | bigint, argument: string, what: string): bigint {
  let u: bigint | undefined | null;
  if (typeof v === 'bigint') u = v;
  else {
    u = stringUnits(grid, v);
    if (u === undefined) throw invalidType(argument, `${what} (a number, a decimal string or a bigint count of steps)`, v);
    if (u === null) throw invalidRange(argument, `${what} on the ${grid.step} ${grid.kind === 'price' ? 'tick' : 'lot'} grid`, v);
  }
  const max = grid.kind === 'price' ? BigInt(kMaxTicks) : kMaxLots;
  if (u > max || u < -max) throw beyond(grid, argument, v);
  if (grid.kind === 'price' && u < 0n && grid.minTicks === 0) throw negativePrice(argument, v);
  return u;
}

/** A price below 0 on an instrument that does not allow them, as a RangeError naming the option. */
function negativePrice(argument: string, value: unknown): RangeError {
  return invalidRange(argument, 'a price >= 0 (negative prices need allowNegativePrices: true)', value);
}


/**
 * Ticks for a price argument, or a TypeError/RangeError naming the argument. A price is a
 * number on the tick grid, a decimal string ('100.25', parsed exactly) or a bigint count of
 * ticks; |ticks| <= 2^53 - 1.
 */
export function priceTicks(grid: Grid, price: unknown, argument: string): number {
  if (typeof price === 'number') {
    const t = grid.toUnits(price);
    // As cheap as |t| <= kMaxTicks was: minTicks is -kMaxTicks or 0.
    if (t >= grid.minTicks && t <= 9007199254740991 /* kMaxTicks */) return t;
  }
  return otherPriceTicks(grid, price, argument);
}

/** priceTicks off its hot path (strings, bigints, errors), apart so the hot path inlines. */
function otherPriceTicks(grid: Grid, price: unknown, argument: string): number {
  if (typeof price === 'number') {
    const t = grid.toUnits(price);
    if (!Number.isFinite(price)) throw invalidRange(argument, 'a finite price', price);
    if (t === t && t < 0 && t >= -kMaxTicks && grid.minTicks === 0) throw negativePrice(argument, price);
    if (t === t || Math.abs(price) > kMaxTicks * grid.step) throw beyond(grid, argument, price);
    throw invalidRange(argument, `a price on the ${grid.step} tick grid`, price);
  }
  if (typeof price === 'string' || typeof price === 'bigint') return Number(exactUnits(grid, price, argument, 'a price'));
  throw invalidType(argument, 'a price (a finite number, a decimal string or a bigint count of ticks)', price);
}

/**
 * Lots for a quantity argument (>= 0, or > 0 when `positive`, on the lot grid, at most
 * 2^63 - 1 lots): a number, a decimal string (exact) or a bigint count of lots. Returns the
 * nearest double; what it could not hold is left in lotsScratch.correction (0 below 2^53).
 */
export function quantityLots(grid: Grid, qty: unknown, argument: string, positive: boolean): number {
  if (typeof qty === 'number') {
    const l = grid.toUnits(qty);
    if (l === l && l <= 9223372036854774784 /* kMaxLotsDouble */ && (positive ? l > 0 : l >= 0)) {
      lotsScratch.correction = 0;
      return l;
    }
  }
  return otherQuantityLots(grid, qty, argument, positive);
}

/** quantityLots off its hot path (strings, bigints, errors), apart so the hot path inlines. */
function otherQuantityLots(grid: Grid, qty: unknown, argument: string, positive: boolean): number {
  const what = positive ? 'a positive finite quantity' : 'a finite quantity >= 0';
  if (typeof qty === 'number') {
    const l = grid.toUnits(qty);
    if (!(qty > 0 || (!positive && qty === 0)) || qty === Infinity) throw invalidRange(argument, what, qty);
    // The double nearest the largest quantity lies above it (what snapshot(), depth() and
    // getOrder() return for a level or order at the limit): it is that quantity, not beyond.
    if (qty === grid.bigValue(kMaxLots)) {
      lotsScratch.correction = Number(kMaxLots - BigInt(kMaxLotsDouble));
      return kMaxLotsDouble;
    }
    if (l === l || qty > kMaxLotsDouble * grid.step) throw beyond(grid, argument, qty);
    throw invalidRange(argument, `${what} on the ${grid.step} lot grid`, qty);
  }
  if (typeof qty === 'string' || typeof qty === 'bigint') {
    const u = exactUnits(grid, qty, argument, what);
    if (positive ? u <= 0n : u < 0n) throw invalidRange(argument, what, qty);
    // The approximation stays a double below 2^63 so it converts to int64 as is.
    const a = Math.min(Number(u), kMaxLotsDouble);
    lotsScratch.correction = Number(u - BigInt(a));
    return a;
  }
  throw invalidType(argument, `${what} (a number, a decimal string or a bigint count of lots)`, qty);
}

/** The exact lot count of (approx, correction) as written by quantityLots. */
export function exactLots(approx: number, correction: number): bigint {
  return BigInt(approx) + BigInt(correction);
}
