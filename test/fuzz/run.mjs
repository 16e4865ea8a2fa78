#!/usr/bin/env node
// The native boundary fuzz harness (issue 12): every function of lib/addon-types.ts, and
// the public API's async functions, called with a catalogue of bad arguments, each
// function's cases in child processes (child.mjs) so that a crash or a hang is a counted
// finding rather than the end of the run. Canaries around every buffer catch writes past
// a view. Exit 1 on any crash, hang, out-of-bounds write or surface mismatch.
//
//   node test/fuzz/run.mjs [--seed N] [--max N] [--only REGEX] [--jobs N] [--surface-only]
//   ULTRA_PERF_FUZZ_ADDON=/path/to/addon.node   test another build (the ASan one in CI)
//   ULTRA_PERF_FUZZ_SEED=N                      same as --seed
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { apiFunctionNames } from './api.mjs';
import { entries } from './entries.mjs';
import { checkSurface, readSurface, root } from './surface.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const opts = { seed: Number(process.env.ULTRA_PERF_FUZZ_SEED ?? 12072), max: 120, only: null, jobs: 2 };
for (let i = 2; i < process.argv.length; i += 2) {
  const [k, v] = [process.argv[i], process.argv[i + 1]];
  if (k === '--seed') opts.seed = Number(v);
  else if (k === '--max') opts.max = Number(v);
  else if (k === '--only') opts.only = new RegExp(v);
  else if (k === '--jobs') opts.jobs = Number(v);
  else if (k === '--surface-only') {
    opts.surfaceOnly = true;
    i--;
  }
  else throw new Error(`fuzz: unknown option ${k}`);
}
const kStallMs = 6000; // no progress from a child for this long: the case in flight hangs

function addonPath() {
  if (process.env.ULTRA_PERF_FUZZ_ADDON) return resolve(process.env.ULTRA_PERF_FUZZ_ADDON);
  // As the package loads it (lib/backend.ts): node-gyp-build over the package root.
  return require('node-gyp-build').resolve(root);
}

/** Runs one function's cases, restarting the child after each crash or hang. */
function runKey(key, path, tally) {
  return new Promise((done) => {
    const start = (from, retried = false) => {
      const env = { ...process.env, NODE_OPTIONS: '' };
      if (key.startsWith('api.')) env.ULTRA_PERF_BACKEND = 'native';
      const child = spawn(process.execPath, ['--expose-gc', join(here, 'child.mjs'), key, String(opts.seed), String(from), String(opts.max), path], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let total = Infinity;
      let inFlight = null;
      let next = from;
      let finished = false;
      let hung = false;
      let buf = '';
      let err = '';
      let timer;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          hung = true;
          child.kill('SIGKILL');
        }, kStallMs);
      };
      arm();
      child.stderr.on('data', (d) => {
        err = (err + d).slice(-20000);
      });
      child.stdout.on('data', (d) => {
        arm();
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith('N ')) total = Number(line.slice(2));
          else if (line.startsWith('S ')) {
            const sp = line.indexOf(' ', 2);
            inFlight = { i: Number(line.slice(2, sp)), what: line.slice(sp + 1) };
          } else if (line.startsWith('E ')) {
            const m = /^E (\d+) (\S+) (.*)$/.exec(line);
            tally.record(key, inFlight?.what ?? `case ${m[1]}`, m[2], JSON.parse(m[3]));
            next = Number(m[1]) + 1;
            inFlight = null;
          } else if (line === 'DONE') finished = true;
        }
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (finished) return done();
        if (inFlight) {
          if (hung) tally.record(key, inFlight.what, 'hang', `no progress for ${kStallMs} ms; killed`);
          else if (code !== 3) {
            const asan = /ERROR: AddressSanitizer: [^\n]*/.exec(err)?.[0];
            const why = asan ?? (signal ? `killed by ${signal}` : `exit ${code}: ${err.trim().split('\n').slice(-3).join(' | ').slice(0, 300)}`);
            tally.record(key, inFlight.what, 'crash', why);
          }
          next = inFlight.i + 1;
        } else if (next === from && total === Infinity) {
          // Nothing ran: a child that could not start (once more, then it counts).
          if (!retried) return start(from, true);
          const why = signal ? `killed by ${signal}` : `exit ${code}`;
          tally.record(key, 'startup', 'crash', `the child did not start (${why}): ${err.trim().slice(-300)}`);
          return done();
        }
        if (next < total) start(next);
        else done();
      });
    };
    start(0);
  });
}

class Tally {
  constructor() {
    this.counts = { calls: 0, 'threw-code': 0, 'threw-unclear': 0, returned: 0, crash: 0, hang: 0, oob: 0 };
    this.findings = [];
  }

  record(key, what, outcome, detail) {
    this.counts.calls++;
    this.counts[outcome] = (this.counts[outcome] ?? 0) + 1;
    if (outcome !== 'returned' && outcome !== 'threw-code') this.findings.push({ key, what, outcome, detail });
  }
}

async function main() {
  const t0 = Date.now();
  const path = addonPath();
  console.log(`fuzz: seed ${opts.seed} (rerun with --seed ${opts.seed}), at most ${opts.max} cases a function, addon ${path}`);
  const addon = require(path);
  const surface = readSurface();
  const problems = checkSurface(addon, surface, entries);
  if (problems.length > 0) {
    for (const p of problems) console.error(`fuzz: surface: ${p}`);
    process.exit(1);
  }
  if (opts.surfaceOnly) {
    console.log(`fuzz: surface: addon-types.ts, the addon and the harness agree on ${surface.cpu.length} CPU and ${surface.cuda.length} GPU functions`);
    process.exit(0);
  }
  const gpuPath = [join(root, 'build-cuda', 'Release', 'ultra_perf_cuda.node')].find(existsSync);
  console.log(
    `fuzz: CPU addon ${surface.cpu.length} functions; GPU addon ${surface.cuda.length} declared functions skipped (${gpuPath ? 'built, but calling it needs a device: not fuzzed here' : 'not built here'})`,
  );
  const distOk = existsSync(join(root, 'dist', 'index.js'));
  if (!distOk) console.log('fuzz: dist/index.js missing (run npx tsup): public API cases skipped');
  else {
    // The public async functions: every export with a ...Sync twin, and replayIntoQueue.
    const api = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
    const asyncNames = Object.keys(api).filter((k) => typeof api[k] === 'function' && typeof api[`${k}Sync`] === 'function');
    const missing = [...asyncNames, 'replayIntoQueue'].filter((k) => !apiFunctionNames.includes(k));
    if (missing.length > 0) {
      console.error(`fuzz: surface: the public API's async ${missing.join(', ')} has no entry in test/fuzz/api.mjs`);
      process.exit(1);
    }
  }
  const keys = [...surface.cpu.map((s) => s.key), ...(distOk ? apiFunctionNames.map((n) => `api.${n}`) : [])].filter(
    (k) => !opts.only || opts.only.test(k),
  );
  const tally = new Tally();
  const queue = [...keys];
  await Promise.all(
    Array.from({ length: opts.jobs }, async () => {
      while (queue.length > 0) await runKey(queue.shift(), path, tally);
    }),
  );
  const fileOf = (k) => (k.startsWith('api.') ? 'lib (public API, ULTRA_PERF_BACKEND=native)' : entries[k].file);
  const byFile = new Map();
  for (const f of tally.findings) {
    const list = byFile.get(fileOf(f.key)) ?? [];
    list.push(f);
    byFile.set(fileOf(f.key), list);
  }
  for (const [file, list] of byFile) {
    console.log(`\n${file}`);
    for (const f of list) console.log(`  ${f.outcome.padEnd(13)} ${f.key}(${f.what}): ${f.detail}`);
  }
  const c = tally.counts;
  console.log(
    `\nfuzz: ${keys.length} functions, ${c.calls} calls: ${c['threw-code']} threw with a code, ${c['threw-unclear']} threw without a clear error, ` +
      `${c.returned} returned, ${c.crash} crashes, ${c.hang} hangs, ${c.oob} out-of-bounds writes (seed ${opts.seed}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  process.exit(c.crash + c.hang + c.oob > 0 ? 1 : 0);
}

main();
