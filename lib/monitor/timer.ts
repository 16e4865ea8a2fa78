/**
 * MicrosecondTimer: a stopwatch over process.hrtime.bigint() (see clock.ts for why not
 * performance.now()) whose own cost is measured once and subtracted.
 */
import { UltraPerfError, invalidRange, invalidType } from '../errors.js';
import { kHi, kLo, kTwoPow32 } from './clock.js';

const kDefaultPairs = 5_000;
/**
 * Calibration keeps sampling rounds for at least this long, so that TurboFan (which compiles
 * on a background thread) has optimised start()/stopNs() before the last rounds.
 */
const kCalibrationMs = 25;
const kMinRounds = 3;
const kMaxRounds = 200;
/** NaN until calibrated; 0 while calibrating, so the probe timer does not recurse. */
let overheadNs = NaN;

/** Elapsed ns of an empty start()/stopNs() pair as the timer itself sees it, before any subtraction. */
function rawPairNs(timer: MicrosecondTimer): number {
  timer.start();
  timer.stopNs();
  return timer.rawElapsedNs();
}

/**
 * The smallest round median: the median makes each round robust to interrupts and
 * preemption, and the minimum over rounds picks the optimised code's cost rather than the
 * interpreter's or baseline compiler's from the first rounds.
 */
function calibrateOverhead(pairs: number): number {
  overheadNs = 0;
  const probe = new MicrosecondTimer();
  const samples = new Float64Array(pairs);
  const started = performance.now();
  let best = Infinity;
  for (let round = 0; round < kMaxRounds; round++) {
    for (let i = 0; i < pairs; i++) samples[i] = rawPairNs(probe);
    samples.sort();
    best = Math.min(best, samples[pairs >> 1]!);
    if (round + 1 >= kMinRounds && performance.now() - started >= kCalibrationMs) break;
  }
  return best;
}

/** The calibrated overhead in ns (calibrating on first call); for this folder's own timing code. */
export function timerOverheadNs(): number {
  if (Number.isNaN(overheadNs)) overheadNs = calibrateOverhead(kDefaultPairs);
  return overheadNs;
}

/**
 * A start/stop stopwatch with nanosecond resolution. The cost of an empty start()/stop()
 * pair is calibrated once, at the first construction or the first read of `overheadNs`,
 * and subtracted from every reading; readings never go below 0, so an interval shorter than
 * the overhead reads 0. Calibration samples rounds of 5,000 empty pairs for ~25 ms and keeps
 * the smallest round median (the cost once the JIT has optimised the timer), so do it at
 * startup, not on a hot path. In code the JIT has not optimised, a pair costs more than
 * that and readings come out slightly high rather than low.
 *
 * start() and stopNs() allocate nothing (once optimised, as with any JS). stop() returns
 * fractional microseconds, and V8 boxes a fractional number (16 bytes) when it returns from
 * a call it did not inline; where that matters, use stopNs(), whose whole-ns result is a
 * small integer (never boxed) up to ~1.07 s.
 *
 * @example
 * import { MicrosecondTimer } from 'ultra-performance';
 * const timer = new MicrosecondTimer();
 * timer.start();
 * book.updateBid(100.25, 10);
 * const us = timer.stop(); // elapsed microseconds, timer overhead removed
 */
export class MicrosecondTimer {
  /** Two 64-bit clock readings, [start, stop], seen as four 32-bit words. */
  private readonly words_ = new Uint32Array(4);
  private readonly ticks_ = new BigUint64Array(this.words_.buffer);
  private running_ = false;
  private started_ = false;

  constructor() {
    if (Number.isNaN(overheadNs)) overheadNs = calibrateOverhead(kDefaultPairs);
  }

  /**
   * The calibrated cost of an empty start()/stop() pair in ns (calibrating now if no
   * timer has been made yet).
   * @example
   * console.log(`timer overhead: ${MicrosecondTimer.overheadNs} ns`);
   */
  static get overheadNs(): number {
    return timerOverheadNs();
  }

  /**
   * Measures the overhead again (for example once the process is pinned to its core and
   * warm) and returns it in ns. Takes ~25 ms, or longer with large rounds.
   * @param pairs - start/stop pairs per round, an integer from 100 to 10,000,000 (default 5,000)
   * @example
   * const ns = MicrosecondTimer.calibrate(100_000);
   */
  static calibrate(pairs: number = kDefaultPairs): number {
    if (typeof pairs !== 'number') throw invalidType('pairs', 'an integer from 100 to 10000000', pairs);
    if (!Number.isInteger(pairs) || pairs < 100 || pairs > 10_000_000) {
      throw invalidRange('pairs', 'an integer from 100 to 10000000', pairs);
    }
    overheadNs = calibrateOverhead(pairs);
    return overheadNs;
  }

  /**
   * Starts (or restarts) the stopwatch.
   * @example
   * timer.start();
   */
  start(): void {
    this.running_ = true;
    this.started_ = true;
    this.ticks_[0] = process.hrtime.bigint();
  }

  /**
   * Stops the stopwatch and returns the elapsed time in µs, overhead subtracted, >= 0.
   * When already stopped, returns the same reading again.
   * @throws UltraPerfError (code `ERR_ULTRA_PERF_TIMER_NOT_STARTED`) before the first start():
   *   there is no interval to report, and a 0 would hide the missing start().
   * @example
   * timer.start();
   * work();
   * const us = timer.stop();
   */
  stop(): number {
    return this.stopNs() / 1000;
  }

  /**
   * Stops the stopwatch and returns the elapsed time in whole ns, overhead subtracted, >= 0.
   * Allocation-free in every case that matters (see the class notes). When already
   * stopped, returns the same reading again.
   * @throws UltraPerfError (code `ERR_ULTRA_PERF_TIMER_NOT_STARTED`) before the first start().
   * @example
   * timer.start();
   * work();
   * histogram.record(timer.stopNs());
   */
  stopNs(): number {
    if (this.running_) {
      this.ticks_[1] = process.hrtime.bigint();
      this.running_ = false;
    } else if (!this.started_) {
      throw new UltraPerfError('ERR_ULTRA_PERF_TIMER_NOT_STARTED', 'MicrosecondTimer.stop() was called before start()');
    }
    return this.elapsedNs();
  }

  /**
   * Elapsed whole ns, overhead subtracted, >= 0: up to stop() once stopped, up to now while
   * running, 0 before the first start().
   * @example
   * timer.start();
   * work();
   * const soFar = timer.elapsedNs();
   */
  elapsedNs(): number {
    const ns = this.rawElapsedNs() - overheadNs;
    return ns > 0 ? ns : 0;
  }

  /**
   * Elapsed ns as the clock read it, with no overhead subtracted (what calibration and the
   * floor benchmark look at); 0 before the first start().
   * @example
   * timer.start();
   * timer.stop();
   * const raw = timer.rawElapsedNs(); // >= timer.elapsedNs()
   */
  rawElapsedNs(): number {
    if (!this.started_) return 0;
    if (this.running_) this.ticks_[1] = process.hrtime.bigint();
    const w = this.words_;
    return (w[2 + kHi]! - w[kHi]!) * kTwoPow32 + (w[2 + kLo]! - w[kLo]!);
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.running_;
  }
}
