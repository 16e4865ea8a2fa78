/**
 * `npm run bench -- net`: codecs, ITCH decode, TCP and UDP transports (issue 14), each beside
 * its peers in the same run (msgpackr, JSON, a bare `net.Socket`, `dgram`).
 *
 * The suite is assembled from the part files in this folder (`part-*.ts`), each exporting
 * `part: NetBenchPart`: its task groups run first, in file order, then each part's extras
 * (cross-process and socket measurements that print their own tables).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { defineSuite, type Figure, type GroupSpec } from '../lib/index.js';

export interface NetBenchPart {
  name: string;
  groups?: GroupSpec[];
  /** Runs after every part's groups; prints its own tables; `figures` join the baseline comparison. */
  extras?: () => Promise<{ figures?: Figure[]; [key: string]: unknown }>;
}

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here)
  .filter((f) => /^part-.*\.ts$/.test(f))
  .sort();
const parts: NetBenchPart[] = [];
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { part?: NetBenchPart };
  if (mod.part === undefined) throw new Error(`bench/net/${f} exports no 'part'`);
  parts.push(mod.part);
}

export default defineSuite({
  name: 'net',
  description: 'codecs (binary struct vs msgpackr vs JSON), ITCH 5.0 decode, framed TCP vs net.Socket, UDP recvmmsg vs dgram',
  timeMs: 1000,
  warmupMs: 250,
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
