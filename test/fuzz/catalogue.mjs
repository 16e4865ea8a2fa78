// Guarded buffers and the catalogue of bad arguments.
//
// Every TypedArray the harness passes lies inside a larger buffer whose bytes around the
// view are a known pattern (the canaries); after each call `checkGuards()` reports any
// canary byte that changed: a write outside the view the function was given.
import { createHash } from 'node:crypto';

export const kGuardBytes = 64;
const kCanary = 0xa5;

/**
 * A deterministic stream of numbers in [0, 1) from a seed (SHA-256 in counter mode, eight
 * numbers a block), so a run is repeatable from the seed it prints.
 */
export function rng(seed) {
  let counter = 0;
  let block = [];
  return () => {
    if (block.length === 0) {
      const h = createHash('sha256').update(`${seed >>> 0}:${counter++}`).digest();
      for (let i = 0; i < 32; i += 4) block.push(h.readUInt32LE(i) / 4294967296);
    }
    return block.pop();
  };
}

export const kTypedCtors = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
];

/** Guarded allocations of one call, checked together. */
export class Arena {
  constructor() {
    this.regions = [];
  }

  /**
   * A `Ctor` of `length` elements, guarded on both sides. opts: shared (a
   * SharedArrayBuffer), offset (extra bytes before the view: odd offsets), resizable
   * (a resizable ArrayBuffer; `tracking` makes the view length-tracking).
   */
  make(Ctor, length, opts = {}) {
    const bpe = Ctor.BYTES_PER_ELEMENT;
    const start = kGuardBytes + (opts.offset ?? 0);
    const bytes = length * bpe;
    const total = start + bytes + kGuardBytes;
    let buffer;
    if (opts.shared) buffer = new SharedArrayBuffer(total);
    else if (opts.resizable) buffer = new ArrayBuffer(total, { maxByteLength: total });
    else buffer = new ArrayBuffer(total);
    new Uint8Array(buffer).fill(kCanary);
    const view = opts.tracking ? new Ctor(buffer, start) : new Ctor(buffer, start, length);
    new Uint8Array(buffer, start, bytes).fill(0);
    // A resizable buffer is shrunk by its case: its canaries go with the bytes it loses.
    if (!opts.resizable) this.regions.push({ buffer, start, end: start + bytes });
    return view;
  }

  /** A guarded copy of `src` (a TypedArray) with the same options as make(). */
  copy(src, opts = {}) {
    const v = this.make(src.constructor, src.length, opts);
    if (src.length > 0) v.set(src);
    return v;
  }

  /** Every canary byte that changed, as "N bytes before/after the view". */
  checkGuards() {
    const bad = [];
    for (const r of this.regions) {
      if (r.buffer.byteLength === 0) continue; // detached by the case itself
      const u8 = new Uint8Array(r.buffer);
      let before = 0;
      let after = 0;
      for (let i = 0; i < r.start; i++) if (u8[i] !== kCanary) before++;
      for (let i = r.end; i < u8.length; i++) if (u8[i] !== kCanary) after++;
      if (before || after) bad.push(`${before} canary bytes changed before and ${after} after a view of ${r.end - r.start} bytes`);
    }
    return bad;
  }
}

/** Detaches the buffer under `view` (a transfer), as a caller handing it elsewhere would. */
export function detach(view) {
  structuredClone(view.buffer, { transfer: [view.buffer] });
}

const kNumbers = {
  'NaN': NaN,
  'Infinity': Infinity,
  '-Infinity': -Infinity,
  '-0': -0,
  '-1': -1,
  '0.5': 0.5,
  '2^31': 2 ** 31,
  '2^31-1': 2 ** 31 - 1,
  '-2^31-1': -(2 ** 31) - 1,
  '2^32': 2 ** 32,
  '2^32-1': 2 ** 32 - 1,
  '2^53': 2 ** 53,
  '2^62': 2 ** 62,
  '1e300': 1e300,
  '-1e300': -1e300,
};
const kWrongScalars = {
  missing: undefined,
  null: null,
  'string': 'x',
  'numeric string': '1',
  'object': {},
  'true': true,
  'bigint': 10n,
  'symbol': Symbol('s'),
};

/** The names of the bad values for a parameter of declared `type` (a TS type's text). */
export function badNames(type) {
  const t = type.replace(/\s/g, '');
  const nullable = /\|null/.test(t);
  const base = t.replace(/\|null/, '');
  const names = [];
  if (base === 'api:Array') {
    return ['detached', 'shrunk fixed view', 'shrunk tracking view', 'shared', 'odd offset', 'foreign view', 'empty', 'one short'];
  }
  if (base === 'number' || /^\d+(\|\d+)*$/.test(base)) {
    names.push(...Object.keys(kWrongScalars).filter((n) => n !== 'true'), ...Object.keys(kNumbers));
  } else if (base === 'boolean') {
    names.push('missing', 'null', 'string', 'object', 'bigint', 'symbol', '0', 'NaN');
  } else if (/=>/.test(base)) {
    names.push('missing', 'null', 'string', 'object', 'number', 'throwing function');
  } else if (/Array$/.test(base)) {
    names.push(
      'missing', 'null', 'number', 'string', 'object', 'plain array', 'DataView', 'ArrayBuffer',
      ...kTypedCtors.filter((c) => c.name !== base).flatMap((c) => [`${c.name}(1)`, `${c.name}(same bytes)`]),
      'empty', 'one short', 'detached', 'shrunk fixed view', 'shrunk tracking view', 'shared', 'odd offset',
      'foreign handle', 'foreign view',
    );
    if (nullable) names.splice(names.indexOf('null'), 1);
  } else {
    names.push('missing', 'null', 'string');
  }
  return names;
}

/**
 * The bad value `name` for a parameter whose valid value is `valid`, allocated in
 * `arena`; `foreign` gives another function's handle and another structure's bytes.
 */
export function badValue(name, valid, arena, foreign) {
  if (name in kWrongScalars) return kWrongScalars[name];
  if (name in kNumbers) return kNumbers[name];
  if (name === '0') return 0;
  if (name === 'number') return 7;
  if (name === 'throwing function') return () => { throw new Error('fuzz: thrown from a callback'); };
  const isTyped = ArrayBuffer.isView(valid) && !(valid instanceof DataView);
  const Ctor = isTyped ? valid.constructor : Float64Array;
  const len = isTyped ? valid.length : 8;
  switch (name) {
    case 'plain array': return Array.from({ length: len }, () => 0);
    case 'DataView': return new DataView(arena.make(Uint8Array, len * Ctor.BYTES_PER_ELEMENT).buffer);
    case 'ArrayBuffer': return new ArrayBuffer(len * Ctor.BYTES_PER_ELEMENT);
    case 'empty': return arena.make(Ctor, 0);
    case 'one short': return isTyped ? arena.copy(valid.subarray(0, Math.max(0, len - 1))) : arena.make(Ctor, 0);
    case 'detached': {
      const v = isTyped ? arena.copy(valid) : arena.make(Ctor, len);
      detach(v);
      return v;
    }
    case 'shrunk fixed view':
    case 'shrunk tracking view': {
      const v = arena.make(Ctor, len, { resizable: true, tracking: name === 'shrunk tracking view' });
      if (isTyped && len > 0) v.set(valid);
      // Keep the first half (its header, for a structure): what it claims outlives it.
      v.buffer.resize(v.byteOffset + Math.floor(len / 2) * Ctor.BYTES_PER_ELEMENT);
      return v;
    }
    case 'shared': return isTyped ? arena.copy(valid, { shared: true }) : arena.make(Ctor, len, { shared: true });
    case 'odd offset': {
      const off = Ctor.BYTES_PER_ELEMENT === 1 ? 1 : Ctor.BYTES_PER_ELEMENT;
      return isTyped ? arena.copy(valid, { offset: off }) : arena.make(Ctor, len, { offset: off });
    }
    case 'foreign handle': return foreign.handle();
    case 'foreign view': return foreign.view(Ctor, len);
    default: break;
  }
  const m = /^(\w+)\((1|same bytes)\)$/.exec(name);
  if (m) {
    const Other = kTypedCtors.find((c) => c.name === m[1]);
    const bytes = len * Ctor.BYTES_PER_ELEMENT;
    const n = m[2] === '1' ? 1 : Math.max(1, Math.floor(bytes / Other.BYTES_PER_ELEMENT));
    const v = arena.make(Other, n);
    if (isTyped && m[2] !== '1' && bytes === n * Other.BYTES_PER_ELEMENT) {
      new Uint8Array(v.buffer, v.byteOffset, bytes).set(new Uint8Array(valid.buffer, valid.byteOffset, bytes));
    }
    return v;
  }
  throw new Error(`fuzz: no bad value named ${name}`);
}

const kCxxText = /std::|bad_alloc|vector|max_size|A number was expected|status -?\d|^Invalid argument$|basic_string|terminate/;

/** Whether a thrown value is a clear error: an Error with a string `code` and no C++ text. */
export function unclearReason(err) {
  if (!(err instanceof Error)) return `threw a non-Error: ${String(err)}`;
  if (typeof err.code !== 'string' || err.code === '') return `no code: ${err.constructor.name}: ${err.message}`;
  if (kCxxText.test(err.message)) return `C++ text leaks: ${err.message}`;
  return null;
}
