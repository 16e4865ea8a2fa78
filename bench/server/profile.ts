/**
 * Reads a V8 `.cpuprofile` (node:inspector's Profiler.stop, or `node --cpu-prof`) of the server child and says where its
 * time went: the top functions by self time, and the share of time spent inside each part
 * of a request's path (inclusive: a sample counts once for every part on its stack), so a
 * missed target can be pinned on Fastify routing, the auth hook, the rate limiter, the
 * telemetry hook, serialisation or the handler.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** µs covered by the samples (the child's whole lifetime under --cpu-prof). */
  totalUs: number;
  /** µs outside `(idle)`: the time the server was busy. */
  busyUs: number;
  /** Self time per function, largest first. */
  top: { fn: string; where: string; selfUs: number; shareOfBusy: number }[];
  /** Inclusive time per part of the request path, largest first. */
  parts: { part: string; us: number; shareOfBusy: number }[];
}

/** Which part of the server a frame belongs to; undefined for frames that name none. */
export function partOf(frame: CallFrame): string | undefined {
  const u = frame.url;
  const f = frame.functionName;
  if (f === '(garbage collector)') return 'garbage collection';
  if (f === '(idle)' || f === '(program)' || f === '(root)') return undefined;
  if (u.includes('@fastify/rate-limit')) return 'rate limiter (@fastify/rate-limit)';
  if (u.includes('@fastify/bearer-auth')) return 'auth hook (@fastify/bearer-auth)';
  if (u.includes('@fastify/under-pressure')) return 'under-pressure hook';
  if (u.includes('fast-json-stringify')) return 'serialisation (fast-json-stringify)';
  if (u.includes('find-my-way')) return 'routing (find-my-way)';
  if (u.includes('/ajv') || u.includes('fast-uri')) return 'validation (Ajv)';
  const fastify = /node_modules\/fastify\/(lib\/)?([\w-]+)\.js/.exec(u);
  if (fastify !== null) return `Fastify ${fastify[2]}.js`;
  if (u.includes('lib/server/auth')) return 'auth hook (lib/server/auth.ts)';
  if (u.includes('lib/server/telemetry')) return 'telemetry hook (lib/server/telemetry.ts)';
  if (u.includes('lib/server/routes/') || u.includes('lib/server/workloads/')) return 'route handlers (lib/server/routes, workloads)';
  if (u.includes('lib/server/')) return 'lib/server plumbing (plugin, jobs, auth, limits)';
  if (u.includes('/lib/monitor/') || u.includes('/lib/risk/') || u.includes('/lib/')) return 'library calls (lib/monitor, lib/risk, ...)';
  // new Function() code (fast-json-stringify serialisers, Ajv validators) has no url; nor do native bindings.
  if (u === '' && f === 'anonymous') return 'generated code (fast-json-stringify serialisers, Ajv validators)';
  if (u.startsWith('node:_http') || u.startsWith('node:http') || u.includes('internal/http')) return 'node:http';
  if (u.startsWith('node:net') || u.startsWith('node:internal/stream') || u.startsWith('node:stream') || u.includes('stream_base')) return 'sockets and streams (node:net)';
  return undefined;
}

/** `window`: only samples taken between these two times (µs, the profile's own clock: CLOCK_MONOTONIC). */
export function summarizeProfile(file: string, topN = 20, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) byId.set(n.id, n);
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  let idleUs = 0;
  const partUs = new Map<string, number>();
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute it to sample i (V8's own convention is close enough here).
    const dt = p.timeDeltas[i] ?? 0;
    at += dt;
    if (window !== undefined && (at < window.fromUs || at > window.toUs)) continue;
    const id = p.samples[i]!;
    totalUs += dt;
    const leaf = byId.get(id)!;
    if (leaf.callFrame.functionName === '(idle)') {
      idleUs += dt;
      continue;
    }
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      const part = partOf(byId.get(node)!.callFrame);
      if (part !== undefined && !seen.has(part)) {
        seen.add(part);
        partUs.set(part, (partUs.get(part) ?? 0) + dt);
      }
    }
  }
  const busyUs = totalUs - idleUs;
  const byFn = new Map<string, { fn: string; where: string; selfUs: number }>();
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    const where = cf.url === '' ? '' : `${cf.url.replace(/^file:\/\/.*?\/(node_modules|lib|bench)\//, '$1/')}:${cf.lineNumber + 1}`;
    const key = `${cf.functionName}@${where}`;
    const e = byFn.get(key) ?? { fn: cf.functionName || '(anonymous)', where, selfUs: 0 };
    e.selfUs += us;
    byFn.set(key, e);
  }
  const share = (us: number): number => (busyUs > 0 ? us / busyUs : 0);
  return {
    totalUs,
    busyUs,
    top: [...byFn.values()]
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, topN)
      .map((e) => ({ ...e, shareOfBusy: share(e.selfUs) })),
    parts: [...partUs.entries()].sort((a, b) => b[1] - a[1]).map(([part, us]) => ({ part, us, shareOfBusy: share(us) })),
  };
}
