/**
 * `npm run bench -- net`: codecs, ITCH decode, TCP and UDP transports (issue 14), each beside
 * its peers in the same run (msgpackr, JSON, a bare `net.Socket`, `dgram`). Assembled from the
 * `part-*.ts` files in this folder (bench/lib/parts.ts).
 */
import { type BenchPart, loadParts, suiteFromParts } from '../lib/parts.js';

/** What each `part-*.ts` here exports as `part`. */
export type NetBenchPart = BenchPart;

export default suiteFromParts(
  {
    name: 'net',
    description: 'codecs (binary struct vs msgpackr vs JSON), ITCH 5.0 decode, framed TCP vs net.Socket, UDP recvmmsg vs dgram',
    timeMs: 1000,
    warmupMs: 250,
  },
  await loadParts(import.meta.url),
);
