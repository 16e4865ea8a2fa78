#!/usr/bin/env bash
# The fuzz harness against an AddressSanitizer build of the CPU addon (build-asan/, built
# here; build/ is left alone): any out-of-bounds read or write, use after free or double
# free in a native call aborts its child with a report, counted as a crash.
# Node itself leaks by design: leak detection is off. Arguments go to run.mjs.
set -euo pipefail
cd "$(dirname "$0")/../.."
addon=$(node test/fuzz/build-asan.mjs)
asan=$(g++ -print-file-name=libasan.so)
if [ ! -e "$asan" ]; then echo "test:fuzz:asan: libasan.so not found (g++ -print-file-name=libasan.so)" >&2; exit 1; fi
LD_PRELOAD="$asan" ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 ULTRA_PERF_FUZZ_ADDON="$addon" node test/fuzz/run.mjs "$@"
