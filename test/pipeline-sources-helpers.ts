// Shared by the source and decoder suites (itch, pipeline-sources-itch, binance).
import { SourceFormatError } from '../lib/errors.js';

/** Runs `fn`, which must throw, and returns what it threw (typed as the sources' error, for its fields). */
export function catchError(fn: () => unknown): SourceFormatError {
  try {
    fn();
  } catch (error) {
    return error as SourceFormatError;
  }
  throw new Error('expected a throw');
}
