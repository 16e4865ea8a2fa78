import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';

const root = dirname(fileURLToPath(import.meta.url));
const libIndex = resolve(root, 'lib/index.ts');
const serverDir = resolve(root, 'lib/server') + sep;
const serverIndex = resolve(root, 'lib/server/index.ts');

/**
 * One copy of the library's state across entries. `server`, `server-worker` and `cli` are
 * bundled apart from `index`, so without this each would carry its own copy of the library
 * (its error classes, `latencyRegistry`, the loaded addon) and `instanceof UltraPerfError`
 * would fail across `ultra-performance` and `ultra-performance/server`. So:
 * - lib/server's import of the library (lib/server/lib.ts -> '../index.js') stays an import
 *   of the main entry ('./index.js' or './index.cjs' beside the bundle);
 * - any other import from lib/server into the library (lib/risk/..., lib/errors.ts) fails the
 *   build with the rule: lib/server imports library code only through lib/server/lib.ts;
 * - an import of lib/server from outside it (the CLI's `serve`) stays an import of the
 *   `server` entry ('./server.js' / './server.cjs').
 * Type-only imports are erased before this runs, so they may come from anywhere.
 */
const sharedLibrary: Plugin = {
  name: 'ultra-performance-shared-library',
  setup(build) {
    // tsup runs one esbuild build per format and sets its format here.
    const ext = build.initialOptions.format === 'cjs' ? '.cjs' : '.js';
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.importer === '' || args.kind === 'entry-point') return undefined;
      const target = resolve(dirname(args.importer), args.path.replace(/\.js$/, '.ts'));
      const fromServer = args.importer.startsWith(serverDir);
      if (fromServer && target === libIndex) return { path: `./index${ext}`, external: true };
      if (fromServer && target.startsWith(resolve(root, 'lib') + sep) && !target.startsWith(serverDir)) {
        return {
          errors: [
            {
              text: `${relative(root, args.importer)} imports ${args.path} (${relative(root, target)}): lib/server imports library code only through lib/server/lib.ts, so ultra-performance/server shares one copy of the library with ultra-performance (docs/server.md)`,
            },
          ],
        };
      }
      if (!fromServer && target === serverIndex) return { path: `./server${ext}`, external: true };
      return undefined;
    });
  },
};

export default defineConfig({
  // replay-worker: the TS replayer's worker_thread entry, which replay.ts finds next to
  // index.js / index.cjs (lib/queue/replay.ts, replayWorkerEntry); pipeline-worker likewise
  // for runSharded (lib/pipeline/shard.ts, shardWorkerEntry); server-worker: the HTTP
  // API's job threads (lib/server/jobs.ts, workerEntry), next to server.js / server.cjs.
  entry: {
    index: 'lib/index.ts',
    server: 'lib/server/index.ts',
    'server-worker': 'lib/server/job-worker.ts',
    cli: 'lib/cli.ts',
    'replay-worker': 'lib/queue/replay-worker.ts',
    'pipeline-worker': 'lib/pipeline/shard-worker.ts',
  },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'lib/index.ts', server: 'lib/server/index.ts' } },
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  // import.meta.url in the CJS build, so the loader finds the package root either way.
  shims: true,
  splitting: false,
  esbuildPlugins: [sharedLibrary],
});
