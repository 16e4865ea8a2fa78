/**
 * The decoder fuzzer (issue 14 item 3): every `*.target.ts` in this folder exports
 * `targets: DecoderTarget[]`; each target gets `--count` inputs (default 10^6) built from its
 * seeds by a seeded PRNG:
 * - every truncation of every seed (lengths 0..n), then, at random:
 * - random bytes of random length; truncations at a random length;
 * - byte and bit flips; length/count-field corruption (a 1/2/4/8-byte big- or little-endian
 *   field at any offset set to 0, its maximum, off by one, doubled or a small value);
 * - concatenations (seed + seed, seed + noise), splices (a range deleted, duplicated or
 *   inserted), and stacks of two or three of the above.
 * Each call must return or throw an error the target's `isCleanError` accepts; a message that
 * names `byte N` must name an offset inside the input. Anything else is a finding, printed
 * with the seed, the input index and the mutation, and a command that replays it.
 *
 * What is checked beyond the outcome:
 * - Hangs: a call slower than `--slow-ms` (100) is timed again alone, up to three times, and
 *   is a finding if it is slow every time; each target runs in a child process the parent
 *   kills when it reports no progress for `--stall-s` (30) seconds, or when the whole run
 *   passes `--time-limit-s`.
 *   A crash or a hang is then narrowed to the one input by replaying that stretch.
 * - Allocation: in the child, the TypedArray, ArrayBuffer, SharedArrayBuffer, Buffer.alloc*
 *   and `new Array(n)` constructors are wrapped to record the bytes each call asks for; a call
 *   that asks for more than max(64 KiB, 64 x the input length) in one allocation is a finding
 *   (what an allocation sized by an unchecked length field looks like). Not seen: growth of
 *   arrays by push, strings, and C++ heap allocations inside native decoders (the ones here
 *   allocate none). As a backstop, rss and arrayBuffers are sampled every `--progress`
 *   inputs and a growth above `--max-growth-mb` (256) fails the target.
 * - Over-reads: each input is copied to the end of its ArrayBuffer, so a native read past the
 *   view leaves the allocation (visible under AddressSanitizer, and as garbage otherwise).
 *
 *   npx tsx test/fuzz/decoders/run.ts [--count N] [--seed N] [--only REGEX] [--jobs N]
 *       [--slow-ms N] [--stall-s N] [--time-limit-s N] [--max-growth-mb N]
 *   npx tsx test/fuzz/decoders/run.ts --only 'itch-batch native' --seed N --from I --count 1 --verbose
 *   ULTRA_PERF_DECODER_FUZZ_COUNT / ULTRA_PERF_DECODER_FUZZ_SEED: defaults for --count / --seed.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type { DecoderTarget } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);

interface Options {
  count: number;
  seed: number;
  only: RegExp | null;
  jobs: number;
  slowMs: number;
  stallS: number;
  timeLimitS: number;
  maxGrowthMb: number;
  progress: number;
  from: number;
  verbose: boolean;
  child: { file: string; index: number } | null;
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    count: Number(process.env.ULTRA_PERF_DECODER_FUZZ_COUNT ?? 1_000_000),
    seed: Number(process.env.ULTRA_PERF_DECODER_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31)),
    only: null,
    jobs: Math.max(1, Math.min(2, cpus().length)),
    slowMs: 100,
    stallS: 30,
    timeLimitS: 900,
    maxGrowthMb: 256,
    progress: 20_000,
    from: 0,
    verbose: false,
    child: null,
  };
  const num = (k: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new RangeError(`decoder fuzz: expected a non-negative number for ${k} but received ${String(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[i + 1];
    switch (k) {
      case '--count': o.count = Math.floor(num(k, v)); i++; break;
      case '--seed': o.seed = Math.floor(num(k, v)); i++; break;
      case '--only': o.only = new RegExp(v ?? ''); i++; break;
      case '--jobs': o.jobs = Math.max(1, Math.floor(num(k, v))); i++; break;
      case '--slow-ms': o.slowMs = num(k, v); i++; break;
      case '--stall-s': o.stallS = num(k, v); i++; break;
      case '--time-limit-s': o.timeLimitS = num(k, v); i++; break;
      case '--max-growth-mb': o.maxGrowthMb = num(k, v); i++; break;
      case '--progress': o.progress = Math.max(1, Math.floor(num(k, v))); i++; break;
      case '--from': o.from = Math.floor(num(k, v)); i++; break;
      case '--verbose': o.verbose = true; break;
      case '--child': o.child = { file: v!, index: Number(argv[i + 2]) }; i += 2; break;
      default: throw new TypeError(`decoder fuzz: unknown option ${k}`);
    }
  }
  if (!Number.isFinite(o.seed)) throw new RangeError('decoder fuzz: --seed must be a number');
  o.seed >>>= 0;
  return o;
}

// ---- Inputs ----------------------------------------------------------------------------

/** 32-bit string hash (FNV-1a), to give each target its own stream for the same seed. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32, reseeded per input so input i is reproducible from (seed, target, i) alone. */
class Rng {
  private s = 0;
  reset(seed: number): void {
    this.s = seed >>> 0;
  }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
}

/** Longest input built; longer ones are cut (the decoders' behaviour past this adds nothing). */
const kMaxInput = 1 << 16;

/**
 * Builds input i of a target into a work buffer, then copies it to the end of an output
 * buffer: the view handed to the decoder ends where its ArrayBuffer ends.
 */
class InputMaker {
  private readonly rng = new Rng();
  private readonly work = new Uint8Array(kMaxInput * 2);
  private readonly tmp = new Uint8Array(kMaxInput * 2);
  private readonly out = new Uint8Array(kMaxInput);
  private len = 0;
  private readonly truncations: number;
  private readonly maxSeed: number;
  /** Mutations applied to the current input, when describing. */
  steps: string[] | null = null;

  constructor(
    private readonly seeds: Uint8Array[],
    private readonly streamSeed: number,
  ) {
    this.truncations = seeds.reduce((s, x) => s + Math.min(x.length, kMaxInput) + 1, 0);
    this.maxSeed = Math.max(16, ...seeds.map((s) => Math.min(s.length, kMaxInput)));
  }

  private note(s: string): void {
    this.steps?.push(s);
  }

  private loadSeed(k: number): void {
    const s = this.seeds[k]!;
    this.len = Math.min(s.length, kMaxInput);
    this.work.set(s.subarray(0, this.len));
    this.note(`seed ${k} (${s.length} bytes)`);
  }

  private randomLength(): number {
    const r = this.rng.below(4);
    if (r === 0) return this.rng.below(8);
    if (r === 1) return this.rng.below(64);
    return this.rng.below(Math.min(kMaxInput, this.maxSeed * 2) + 1);
  }

  private randomBytes(at: number, n: number): void {
    for (let i = 0; i < n; i++) this.work[at + i] = this.rng.u32() & 0xff;
  }

  private mutate(kind: number): void {
    const rng = this.rng;
    const len = this.len;
    switch (kind) {
      case 0: {
        // byte flips: 1-8 bytes set to random values or edge values
        const n = 1 + rng.below(8);
        for (let j = 0; j < n && len > 0; j++) {
          const at = rng.below(len);
          const v = rng.below(4) === 0 ? [0, 0xff, 0x7f, 0x80][rng.below(4)]! : rng.u32() & 0xff;
          this.work[at] = v;
          this.note(`byte ${at} = 0x${v.toString(16)}`);
        }
        break;
      }
      case 1: {
        const n = 1 + rng.below(8);
        for (let j = 0; j < n && len > 0; j++) {
          const at = rng.below(len);
          const bit = rng.below(8);
          this.work[at]! ^= 1 << bit;
          this.note(`bit ${bit} of byte ${at} flipped`);
        }
        break;
      }
      case 2: {
        // length/count field: width 1/2/4/8, either byte order, set to an edge value
        const width = [1, 2, 4, 8][rng.below(4)]!;
        if (len < width) break;
        const at = rng.below(len - width + 1);
        const le = rng.below(4) === 0;
        let v = 0n;
        for (let b = 0; b < width; b++) v = (v << 8n) | BigInt(this.work[le ? at + width - 1 - b : at + b]!);
        const max = (1n << BigInt(8 * width)) - 1n;
        const choice = rng.below(7);
        const next = [0n, max, v + 1n, v - 1n, v * 2n, BigInt(rng.below(4)), max >> 1n][choice]! & max;
        for (let b = 0; b < width; b++) {
          const byte = Number((next >> BigInt(8 * (width - 1 - b))) & 0xffn);
          this.work[le ? at + width - 1 - b : at + b] = byte;
        }
        this.note(`${width}-byte ${le ? 'LE' : 'BE'} field at ${at}: ${v} -> ${next} (${['0', 'max', '+1', '-1', 'x2', 'small', 'max/2'][choice]})`);
        break;
      }
      case 3: {
        const at = rng.below(len + 1);
        this.len = at;
        this.note(`truncated to ${at}`);
        break;
      }
      case 4: {
        // concatenation: another seed (whole or cut), the input itself, or noise
        const what = rng.below(3);
        let add: Uint8Array;
        if (what === 0) {
          const k = rng.below(this.seeds.length);
          const s = this.seeds[k]!;
          add = s.subarray(0, rng.below(2) === 0 ? s.length : rng.below(s.length + 1));
          this.note(`+ seed ${k} [0, ${add.length})`);
        } else if (what === 1) {
          add = this.tmp.subarray(0, len);
          add.set(this.work.subarray(0, len));
          this.note('+ itself');
        } else {
          const n = this.randomLength();
          add = this.tmp.subarray(0, n);
          for (let i = 0; i < n; i++) add[i] = rng.u32() & 0xff;
          this.note(`+ ${n} random bytes`);
        }
        const n = Math.min(add.length, kMaxInput - len);
        this.work.set(add.subarray(0, n), len);
        this.len = len + n;
        break;
      }
      default: {
        // splice: delete, duplicate or insert a range
        if (len === 0) break;
        const a = rng.below(len);
        const n = 1 + rng.below(Math.min(64, len - a));
        const op = rng.below(3);
        if (op === 0) {
          this.work.copyWithin(a, a + n, len);
          this.len = len - n;
          this.note(`deleted [${a}, ${a + n})`);
        } else {
          const m = Math.min(n, kMaxInput - len);
          this.work.copyWithin(a + m, a, len);
          if (op === 2) this.randomBytes(a, m);
          this.len = len + m;
          this.note(`${op === 1 ? 'duplicated' : `inserted ${m} random bytes at`} [${a}, ${a + m})`);
        }
      }
    }
  }

  /** Input i (a view that ends at the end of its buffer; valid until the next call). */
  make(i: number): Uint8Array {
    if (i < this.truncations) {
      // every truncation of every seed, in order
      let k = 0;
      let r = i;
      while (r > Math.min(this.seeds[k]!.length, kMaxInput)) r -= Math.min(this.seeds[k]!.length, kMaxInput) + 1, k++;
      this.loadSeed(k);
      this.len = r;
      this.note(`truncated to ${r}`);
    } else {
      this.rng.reset(Math.imul(i ^ this.streamSeed, 0x9e3779b1) ^ (i >>> 16) ^ this.streamSeed);
      this.rng.u32();
      const r = this.rng.below(100);
      if (r < 10 || this.seeds.length === 0) {
        this.len = this.randomLength();
        this.randomBytes(0, this.len);
        this.note(`${this.len} random bytes`);
      } else {
        this.loadSeed(this.rng.below(this.seeds.length));
        this.mutate(r < 22 ? 3 : r < 42 ? 0 : r < 56 ? 1 : r < 78 ? 2 : r < 90 ? 4 : 5);
        // stacked mutations
        while (this.rng.below(10) < 3) this.mutate(this.rng.below(6));
      }
    }
    const view = this.out.subarray(kMaxInput - this.len);
    view.set(this.work.subarray(0, this.len));
    return view;
  }

  describe(i: number): string {
    this.steps = [];
    this.make(i);
    const s = this.steps.join(', ');
    this.steps = null;
    return s;
  }
}

// ---- Allocation tracking (child only) ---------------------------------------------------

/** Largest single allocation (bytes) asked for since the last reset, and by what. */
const alloc = { max: 0, what: '' };

function installAllocationTracker(): void {
  const record = (bytes: number, what: string): void => {
    if (bytes > alloc.max) {
      alloc.max = bytes;
      alloc.what = what;
    }
  };
  const g = globalThis as unknown as Record<string, unknown>;
  const typed = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'];
  for (const name of typed) {
    const C = g[name] as { BYTES_PER_ELEMENT: number } & (new (...a: unknown[]) => unknown);
    g[name] = new Proxy(C, {
      construct(target, args, newTarget) {
        const a = args[0];
        if (typeof a === 'number') record(a * C.BYTES_PER_ELEMENT, `new ${name}(${a})`);
        else if (a !== null && typeof a === 'object' && !(a instanceof ArrayBuffer) && !(a instanceof SharedArrayBuffer)) {
          const n = (a as { length?: unknown }).length;
          if (typeof n === 'number') record(n * C.BYTES_PER_ELEMENT, `new ${name}(<${n} elements>)`);
        }
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
    });
  }
  for (const name of ['ArrayBuffer', 'SharedArrayBuffer']) {
    const C = g[name] as new (...a: unknown[]) => unknown;
    g[name] = new Proxy(C, {
      construct(target, args, newTarget) {
        if (typeof args[0] === 'number') record(args[0], `new ${name}(${args[0]})`);
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
    });
  }
  g.Array = new Proxy(Array, {
    construct(target, args, newTarget) {
      if (args.length === 1 && typeof args[0] === 'number') record(args[0] * 8, `new Array(${args[0]})`);
      return Reflect.construct(target, args, newTarget === g.Array ? target : newTarget);
    },
  });
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const f = Buffer[name].bind(Buffer) as (n: number, ...rest: unknown[]) => Buffer;
    (Buffer as unknown as Record<string, unknown>)[name] = (n: number, ...rest: unknown[]) => {
      if (typeof n === 'number') record(n, `Buffer.${name}(${n})`);
      return f(n, ...rest);
    };
  }
}

/** Bytes one call may ask for in one allocation before it counts as sized by the input's fields. */
function allocationBound(inputLength: number): number {
  return Math.max(64 * 1024, 64 * inputLength);
}

// ---- Child: one target, a range of inputs -----------------------------------------------

interface Finding {
  target: string;
  index: number;
  kind: 'unclean-error' | 'offset-outside-input' | 'slow' | 'allocation' | 'memory-growth' | 'crash' | 'hang';
  detail: string;
  mutation?: string;
  input?: string;
}

interface ChildStats {
  target: string;
  backend: string;
  inputs: number;
  returned: number;
  cleanErrors: number;
  slowOnce: number;
  maxCallMs: number;
  maxAlloc: number;
  maxAllocWhat: string;
  rssGrowthMb: number;
  arrayBuffersGrowthMb: number;
  ms: number;
}

function hex(bytes: Uint8Array, max = 256): string {
  const shown = Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, '0')).join('');
  return bytes.length > max ? `${shown}… (${bytes.length} bytes)` : shown;
}

async function loadTargets(file: string): Promise<DecoderTarget[]> {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { targets?: DecoderTarget[] };
  if (!Array.isArray(mod.targets)) throw new TypeError(`decoder fuzz: ${file} exports no 'targets' array`);
  return mod.targets;
}

async function runChild(o: Options): Promise<void> {
  installAllocationTracker();
  const send = (msg: object): void => {
    process.stdout.write(`${JSON.stringify(msg)}\n`);
  };
  const target = (await loadTargets(o.child!.file))[o.child!.index]!;
  const maker = new InputMaker(target.seeds, (o.seed ^ hash32(target.name)) >>> 0);
  const describeInput = (i: number): { mutation: string; input: string } => {
    const saved = { ...alloc };
    const m = new InputMaker(target.seeds, (o.seed ^ hash32(target.name)) >>> 0);
    const mutation = m.describe(i);
    const input = hex(m.make(i));
    Object.assign(alloc, saved);
    return { mutation, input };
  };
  const stats: ChildStats = {
    target: target.name, backend: target.backend, inputs: 0, returned: 0, cleanErrors: 0, slowOnce: 0,
    maxCallMs: 0, maxAlloc: 0, maxAllocWhat: '', rssGrowthMb: 0, arrayBuffersGrowthMb: 0, ms: 0,
  };
  let findings = 0;
  const report = (f: Omit<Finding, 'target' | 'mutation' | 'input'>): void => {
    findings++;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 10;
    send({ finding: { target: target.name, ...f, ...describeInput(f.index) } });
    Error.stackTraceLimit = limit;
  };
  // Errors are made by the million; their stacks are not read (a finding replays its input).
  const stackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const call = (bytes: Uint8Array): { error: unknown; threw: boolean; ms: number } => {
    alloc.max = 0;
    const t0 = performance.now();
    try {
      target.decode(bytes);
      return { error: undefined, threw: false, ms: performance.now() - t0 };
    } catch (error) {
      return { error, threw: true, ms: performance.now() - t0 };
    }
  };
  const base = process.memoryUsage();
  const t0 = performance.now();
  const end = o.from + o.count;
  for (let i = o.from; i < end; i++) {
    if (o.verbose) send({ at: i });
    const bytes = maker.make(i);
    let r = call(bytes);
    if (r.ms > o.slowMs) {
      stats.slowOnce++;
      // A GC pause or a busy machine, unless it is slow every time it is run again.
      for (let k = 0; k < 3 && r.ms > o.slowMs; k++) r = call(maker.make(i));
      if (r.ms > o.slowMs) report({ index: i, kind: 'slow', detail: `took more than ${o.slowMs} ms four times running (last ${r.ms.toFixed(1)} ms)` });
    }
    if (r.ms > stats.maxCallMs) stats.maxCallMs = r.ms;
    if (r.threw) {
      let clean = false;
      try {
        clean = target.isCleanError(r.error);
      } catch {
        clean = false;
      }
      if (!clean) {
        Error.stackTraceLimit = stackLimit;
        const again = call(maker.make(i)); // with its stack this time
        Error.stackTraceLimit = 0;
        const e = (again.threw ? again.error : r.error) as { name?: string; message?: string; code?: unknown; stack?: string };
        report({ index: i, kind: 'unclean-error', detail: `${e?.name ?? typeof e}${e?.code ? ` [${String(e.code)}]` : ''}: ${e?.message ?? String(e)}\n${e?.stack ?? ''}` });
      } else {
        stats.cleanErrors++;
        const m = /\bbyte (\d+)/.exec((r.error as Error).message);
        if (m !== null && Number(m[1]) > bytes.length) {
          report({ index: i, kind: 'offset-outside-input', detail: `names byte ${m[1]} of a ${bytes.length}-byte input: ${(r.error as Error).message}` });
        }
      }
    } else {
      stats.returned++;
    }
    if (alloc.max > stats.maxAlloc) {
      stats.maxAlloc = alloc.max;
      stats.maxAllocWhat = alloc.what;
    }
    if (alloc.max > allocationBound(bytes.length)) {
      report({ index: i, kind: 'allocation', detail: `${alloc.what} (${alloc.max} bytes) for a ${bytes.length}-byte input (limit ${allocationBound(bytes.length)})` });
    }
    stats.inputs++;
    if (findings >= 5) break;
    if ((i + 1 - o.from) % o.progress === 0) {
      const m = process.memoryUsage();
      stats.rssGrowthMb = Math.max(stats.rssGrowthMb, (m.rss - base.rss) / 2 ** 20);
      stats.arrayBuffersGrowthMb = Math.max(stats.arrayBuffersGrowthMb, (m.arrayBuffers - base.arrayBuffers) / 2 ** 20);
      if (Math.max(stats.rssGrowthMb, stats.arrayBuffersGrowthMb) > o.maxGrowthMb) {
        report({ index: i, kind: 'memory-growth', detail: `rss +${stats.rssGrowthMb.toFixed(0)} MiB, arrayBuffers +${stats.arrayBuffersGrowthMb.toFixed(0)} MiB over ${stats.inputs} inputs (limit ${o.maxGrowthMb} MiB)` });
        break;
      }
      send({ progress: i + 1 });
    }
  }
  stats.ms = performance.now() - t0;
  send({ done: stats });
}

// ---- Parent: every target in its own child ----------------------------------------------

interface Job {
  file: string;
  index: number;
  name: string;
  backend: string;
}

interface ChildResult {
  stats?: ChildStats;
  findings: Finding[];
  /** Index of the last input reported ('at' or 'progress'); -1 before any. */
  last: number;
  failure?: 'crash' | 'hang';
  detail?: string;
}

const live = new Set<ReturnType<typeof spawn>>();

function runJob(job: Job, o: Options, from: number, count: number, progress: number, verbose: boolean): Promise<ChildResult> {
  return new Promise((resolve) => {
    const args = [
      ...process.execArgv, self, '--child', job.file, String(job.index), '--seed', String(o.seed), '--from', String(from),
      '--count', String(count), '--progress', String(progress), '--slow-ms', String(o.slowMs), '--max-growth-mb', String(o.maxGrowthMb),
      ...(verbose ? ['--verbose'] : []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    live.add(child);
    const result: ChildResult = { findings: [], last: from - 1 };
    let buf = '';
    let err = '';
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        result.failure = 'hang';
        child.kill('SIGKILL');
      }, o.stallS * 1000);
    };
    arm();
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: { at?: number; progress?: number; finding?: Finding; done?: ChildStats };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          continue;
        }
        if (msg.at !== undefined) result.last = msg.at - 1;
        if (msg.progress !== undefined) {
          result.last = msg.progress - 1;
          arm();
        }
        if (msg.finding !== undefined) result.findings.push(msg.finding);
        if (msg.done !== undefined) result.stats = msg.done;
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      if (result.stats === undefined && result.failure === undefined) {
        result.failure = 'crash';
        result.detail = `exit ${code ?? ''}${signal ? ` signal ${signal}` : ''}: ${err.trim().split('\n').slice(-8).join('\n')}`;
      } else if (result.failure === 'hang') {
        result.detail = `no progress for ${o.stallS} s`;
      }
      resolve(result);
    });
  });
}

/** A crash or hang somewhere in [from, from + n): replays the stretch one input at a time to name it. */
async function narrow(job: Job, o: Options, from: number, n: number): Promise<{ index: number; detail: string } | null> {
  const r = await runJob(job, { ...o, stallS: Math.min(o.stallS, 10) }, from, n, 1, true);
  if (r.failure === undefined) return null;
  return { index: r.last + 1, detail: r.detail ?? '' };
}

async function runParent(o: Options): Promise<number> {
  const files = readdirSync(here).filter((f) => f.endsWith('.target.ts')).sort();
  const jobs: Job[] = [];
  for (const file of files) {
    const targets = await loadTargets(file);
    targets.forEach((t, index) => {
      if (o.only === null || o.only.test(t.name)) jobs.push({ file, index, name: t.name, backend: t.backend });
    });
  }
  console.log(`decoder fuzz: seed ${o.seed} (rerun with --seed ${o.seed}), ${o.count} inputs a target from input ${o.from}, ${jobs.length} targets from ${files.join(', ')}, ${o.jobs} at a time`);
  if (jobs.length === 0) {
    console.error('decoder fuzz: no targets matched');
    return 1;
  }
  const started = performance.now();
  const watchdog = setTimeout(() => {
    console.error(`decoder fuzz: the whole run passed --time-limit-s ${o.timeLimitS}; stopping`);
    for (const c of live) c.kill('SIGKILL');
    process.exit(1);
  }, o.timeLimitS * 1000);
  const results = new Map<Job, ChildResult>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      const r = await runJob(job, o, o.from, o.count, o.progress, false);
      if (r.failure !== undefined) {
        const from = r.last + 1;
        const found = await narrow(job, o, from, Math.min(o.progress, o.from + o.count - from));
        r.findings.push({
          target: job.name,
          index: found?.index ?? from,
          kind: r.failure,
          detail: `${r.detail ?? ''}${found === null ? ` (somewhere in inputs ${from}..${from + o.progress - 1}; not reproduced alone)` : ''}`,
        });
      }
      const s = r.stats;
      console.log(
        `  ${job.name.padEnd(28)} ${s ? `${s.inputs} inputs in ${(s.ms / 1000).toFixed(1)} s (${(s.inputs / (s.ms / 1000) / 1000).toFixed(0)}k/s): ${s.returned} returned, ${s.cleanErrors} clean errors` : 'did not finish'}, ${r.findings.length} findings`,
      );
      results.set(job, r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.jobs, jobs.length) }, worker));
  clearTimeout(watchdog);
  console.log('\n| target | backend | inputs | returned | clean errors | slow once | max call ms | max alloc / call | rss growth MiB | time s |');
  console.log('|---|---|---:|---:|---:|---:|---:|---|---:|---:|');
  let failed = 0;
  for (const job of jobs) {
    const r = results.get(job)!;
    const s = r.stats;
    if (s) {
      console.log(
        `| ${s.target} | ${s.backend} | ${s.inputs} | ${s.returned} | ${s.cleanErrors} | ${s.slowOnce} | ${s.maxCallMs.toFixed(2)} | ${s.maxAlloc} B${s.maxAllocWhat ? ` (${s.maxAllocWhat})` : ''} | ${s.rssGrowthMb.toFixed(1)} | ${(s.ms / 1000).toFixed(1)} |`,
      );
    } else {
      console.log(`| ${job.name} | ${job.backend} | - | - | - | - | - | - | - | - |`);
    }
    if (s !== undefined && s.inputs < o.count && r.findings.length === 0) {
      r.findings.push({ target: job.name, index: o.from + s.inputs, kind: 'crash', detail: `stopped after ${s.inputs} of ${o.count} inputs` });
    }
    for (const f of r.findings) {
      failed++;
      console.error(`\nFINDING ${f.kind} in '${f.target}' at input ${f.index}: ${f.detail}`);
      if (f.mutation !== undefined) console.error(`  mutation: ${f.mutation}`);
      if (f.input !== undefined) console.error(`  input (hex): ${f.input}`);
      console.error(`  replay: npx tsx test/fuzz/decoders/run.ts --only '^${f.target}$' --seed ${o.seed} --from ${f.index} --count 1`);
    }
  }
  const total = jobs.reduce((n, j) => n + (results.get(j)?.stats?.inputs ?? 0), 0);
  console.log(`\ndecoder fuzz: ${total} inputs over ${jobs.length} targets in ${((performance.now() - started) / 1000).toFixed(1)} s, ${failed} findings (seed ${o.seed})`);
  return failed === 0 ? 0 : 1;
}

const options = parseOptions(process.argv.slice(2));
if (options.child !== null) {
  await runChild(options);
} else {
  process.exitCode = await runParent(options);
}
