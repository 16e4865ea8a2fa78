/**
 * Every heavy job the server may run, by name. A job's input and result cross a thread
 * boundary (structured clone), so they are plain data and typed arrays. `jobs.ts` runs
 * them off the event loop; nothing else can be run: the names are the whole surface.
 * Each route group owns one file here.
 */
import { riskWorkloads } from './risk.js';
import { latencyWorkloads } from './latency.js';
import { networkWorkloads } from './network.js';

export type Workload = (input: never) => unknown;

export const kWorkloads: Readonly<Record<string, Workload>> = Object.freeze({
  ...riskWorkloads,
  ...latencyWorkloads,
  ...networkWorkloads,
});

export type WorkloadName = string;
