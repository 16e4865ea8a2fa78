/** Errors thrown by ultra-performance carry a stable string `code`. */
export class UltraPerfError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The operation does not exist on this platform or backend (for example affinity on macOS). */
export class UnsupportedError extends UltraPerfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ULTRA_PERF_UNSUPPORTED', message, options);
  }
}

/** A backend was demanded (`ULTRA_PERF_BACKEND=native`, `backend: 'cuda'`) but cannot be used. */
export class BackendUnavailableError extends UltraPerfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ULTRA_PERF_BACKEND_UNAVAILABLE', message, options);
  }
}

/** The GPU failed during work (out of memory, a launch error): the message names the CUDA call, its error and file:line. */
export class GpuError extends UltraPerfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ULTRA_PERF_GPU', message, options);
  }
}

/**
 * A market-data file that cannot be read as its format says: truncated, another format, an
 * unknown message type, a sequence number out of order. `where` names the place a person can
 * open: `line N` for text files (1-based), `byte N` for binary ones (0-based offset).
 * Code ERR_ULTRA_PERF_SOURCE_FORMAT.
 */
export class SourceFormatError extends UltraPerfError {
  readonly file: string;
  readonly where: string;
  constructor(file: string, where: string, message: string, options?: { cause?: unknown }) {
    super('ERR_ULTRA_PERF_SOURCE_FORMAT', `${file}, ${where}: ${message}`, options);
    this.file = file;
    this.where = where;
  }
}

/** Formats a received value for an error message: short, unambiguous, never throws. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) {
    const shown = value.slice(0, 8).map((v) => describe(v)).join(', ');
    return `[${shown}${value.length > 8 ? `, ... ${value.length - 8} more` : ''}]`;
  }
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as { length?: number }).length ?? value.byteLength})`;
  return `an object of type ${(value as object).constructor?.name ?? 'Object'}`;
}

/** A TypeError or RangeError that carries a Node-style `code`, as Node's own argument errors do. */
export type CodedError<E extends Error = Error> = E & { readonly code: string };

/** Gives a built-in error a `code` property without changing its class or message. */
export function withCode<E extends Error>(error: E, code: string): CodedError<E> {
  Object.defineProperty(error, 'code', { value: code, enumerable: false, writable: true, configurable: true });
  return error as CodedError<E>;
}

/** "Expected <what> for <argument> but received <value>", as a TypeError with code ERR_INVALID_ARG_TYPE. */
export function invalidType(argument: string, expected: string, value: unknown): CodedError<TypeError> {
  return withCode(new TypeError(`Expected ${expected} for ${argument} but received ${describe(value)}`), 'ERR_INVALID_ARG_TYPE');
}

/**
 * "Expected <what> for <argument> but received <value>", as a TypeError with code
 * ERR_INVALID_ARG_VALUE: the value has the right type but is not one of the accepted ones
 * (a backend name, an enum member).
 */
export function invalidValue(argument: string, expected: string, value: unknown): CodedError<TypeError> {
  return withCode(new TypeError(`Expected ${expected} for ${argument} but received ${describe(value)}`), 'ERR_INVALID_ARG_VALUE');
}

/** "Expected <what> for <argument> but received <value>", as a RangeError with code ERR_OUT_OF_RANGE. */
export function invalidRange(argument: string, expected: string, value: unknown): CodedError<RangeError> {
  return withCode(new RangeError(`Expected ${expected} for ${argument} but received ${describe(value)}`), 'ERR_OUT_OF_RANGE');
}

/**
 * A value past the largest representable one, as a RangeError (code ERR_OUT_OF_RANGE) that names the limit:
 * "Expected <what> within the largest, <limit>, for <argument> but received <value>, which is beyond the largest".
 */
export function beyondRange(argument: string, what: string, limit: string, value: unknown): CodedError<RangeError> {
  return withCode(
    new RangeError(`Expected ${what} within the largest, ${limit}, for ${argument} but received ${describe(value)}, which is beyond the largest`),
    'ERR_OUT_OF_RANGE',
  );
}
