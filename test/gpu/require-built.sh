# Sourced by test/gpu/run.sh and bench/gpu/run.sh: the Node to use (NODE, default `node`)
# and a clear stop when the package is not built yet.
NODE="${NODE:-node}"
for built in dist/index.js build/Release/ultra_performance.node build-cuda/Release/ultra_perf_cuda.node; do
  [[ -f "$built" ]] || { echo "$1: $built is missing; run npm install (or npm run build:ts && npm run build:native) first" >&2; exit 1; }
done
