/**
 * A suite assembled from part files: every `part-*.ts` beside the suite's index.ts exports
 * `part: BenchPart`. The parts' task groups run first, in file-name order, then each part's
 * extras; their `figures` join the baseline comparison and the rest lands under the part's name.
 * Used where several people build one suite at once (bench/net, bench/monitor).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { defineSuite, type Figure, type GroupSpec, type SuiteSpec } from './suite.js';

export interface BenchPart {
  name: string;
  groups?: GroupSpec[];
  /** Runs after every part's groups; prints its own tables; `figures` join the baseline comparison. */
  extras?: () => Promise<{ figures?: Figure[]; [key: string]: unknown }>;
}

/** Loads the `part-*.ts` files in the folder of `indexUrl` (the index's `import.meta.url`), sorted by name. */
export async function loadParts(indexUrl: string): Promise<BenchPart[]> {
  const here = dirname(fileURLToPath(indexUrl));
  const parts: BenchPart[] = [];
  for (const f of readdirSync(here).filter((x) => /^part-.*\.ts$/.test(x)).sort()) {
    const mod = (await import(pathToFileURL(join(here, f)).href)) as { part?: BenchPart };
    if (mod.part === undefined) throw new Error(`${join(here, f)} exports no 'part'`);
    parts.push(mod.part);
  }
  return parts;
}

/** The suite of `spec` whose groups and extras are those of `parts`. */
export function suiteFromParts(spec: Omit<SuiteSpec, 'groups' | 'extras'>, parts: readonly BenchPart[]): SuiteSpec {
  return defineSuite({
    ...spec,
    groups: parts.flatMap((p) => p.groups ?? []),
    extras: async () => {
      const figures: Figure[] = [];
      const out: Record<string, unknown> = {};
      for (const p of parts) {
        if (p.extras === undefined) continue;
        const { figures: f, ...rest } = await p.extras();
        figures.push(...(f ?? []));
        out[p.name] = rest;
      }
      return { figures, ...out };
    },
  });
}
