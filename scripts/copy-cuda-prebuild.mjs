#!/usr/bin/env node
// After prebuildify: ship the GPU addon beside the CPU prebuild when it was built.
// It sits in a subfolder so node-gyp-build never mistakes it for the CPU addon.
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'build-cuda', 'Release', 'ultra_perf_cuda.node');
const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'cuda');
rmSync(dir, { recursive: true, force: true });
if (existsSync(built)) {
  mkdirSync(dir, { recursive: true });
  copyFileSync(built, join(dir, 'ultra_perf_cuda.node'));
  console.log(`prebuild: GPU addon copied to ${dir}`);
} else {
  console.log('prebuild: no GPU addon built (nvcc absent at install); prebuilds carry the CPU addon only');
}
