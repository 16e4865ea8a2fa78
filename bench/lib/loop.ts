/**
 * Timing loops compiled once per task. Each loop is made with `new Function` from a source
 * text that differs per loop (V8 caches `new Function` by source, and identical text would
 * hand back the same function), so it has its own SharedFunctionInfo and its own type
 * feedback: the call to `op` stays monomorphic and is inlined. One shared loop would see
 * every task's `op`, go megamorphic after four, and add a ~4 ns call to everything after.
 */

let compiled = 0;

/** A source-unique tag for a compiled function. */
export function uniqueTag(): string {
  compiled++;
  return `${compiled}_${process.pid}_${Date.now()}`;
}

/** Mutable loop state: `k` is the iteration count, `sink` keeps the last result alive. */
export interface LoopState {
  k: number;
  sink: unknown;
}

/** A loop that calls `op` state.k times and keeps the last result in state.sink. */
export type Loop = () => void;

export function compileLoop(op: () => unknown, state: LoopState): Loop {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function(
    'op',
    'state',
    `return function loop_${uniqueTag()}() { let r; for (let i = 0, k = state.k; i < k; i++) r = op(); state.sink = r; };`,
  ) as (op: () => unknown, state: LoopState) => Loop;
  return factory(op, state);
}
