/**
 * Issue 19.1: the deterministic paths (detmath, Philox normals, GBM and Monte Carlo paths,
 * VaR sums, Cholesky) must round exactly like lib/risk (TS) and the GPU: no fused multiply-add.
 * g++ fuses a*b+c wherever the target has FMA (every aarch64 host, x86 with -mfma or
 * -march=native, and any function with target("fma")) unless -ffp-contract=off is given,
 * and nvcc fuses device code unless an operation carries an explicit rounding mode
 * (detmath's __dmul_rn/__dadd_rn). This suite reads the object code:
 *  1. the built CPU addon (build/Release) has no fused instruction outside the kernels
 *     listed in kFusedAllowed (the covariance Gram product, FMA on purpose);
 *  2. cpp/risk compiled with binding.gyp's flags for a host that fuses (x86-64-v3 here,
 *     plain on aarch64) has none either, so removing -ffp-contract=off fails this test
 *     even where the shipped build targets a baseline without FMA;
 *  3. the device code of the deterministic kernels has no fused operation: PTX from nvcc
 *     (no fma.f64, no add/sub/mul.f64 without a rounding mode, which ptxas may fuse); SASS
 *     is not checked, since ptxas writes DFMA Newton steps for every correctly rounded f64
 *     division and square root.
 * Each half that lacks its tools is skipped with a message, except that under CI=true the
 * CPU half must run (objdump, g++ and the built addon).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../lib/backend.js';

const run = promisify(execFile);
const ci = process.env.CI === 'true';
const mode = process.env.ULTRA_PERF_BACKEND;

function onPath(tool: string): boolean {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Functions allowed to hold fused instructions: the covariance Gram product's SIMD kernels,
 * which use FMA on purpose (cpp/risk/gram.cc, _mm256_fmadd_pd/_mm512_fmadd_pd; the covariance
 * is checked against a tolerance, not bit for bit). Matched as the start of the demangled name.
 */
const kFusedAllowed = [
  'up::risk::(anonymous namespace)::kernel_avx2(',
  'up::risk::(anonymous namespace)::kernel_avx512(',
] as const;

/** x86 FMA3/FMA4 (vfmadd231sd, vfnmsub132pd, vfmaddsubpd...) and aarch64 scalar, NEON and SVE fused forms. */
const kFusedX86 = /\bvfn?m(?:add|sub)(?:sub|add)?(?:132|213|231)?[ps][sdh]\b/;
const kFusedArm = /\b(?:fn?madd|fn?msub|fml[as]|fnml[as]|fn?mad|fn?msb)\b/;
const kFused = process.arch === 'arm64' ? kFusedArm : kFusedX86;

/** Functions of an objdump -d -C listing that hold a fused instruction, with a count and one example each. */
function fusedFunctions(listing: string, fused: RegExp = kFused): Map<string, { count: number; example: string }> {
  const out = new Map<string, { count: number; example: string }>();
  let fn = '';
  for (const line of listing.split('\n')) {
    const header = /^[0-9a-f]+ <(.+)>:$/.exec(line);
    if (header !== null) {
      fn = header[1]!;
      continue;
    }
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const insn = line.slice(tab + 1);
    if (!fused.test(insn)) continue;
    const seen = out.get(fn);
    if (seen === undefined) out.set(fn, { count: 1, example: insn.trim() });
    else seen.count++;
  }
  return out;
}

/** Fused functions outside the allowed list, as "name: N fused, e.g. insn". */
function disallowed(fused: Map<string, { count: number; example: string }>): string[] {
  return [...fused]
    .filter(([fn]) => !kFusedAllowed.some((allowed) => fn.startsWith(allowed)))
    .map(([fn, { count, example }]) => `${fn}: ${count} fused, e.g. ${example}`);
}

async function disassemble(file: string): Promise<string> {
  const { stdout } = await run('objdump', ['-d', '-C', '--no-show-raw-insn', file], { maxBuffer: 512 << 20 });
  return stdout;
}

const haveObjdump = onPath('objdump');
const haveGxx = onPath('g++');
const addonPath = join(packageRoot, 'build', 'Release', 'ultra_performance.node');
const cpuReady = haveObjdump && haveGxx && existsSync(addonPath);
const cpuSkipReason = !haveObjdump ? 'objdump is not on PATH' : !haveGxx ? 'g++ is not on PATH' : `${addonPath} is not built`;
// The compiles and disassembly below are the same under both backends: run them once, in the
// native project; under CI=true they run there even when a tool is missing, and fail.
const cpuHalf = mode === 'native' && (ci || cpuReady);
if (!cpuHalf && mode === 'native') console.warn(`fp-contract: CPU half skipped: ${cpuSkipReason}`);

describe('the build flags say -ffp-contract=off wherever C++ is compiled', () => {
  it('binding.gyp, test/native/run.sh and CMakeLists.txt (the .cc and the host side of the .cu)', () => {
    const gyp = JSON.parse(readFileSync(join(packageRoot, 'binding.gyp'), 'utf8')) as { targets: { cflags_cc: string[] }[] };
    expect(gyp.targets[0]!.cflags_cc).toContain('-ffp-contract=off');
    const native = readFileSync(join(packageRoot, 'test', 'native', 'run.sh'), 'utf8');
    expect(/^common=\(.*-ffp-contract=off.*\)$/m.test(native), 'test/native/run.sh common=(...) flags').toBe(true);
    const cmake = readFileSync(join(packageRoot, 'CMakeLists.txt'), 'utf8');
    expect(cmake).toContain('$<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off>');
    expect(cmake).toContain('$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-ffp-contract=off>');
  });
});

describe.runIf(cpuHalf)('no fused multiply-add in the CPU deterministic paths', () => {
  it('the detector finds the fused instruction g++ emits for a*b+c on a host that fuses', async () => {
    // Without this the test below could pass because the pattern matches nothing.
    const dir = mkdtempSync(join(tmpdir(), 'up-fma-'));
    try {
      const src = join(dir, 'fma.cc');
      writeFileSync(src, 'double muladd(double a, double b, double c) { return a * b + c; }\n');
      const arch = process.arch === 'x64' ? ['-march=x86-64-v3'] : [];
      await run('g++', ['-O2', '-ffp-contract=fast', ...arch, '-c', src, '-o', join(dir, 'fast.o')]);
      await run('g++', ['-O2', '-ffp-contract=off', ...arch, '-c', src, '-o', join(dir, 'off.o')]);
      expect([...fusedFunctions(await disassemble(join(dir, 'fast.o'))).keys()]).toEqual(['muladd(double, double, double)']);
      expect(fusedFunctions(await disassemble(join(dir, 'off.o'))).size).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the built addon: fused instructions only in the listed Gram kernels', async () => {
    expect(existsSync(addonPath), `${addonPath} (npm run build:native)`).toBe(true);
    const listing = await disassemble(addonPath);
    // The paths this guards are there by name (a stripped or renamed build would pass vacuously).
    for (const fn of ['up::risk::cholesky(', 'up::risk::fill_normals(', 'up::risk::simulate_gbm(', 'up::risk::historical_tail(', 'up::risk::portfolio_mc_losses(']) {
      expect(listing.includes(`<${fn}`), `${fn} in the addon's symbols`).toBe(true);
    }
    expect(disallowed(fusedFunctions(listing))).toEqual([]);
  });

  it("cpp/risk compiled with binding.gyp's flags for a host that fuses: fused instructions only in the listed Gram kernels", async () => {
    const gyp = JSON.parse(readFileSync(join(packageRoot, 'binding.gyp'), 'utf8')) as {
      targets: { cflags_cc: string[]; defines: string[] }[];
    };
    // The flags that decide code generation; warnings and visibility do not.
    const flags = gyp.targets[0]!.cflags_cc.filter((f) => /^-(?:std=|O|f(?:fp-contract|fast-math|no-fast-math|exceptions))/.test(f));
    const arch = process.arch === 'x64' ? ['-march=x86-64-v3'] : [];
    const dir = mkdtempSync(join(tmpdir(), 'up-fma-risk-'));
    try {
      // The sources with floating-point arithmetic (detmath is header-only and inlined into
      // these); parallel.cc and simd.cc hold none and only slow this test down.
      const sources = ['cholesky.cc', 'gram.cc', 'matrix.cc', 'montecarlo.cc', 'philox.cc', 'var.cc'];
      expect(readdirSync(join(packageRoot, 'cpp', 'risk'))).toEqual(expect.arrayContaining(sources));
      const found: string[] = [];
      await Promise.all(
        sources.map(async (f) => {
          const obj = join(dir, f.replace(/\.cc$/, '.o'));
          await run('g++', [...flags, ...arch, '-fPIC', `-I${join(packageRoot, 'cpp')}`, '-c', join(packageRoot, 'cpp', 'risk', f), '-o', obj]);
          found.push(...disallowed(fusedFunctions(await disassemble(obj))).map((d) => `${f}: ${d}`));
        }),
      );
      expect(found).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});

// ---- the device half ---------------------------------------------------------------------

const haveNvcc = onPath('nvcc');
/** Kernels whose results must equal the CPU's bit for bit; the device sums (partial_sums, final_sums) may fuse. */
const kDeterministicKernel = /(?:normals|gbm|mc)_\w*kernel/;
const kDeviceSources = ['cuda/risk/normals.cu', 'cuda/risk/montecarlo.cu'];
const deviceHalf = haveNvcc && mode === 'native';
if (!haveNvcc && mode === 'native') {
  console.warn('fp-contract: device half skipped: nvcc is not on PATH (the CUDA build is absent); the CPU half still ran');
}

/** PTX per .entry: name -> body. */
function ptxEntries(ptx: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = ptx.split(/^(?=(?:\.(?:visible|weak)\s+)?\.entry\s)/m);
  for (const part of parts) {
    const m = /^(?:\.visible\s+)?\.entry\s+([\w$]+)/.exec(part);
    if (m !== null) out.set(m[1]!, part);
  }
  return out;
}

describe.runIf(deviceHalf)('no fused multiply-add in the deterministic device kernels', () => {
  const dir = mkdtempSync(join(tmpdir(), 'up-fma-ptx-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const includes = [`-I${packageRoot}`];

  it('PTX: every f64 add, sub and mul has an explicit rounding mode and none is fused', async () => {
    const problems: string[] = [];
    const kernels: string[] = [];
    await Promise.all(
      kDeviceSources.map(async (src, i) => {
        const out = join(dir, `${i}.ptx`);
        // Same dialect and options as CMakeLists.txt; PTX for the oldest architecture we build for.
        await run('nvcc', ['-std=c++17', '--expt-relaxed-constexpr', '-arch=compute_75', '-ptx', ...includes, join(packageRoot, src), '-o', out], {
          maxBuffer: 64 << 20,
        });
        for (const [name, body] of ptxEntries(readFileSync(out, 'utf8'))) {
          if (!kDeterministicKernel.test(name)) continue;
          kernels.push(name);
          for (const line of body.split('\n')) {
            // fma.rn.f64 is a fused operation; add.f64 / mul.f64 / sub.f64 without .rn may be fused by ptxas.
            if (/\bfma\.\w+\.f64\b/.test(line) || /\b(?:add|sub|mul)\.f64\b/.test(line)) problems.push(`${src} ${name}: ${line.trim()}`);
          }
        }
      }),
    );
    expect(kernels.some((k) => k.includes('normals_kernel'))).toBe(true);
    expect(kernels.some((k) => k.includes('gbm_kernel'))).toBe(true);
    expect(kernels.some((k) => /mc_\w*kernel/.test(k))).toBe(true);
    expect(problems).toEqual([]);
  }, 600_000);

  // No SASS check: ptxas lowers div.rn.f64 and sqrt.rn.f64 (detmath's log, exp, quantile and
  // Box-Muller) to a reciprocal estimate refined by DFMA Newton steps, which round correctly
  // and change no bit, so a DFMA in SASS proves nothing. The PTX above is the contract: every
  // f64 add, sub and mul carries .rn (ptxas may not fuse those) and no fma.f64 is written.
});
