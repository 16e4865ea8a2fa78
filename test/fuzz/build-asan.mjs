#!/usr/bin/env node
// Builds a second copy of the CPU addon with AddressSanitizer into build-asan/ (beside the
// normal build/, which it leaves alone): the same binding.gyp target, its paths rebased,
// with -fsanitize=address. The harness runs against it with
//   LD_PRELOAD=$(g++ -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
//   ULTRA_PERF_FUZZ_ADDON=build-asan/build/Release/ultra_performance.node node test/fuzz/run.mjs
// (npm run test:fuzz:asan does all of it). Prints the addon's path.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { root } from './surface.mjs';

const dir = join(root, 'build-asan');
mkdirSync(dir, { recursive: true });
// binding.gyp is JSON apart from being Python: parse it as JSON (it has no comments).
const gyp = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8'));
for (const t of gyp.targets) {
  t.sources = t.sources.map((s) => `../${s}`);
  t.cflags_cc = [...t.cflags_cc.filter((f) => !/^-O/.test(f)), '-O1', '-g', '-fsanitize=address', '-fno-omit-frame-pointer'];
  t.cflags = [...(t.cflags ?? []), '-fsanitize=address', '-fno-omit-frame-pointer'];
  t.ldflags = [...(t.ldflags ?? []), '-fsanitize=address'];
}
writeFileSync(join(dir, 'binding.gyp'), `${JSON.stringify(gyp, null, 2)}\n`);
const jobs = process.env.JOBS ?? '2';
// Through npx, as the package's own build: npm's config (nodedir, for one) applies.
execFileSync('npx', ['--no-install', 'node-gyp', 'rebuild', `--jobs=${jobs}`, '--loglevel=warn'], {
  cwd: dir,
  stdio: ['ignore', 'ignore', 'inherit'],
});
console.log(join(dir, 'build', 'Release', 'ultra_performance.node'));
