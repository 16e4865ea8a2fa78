/**
 * status/comprehensive (SEED.md "Monitoring and Alerting"): timestamp, health_status,
 * performance_grade, optimization_level and system_info, every value measured:
 *
 * - health_status and performance_grade come from five measured inputs, judged by
 *   {@link kHealthRubric} (the table in docs/server.md): recent request p99 (all routes),
 *   event-loop delay p99, 5xx rate over the rate window, job queue saturation, and heap growth
 *   (MemoryTracker's slope, counted only when it suspects a leak: monitoring must run for it).
 *   health is the worst input's level; the grade is 100 minus each input's penalty.
 * - optimization_level: what is loaded and set in this process (native addon, GPU addon,
 *   pinned affinity), see {@link optimizationLevel}.
 * - system_info: each ctx.components report; one that throws is `{ health: 'unavailable', error }`.
 *
 * The report is rebuilt and serialised through its schema at most every 200 ms (`timestamp`
 * says when it was measured), and the same JSON is sent in between, so the route stays fast under load (the bench target is
 * >= 5,000 req/s, p99 <= 1 ms on two cores).
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

import type { JobStats } from '../jobs.js';
import { backendInfo, getThreadAffinity } from '../lib.js';
import { ComprehensiveStatus } from '../schemas/status.js';
import type { TelemetrySnapshot } from '../telemetry.js';
import type { RouteModule, ServerContext } from '../types.js';
import { monitoringService } from './monitoring.js';

export type HealthLevel = 'optimal' | 'degraded' | 'critical';
export type Grade = 'A+' | 'A' | 'B' | 'C' | 'D' | 'F';

export interface HealthInputs {
  /** Recent request p99 over every route, µs. */
  requestP99Us: number;
  /** Event-loop delay p99, ms. */
  eventLoopP99Ms: number;
  /** 5xx answers / requests over the rate window, 0..1. */
  serverErrorRate: number;
  /** (running + queued jobs beyond concurrency) / queue capacity: queued / jobQueue, 0..1. */
  jobQueueSaturation: number;
  /** Heap growth, bytes per hour, when the MemoryTracker suspects a leak; 0 otherwise. */
  memoryGrowthBytesPerHour: number;
}

interface Rule {
  unit: string;
  degradedAbove: number;
  criticalAbove: number;
  penalty(value: number): number;
}

const log10Over = (value: number, base: number): number => (value <= base ? 0 : Math.log10(value / base));

/**
 * The rubric: each input's level (above degradedAbove: degraded, above criticalAbove:
 * critical) and its penalty on a score of 100. Grades: A+ >= 95, A >= 90, B >= 80, C >= 70,
 * D >= 60, F below.
 */
export const kHealthRubric: Readonly<Record<keyof HealthInputs, Rule>> = Object.freeze({
  requestP99Us: { unit: 'µs', degradedAbove: 5_000, criticalAbove: 50_000, penalty: (v) => Math.min(40, 20 * log10Over(v, 1_000)) },
  eventLoopP99Ms: { unit: 'ms', degradedAbove: 20, criticalAbove: 100, penalty: (v) => Math.min(30, 15 * log10Over(v, 10)) },
  serverErrorRate: { unit: 'ratio', degradedAbove: 0.01, criticalAbove: 0.1, penalty: (v) => Math.min(30, 300 * v) },
  jobQueueSaturation: { unit: 'ratio', degradedAbove: 0.5, criticalAbove: 0.9, penalty: (v) => Math.min(20, 20 * v) },
  memoryGrowthBytesPerHour: { unit: 'bytes/h', degradedAbove: 0, criticalAbove: 1024 ** 3, penalty: (v) => (v > 1024 ** 3 ? 20 : v > 0 ? 10 : 0) },
});

export interface Assessment {
  value: number;
  unit: string;
  level: HealthLevel;
  penalty: number;
  degraded_above: number;
  critical_above: number;
}

export interface HealthVerdict {
  health: HealthLevel;
  grade: Grade;
  score: number;
  assessments: Record<keyof HealthInputs, Assessment>;
}

const kRank: Record<HealthLevel, number> = { optimal: 0, degraded: 1, critical: 2 };

/** Health, grade and score from measured inputs, by {@link kHealthRubric}. */
export function assessHealth(inputs: HealthInputs): HealthVerdict {
  let health: HealthLevel = 'optimal';
  let score = 100;
  const assessments = {} as Record<keyof HealthInputs, Assessment>;
  for (const key of Object.keys(kHealthRubric) as (keyof HealthInputs)[]) {
    const rule = kHealthRubric[key];
    const value = Number.isFinite(inputs[key]) ? inputs[key] : 0;
    const level: HealthLevel = value > rule.criticalAbove ? 'critical' : value > rule.degradedAbove ? 'degraded' : 'optimal';
    const penalty = rule.penalty(value);
    score -= penalty;
    if (kRank[level] > kRank[health]) health = level;
    assessments[key] = { value, unit: rule.unit, level, penalty, degraded_above: rule.degradedAbove, critical_above: rule.criticalAbove };
  }
  score = Math.max(0, score);
  const grade: Grade = score >= 95 ? 'A+' : score >= 90 ? 'A' : score >= 80 ? 'B' : score >= 70 ? 'C' : score >= 60 ? 'D' : 'F';
  return { health, grade, score, assessments };
}

/** The inputs of {@link assessHealth} from a telemetry snapshot, the job stats and the memory verdict. */
/** Requests the percentile window must hold before its p99 counts toward health and grade. */
export const kMinRequestsForP99 = 100;

export function healthInputs(snap: TelemetrySnapshot, jobs: JobStats, jobQueue: number, leakSlopeBytesPerHour: number): HealthInputs {
  return {
    // A p99 over a handful of requests is the slowest one (a cold first call, a job that waited
    // syncWaitMs): judged only from kMinRequestsForP99 requests in the window on.
    requestP99Us: snap.requests.all.windowCount >= kMinRequestsForP99 ? snap.requests.all.p99Us : 0,
    eventLoopP99Ms: snap.eventLoop.p99Ms,
    serverErrorRate: snap.requests.serverErrorRate,
    jobQueueSaturation: jobQueue > 0 ? Math.min(1, jobs.queued / jobQueue) : 0,
    memoryGrowthBytesPerHour: leakSlopeBytesPerHour,
  };
}

const kMachineCores = Math.max(1, cpus().length);

function affinityPinned(): boolean {
  try {
    return getThreadAffinity().length < kMachineCores;
  } catch {
    return false;
  }
}

/**
 * 'ultra_performance' when the native addon runs and either the GPU addon is loaded or the
 * main thread is pinned to a subset of the cores; 'standard' with the native addon alone;
 * 'fallback' on the pure-TS backend.
 */
export function optimizationLevel(facts: { native: boolean; gpu: boolean; pinned: boolean }): 'ultra_performance' | 'standard' | 'fallback' {
  if (!facts.native) return 'fallback';
  return facts.gpu || facts.pinned ? 'ultra_performance' : 'standard';
}

const kCacheMs = 200;

/** Each component's report; one that throws (or returns no object) reports `{ health: 'unavailable', error }`. */
export function readComponents(components: ServerContext['components']): Record<string, { health: string; [k: string]: unknown }> {
  const out: Record<string, { health: string; [k: string]: unknown }> = {};
  for (const [name, report] of components) {
    try {
      const r = report();
      out[name] = r !== null && typeof r === 'object' && typeof r.health === 'string' ? r : { health: 'unavailable', error: `the ${name} report is not an object with a health field` };
    } catch (err) {
      out[name] = { health: 'unavailable', error: err instanceof Error ? err.message : String(err) };
    }
  }
  return out;
}

function buildReport(ctx: ServerContext): ComprehensiveStatus {
  const snap = ctx.telemetry.snapshot();
  const jobs = ctx.jobs.stats();
  const service = monitoringService(ctx);
  let leakSlope = 0;
  if (service?.metrics.monitoring === true) {
    const memory = service.metrics.memory.report();
    if (memory.leakSuspected && Number.isFinite(memory.slopeBytesPerHour)) leakSlope = Math.max(0, memory.slopeBytesPerHour);
  }
  const verdict = assessHealth(healthInputs(snap, jobs, ctx.limits.jobQueue, leakSlope));
  const backend = backendInfo();
  const facts = { native: backend.native, gpu: backend.cuda, pinned: affinityPinned() };
  const systemInfo = readComponents(ctx.components);
  const a = verdict.assessments;
  return {
    timestamp: snap.at / 1000,
    health_status: verdict.health,
    performance_grade: verdict.grade,
    score: verdict.score,
    optimization_level: optimizationLevel(facts),
    optimization: { native_backend: facts.native, gpu_backend: facts.gpu, affinity_pinned: facts.pinned, backend_mode: backend.mode },
    assessments: {
      request_p99: a.requestP99Us,
      event_loop_p99: a.eventLoopP99Ms,
      server_error_rate: a.serverErrorRate,
      job_queue_saturation: a.jobQueueSaturation,
      memory_growth: a.memoryGrowthBytesPerHour,
    },
    system_info: systemInfo,
    telemetry: {
      requests_total: snap.requests.total,
      rate_per_sec: snap.requests.ratePerSec,
      p50_us: snap.requests.all.p50Us,
      p99_us: snap.requests.all.p99Us,
      max_us: snap.requests.all.maxUs,
      server_error_rate: snap.requests.serverErrorRate,
      client_error_rate: snap.requests.clientErrorRate,
      event_loop_p99_ms: snap.eventLoop.p99Ms,
      event_loop_utilization: snap.eventLoop.utilization,
      rss_bytes: snap.memory.rss,
      heap_used_bytes: snap.memory.heapUsed,
      window_s: snap.window.windowCoveredS,
    },
    jobs: { ...jobs, queue_capacity: ctx.limits.jobQueue },
  };
}

export const statusRoutes: RouteModule = (app, ctx) => {
  // The report and its JSON (serialised through the route's response schema) are rebuilt at
  // most every kCacheMs; in between, the same bytes are sent (a string payload skips Fastify's
  // serialiser), so a request costs routing and a write.
  let json: string | Buffer | ArrayBuffer = '';
  let builtAt = -Infinity;
  app.get(
    '/status/comprehensive',
    {
      schema: {
        tags: ['status'],
        operationId: 'getComprehensiveStatus',
        summary: 'Comprehensive status',
        description:
          'timestamp (s since the epoch, when the figures were measured), health_status (optimal/degraded/critical) and performance_grade (A+..F) from measured request p99 (µs), event-loop p99 (ms), 5xx rate, job queue saturation and heap growth (the rubric is in `assessments` and docs/server.md), optimization_level from the loaded backends and affinity, system_info with every component\'s measured report. Rebuilt at most every 200 ms.',
        response: { 200: ComprehensiveStatus },
      },
    },
    (_request, reply) => {
      const now = performance.now();
      if (now - builtAt >= kCacheMs) {
        json = reply.serialize(buildReport(ctx));
        builtAt = now;
      }
      // the serialised bytes of a ComprehensiveStatus (typed as one for the type provider)
      void reply.type('application/json; charset=utf-8').send(json as unknown as ComprehensiveStatus);
    },
  );
};
