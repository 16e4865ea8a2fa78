/**
 * The errors a monitor's start/stop pairing gets: starting one that runs, stopping one that
 * does not. Each names the monitor and, where there is one, the session in the way.
 */
import { UltraPerfError } from '../errors.js';

/** `what` is already running (code ERR_ULTRA_PERF_ALREADY_RUNNING); `hint` says what to do. */
export function alreadyRunning(what: string, hint: string): UltraPerfError {
  return new UltraPerfError('ERR_ULTRA_PERF_ALREADY_RUNNING', `${what} is already running; ${hint}`);
}

/** `what` was asked to stop or report while not running (code ERR_ULTRA_PERF_NOT_RUNNING). */
export function notRunning(what: string, hint: string): UltraPerfError {
  return new UltraPerfError('ERR_ULTRA_PERF_NOT_RUNNING', `${what} is not running; ${hint}`);
}
