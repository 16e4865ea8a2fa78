/**
 * Prices as integer ticks and quantities as integer lots. A step is held as num/den (den a
 * power of ten when the step is decimal, so 0.01 is 1/100) and every conversion is the same
 * IEEE operations, in the same order, as cpp/orderbook/price.hpp: the TS and native
 * backends agree bit for bit, and a price read back is the double nearest its decimal.
 */
import { invalidRange, invalidType } from '../errors.js';

/** How far (in steps) a value may sit from the grid and still count as on it. */
export const kGridTolerance = 1e-6;
/** 2^50: unit counts stay exact doubles with room for sums. */
export const kMaxUnits = 1125899906842624;

export class Grid {
  /** The step is num / den. */
  readonly num: number;
  readonly den: number;

  constructor(
    readonly step: number,
    argument: string,
  ) {
    if (typeof step !== 'number') throw invalidType(argument, 'a positive finite number', step);
    if (!Number.isFinite(step) || !(step > 0)) throw invalidRange(argument, 'a positive finite number', step);
    let num = step;
    let den = 1;
    for (let d = 0, p = 1; d <= 12; d++, p *= 10) {
      const n = step * p;
      const r = Math.round(n);
      if (r >= 1 && Math.abs(n - r) <= 1e-9 * r) {
        num = r;
        den = p;
        break;
      }
    }
    this.num = num;
    this.den = den;
  }

  /** Units of the step for v, or NaN when v is not a finite number on the grid within range. */
  toUnits(v: number): number {
    const x = (v * this.den) / this.num;
    const r = Math.floor(x + 0.5);
    return Math.abs(x - r) <= kGridTolerance && Math.abs(r) <= kMaxUnits ? r + 0 : Number.NaN;
  }

  toValue(units: number): number {
    return (units * this.num) / this.den;
  }
}

/** Ticks for a price argument, or a TypeError/RangeError naming the argument. */
export function priceTicks(grid: Grid, price: unknown, argument: string): number {
  if (typeof price !== 'number') throw invalidType(argument, 'a price (a finite number)', price);
  const t = grid.toUnits(price);
  if (t !== t) {
    throw invalidRange(
      argument,
      Number.isFinite(price) ? `a price on the ${grid.step} tick grid` : 'a finite price',
      price,
    );
  }
  return t;
}

/** Lots for a quantity argument (finite, >= 0 or > 0, on the lot grid). */
export function quantityLots(grid: Grid, qty: unknown, argument: string, positive: boolean): number {
  if (typeof qty !== 'number') throw invalidType(argument, 'a quantity (a finite number)', qty);
  const l = grid.toUnits(qty);
  if (l !== l || l < 0 || (positive && l === 0)) {
    const what = positive ? 'a positive finite quantity' : 'a finite quantity >= 0';
    throw invalidRange(argument, Number.isFinite(qty) && qty > 0 ? `${what} on the ${grid.step} lot grid` : what, qty);
  }
  return l;
}
