/**
 * Single flight (Go's golang.org/x/sync/singleflight, `Group.Do`): concurrent calls for one key
 * share the promise of the first; the key is free again once that promise settles.
 */

/**
 * One in-flight promise per key.
 * @example
 * const flights = new SingleFlight<string, number>();
 * const [a, b] = await Promise.all([flights.run('k', load), flights.run('k', load)]); // load ran once
 * flights.joins; // 1
 */
export class SingleFlight<K, T> {
  private readonly flights_ = new Map<K, Promise<T>>();
  /** Calls that found a flight already running and shared it. */
  joins = 0;

  /** The running flight for `key`, or a new one from `start()`. `start` is called at most once per flight. */
  run(key: K, start: () => Promise<T>): Promise<T> {
    const running = this.flights_.get(key);
    if (running !== undefined) {
      this.joins++;
      return running;
    }
    const flight = start().finally(() => {
      if (this.flights_.get(key) === flight) this.flights_.delete(key);
    });
    this.flights_.set(key, flight);
    return flight;
  }

  /** True while a flight for `key` runs. */
  has(key: K): boolean {
    return this.flights_.has(key);
  }

  /** Flights running now. */
  get size(): number {
    return this.flights_.size;
  }

  /** Settles when every flight running now has settled (rejections ignored). */
  async idle(): Promise<void> {
    while (this.flights_.size > 0) await Promise.allSettled([...this.flights_.values()]);
  }
}
