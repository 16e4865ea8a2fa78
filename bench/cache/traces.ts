/**
 * Readers for the cache access traces in bench/data/cache-traces (copies of the traces
 * Caffeine's simulator bundles; each folder has a PROVENANCE.md). Every reader returns the
 * requests as dense ids (0 = the first distinct key seen), so a policy simulation can build one
 * string key per distinct id and Bélády's optimum can index arrays by id.
 *
 * Formats (as Caffeine's trace readers parse them):
 * - `lirs`: text, one decimal integer key per line, trimmed; `*` lines and empty lines skipped.
 * - `cache2k`: headerless big-endian int32 keys; a partial trailing record is an error.
 * - `corda`, `scarab`: headerless big-endian int64 keys.
 * - `arc`: text lines `start count ignore request`, expanded to keys start … start+count-1.
 * Files ending in `.gz` are gunzipped first.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { SourceFormatError } from '../../lib/errors.js';

export type TraceFormat = 'lirs' | 'cache2k' | 'corda' | 'scarab' | 'arc';

/** A trace as dense ids. */
export interface Trace {
  name: string;
  /** Request i asks for key `ids[i]` (0 ≤ id < distinct). */
  ids: Int32Array;
  /** Number of distinct keys (the footprint). */
  distinct: number;
  /** True when `maxRequests` cut the file short. */
  capped: boolean;
}

function load(file: string): Buffer {
  const raw = readFileSync(file);
  return file.endsWith('.gz') ? gunzipSync(raw) : raw;
}

/** Maps keys to dense ids in first-seen order. */
class Densifier<K> {
  readonly map = new Map<K, number>();
  id(key: K): number {
    let id = this.map.get(key);
    if (id === undefined) {
      id = this.map.size;
      this.map.set(key, id);
    }
    return id;
  }
}

function finish(name: string, ids: number[] | Int32Array, n: number, distinct: number, capped: boolean): Trace {
  const out = ids instanceof Int32Array ? ids.subarray(0, n) : Int32Array.from(ids.slice(0, n));
  return { name, ids: out, distinct, capped };
}

/** LIRS text trace. Throws `SourceFormatError(file, 'line N', ...)` for a line that is not an integer. */
export function readLirsTrace(file: string, maxRequests = Infinity, name = basename(file)): Trace {
  const text = load(file).toString('latin1');
  const d = new Densifier<string>();
  const ids: number[] = [];
  let line = 0;
  let start = 0;
  while (start < text.length && ids.length < maxRequests) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line++;
    const s = text.slice(start, end).trim();
    start = end + 1;
    if (s === '' || s === '*') continue;
    if (!/^-?\d+$/.test(s)) throw new SourceFormatError(file, `line ${line}`, `expected an integer key, got ${JSON.stringify(s.slice(0, 40))}`);
    ids.push(d.id(s.replace(/^(-?)0+(?=\d)/, '$1')));
  }
  return finish(name, ids, ids.length, d.map.size, start < text.length && text.slice(start).trim() !== '');
}

/** Headerless big-endian keys of `width` bytes (4: cache2k int32, 8: corda/scarab int64). */
function readBinaryTrace(file: string, width: 4 | 8, maxRequests: number, name: string): Trace {
  const buf = load(file);
  const rest = buf.length % width;
  if (rest !== 0) throw new SourceFormatError(file, `byte ${buf.length - rest}`, `partial trailing record: ${rest} of ${width} bytes`);
  const total = buf.length / width;
  const n = Math.min(total, maxRequests);
  const d = new Densifier<number | bigint>();
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = d.id(width === 4 ? buf.readInt32BE(i * 4) : buf.readBigInt64BE(i * 8));
  return finish(name, ids, n, d.map.size, n < total);
}

/** cache2k trace: big-endian int32 keys. */
export function readInt32BeTrace(file: string, maxRequests = Infinity, name = basename(file)): Trace {
  return readBinaryTrace(file, 4, maxRequests, name);
}

/** corda / scarab trace: big-endian int64 keys. */
export function readInt64BeTrace(file: string, maxRequests = Infinity, name = basename(file)): Trace {
  return readBinaryTrace(file, 8, maxRequests, name);
}

/** ARC trace (`start count ignore request` per line), each line expanded to `count` consecutive keys. */
export function readArcTrace(file: string, maxRequests = Infinity, name = basename(file)): Trace {
  const text = load(file).toString('latin1');
  const d = new Densifier<number>();
  const ids: number[] = [];
  let line = 0;
  let start = 0;
  let capped = false;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line++;
    const s = text.slice(start, end).trim();
    start = end + 1;
    if (s === '') continue;
    const f = s.split(/\s+/);
    const first = Number(f[0]);
    const count = Number(f[1]);
    if (f.length < 2 || !Number.isSafeInteger(first) || !Number.isSafeInteger(count) || count < 0) {
      throw new SourceFormatError(file, `line ${line}`, `expected "start count ignore request", got ${JSON.stringify(s.slice(0, 60))}`);
    }
    for (let k = 0; k < count; k++) {
      if (ids.length >= maxRequests) {
        capped = true;
        break;
      }
      ids.push(d.id(first + k));
    }
    if (capped) break;
  }
  return finish(name, ids, ids.length, d.map.size, capped);
}

/** Reads `file` in `format`. */
export function readTrace(format: TraceFormat, file: string, maxRequests = Infinity, name = basename(file)): Trace {
  switch (format) {
    case 'lirs':
      return readLirsTrace(file, maxRequests, name);
    case 'cache2k':
      return readInt32BeTrace(file, maxRequests, name);
    case 'corda':
    case 'scarab':
      return readInt64BeTrace(file, maxRequests, name);
    case 'arc':
      return readArcTrace(file, maxRequests, name);
  }
}

/** Concatenates traces (the phase-change trace); ids of each part are offset so parts share no keys unless `sharedKeys`. */
export function concatTraces(name: string, parts: readonly Trace[]): Trace {
  const n = parts.reduce((a, p) => a + p.ids.length, 0);
  const ids = new Int32Array(n);
  // A trace repeated in the list keeps its ids (its second phase finds its keys' history again).
  const base = new Map<Trace, number>();
  let distinct = 0;
  let at = 0;
  for (const p of parts) {
    let off = base.get(p);
    if (off === undefined) {
      off = distinct;
      base.set(p, off);
      distinct += p.distinct;
    }
    for (let i = 0; i < p.ids.length; i++) ids[at + i] = p.ids[i]! + off;
    at += p.ids.length;
  }
  return { name, ids, distinct, capped: parts.some((p) => p.capped) };
}
