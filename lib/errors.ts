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

/** "Expected <what> for <argument> but received <value>", as a TypeError. */
export function invalidType(argument: string, expected: string, value: unknown): TypeError {
  return new TypeError(`Expected ${expected} for ${argument} but received ${describe(value)}`);
}

/** "Expected <what> for <argument> but received <value>", as a RangeError. */
export function invalidRange(argument: string, expected: string, value: unknown): RangeError {
  return new RangeError(`Expected ${expected} for ${argument} but received ${describe(value)}`);
}

/**
 * A value past the largest representable one, as a RangeError that names the limit:
 * "Expected <what> within the largest, <limit>, for <argument> but received <value>, which is beyond the largest".
 */
export function beyondRange(argument: string, what: string, limit: string, value: unknown): RangeError {
  return new RangeError(`Expected ${what} within the largest, ${limit}, for ${argument} but received ${describe(value)}, which is beyond the largest`);
}
