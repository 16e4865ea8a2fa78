#!/usr/bin/env bash
# GPU bench (`npm run bench:gpu`): needs a CUDA device and the built package. Plain
# Node: NODE=/path/to/node bash bench/gpu/run.sh [--quick] on a machine without npm.
set -euo pipefail
cd "$(dirname "$0")/../.."
NODE="${NODE:-node}"
for built in dist/index.js build/Release/ultra_performance.node build-cuda/Release/ultra_perf_cuda.node; do
  [[ -f "$built" ]] || { echo "bench:gpu: $built is missing; run npm install first" >&2; exit 1; }
done
exec "$NODE" --max-old-space-size=8192 bench/gpu/run.mjs "$@"
