#!/usr/bin/env node
// Packaging as a consumer sees it: pack the tarball (prepack builds dist and the
// prebuilds), install it into a temp project with --ignore-scripts (as current npm
// does for dependencies), and import it with prebuilds (native) and without (TS).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(join(tmpdir(), 'up-pack-'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let passed = 0;
let failed = 0;

function check(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${!ok && detail ? `\n     ${detail}` : ''}`);
}

function node(args, cwd, env = {}) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, ULTRA_PERF_BACKEND: '', ...env } });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

try {
  // Run prepack (dist + prebuilds) ourselves so its output cannot mix with pack's JSON.
  execFileSync(npm, ['run', 'prepack', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const packed = JSON.parse(
    execFileSync(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  )[0];
  const files = new Set(packed.files.map((f) => f.path));
  const tarball = join(work, packed.filename);
  console.log(`packed ${packed.filename}: ${files.size} files, ${(packed.size / 1024).toFixed(0)} KiB`);
  for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/cli.js', 'dist/replay-worker.js', 'dist/replay-worker.cjs', 'binding.gyp', 'CMakeLists.txt', 'package.json']) {
    check(`tarball has ${f}`, files.has(f));
  }
  const prebuild = [...files].find((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f));
  check('tarball has a linux-x64 CPU prebuild', prebuild !== undefined, [...files].filter((f) => f.startsWith('prebuilds')).join(', '));
  check('tarball ships cpp/ and cuda/ sources', [...files].some((f) => f.startsWith('cpp/')) && [...files].some((f) => f.startsWith('cuda/')));
  check('tarball leaves out tests, lib/ sources and build output', ![...files].some((f) => /^(test|lib|bench|build|node_modules)\//.test(f)));

  const app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  execFileSync(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
    cwd: app,
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  const esm = "import('ultra-performance').then((m) => console.log(JSON.stringify({ ...m.backendInfo(), affinity: m.getThreadAffinity() })))";
  const cjs = "const m = require('ultra-performance'); console.log(JSON.stringify(m.backendInfo()))";

  let r = node(['-e', esm], app);
  let info = r.status === 0 ? JSON.parse(r.out) : {};
  check('ESM import with prebuilds uses the native backend', info.native === true, r.err || JSON.stringify(info));
  check('native backend reads the thread affinity', Array.isArray(info.affinity) && info.affinity.length > 0);
  r = node(['-e', cjs], app);
  info = r.status === 0 ? JSON.parse(r.out) : {};
  check('CJS require with prebuilds uses the native backend', info.native === true, r.err || JSON.stringify(info));
  r = node([join(app, 'node_modules', '.bin', 'ultra-performance'), 'status', '--json'], app);
  info = r.status === 0 ? JSON.parse(r.out) : {};
  check('the status CLI runs from the installed package', info.native === true && typeof info.cpu?.model === 'string', r.err);

  rmSync(join(app, 'node_modules', 'ultra-performance', 'prebuilds'), { recursive: true, force: true });
  r = node(['-e', esm], app);
  info = r.status === 0 ? JSON.parse(r.out) : {};
  check('ESM import without prebuilds falls back to TS', info.native === false, r.err || JSON.stringify(info));
  check('the fallback says why', /No native build was found/.test(info.nativeError ?? ''), info.nativeError);
  check('the TS backend reads the thread affinity', Array.isArray(info.affinity) && info.affinity.length > 0);
  r = node(['-e', cjs], app);
  info = r.status === 0 ? JSON.parse(r.out) : {};
  check('CJS require without prebuilds falls back to TS', info.native === false, r.err || JSON.stringify(info));
  // replayIntoQueue's TS backend starts a worker from the package's dist/replay-worker.*:
  // replay frames through it into a queue drained here, from each build.
  copyFileSync(join(root, 'test', 'fixtures', 'queue-replay-package.mjs'), join(app, 'replay.mjs'));
  for (const format of ['esm', 'cjs']) {
    r = node(['replay.mjs', 'ultra-performance', format, '5000'], app);
    info = r.status === 0 ? JSON.parse(r.out) : {};
    check(
      `${format.toUpperCase()}: the TS replay worker runs from the tarball (5000 frames, in order, same checksum)`,
      info.native === false && info.pushed === 5000 && info.popped === 5000 && info.inOrder === true && info.checksum === info.expected,
      r.err || JSON.stringify(info),
    );
  }
  r = node(['-e', cjs], app, { ULTRA_PERF_BACKEND: 'native' });
  check('ULTRA_PERF_BACKEND=native without prebuilds fails loudly', r.status !== 0 && /ULTRA_PERF_BACKEND=native but/.test(r.err));
} catch (err) {
  check('pack-and-import ran to the end', false, String(err?.stack ?? err));
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(`pack: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
