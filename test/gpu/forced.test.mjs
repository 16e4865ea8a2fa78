// Issue 19 item 7: the paths real data reaches too rarely to test by size, forced by the
// test hooks of cuda/device.cuh (ULTRA_PERF_CUDA_TEST_HOOKS, read once per process, so each
// hook runs forced-child.mjs in its own process). Each case must match the CPU addon, and
// the hook must have fired inside the cases that reach it:
//   select-miss      historical VaR (host values) and the GBM / Monte Carlo tails (device
//                    losses) redo the selection over every loss after a sampled scan with no candidate
//   select-overflow  the sampled scan overflows at its second chunk, the next copy in flight
//   pageable         no pinned staging: every copy straight from pageable memory
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

import { root } from './helpers.mjs';

const child = join(root, 'test', 'gpu', 'forced-child.mjs');
const sampled = ['historical normal 10M', 'historical ties 10M', 'historical sorted 10M', 'historical reversed 10M', 'gbm 6M paths', 'monteCarlo 6M paths', 'allocation walk historical 10M'];

/** stderr split into the lines written during each case. */
function byCase(stderr) {
  const out = {};
  let current = '';
  for (const line of stderr.split('\n')) {
    const m = /^case: (.+)$/.exec(line);
    if (m) current = m[1];
    else (out[current] ??= []).push(line);
  }
  return out;
}

for (const [hook, mustFireIn] of [['select-miss', sampled], ['select-overflow', sampled], ['pageable', []]]) {
  test(`with the ${hook} test hook every case matches the CPU${mustFireIn.length ? ' and the hook fires in each sampled case' : ''}`, () => {
    const r = spawnSync(process.execPath, [child], {
      env: { ...process.env, ULTRA_PERF_CUDA_TEST_HOOKS: hook },
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
      timeout: 590_000,
      killSignal: 'SIGKILL',
    });
    assert.equal(r.status, 0, `forced-child under ${hook} failed (signal ${r.signal}):\n${r.stderr.slice(-4000)}`);
    assert.match(r.stdout, /cases passed/);
    const lines = byCase(r.stderr);
    const fired = new RegExp(`^ultra-performance cuda test hook: ${hook} `);
    for (const name of mustFireIn) {
      assert.ok((lines[name] ?? []).some((l) => fired.test(l)), `${hook} never fired in '${name}':\n${(lines[name] ?? []).join('\n')}`);
    }
    if (hook === 'pageable') assert.match(r.stderr, /^ultra-performance cuda test hook: pageable /m);
    assert.doesNotMatch(r.stderr, /unknown hook/);
  });
}
