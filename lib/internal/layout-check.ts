/**
 * Layouts agree by check, not by hand. A shared layout (a queue header, an allocator
 * header, an order-book view) is written twice: a TS table in lib/<capability>/layout.ts
 * and C++ constants the addon exports under the same names. The loader (lib/backend.ts)
 * compares every pair here once, at import, and refuses an addon that disagrees, since
 * it would read and write the same bytes at other offsets; test/layout.test.ts asserts
 * the same tables agree.
 */

/** A 32-bit word as 0x-prefixed 8-digit hex, for a shared buffer's magic in errors. */
export function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/** Every offset, size and constant of one layout, by name ("tailOffset", "slab.head"). */
export type LayoutTable = Readonly<Record<string, number>>;

/** One layout the CPU addon must agree on: the TS table and how to read the addon's. */
export interface LayoutCheck<Addon> {
  /** Names the layout in errors: 'queue', 'memory', 'orderbook'. */
  readonly name: string;
  readonly ts: LayoutTable;
  readonly native: (addon: Addon) => unknown;
}

/** How many differences one error lists before it says "and N more". */
const kListed = 5;

/**
 * Entries of `table` under `prefix.` names: how a layout with sub-tables (memory's slab,
 * buddy, ...; the order book's top and view) flattens into one LayoutTable.
 * @example
 * prefixed('top', { bidPrice: 0 }) // [['top.bidPrice', 0]]
 */
export function prefixed(prefix: string, table: Readonly<Record<string, number>>): [string, number][] {
  return Object.entries(table).map(([key, value]) => [`${prefix}.${key}`, value]);
}

/**
 * The keys on which `ts` and `native` differ, one sentence each, sorted by key; empty when
 * they hold the same keys with the same values.
 */
export function layoutDifferences(ts: LayoutTable, native: unknown): string[] {
  if (typeof native !== 'object' || native === null) {
    return [`the addon exports no table (received ${native === null ? 'null' : typeof native})`];
  }
  const theirs = native as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ts), ...Object.keys(theirs)])].sort();
  const differences: string[] = [];
  for (const key of keys) {
    const here = Object.hasOwn(ts, key);
    const there = Object.hasOwn(theirs, key);
    if (!there) differences.push(`${key} is ${ts[key]} here but missing from the addon`);
    else if (!here) differences.push(`${key} is ${String(theirs[key])} in the addon but unknown here`);
    else if (ts[key] !== theirs[key]) differences.push(`${key} is ${String(theirs[key])} in the addon but ${ts[key]} here`);
  }
  return differences;
}

/**
 * Why `addon` cannot be used with this build of the library, or undefined when every
 * layout agrees. Reading a table may throw (an addon without the export): that counts as
 * a mismatch too.
 */
export function addonLayoutError<Addon>(addon: Addon, checks: readonly LayoutCheck<Addon>[]): string | undefined {
  const problems: string[] = [];
  for (const { name, ts, native } of checks) {
    let table: unknown;
    try {
      table = native(addon);
    } catch (err) {
      table = undefined;
      problems.push(`${name}: reading its table threw ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    const differences = layoutDifferences(ts, table);
    if (differences.length === 0) continue;
    const more = differences.length > kListed ? `, and ${differences.length - kListed} more` : '';
    problems.push(`${name}: ${differences.slice(0, kListed).join('; ')}${more}`);
  }
  if (problems.length === 0) return undefined;
  return (
    `the CPU addon's shared-memory layouts differ from this build of the library (${problems.join(' | ')}); ` +
    'it was built from other sources: rebuild it with "npm run build:native"'
  );
}
