// One batch of the harness, in a child process of its own (run.mjs starts it): the cases
// of one function, from a given index, each reported on stdout before it runs ("S i")
// and after ("E i outcome detail"), so the parent can name the case that crashed or hung.
// argv: key seed from maxCases addonPath
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

import { Arena, badNames, badValue, detach, rng, unclearReason } from './catalogue.mjs';
import { entries, foreignFor } from './entries.mjs';
import { apiEntries } from './api.mjs';
import { readSurface } from './surface.mjs';

const [key, seedText, fromText, maxText, addonPath] = process.argv.slice(2);
const seed = Number(seedText);
const require = createRequire(import.meta.url);
const kAsyncTimeoutMs = 4000;

function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

const say = (line) => writeSync(1, `${line}\n`);

const kSlotBad = ['NaN', 'Infinity', '-Infinity', '-0', '-1', '0.5', '2^31', '2^32', '2^53', '2^62', '1e300', '-1e300'];

/** Every case of one function, deterministic for (seed, key), at most `max` of them. */
export function casesFor(spec, entry, max) {
  const cases = [{ kind: 'valid' }, { kind: 'valid twice' }, { kind: 'no arguments' }, { kind: 'extra arguments' }];
  spec.params.forEach((p, i) => {
    for (const bad of badNames(p.type)) cases.push({ kind: 'param', param: i, bad });
  });
  if (entry.structure !== undefined) {
    for (let k = 0; k < 24; k++) cases.push({ kind: 'scribble', k });
    if (/^(queue|spsc|mpmc|replay)/.test(spec.key)) cases.push({ kind: 'after close' });
  }
  if (spec.key.includes('.')) {
    for (const t of ['foreign handle', 'undefined', 'plain object']) cases.push({ kind: 'this', bad: t });
    for (const s of entry.slots ?? []) for (const bad of kSlotBad) cases.push({ kind: 'slot', slot: s, bad });
  }
  if (entry.async) {
    cases.push({ kind: 'detach after call' }, { kind: 'shrink after call' }, { kind: 'two at once' });
  }
  if (entry.thread) for (let k = 0; k < 3; k++) cases.push({ kind: 'race', k });
  // The first four always run; the rest are sampled with the seed when there are too many.
  const head = cases.slice(0, 4);
  const rest = cases.slice(4);
  const r = rng(seed ^ hash(spec.key));
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  return head.concat(rest.slice(0, Math.max(0, max - 4)));
}

export function describeCase(spec, c) {
  switch (c.kind) {
    case 'param': return `${spec.params[c.param].name} (argument ${c.param + 1}) = ${c.bad}`;
    case 'scribble': return `structure scribbled #${c.k}`;
    case 'this': return `this = ${c.bad}`;
    case 'slot': return `view slot ${c.slot} = ${c.bad}`;
    case 'race': return `two threads at once on shared memory, scribbled #${c.k}`;
    default: return c.kind;
  }
}

function scribble(view, r) {
  const words = Math.floor(view.byteLength / 4);
  if (words === 0) return;
  const dv = new DataView(view.buffer, view.byteOffset, view.byteLength);
  const n = 1 + Math.floor(r() * 4);
  const len = view.byteLength;
  const values = [0xffffffff, 0x80000000, len, len - 1, len + 1, len - 4, 0, 1, 64, 0x7fffffff];
  for (let i = 0; i < n; i++) {
    // Mostly the header and metadata (first 1 KiB), where the structure keeps its links.
    const w = Math.floor(r() * Math.min(words, r() < 0.8 ? 256 : words));
    const v = r() < 0.7 ? values[Math.floor(r() * values.length)] : Math.floor(r() * 2 ** 32);
    dv.setUint32(w * 4, v >>> 0, true);
  }
}

async function settle(value) {
  if (!(value instanceof Promise)) return { value };
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ hang: true }), kAsyncTimeoutMs);
  });
  try {
    return await Promise.race([value.then((v) => ({ value: v })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const gc = globalThis.gc ?? (() => {});

function churn() {
  // Garbage and a collection, so freed backing stores get reused while native code runs.
  gc();
  for (let i = 0; i < 64; i++) new Float64Array(1024).fill(i);
  gc();
}

async function race(addon, spec, entry, c, ctx, r) {
  const call = entry.valid(ctx);
  const shared = call.args.filter((a) => ArrayBuffer.isView(a) && a.buffer instanceof SharedArrayBuffer);
  const workerCode = `
    const { workerData: w, parentPort } = require('node:worker_threads');
    const a = require(w.addonPath);
    const end = Date.now() + 150;
    let n = 0;
    while (Date.now() < end) { try { a[w.name](...w.args); } catch {} n++; }
    parentPort.postMessage(n);`;
  const worker = new Worker(workerCode, { eval: true, workerData: { addonPath, name: spec.name, args: call.args } });
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const end = Date.now() + 150;
  let n = 0;
  while (Date.now() < end) {
    try {
      addon[spec.name](...call.args);
    } catch {}
    // The structure, and every other shared array (a batch's lengths[]), rewritten under the other thread.
    if (n++ % 16 === 0) for (const a of shared) scribble(a, r);
  }
  await done;
  await worker.terminate();
  return { value: n };
}

async function runCase(addon, spec, entry, c, index) {
  const r = rng((seed ^ hash(spec.key)) + index * 7919);
  const ctx = { addon, raw, arena: new Arena(), shared: c.kind === 'race' };
  if (c.kind === 'race') return { ctx, ...(await race(addon, spec, entry, c, ctx, r)) };
  const call = entry.valid(ctx);
  let args = call.args.slice();
  let self = call.this ?? addon;
  const foreign = foreignFor(ctx, spec.key);
  switch (c.kind) {
    case 'valid twice': {
      const f = self[spec.name];
      await settle(f.apply(self, args));
      break;
    }
    case 'no arguments': args = []; break;
    case 'extra arguments': args.push(1, 'x', {}); break;
    case 'param': {
      const bad = badValue(c.bad, args[c.param], ctx.arena, foreign);
      if (c.bad === 'missing' && c.param === args.length - 1) args.length = c.param;
      else args[c.param] = bad;
      break;
    }
    case 'scribble': scribble(args[entry.structure], r); break;
    case 'after close': addon.queueClose(args[0]); break;
    case 'this':
      self = c.bad === 'foreign handle' ? foreign.handle() : c.bad === 'undefined' ? undefined : {};
      break;
    case 'slot': call.view[c.slot] = badValue(c.bad, 0, ctx.arena, foreign); break;
    case 'shrink after call':
      args = args.map((a) => (ArrayBuffer.isView(a) && !(a.buffer instanceof SharedArrayBuffer) ? ctx.arena.copy(a, { resizable: true }) : a));
      break;
    default: break;
  }
  const f = (call.this ?? addon)[spec.name];
  let result = f.apply(self, args);
  if (c.kind === 'detach after call') {
    for (const a of args) if (ArrayBuffer.isView(a) && !(a.buffer instanceof SharedArrayBuffer) && a.buffer.byteLength > 0) detach(a);
    churn();
  } else if (c.kind === 'shrink after call') {
    for (const a of args) if (ArrayBuffer.isView(a) && a.buffer.resizable) a.buffer.resize(0);
    churn();
  } else if (c.kind === 'two at once') {
    const second = f.apply(self, args);
    result = Promise.all([result, second]);
  }
  return { ctx, ...(await settle(result)) };
}

let raw;

async function main() {
  raw = require(addonPath);
  let addon;
  let spec;
  let entry;
  if (key.startsWith('api.')) {
    ({ spec, entry } = apiEntries(key));
    addon = await import(new URL('../../dist/index.js', import.meta.url).href);
  } else {
    addon = raw;
    spec = readSurface().cpu.find((s) => s.key === key);
    entry = entries[key];
  }
  const cases = casesFor(spec, entry, Number(maxText));
  say(`N ${cases.length}`);
  for (let i = Number(fromText); i < cases.length; i++) {
    say(`S ${i} ${describeCase(spec, cases[i])}`);
    let outcome;
    let detail = '';
    try {
      const res = await runCase(addon, spec, entry, cases[i], i);
      const oob = res.ctx.arena.checkGuards();
      if (res.hang) {
        outcome = 'hang';
        detail = `the promise did not settle in ${kAsyncTimeoutMs} ms`;
      } else if (oob.length > 0) {
        outcome = 'oob';
        detail = oob.join('; ');
      } else outcome = 'returned';
    } catch (err) {
      const why = unclearReason(err);
      outcome = why === null ? 'threw-code' : 'threw-unclear';
      detail = why ?? `${err.code}: ${err.message}`;
    }
    say(`E ${i} ${outcome} ${JSON.stringify(detail.slice(0, 300))}`);
    if (outcome === 'hang') process.exit(3); // a native thread may still be stuck
  }
  say('DONE');
  process.exit(0);
}

if (key !== undefined) main();
