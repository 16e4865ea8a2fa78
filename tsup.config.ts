import { defineConfig } from 'tsup';

export default defineConfig({
  // replay-worker: the TS replayer's worker_thread entry, which replay.ts finds next to
  // index.js / index.cjs (lib/queue/replay.ts, replayWorkerEntry); pipeline-worker likewise
  // for runSharded (lib/pipeline/shard.ts, shardWorkerEntry).
  entry: { index: 'lib/index.ts', server: 'lib/server/index.ts', cli: 'lib/cli.ts', 'replay-worker': 'lib/queue/replay-worker.ts', 'pipeline-worker': 'lib/pipeline/shard-worker.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'lib/index.ts', server: 'lib/server/index.ts' } },
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  // import.meta.url in the CJS build, so the loader finds the package root either way.
  shims: true,
  splitting: false,
});
