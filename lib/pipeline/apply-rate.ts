/**
 * How fast an `MboBook` applies a source's whole event stream: the "reconstruction rate" of
 * the pipeline report and of `measureLobster`. One timing loop for both, so the two figures
 * are measured the same way.
 */
import type { OrderBookBackend } from '../orderbook/reads.js';
import { MboBook } from '../orderbook/mbo.js';
import { kEventStride, type MarketDataSource } from './events.js';

/** What `timeApply` measured. */
export interface ApplyTiming {
  /** The core that ran (the requested one, or the default choice when none was asked). */
  backend: 'ts' | 'native';
  /** Events the source's records decoded to (one `apply` call over all of them per run). */
  events: number;
  /** Wall time of each timed run's `apply`, milliseconds (a first, untimed run warms up). */
  runsMs: number[];
}

/**
 * Decodes every record of `source` once, then `runs` + 1 times builds a fresh book, applies the
 * source's initial state untimed and the whole stream in one timed `apply` call; the first run
 * is a warm-up and is dropped. `afterRun(r)` is called after each run (r = 0 is the warm-up).
 * @throws whatever `MboBook` throws for the source's tick/lot sizes or a refused event.
 */
export function timeApply(
  source: MarketDataSource,
  options: { backend?: OrderBookBackend; runs: number; afterRun?: (run: number) => void },
): ApplyTiming {
  const events = new Float64Array(Math.max(1, source.length * source.maxEventsPerRecord) * kEventStride);
  let n = 0;
  for (let i = 0; i < source.length; i++) n += source.decode(i, events, n);
  const init = source.initial();
  const runsMs: number[] = [];
  let backend: 'ts' | 'native' = 'ts';
  for (let r = 0; r <= options.runs; r++) {
    const book = new MboBook({
      symbol: source.symbol,
      tickSize: source.tickSize,
      lotSize: source.lotSize,
      expectedOrders: 1 << 16,
      ...(options.backend !== undefined ? { backend: options.backend } : {}),
    });
    backend = book.backend;
    book.apply(init, init.length / kEventStride, 0);
    const t0 = performance.now();
    book.apply(events, n, 0);
    const ms = performance.now() - t0;
    if (r > 0) runsMs.push(ms);
    options.afterRun?.(r);
  }
  return { backend, events: n, runsMs };
}
