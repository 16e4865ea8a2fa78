#!/usr/bin/env bash
# Device checks (`npm run test:gpu`): every GPU kernel against the CPU addon. They fail,
# rather than skip, when no device is usable, so a green run means the GPU was used.
# Plain node:test over the built package: a machine with only a Node binary can run
# them (NODE=/path/to/node bash test/gpu/run.sh) once dist/, build/ and build-cuda/ exist.
set -euo pipefail
cd "$(dirname "$0")/../.."
NODE="${NODE:-node}"
for built in dist/index.js build/Release/ultra_performance.node build-cuda/Release/ultra_perf_cuda.node; do
  [[ -f "$built" ]] || { echo "test:gpu: $built is missing; run npm install (or npm run build:ts && npm run build:native) first" >&2; exit 1; }
done
"$NODE" dist/cli.js status
exec "$NODE" --test --test-concurrency=1 test/gpu/device.test.mjs test/gpu/risk.test.mjs
