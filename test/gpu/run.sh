#!/usr/bin/env bash
# Device checks (`npm run test:gpu`): every GPU kernel against the CPU addon. They fail,
# rather than skip, when no device is usable, so a green run means the GPU was used.
# Plain node:test over the built package: a machine with only a Node binary can run
# them (NODE=/path/to/node bash test/gpu/run.sh) once dist/, build/ and build-cuda/ exist.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/gpu/require-built.sh test:gpu
"$NODE" dist/cli.js status
# paths.test.mjs: every kernel path reached by size; forced.test.mjs: the rare ones forced by
# the test hooks of cuda/device.cuh, each in a child process (docs/gpu-tests.md).
# One file at a time, each timed, so a device lent for minutes shows which file ran long and
# a failure in one does not hide the rest; `bash test/gpu/run.sh FILE...` runs only those.
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/gpu/device.test.mjs test/gpu/risk.test.mjs test/gpu/paths.test.mjs \
  test/gpu/forced.test.mjs test/gpu/gpu-monitor.test.mjs)
failed=()
for f in "${files[@]}"; do
  t0=$SECONDS
  "$NODE" --test --test-concurrency=1 "$f" || failed+=("$f")
  echo "test:gpu: $f took $((SECONDS - t0)) s"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test:gpu: failed: ${failed[*]}" >&2
  exit 1
fi
