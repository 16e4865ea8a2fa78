/**
 * `defineStruct(schema)`: a fixed-layout little-endian binary struct in the manner of Simple
 * Binary Encoding, with an encoder, a decoder to a plain object and a zero-copy flyweight
 * generated from one schema (lib/net/struct-header.ts writes the C++ header for the same bytes).
 *
 * Wire layout of one frame (every integer little-endian; SBE's message header):
 *
 *     byte 0  u16 blockLength   bytes of the block that follows the header
 *     byte 2  u16 templateId    which struct (one schema id may hold many templates)
 *     byte 4  u16 schemaId      which family of templates
 *     byte 6  u16 version       the schema version the frame was written at
 *     byte 8  the block: each field at its fixed offset from byte 8
 *
 * Field types: u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 (64-bit integers are `number`s checked
 * to be safe integers, |v| <= 2^53 - 1, unless the field says `bigint: true`); `price`: an i64
 * count of ticks of 10^exponent (Nautilus `PriceRaw`), a `number`; `char`: one ASCII byte, a
 * one-character string; `ascii`: a fixed-width ASCII string padded with NUL (or spaces,
 * `pad: 'space'`), returned without its padding; `enum`: one byte indexing `values`.
 *
 * Offsets: a field without `offset` goes at the next offset aligned to its size (as a C
 * struct would); an explicit `offset` must be aligned and must not overlap. `blockLength`
 * defaults to the end of the last field rounded up to 8.
 *
 * Compatibility (SBE's rules, narrowed): a decoder reads a frame of its own template and schema
 * id whose version is at most its own. Fields are only ever added, at the end, with
 * `sinceVersion`; a frame of an older version carries a shorter block, and the fields it lacks
 * decode to their zero value (0, 0n, '' or the first enum value). A frame of a newer version
 * is refused: this decoder cannot know what the new version changed. Extra block bytes past
 * the fields this decoder knows are skipped (`blockLength` says where the frame ends).
 *
 * Errors: a bad schema → TypeError/RangeError naming `schema.fields[i].<key>`; a bad value
 * on encode → TypeError/RangeError naming `value.<field>`; bad bytes on decode →
 * `SourceFormatError('struct <name>', 'byte N', …)` with N the offset in `bytes` of the
 * header field or block field that is wrong.
 */

import { SourceFormatError, invalidRange, invalidType, invalidValue, withCode } from '../errors.js';

import type { Codec } from './codec.js';

/** Bytes of the frame header: blockLength, templateId, schemaId, version (u16 each). */
export const kStructHeaderBytes = 8;

export type StructIntType = 'u8' | 'u16' | 'u32' | 'u64' | 'i8' | 'i16' | 'i32' | 'i64';
export type StructFieldType = StructIntType | 'f32' | 'f64' | 'price' | 'char' | 'ascii' | 'enum';

/** One field of a struct schema. */
export interface StructField {
  /** camelCase identifier, letters and digits (the C++ header uses its snake_case). */
  readonly name: string;
  readonly type: StructFieldType;
  /** Byte offset within the block; default: the next offset aligned to the field's size. */
  readonly offset?: number;
  /** `ascii` only: width in bytes (1 to 4096). */
  readonly length?: number;
  /** `ascii` only: the padding byte, NUL (default, as SBE) or space (as ITCH). */
  readonly pad?: 'nul' | 'space';
  /** `price` only: the value is ticks of 10^exponent (default -8). */
  readonly exponent?: number;
  /** `u64`/`i64` only: decode to `bigint` (exact over the whole range) instead of a checked `number`. */
  readonly bigint?: boolean;
  /** `enum` only: the names of values 0, 1, … (at most 256). */
  readonly values?: readonly string[];
  /** The schema version that added this field (default 0: always present). */
  readonly sinceVersion?: number;
}

export interface StructSchema {
  /** PascalCase name: the C++ struct's name and the error messages'. */
  readonly name: string;
  /** Template id written in each frame (0 to 65535). */
  readonly templateId: number;
  /** Schema id written in each frame (0 to 65535, default 0). */
  readonly schemaId?: number;
  /** Schema version written in each frame (0 to 65535, default 0). */
  readonly version?: number;
  readonly fields: readonly StructField[];
  /** Block bytes (default: the end of the last field rounded up to 8). At most 65535. */
  readonly blockLength?: number;
}

type FieldValue<F> = F extends { type: 'ascii' | 'char' | 'enum' } ? string : F extends { bigint: true } ? bigint : number;

/** The plain object a schema's frames decode to. */
export type StructValue<S extends StructSchema> = {
  -readonly [F in S['fields'][number] as F['name']]: FieldValue<F>;
};

/** A field with every default filled in and its offset resolved. */
export interface ResolvedField {
  readonly name: string;
  readonly type: StructFieldType;
  readonly offset: number;
  /** Bytes on the wire. */
  readonly size: number;
  readonly sinceVersion: number;
  readonly bigint: boolean;
  readonly exponent: number;
  readonly pad: 'nul' | 'space';
  readonly values: readonly string[];
}

/** A schema with every default filled in. */
export interface ResolvedSchema {
  readonly name: string;
  readonly templateId: number;
  readonly schemaId: number;
  readonly version: number;
  readonly blockLength: number;
  readonly fields: readonly ResolvedField[];
}

/** A zero-copy view of one frame: a getter and a setter per field, reading and writing the buffer in place. */
export interface StructFlyweight<T> {
  /**
   * Points the view at the frame at `bytes[offset]`, after checking its header (template,
   * schema id, version) and that the whole frame lies within `bytes`. Returns the view.
   */
  wrap(bytes: Uint8Array, offset?: number): this;
  /**
   * Writes a header of this schema's version at `bytes[offset]` and points the view at it,
   * for filling the fields through the setters. Padding is zeroed; fields are not (as SBE): set every field.
   */
  wrapForEncode(bytes: Uint8Array, offset?: number): this;
  /** The version of the wrapped frame. */
  readonly frameVersion: number;
  /** Header plus block bytes of the wrapped frame. */
  readonly frameLength: number;
  /** The fields as a plain object (allocates). */
  toObject(): T;
}

/** A struct codec: the Codec<T> shape plus the schema's layout and its flyweight. */
export interface StructCodec<T> extends Codec<T> {
  readonly protocol: 'binary-struct';
  readonly schema: ResolvedSchema;
  /** Header plus block: the bytes `encode` writes. */
  readonly encodedLength: number;
  /** A new flyweight (allocate once, `wrap` per frame). */
  flyweight(): StructFlyweight<T> & T;
  /** `flyweight().wrap(bytes, offset)`: allocates the view; keep one and call `wrap` on hot paths. */
  wrap(bytes: Uint8Array, offset?: number): StructFlyweight<T> & T;
}

/** A frame header as read from bytes, unchecked. */
export interface StructFrameHeader {
  blockLength: number;
  templateId: number;
  schemaId: number;
  version: number;
}

/** Reads the 8-byte header at `bytes[offset]` (for dispatching on `templateId` among several structs). */
export function readStructHeader(bytes: Uint8Array, offset = 0): StructFrameHeader {
  checkBytesArg(bytes, 'bytes');
  checkIndexArg(offset, 'offset', bytes.byteLength);
  if (bytes.byteLength - offset < kStructHeaderBytes) {
    throw new SourceFormatError('struct header', `byte ${bytes.byteLength}`, `the frame ends ${bytes.byteLength - offset} bytes into its ${kStructHeaderBytes}-byte header`);
  }
  const u16 = (i: number): number => bytes[offset + i]! | (bytes[offset + i + 1]! << 8);
  return { blockLength: u16(0), templateId: u16(2), schemaId: u16(4), version: u16(6) };
}

// ---- Schema validation -------------------------------------------------------------------------

const kSizes: Record<Exclude<StructFieldType, 'ascii'>, number> = {
  u8: 1, u16: 2, u32: 4, u64: 8, i8: 1, i16: 2, i32: 4, i64: 8, f32: 4, f64: 8, price: 8, char: 1, enum: 1,
};
const kTypes = Object.keys(kSizes).concat('ascii') as StructFieldType[];
const kFieldKeys = new Set(['name', 'type', 'offset', 'length', 'pad', 'exponent', 'bigint', 'values', 'sinceVersion']);
const kSchemaKeys = new Set(['name', 'templateId', 'schemaId', 'version', 'fields', 'blockLength']);
/** Names the flyweight uses itself, and C++ keywords a snake_case name could become. */
const kReserved = new Set([
  'wrap', 'wrapForEncode', '_views', 'toObject', 'frameVersion', 'frameLength', 'constructor', 'toString', 'valueOf',
  'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString',
  'alignas', 'alignof', 'and', 'asm', 'auto', 'bool', 'break', 'case', 'catch', 'char', 'class', 'const', 'constexpr',
  'continue', 'decltype', 'default', 'delete', 'do', 'double', 'else', 'enum', 'explicit', 'export', 'extern', 'false',
  'float', 'for', 'friend', 'goto', 'if', 'inline', 'int', 'long', 'mutable', 'namespace', 'new', 'noexcept', 'not',
  'nullptr', 'operator', 'or', 'private', 'protected', 'public', 'register', 'return', 'short', 'signed', 'sizeof',
  'static', 'struct', 'switch', 'template', 'this', 'throw', 'true', 'try', 'typedef', 'typeid', 'typename', 'union',
  'unsigned', 'using', 'virtual', 'void', 'volatile', 'while', 'xor', 'encode', 'decode',
  // What the generated C++ header's encode/decode name unqualified: a member so named shadows it
  // (encode() stored the local `block`/`out` pointer in place of the field) or does not compile.
  'block', 'out', 'load', 'store', 'checkFrame', 'readHeader', 'writeHeader', 'firstNonAscii', 'safeInteger', 'blockLengthAt',
]);

function checkU16(value: unknown, argument: string): number {
  if (typeof value !== 'number') throw invalidType(argument, 'an integer from 0 to 65535', value);
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw invalidRange(argument, 'an integer from 0 to 65535', value);
  return value;
}

/**
 * Checks a schema and fills in its defaults: offsets, sizes, block length. Throws a TypeError
 * or RangeError naming the argument (`schema.fields[2].offset`) for anything wrong.
 *
 * @example
 * const s = resolveStructSchema({ name: 'Tick', templateId: 7, fields: [{ name: 'px', type: 'price', exponent: -4 }] });
 * s.blockLength; // 8
 */
export function resolveStructSchema(schema: StructSchema): ResolvedSchema {
  if (typeof schema !== 'object' || schema === null) throw invalidType('schema', 'an object', schema);
  for (const key of Object.keys(schema)) {
    if (!kSchemaKeys.has(key)) throw invalidValue(`schema.${key}`, `one of the keys ${[...kSchemaKeys].join(', ')}`, key);
  }
  if (typeof schema.name !== 'string' || !/^[A-Z][A-Za-z0-9]{0,63}$/.test(schema.name)) {
    throw invalidValue('schema.name', 'a PascalCase identifier of letters and digits (at most 64)', schema.name);
  }
  const templateId = checkU16(schema.templateId, 'schema.templateId');
  const schemaId = checkU16(schema.schemaId ?? 0, 'schema.schemaId');
  const version = checkU16(schema.version ?? 0, 'schema.version');
  if (!Array.isArray(schema.fields)) throw invalidType('schema.fields', 'an array of fields', schema.fields);
  if (schema.fields.length === 0 || schema.fields.length > 256) {
    throw invalidRange('schema.fields', 'from 1 to 256 fields', schema.fields);
  }
  const names = new Set<string>();
  const fields: ResolvedField[] = [];
  let end = 0;
  let lastSince = 0;
  schema.fields.forEach((f: StructField, i: number) => {
    const arg = `schema.fields[${i}]`;
    if (typeof f !== 'object' || f === null) throw invalidType(arg, 'a field object', f);
    for (const key of Object.keys(f)) {
      if (!kFieldKeys.has(key)) throw invalidValue(`${arg}.${key}`, `one of the keys ${[...kFieldKeys].join(', ')}`, key);
    }
    if (typeof f.name !== 'string' || !/^[a-z][A-Za-z0-9]{0,63}$/.test(f.name)) {
      throw invalidValue(`${arg}.name`, 'a camelCase identifier of letters and digits (at most 64)', f.name);
    }
    if (kReserved.has(f.name)) throw invalidValue(`${arg}.name`, 'a name that is not reserved by the flyweight or C++', f.name);
    if (names.has(f.name)) throw invalidValue(`${arg}.name`, 'a name not used by an earlier field', f.name);
    names.add(f.name);
    if (!kTypes.includes(f.type)) throw invalidValue(`${arg}.type`, `one of ${kTypes.join(', ')}`, f.type);
    const only = (key: keyof StructField, types: StructFieldType[]): void => {
      if (f[key] !== undefined && !types.includes(f.type)) {
        throw invalidValue(`${arg}.${key}`, `no ${key} on a field of type ${f.type} (only ${types.join(', ')})`, f[key]);
      }
    };
    only('length', ['ascii']);
    only('pad', ['ascii']);
    only('exponent', ['price']);
    only('bigint', ['u64', 'i64']);
    only('values', ['enum']);
    let size: number;
    if (f.type === 'ascii') {
      if (typeof f.length !== 'number') throw invalidType(`${arg}.length`, 'an integer from 1 to 4096', f.length);
      if (!Number.isInteger(f.length) || f.length < 1 || f.length > 4096) throw invalidRange(`${arg}.length`, 'an integer from 1 to 4096', f.length);
      size = f.length;
    } else {
      size = kSizes[f.type];
    }
    const pad = f.pad ?? 'nul';
    if (pad !== 'nul' && pad !== 'space') throw invalidValue(`${arg}.pad`, "'nul' or 'space'", f.pad);
    const exponent = f.exponent ?? -8;
    if (typeof exponent !== 'number' || !Number.isInteger(exponent) || exponent < -18 || exponent > 18) {
      throw invalidRange(`${arg}.exponent`, 'an integer from -18 to 18', f.exponent);
    }
    if (f.bigint !== undefined && typeof f.bigint !== 'boolean') throw invalidType(`${arg}.bigint`, 'a boolean', f.bigint);
    let values: readonly string[] = [];
    if (f.type === 'enum') {
      if (!Array.isArray(f.values)) throw invalidType(`${arg}.values`, 'an array of names', f.values);
      if (f.values.length < 1 || f.values.length > 256) throw invalidRange(`${arg}.values`, 'from 1 to 256 names', f.values);
      // The C++ header's enumerators are k + the value with its first letter upper-cased: 'x' and 'X' would clash.
      const seen = new Set<string>();
      f.values.forEach((v, j) => {
        if (typeof v !== 'string' || !/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(v)) {
          throw invalidValue(`${arg}.values[${j}]`, 'an identifier of letters and digits', v);
        }
        const key = v[0]!.toUpperCase() + v.slice(1);
        if (seen.has(key)) throw invalidValue(`${arg}.values[${j}]`, 'a name not used by an earlier value (nor one differing only in its first letter\'s case)', v);
        seen.add(key);
      });
      // The enum's C++ type is the field's name with its first letter upper-cased: not the struct's own name.
      const cppType = f.name[0]!.toUpperCase() + f.name.slice(1);
      if (cppType === schema.name || cppType === 'FrameStatus' || cppType === 'FrameHeader') {
        throw invalidValue(`${arg}.name`, `an enum field name that, capitalised (the C++ enum type), is neither the schema's name, ${schema.name}, nor FrameStatus or FrameHeader`, f.name);
      }
      values = [...f.values];
    }
    const sinceVersion = f.sinceVersion === undefined ? 0 : checkU16(f.sinceVersion, `${arg}.sinceVersion`);
    if (sinceVersion > version) throw invalidRange(`${arg}.sinceVersion`, `a version at most the schema's, ${version}`, sinceVersion);
    if (sinceVersion < lastSince) {
      throw invalidRange(`${arg}.sinceVersion`, `at least the previous field's, ${lastSince} (fields are only added at the end)`, sinceVersion);
    }
    lastSince = sinceVersion;
    const align = f.type === 'ascii' ? 1 : size;
    let offset: number;
    if (f.offset === undefined) {
      offset = Math.ceil(end / align) * align;
    } else {
      if (typeof f.offset !== 'number') throw invalidType(`${arg}.offset`, 'an integer byte offset', f.offset);
      if (!Number.isInteger(f.offset) || f.offset < 0 || f.offset > 0xffff) throw invalidRange(`${arg}.offset`, 'an integer from 0 to 65535', f.offset);
      if (f.offset < end) {
        throw invalidRange(`${arg}.offset`, `an offset at or after ${end}, the end of field ${JSON.stringify(fields[i - 1]!.name)} (fields may not overlap and go in offset order)`, f.offset);
      }
      if (f.offset % align !== 0) throw invalidRange(`${arg}.offset`, `a multiple of ${align}, the alignment of a ${f.type} field`, f.offset);
      offset = f.offset;
    }
    end = offset + size;
    fields.push({ name: f.name, type: f.type, offset, size, sinceVersion, bigint: f.bigint === true, exponent, pad, values });
  });
  const natural = Math.ceil(end / 8) * 8;
  let blockLength = natural;
  if (schema.blockLength !== undefined) {
    blockLength = checkU16(schema.blockLength, 'schema.blockLength');
    if (blockLength < end) throw invalidRange('schema.blockLength', `at least ${end}, the end of the last field`, blockLength);
  }
  if (blockLength > 0xffff) throw invalidRange('schema.fields', 'fields that end within 65535 bytes', end);
  return { name: schema.name, templateId, schemaId, version, blockLength, fields };
}

/** The bytes a frame of `version` must carry in its block: the end of the fields present at that version. */
export function blockLengthAt(schema: ResolvedSchema, version: number): number {
  let end = 0;
  for (const f of schema.fields) if (f.sinceVersion <= version) end = Math.max(end, f.offset + f.size);
  return end;
}

// ---- Argument checks shared with the codecs --------------------------------------------------

/** Throws unless `bytes` is a Uint8Array (a Buffer is one). */
export function checkBytesArg(bytes: unknown, argument: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw invalidType(argument, 'a Uint8Array', bytes);
}

/** Throws unless `index` is an integer in [0, max]. */
export function checkIndexArg(index: unknown, argument: string, max: number): asserts index is number {
  if (typeof index !== 'number') throw invalidType(argument, `an integer from 0 to ${max}`, index);
  if (!Number.isInteger(index) || index < 0 || index > max) throw invalidRange(argument, `an integer from 0 to ${max}`, index);
}

/** The error for an `out` buffer too small: code ERR_BUFFER_OUT_OF_BOUNDS, with `bytesNeeded`. */
export function outTooSmall(bytesNeeded: number, available: number): RangeError & { code: string; bytesNeeded: number } {
  const e = withCode(
    new RangeError(`Expected an out buffer with ${bytesNeeded} bytes free at offset but received one with ${available}`),
    'ERR_BUFFER_OUT_OF_BOUNDS',
  ) as RangeError & { code: string; bytesNeeded: number };
  e.bytesNeeded = bytesNeeded;
  return e;
}

// ---- Code generation ------------------------------------------------------------------------------

const kRanges: Record<string, [number, number]> = {
  u8: [0, 0xff], u16: [0, 0xffff], i8: [-0x80, 0x7f], i16: [-0x8000, 0x7fff],
};

/** JS source that checks `v` for field i and writes it at block address `p` (dv, u8 in scope). */
function writeSource(f: ResolvedField, i: number): string {
  const at = `p + ${f.offset}`;
  const bad = `bad(${i}, v)`;
  switch (f.type) {
    case 'u8': case 'u16': case 'i8': case 'i16': {
      const [lo, hi] = kRanges[f.type]!;
      const set = { u8: 'setUint8', u16: 'setUint16', i8: 'setInt8', i16: 'setInt16' }[f.type];
      return `if ((v | 0) !== v || v < ${lo} || v > ${hi}) ${bad}; dv.${set}(${at}, v, true);`;
    }
    case 'u32': return `if ((v >>> 0) !== v) ${bad}; dv.setUint32(${at}, v, true);`;
    case 'i32': return `if ((v | 0) !== v) ${bad}; dv.setInt32(${at}, v, true);`;
    case 'f32': return `if (typeof v !== 'number') ${bad}; dv.setFloat32(${at}, v, true);`;
    case 'f64': return `if (typeof v !== 'number') ${bad}; dv.setFloat64(${at}, v, true);`;
    case 'u64': case 'i64': case 'price': {
      if (f.bigint) {
        const range = f.type === 'u64' ? 'v < 0n || v > 18446744073709551615n' : 'v < -9223372036854775808n || v > 9223372036854775807n';
        return `if (typeof v !== 'bigint' || ${range}) ${bad}; dv.${f.type === 'u64' ? 'setBigUint64' : 'setBigInt64'}(${at}, v, true);`;
      }
      const range = f.type === 'u64' ? '!Number.isSafeInteger(v) || v < 0' : '!Number.isSafeInteger(v)';
      return (
        `if (${range}) ${bad}; ` +
        `{ const hi = Math.floor(v / 4294967296); dv.setUint32(${at}, v - hi * 4294967296, true); dv.setInt32(${at} + 4, hi, true); }`
      );
    }
    case 'char':
      return `if (typeof v !== 'string' || v.length !== 1 || v.charCodeAt(0) > 127) ${bad}; u8[${at}] = v.charCodeAt(0);`;
    case 'enum':
      return `{ const e = enums[${i}].get(v); if (e === undefined) ${bad}; u8[${at}] = e; }`;
    case 'ascii': {
      const pad = f.pad === 'space' ? 32 : 0;
      return (
        `if (typeof v !== 'string' || v.length > ${f.size} || (v.length > 0 && v.charCodeAt(v.length - 1) === ${pad})) ${bad}; ` +
        `{ let j = 0; for (; j < v.length; j++) { const c = v.charCodeAt(j); if (c > 127) ${bad}; u8[${at} + j] = c; } ` +
        `for (; j < ${f.size}; j++) u8[${at} + j] = ${pad}; }`
      );
    }
  }
}

/** JS source of an expression reading field i at block address `p` (dv, u8 in scope); `at` the frame byte for errors. */
function readSource(f: ResolvedField, i: number): string {
  const at = `p + ${f.offset}`;
  switch (f.type) {
    case 'u8': return `dv.getUint8(${at})`;
    case 'u16': return `dv.getUint16(${at}, true)`;
    case 'u32': return `dv.getUint32(${at}, true)`;
    case 'i8': return `dv.getInt8(${at})`;
    case 'i16': return `dv.getInt16(${at}, true)`;
    case 'i32': return `dv.getInt32(${at}, true)`;
    case 'f32': return `dv.getFloat32(${at}, true)`;
    case 'f64': return `dv.getFloat64(${at}, true)`;
    case 'u64': case 'i64': case 'price':
      if (f.bigint) return `dv.${f.type === 'u64' ? 'getBigUint64' : 'getBigInt64'}(${at}, true)`;
      return `int64(dv, ${at}, ${f.type === 'u64' ? 'true' : 'false'}, ${i})`;
    case 'char': return `ascii(u8, ${at}, 1, -1, ${i})`;
    case 'ascii': return `ascii(u8, ${at}, ${f.size}, ${f.pad === 'space' ? 32 : 0}, ${i})`;
    case 'enum': return `enumAt(u8, ${at}, ${i})`;
  }
}

function zeroSource(f: ResolvedField): string {
  if (f.type === 'ascii' || f.type === 'char') return "''";
  if (f.type === 'enum') return JSON.stringify(f.values[0]);
  return f.bigint ? '0n' : '0';
}

/** Header checks shared by decode and wrap: template, schema id, version, block length. */
function checkHeaderSource(name: string, s: ResolvedSchema): string {
  return `
    if (avail < ${kStructHeaderBytes}) fail(base + avail, 'the frame ends ' + avail + ' bytes into its ${kStructHeaderBytes}-byte header');
    const blockLength = dv.getUint16(start, true);
    const templateId = dv.getUint16(start + 2, true);
    const schemaId = dv.getUint16(start + 4, true);
    const version = dv.getUint16(start + 6, true);
    if (templateId !== ${s.templateId}) fail(base + 2, 'unknown template id ' + templateId + ': this decoder reads template ${s.templateId} (${name})');
    if (schemaId !== ${s.schemaId}) fail(base + 4, 'schema id ' + schemaId + ' is not this decoder\\'s, ${s.schemaId} (${name})');
    if (version > ${s.version}) fail(base + 6, 'schema version ' + version + ' is newer than this decoder\\'s, ${s.version}: a newer version cannot be read by an older decoder');
    const need = needAt[version];
    if (blockLength < need) fail(base, 'block length ' + blockLength + ' is shorter than the ' + need + ' bytes of the fields of version ' + version);
  `;
}

interface Generated {
  encode: (value: unknown, out?: Uint8Array, offset?: number) => number;
  decode: (bytes: Uint8Array, offset?: number, length?: number) => Record<string, unknown>;
  View: new () => object;
}

function generate(s: ResolvedSchema, scratch: Uint8Array): Generated {
  const name = `struct ${s.name}`;
  const total = kStructHeaderBytes + s.blockLength;
  const enums = s.fields.map((f) => new Map(f.values.map((v, j) => [v, j])));
  const needAt = Array.from({ length: s.version + 1 }, (_, v) => blockLengthAt(s, v));
  const fail = (byte: number, message: string): never => {
    throw new SourceFormatError(name, `byte ${byte}`, message);
  };
  const bad = (i: number, v: unknown): never => {
    const f = s.fields[i]!;
    const arg = `value.${f.name}`;
    switch (f.type) {
      case 'f32': case 'f64': throw invalidType(arg, 'a number', v);
      case 'char': throw invalidValue(arg, 'a one-character ASCII string', v);
      case 'enum': throw invalidValue(arg, `one of ${f.values.map((x) => JSON.stringify(x)).join(', ')}`, v);
      case 'ascii': {
        const what = `an ASCII string of at most ${f.size} characters not ending in ${f.pad === 'space' ? 'a space' : 'NUL'} (the padding)`;
        throw typeof v === 'string' ? invalidRange(arg, what, v) : invalidType(arg, what, v);
      }
      default: {
        const what = f.bigint
          ? `a bigint within ${f.type}`
          : f.type === 'u64' ? 'a safe integer from 0 to 2^53 - 1'
          : f.type === 'i64' || f.type === 'price' ? 'a safe integer, |v| <= 2^53 - 1'
          : `an integer within ${f.type}`;
        throw typeof v === (f.bigint ? 'bigint' : 'number') ? invalidRange(arg, what, v) : invalidType(arg, what, v);
      }
    }
  };
  // Runtime helpers the generated code calls; `base` maps an absolute address back to an offset in the caller's bytes.
  const rt = {
    fail, bad, enums, needAt,
    int64(dv: DataView, p: number, unsigned: boolean, i: number): number {
      const hi = unsigned ? dv.getUint32(p + 4, true) : dv.getInt32(p + 4, true);
      const v = hi * 4294967296 + dv.getUint32(p, true);
      if (!Number.isSafeInteger(v)) {
        fail(rt.base + p - rt.start, `field ${s.fields[i]!.name} holds a value beyond 2^53 - 1, which a number cannot hold exactly (declare it bigint: true)`);
      }
      return v;
    },
    ascii(u8: Uint8Array, p: number, width: number, pad: number, i: number): string {
      let n = width;
      if (pad >= 0) while (n > 0 && u8[p + n - 1] === pad) n--;
      let out = '';
      for (let j = 0; j < n; j++) {
        const c = u8[p + j]!;
        if (c > 127) fail(rt.base + p + j - rt.start, `field ${s.fields[i]!.name} holds byte ${c}, which is not ASCII`);
        out += String.fromCharCode(c);
      }
      return out;
    },
    enumAt(u8: Uint8Array, p: number, i: number): string {
      const values = s.fields[i]!.values;
      const v = values[u8[p]!];
      if (v === undefined) fail(rt.base + p - rt.start, `field ${s.fields[i]!.name} holds ${u8[p]}, past its ${values.length} enum values`);
      return v!;
    },
    base: 0,
    start: 0,
  };
  const prelude = 'const { fail, bad, enums, needAt, int64, ascii, enumAt } = rt;';
  const optional = (f: ResolvedField): boolean => f.sinceVersion > 0 && needAt.some((_, v) => v < f.sinceVersion);

  // Padding between fields and after the last is zeroed, so equal values give equal bytes (as the C++ encode does).
  const gaps: [number, number][] = [];
  let end = 0;
  for (const f of s.fields) {
    if (f.offset > end) gaps.push([end, f.offset]);
    end = f.offset + f.size;
  }
  if (s.blockLength > end) gaps.push([end, s.blockLength]);
  const zeroGaps = gaps
    .map(([a, b]) => (b - a <= 8 ? Array.from({ length: b - a }, (_, k) => `u8[p + ${a + k}] = 0;`).join(' ') : `u8.fill(0, p + ${a}, p + ${b});`))
    .join(' ');
  const encodeBody = s.fields.map((f, i) => `{ const v = value.${f.name}; ${writeSource(f, i)} }`).join('\n      ');
  const readFields = s.fields
    .map((f, i) => (optional(f) ? `${f.name}: version >= ${f.sinceVersion} ? ${readSource(f, i)} : ${zeroSource(f)}` : `${f.name}: ${readSource(f, i)}`))
    .join(',\n        ');
  const accessors = s.fields
    .map((f, i) => {
      const read = readSource(f, i);
      const get = optional(f)
        ? `get ${f.name}() { const dv = this._dv, u8 = this._u8, p = this._p; rt.base = this._base; rt.start = p - 8; return this._v >= ${f.sinceVersion} ? ${read} : ${zeroSource(f)}; }`
        : `get ${f.name}() { const dv = this._dv, u8 = this._u8, p = this._p; ${f.type === 'u64' || f.type === 'i64' || f.type === 'price' || f.type === 'ascii' || f.type === 'char' || f.type === 'enum' ? 'rt.base = this._base; rt.start = p - 8; ' : ''}return ${read}; }`;
      const set = `set ${f.name}(v) { const dv = this._dv, u8 = this._u8, p = this._p; if (this._v < ${f.sinceVersion}) fail(this._base + ${kStructHeaderBytes + f.offset}, 'field ${f.name} is absent from a frame of version ' + this._v); ${writeSource(f, i)} }`;
      return `${get}\n      ${set}`;
    })
    .join('\n      ');
  const source = `
    ${prelude}
    // Views over the last Uint8Array seen, compared by identity: reading .buffer and
    // .byteOffset per call costs more than the whole encode.
    let last = null, dv = null, u8 = null;
    function views(bytes) {
      if (!(bytes instanceof Uint8Array)) rt.badArg('bytes', bytes);
      // A detached buffer reads as 0 bytes (a DataView over it would throw an uncoded TypeError).
      last = bytes; dv = bytes.byteLength === 0 ? emptyView : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength); u8 = bytes; lastLen = bytes.byteLength;
    }
    let lastLen = 0;
    const emptyView = new DataView(new ArrayBuffer(0));
    const scratch = rt.scratch;
    function encode(value, out, offset) {
      if (value === null || typeof value !== 'object') rt.badValue(value);
      if (out === undefined) { out = scratch; offset = 0; }
      else if (offset === undefined) offset = 0;
      // The length too: a view of a resizable buffer keeps its identity while it grows, shrinks or is detached.
      if (out !== last || out.length !== lastLen) { if (!(out instanceof Uint8Array)) rt.badArg('out', out); views(out); }
      if ((offset >>> 0) !== offset || offset > lastLen - ${total}) rt.badOffset(offset, out, ${total});
      const start = offset, p = start + ${kStructHeaderBytes};
      dv.setUint32(start, ${s.blockLength} | (${s.templateId} << 16), true);
      dv.setUint32(start + 4, ${s.schemaId} | (${s.version} << 16), true);
      ${zeroGaps}
      ${encodeBody}
      return ${total};
    }
    function decode(bytes, offset, length) {
      if (bytes !== last || bytes.length !== lastLen) views(bytes);
      if (offset === undefined) offset = 0;
      else if ((offset >>> 0) !== offset || offset > lastLen) rt.checkOffset(offset, bytes);
      if (length === undefined) length = lastLen - offset;
      else if ((length >>> 0) !== length || length > lastLen - offset) rt.checkLength(length, bytes.byteLength - offset);
      const start = offset, base = offset, avail = length, p = start + ${kStructHeaderBytes};
      ${checkHeaderSource(name, s)}
      if (length !== ${kStructHeaderBytes} + blockLength) {
        fail(base + Math.min(length, ${kStructHeaderBytes} + blockLength), length < ${kStructHeaderBytes} + blockLength
          ? 'the frame ends after ' + length + ' bytes but its header says ' + (${kStructHeaderBytes} + blockLength)
          : (length - ${kStructHeaderBytes} - blockLength) + ' bytes follow the ' + (${kStructHeaderBytes} + blockLength) + '-byte frame');
      }
      rt.base = base; rt.start = start;
      return {
        ${readFields}
      };
    }
    const emptyDv = new DataView(new ArrayBuffer(${total}));
    const emptyU8 = new Uint8Array(emptyDv.buffer);
    class ${s.name}View {
      constructor() { this._dv = emptyDv; this._u8 = emptyU8; this._n = ${total}; this._p = ${kStructHeaderBytes}; this._base = 0; this._v = ${s.version}; this._len = ${total}; }
      wrap(bytes, offset) {
        if (bytes !== this._u8 || bytes.length !== this._n) this._views(bytes);
        if (offset === undefined) offset = 0;
        else if ((offset >>> 0) !== offset || offset > this._n) rt.checkOffset(offset, bytes);
        const dv = this._dv, start = offset, base = offset, avail = this._n - offset;
        ${checkHeaderSource(name, s)}
        if (avail < ${kStructHeaderBytes} + blockLength) fail(base + avail, 'the frame ends after ' + avail + ' bytes but its header says ' + (${kStructHeaderBytes} + blockLength));
        this._p = start + ${kStructHeaderBytes}; this._base = offset; this._v = version; this._len = ${kStructHeaderBytes} + blockLength;
        return this;
      }
      _views(bytes) {
        if (!(bytes instanceof Uint8Array)) rt.badArg('bytes', bytes);
        this._dv = bytes.byteLength === 0 ? emptyView : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength); this._u8 = bytes; this._n = bytes.byteLength;
      }
      wrapForEncode(bytes, offset) {
        if (bytes !== this._u8 || bytes.length !== this._n) this._views(bytes);
        if (offset === undefined) offset = 0;
        if ((offset >>> 0) !== offset || offset > this._n - ${total}) rt.badOffset(offset, bytes, ${total});
        const start = offset;
        this._dv.setUint32(start, ${s.blockLength} | (${s.templateId} << 16), true);
        this._dv.setUint32(start + 4, ${s.schemaId} | (${s.version} << 16), true);
        this._p = start + ${kStructHeaderBytes}; this._base = offset; this._v = ${s.version}; this._len = ${total};
        { const u8 = this._u8, p = this._p; ${zeroGaps} }
        return this;
      }
      get frameVersion() { return this._v; }
      get frameLength() { return this._len; }
      toObject() { return { ${s.fields.map((f) => `${f.name}: this.${f.name}`).join(', ')} }; }
      ${accessors}
    }
    return { encode, decode, View: ${s.name}View };
  `;
  Object.assign(rt, {
    scratch,
    badArg: (argument: string, v: unknown): never => {
      throw invalidType(argument, 'a Uint8Array', v);
    },
    badValue: (v: unknown): never => {
      throw invalidType('value', `an object with the fields of ${s.name}`, v);
    },
    checkOffset: (offset: unknown, bytes: Uint8Array): void => checkIndexArg(offset, 'offset', bytes.byteLength),
    checkLength: (length: unknown, max: number): void => checkIndexArg(length, 'length', max),
    badOffset: (offset: unknown, out: Uint8Array, need: number): never => {
      checkIndexArg(offset, 'offset', out.byteLength);
      throw outTooSmall(need, out.byteLength - (offset as number));
    },
    outTooSmall,
  });
  return new Function("rt", source)(rt) as Generated;
}

/**
 * Defines a fixed-layout binary struct: an encoder, a decoder to a plain object and a flyweight,
 * generated once from the schema. See the module comment for the wire layout and the rules.
 *
 * @example
 * const Quote = defineStruct({
 *   name: 'Quote', templateId: 1, schemaId: 1, version: 0,
 *   fields: [
 *     { name: 'timestamp', type: 'u64' },
 *     { name: 'bidPrice', type: 'price', exponent: -4 },
 *     { name: 'bidSize', type: 'u32' },
 *   ],
 * } as const);
 * const n = Quote.encode({ timestamp: 1, bidPrice: 1_234_500, bidSize: 100 });  // into Quote.scratch
 * Quote.decode(Quote.scratch, 0, n).bidPrice;    // 1234500
 * Quote.wrap(Quote.scratch).bidSize;             // 100, read in place
 */
export function defineStruct<const S extends StructSchema>(schema: S): StructCodec<StructValue<S>> {
  const s = resolveStructSchema(schema);
  const total = kStructHeaderBytes + s.blockLength;
  const scratch = new Uint8Array(total);
  const g = generate(s, scratch);
  type T = StructValue<S>;
  const codec: StructCodec<T> = {
    protocol: 'binary-struct',
    name: `struct ${s.name}`,
    schema: s,
    encodedLength: total,
    scratch,
    // The generated functions check their own arguments (cheaply, by identity of the last buffer).
    encode: g.encode as StructCodec<T>['encode'],
    decode: g.decode as StructCodec<T>['decode'],
    encodeToBytes(value: T): Uint8Array {
      const out = new Uint8Array(total);
      codec.encode(value, out, 0);
      return out;
    },
    flyweight(): StructFlyweight<T> & T {
      return new g.View() as StructFlyweight<T> & T;
    },
    wrap(bytes: Uint8Array, offset?: number): StructFlyweight<T> & T {
      return codec.flyweight().wrap(bytes, offset);
    },
  };
  return codec;
}
