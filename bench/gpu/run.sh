#!/usr/bin/env bash
# GPU bench (`npm run bench:gpu`): needs a CUDA device and the built package. Plain
# Node: NODE=/path/to/node bash bench/gpu/run.sh [--quick] on a machine without npm.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/gpu/require-built.sh bench:gpu
exec "$NODE" --max-old-space-size=8192 bench/gpu/run.mjs "$@"
