// One thread of test/cache-l2-threads.test.ts: reads and writes the same 16 keys as its peers
// for durationMs, every value carrying its key, its writer, a sequence number that is also
// the entry's version, random filler of random length and an FNV-1a checksum of all that.
// Raw bytes (rawCodec), so a torn or mixed read cannot hide behind a decode error.
import { parentPort, workerData } from 'node:worker_threads';

import { fnv1a } from '../../lib/cache/l2-layout.js';
import { SharedCache } from '../../lib/cache/l2.js';
import { rawCodec } from '../../lib/net/codec.js';

interface Data {
  buffer: SharedArrayBuffer;
  id: number;
  backend: 'ts' | 'native';
  durationMs: number;
  keys: number;
}

const { buffer, id, backend, durationMs, keys } = workerData as Data;
const cache = SharedCache.attach<Uint8Array>(buffer, { codec: rawCodec(), backend });
let x = (id + 1) * 0x9e3779b1;
const rand = (): number => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
};

const out = { id, backend, reads: 0, hits: 0, sets: 0, deletes: 0, bad: 0, firstBad: '' };
const value = new Uint8Array(200);
const dv = new DataView(value.buffer);
const end = performance.now() + durationMs;
let seq = 0;
while (performance.now() < end) {
  for (let i = 0; i < 256; i++) {
    const k = rand() % keys;
    const key = `shared:${k}`;
    const r = rand() % 100;
    if (r < 25) {
      // [key u32][writer u32][seq u32][len u32][filler...][checksum u32]
      const len = 16 + (rand() % 160);
      seq++;
      dv.setUint32(0, k, true);
      dv.setUint32(4, id, true);
      dv.setUint32(8, seq, true);
      dv.setUint32(12, len, true);
      for (let j = 16; j < len; j++) value[j] = rand() & 0xff;
      dv.setUint32(len, fnv1a(value, len), true);
      cache.setEntry(key, { value: value.subarray(0, len + 4), expiresAt: 1e15 + seq, staleUntil: 2e15 + seq, version: seq });
      out.sets++;
    } else if (r < 28) {
      cache.delete(key);
      out.deletes++;
    } else {
      out.reads++;
      const e = cache.getEntry(key);
      if (e === undefined) continue;
      out.hits++;
      const v = e.value!;
      const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
      const len = v.byteLength >= 20 ? view.getUint32(12, true) : -1;
      const ok =
        len + 4 === v.byteLength &&
        view.getUint32(len, true) === fnv1a(v, len) >>> 0 &&
        view.getUint32(0, true) === k &&
        e.version === view.getUint32(8, true) &&
        e.expiresAt === 1e15 + e.version &&
        e.staleUntil === 2e15 + e.version;
      if (!ok) {
        out.bad++;
        if (out.firstBad === '') out.firstBad = `key ${k}: ${v.byteLength} bytes, version ${e.version}, expiresAt ${e.expiresAt}`;
      }
    }
  }
}
parentPort!.postMessage(out);
