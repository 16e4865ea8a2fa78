/** A settable millisecond clock for TTL tests (lib/cache `Clock`). */
export interface FakeClock {
  (): number;
  /** Moves time forward by `ms`. */
  advance(ms: number): void;
  /** Sets the time. */
  set(ms: number): void;
}

export function fakeClock(start = 1_000_000): FakeClock {
  let t = start;
  const clock = (() => t) as FakeClock;
  clock.advance = (ms) => {
    t += ms;
  };
  clock.set = (ms) => {
    t = ms;
  };
  return clock;
}
