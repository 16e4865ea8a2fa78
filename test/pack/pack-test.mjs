#!/usr/bin/env node
// Packaging as a consumer sees it: pack the tarball (prepack builds dist and the
// prebuilds), install it into a temp project with --ignore-scripts (as current npm
// does for dependencies), and import it with prebuilds (native) and without (TS).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

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

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown text's headings, repeated ones numbered as GitHub does. */
function anchorsOf(text) {
  const seen = new Map();
  const anchors = new Set();
  for (const [, heading] of withoutFences(text).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Markdown without fenced blocks, where a `#` line is not a heading. */
function withoutFences(text) {
  return text.replace(/^```[\s\S]*?^```/gm, '');
}

/** Markdown without fenced blocks and code spans, where brackets are not links. */
function withoutCode(text) {
  return withoutFences(text).replace(/`[^`\n]*`/g, '');
}

/**
 * Every relative link of the Markdown files `docs` (paths inside the installed package
 * `dir`) that does not resolve to a file of the package, or to a heading of it.
 */
function brokenLinks(dir, docs) {
  const broken = [];
  for (const doc of docs) {
    const text = readFileSync(join(dir, doc), 'utf8');
    const targets = [
      ...[...withoutCode(text).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
      ...[...withoutCode(text).matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]),
    ];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split('#');
      const file = path === '' ? doc : posix.normalize(posix.join(posix.dirname(doc), decodeURIComponent(path)));
      if (file.startsWith('..') || !existsSync(join(dir, normalize(file)))) {
        broken.push(`${doc}: ${target} (no ${file} in the package)`);
      } else if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(readFileSync(join(dir, file), 'utf8')).has(anchor)) {
        broken.push(`${doc}: ${target} (no heading #${anchor} in ${file})`);
      }
    }
  }
  return broken;
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
  for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/cli.js', 'dist/replay-worker.js', 'dist/replay-worker.cjs', 'dist/server.js', 'dist/server.cjs', 'dist/server.d.ts', 'dist/server-worker.js', 'dist/server-worker.cjs', 'dist/dashboard/index.html', 'binding.gyp', 'CMakeLists.txt', 'package.json']) {
    check(`tarball has ${f}`, files.has(f));
  }
  const prebuild = [...files].find((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f));
  check('tarball has a linux-x64 CPU prebuild', prebuild !== undefined, [...files].filter((f) => f.startsWith('prebuilds')).join(', '));
  check('tarball ships cpp/ and cuda/ sources', [...files].some((f) => f.startsWith('cpp/')) && [...files].some((f) => f.startsWith('cuda/')));
  // The docs ship (the README and docs/ link each other), every doc in the repository.
  const repoDocs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  check('tarball has README.md and docs/architecture.md', files.has('README.md') && files.has('docs/architecture.md'));
  const unshipped = repoDocs.filter((f) => !files.has(f));
  check(`tarball has every docs/*.md of the repository (${repoDocs.length})`, unshipped.length === 0, unshipped.join(', '));
  check('tarball leaves out tests, lib/ sources and build output', ![...files].some((f) => /^(test|lib|bench|build|node_modules)\//.test(f)));

  const app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  execFileSync(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
    cwd: app,
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  const installed = join(app, 'node_modules', 'ultra-performance');
  const shippedDocs = ['README.md', ...[...files].filter((f) => /^docs\/[^/]+\.md$/.test(f)).sort()];
  const broken = brokenLinks(installed, shippedDocs);
  check(`every relative link in README.md and docs/*.md resolves inside the package (${shippedDocs.length} files)`, broken.length === 0, broken.join('\n     '));

  const esm = "import('ultra-performance').then((m) => console.log(JSON.stringify({ ...m.backendInfo(), affinity: m.getThreadAffinity() })))";
  const cjs = "const m = require('ultra-performance'); console.log(JSON.stringify(m.backendInfo()))";

  let r = node(['-e', esm], app);
  let info = r.status === 0 ? JSON.parse(r.out) : {};
  check('ESM import with prebuilds uses the native backend', info.native === true, r.err || JSON.stringify(info));
  check('native backend reads the thread affinity', Array.isArray(info.affinity) && info.affinity.length > 0);
  r = node(['-e', cjs], app);
  info = r.status === 0 ? JSON.parse(r.out) : {};
  check('CJS require with prebuilds uses the native backend', info.native === true, r.err || JSON.stringify(info));
  // msgpackr's native part (msgpackr-extract) is optional and its install script did not run: msgpackCodec still works.
  const mp = "import('ultra-performance').then((m) => { const c = m.msgpackCodec({ records: [['a', 'b']] }); const v = c.decode(c.encodeToBytes({ a: 1, b: 'x' })); console.log(JSON.stringify(v)) })";
  r = node(['-e', mp], app);
  check('msgpackCodec round-trips in the installed package', r.status === 0 && r.out.trim() === '{"a":1,"b":"x"}', r.err || r.out);
  // L4 (issue 16): lmdb's prebuilt binary (the @lmdb/lmdb-<platform>-<arch> optional package)
  // loads although its install script did not run, and nothing was compiled: an LmdbLevel from
  // the installed package writes, reads, and a second process reads the store back from disk.
  const lmdbPrebuilt = join(app, 'node_modules', '@lmdb', `lmdb-${process.platform}-${process.arch}`);
  check(
    `lmdb came with its prebuilt binary (@lmdb/lmdb-${process.platform}-${process.arch}), nothing compiled`,
    existsSync(lmdbPrebuilt) && readdirSync(lmdbPrebuilt).some((f) => f.endsWith('.node')) && !existsSync(join(app, 'node_modules', 'lmdb', 'build')),
    existsSync(lmdbPrebuilt) ? readdirSync(lmdbPrebuilt).join(', ') : `no ${lmdbPrebuilt}`,
  );
  const l4Write =
    "import('ultra-performance').then(async (m) => { const l4 = await m.LmdbLevel.open({ path: 'l4-store' }); await l4.setEntry('q', { value: { px: 1.5 }, expiresAt: Infinity, staleUntil: Infinity, version: 7 }); const e = l4.getEntrySync('q'); await l4.close(); console.log(JSON.stringify({ value: e.value, version: e.version })) })";
  const l4Read =
    "import('ultra-performance').then(async (m) => { const l4 = await m.LmdbLevel.open({ path: 'l4-store' }); const e = await l4.getEntry('q'); await l4.close(); console.log(JSON.stringify({ value: e.value, version: e.version })) })";
  r = node(['-e', l4Write], app);
  check('LmdbLevel (lmdb-js prebuilt, install scripts blocked) puts and gets in the installed package', r.status === 0 && r.out.trim() === '{"value":{"px":1.5},"version":7}', r.err || r.out);
  r = node(['-e', l4Read], app);
  check('LmdbLevel: a second process reads the entry back from disk', r.status === 0 && r.out.trim() === '{"value":{"px":1.5},"version":7}', r.err || r.out);
  r = node([join(app, 'node_modules', '.bin', 'ultra-performance'), 'status', '--json'], app);
  info = r.status === 0 ? JSON.parse(r.out) : {};
  check('the status CLI runs from the installed package', info.native === true && typeof info.cpu?.model === 'string', r.err);

  // The pipeline command on a user's file, as a user without the optional peer echarts runs it:
  // the run, pipeline.json and the .hgrm files, and a sentence saying how to get the HTML.
  const lob = join(root, 'bench', 'data', 'lobster');
  const lobDay = 'AAPL_2012-06-21_34200000_57600000';
  for (const kind of ['message', 'orderbook']) {
    const text = gunzipSync(readFileSync(join(lob, `${lobDay}_${kind}_1.csv.gz`))).toString('utf8');
    writeFileSync(join(app, `${lobDay}_${kind}_1.csv`), text.split('\n').slice(0, 2000).join('\n') + '\n');
  }
  r = node([join(app, 'node_modules', '.bin', 'ultra-performance'), 'pipeline', '--source', `lobster:${lobDay}_message_1.csv`, '--runs', '1', '--out', 'report'], app);
  check(
    'the pipeline CLI runs a LOBSTER file from the installed package (no echarts: JSON + .hgrm, and says how to get the HTML)',
    r.status === 0 && /0 mismatches/.test(r.err) && existsSync(join(app, 'report', 'pipeline.json')) && /npm install echarts/.test(r.out) && !existsSync(join(app, 'report', 'pipeline.html')),
    `${r.out}\n${r.err}`,
  );

  // The HTTP control API from the installed package (its dependencies come from the registry,
  // none with an install script): probes, dashboard, docs page, and a VaR on the job worker.
  copyFileSync(join(root, 'test', 'fixtures', 'server-package.mjs'), join(app, 'server.mjs'));
  for (const format of ['esm', 'cjs']) {
    r = node(['server.mjs', format], app);
    info = r.status === 0 ? JSON.parse(r.out) : {};
    check(
      `${format.toUpperCase()}: ultra-performance/server serves /livez, the dashboard, /docs, refuses a request without the token, and runs a VaR on its job worker (same number as the library)`,
      info.livez === 200 && info.dashboard === 200 && info.dashboardHtml === true && info.docs === 200 && info.unauthorized === 401 && info.var === 200 && info.varMatches === true && info.sharedErrors === true,
      r.err || JSON.stringify(info),
    );
  }

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
