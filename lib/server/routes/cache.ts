/**
 * The cache/* routes (SEED.md section 3 "API Endpoints"; DESIGN.md "HTTP control API"): the
 * status of a TieredCache per level, warming it from what its CacheWarmer learned, and the
 * access-pattern analysis.
 *
 * The cache is the user's (`cache` plugin option) or, without one, an in-process TieredCache
 * with an L1 only that the plugin makes (and closes), so the routes work out of the box. The
 * warmer is the `warmer` option or a new CacheWarmer: it learns only from the accesses the
 * application records (`warmer.recordAccess(key)`). Warming loads values with the `warmLoader`
 * option; without one cache/warm-intelligent answers 409: no value is ever invented.
 *
 * Warming is I/O (the user's loader), so it runs on the event loop, not in a worker thread (a
 * loader is a closure and cannot cross a thread boundary): at most `limits.warmConcurrency`
 * loader calls at once, at most `limits.maxWarmKeys` keys, one run at a time (409 while one
 * runs), and loads still pending after `limits.warmTimeoutMs` are abandoned and counted.
 */
import { performance } from 'node:perf_hooks';

import { Type } from 'typebox';

import type { WarmLoader, WarmResult } from '../../cache/warmer.js';
import type { LatencySummary } from '../../monitor/histogram.js';
import { HttpError, tooLarge, unprocessable } from '../http-errors.js';
import { CacheWarmer, L1Cache, TieredCache, checkKeys, hashKey } from '../lib.js';
import {
  type CacheAccessPatterns,
  CachePatternsQuery,
  type CacheStatus,
  CacheWarmBody,
  type CacheWarmResult,
  kCacheSchemas,
} from '../schemas/cache.js';
import type { ComponentReport, RouteModule, ServerContext } from '../types.js';

const kTags = ['cache'];
const kError = Type.Ref('ErrorResponse');
/** The seed's max_warming_keys default. */
const kDefaultWarmKeys = 500;
/** The hit-ratio trend: one sample per interval, the last kTrendSamples kept. */
const kTrendIntervalMs = 1_000;
const kTrendSamples = 60;
/** The advanced_caching component report is recomputed at most this often (status() summarises every level's histograms: ~10 µs). */
const kReportTtlMs = 100;

/** What the routes need of a cache: TieredCache's surface (a user's own cache must have it). */
type ServerCache = Pick<TieredCache<unknown>, 'name' | 'stats' | 'status' | 'set' | 'getOrLoad' | 'close'>;

interface CacheService {
  readonly cache: ServerCache;
  readonly warmer: CacheWarmer<unknown>;
  /** The L1 when the plugin made the cache (a user's TieredCache keeps its levels private). */
  readonly l1: L1Cache<unknown> | undefined;
  readonly source: 'plugin-default' | 'user';
  readonly loader: WarmLoader<unknown> | undefined;
  warming: boolean;
  lastWarm: CacheWarmResult | undefined;
}

/**
 * A plugin option of the wrong type, as the library words it ("Expected <what> for <argument>
 * but received <value>", code ERR_INVALID_ARG_TYPE); lib/errors.ts is not reachable from
 * lib/server (it imports the library only through lib.ts). Shared with routes/network.ts.
 */
export function optionTypeError(argument: string, what: string, value: unknown): TypeError & { code: string } {
  const received = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'string' ? JSON.stringify(value.slice(0, 60)) : typeof value;
  return Object.assign(new TypeError(`Expected ${what} for ${argument} but received ${received}`), { code: 'ERR_INVALID_ARG_TYPE' });
}

function checkService(value: unknown, argument: string, methods: readonly string[], what: string): void {
  if (value === undefined) return;
  const v = value as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null || methods.some((m) => typeof v[m] !== 'function')) throw optionTypeError(argument, what, value);
}

function latency(s: LatencySummary): Record<string, number> {
  if (!(s.count > 0)) return { count: 0 };
  return { count: s.count, meanNs: s.mean, p50Ns: s.p50, p99Ns: s.p99, p999Ns: s.p999, maxNs: s.max };
}

const finiteOrOmit = (v: number): number | undefined => (Number.isFinite(v) ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function statusOf(svc: CacheService): CacheStatus {
  const s = svc.cache.status();
  const present = { l1: false, l2: false, l3: false, l4: false };
  for (const level of s.levels) present[level.name] = true;
  const l1 = s.levels.find((level) => level.name === 'l1')?.level;
  const l1Policy =
    l1 !== undefined && num(l1.windowMaximum) !== undefined
      ? {
          windowSize: num(l1.windowSize) ?? 0,
          windowMaximum: num(l1.windowMaximum) ?? 0,
          probationSize: num(l1.probationSize) ?? 0,
          protectedSize: num(l1.protectedSize) ?? 0,
          admissionsRejected: num(l1.admissionsRejected) ?? 0,
          climbs: num(l1.climbs) ?? 0,
          sketchResets: num(l1.sketchResets) ?? 0,
        }
      : undefined;
  const w = svc.warmer.stats();
  return {
    name: s.name,
    source: svc.source,
    levelsConfigured: s.levels.length,
    present,
    levels: s.levels.map((level) => ({
      name: level.name,
      up: level.up,
      hits: level.hits,
      misses: level.misses,
      hitRatio: level.hitRatio,
      errors: level.errors,
      evictions: level.evictions,
      ...(level.admissionsRejected !== undefined && { admissionsRejected: level.admissionsRejected }),
      ...(level.windowSize !== undefined && { windowSize: level.windowSize }),
      size: level.size,
      ...(Number.isFinite(level.capacity) && { capacity: level.capacity }),
      getLatency: latency(level.getLatency),
      setLatency: latency(level.setLatency),
    })) as CacheStatus['levels'],
    hits: s.hits,
    misses: s.misses,
    hitRatio: s.hitRatio,
    loaderCalls: s.loaderCalls,
    singleFlightJoins: s.singleFlightJoins,
    leaseWaits: s.leaseWaits,
    staleServed: s.staleServed,
    loadErrors: s.loadErrors,
    loadTimeouts: s.loadTimeouts,
    invalidationsReceived: s.invalidationsReceived,
    coherency: s.coherency,
    defaultTtlMs: finiteOrOmit(s.defaultTtlMs),
    staleWhileRevalidateMs: s.staleWhileRevalidateMs,
    staleIfErrorMs: s.staleIfErrorMs,
    loadTimeoutMs: finiteOrOmit(s.loadTimeoutMs),
    closed: s.closed,
    l1Policy,
    warmer: {
      accesses: w.accesses,
      hotKeysTracked: w.hotKeysTracked,
      successorSources: w.successorSources,
      prefetch: w.prefetch,
      loaderConfigured: svc.loader !== undefined,
      warming: svc.warming,
      ...(svc.lastWarm !== undefined && { lastWarm: svc.lastWarm }),
    },
  };
}

/** Hits and misses per interval, for the access-patterns trend. */
class HitRatioTrend {
  readonly samples: { at: number; hits: number; misses: number }[] = [];
  #lastHits: number;
  #lastMisses: number;
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly cache: ServerCache) {
    const s = cache.stats();
    this.#lastHits = s.hits;
    this.#lastMisses = s.misses;
    this.#timer = setInterval(() => this.sample(), kTrendIntervalMs);
    this.#timer.unref();
  }

  sample(): void {
    const s = this.cache.stats();
    this.samples.push({ at: Date.now(), hits: Math.max(0, s.hits - this.#lastHits), misses: Math.max(0, s.misses - this.#lastMisses) });
    if (this.samples.length > kTrendSamples) this.samples.shift();
    this.#lastHits = s.hits;
    this.#lastMisses = s.misses;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

function errorOf(key: string, error: unknown): { key: string; code: string; message: string } {
  const e = error as { code?: unknown; message?: unknown } | null;
  return {
    key,
    code: typeof e?.code === 'string' ? e.code : 'ERR_ULTRA_PERF_HTTP_LOADER_FAILED',
    message: typeof e?.message === 'string' ? e.message : String(error),
  };
}

/** Thrown by the deadline-guarded loader once `limits.warmTimeoutMs` has passed. */
class WarmDeadlineError extends HttpError {
  constructor(ms: number) {
    super(422, 'ERR_ULTRA_PERF_HTTP_WARM_DEADLINE', `abandoned: the warm run passed limits.warmTimeoutMs (${ms} ms)`);
  }
}

async function warm(svc: CacheService, ctx: ServerContext, body: CacheWarmBody): Promise<CacheWarmResult> {
  const loader = svc.loader;
  if (loader === undefined) {
    throw new HttpError(
      409,
      'ERR_ULTRA_PERF_HTTP_NO_WARM_LOADER',
      'no warm loader is configured: register the plugin with warmLoader: (key) => value | Promise<value> (cache/warm-intelligent never invents values)',
    );
  }
  const cap = ctx.limits.maxWarmKeys;
  const maxKeys = body.maxWarmingKeys ?? Math.min(kDefaultWarmKeys, cap);
  if (maxKeys > cap) throw unprocessable('maxWarmingKeys', `at most ${cap} (limits.maxWarmKeys), received ${maxKeys}`);
  if (body.keys !== undefined) {
    if (body.keys.length > cap) throw tooLarge('keys', cap, body.keys.length, 'keys');
    checkKeys(body.keys, 'keys');
    const reserved = body.keys.findIndex((k) => k.startsWith('\u0000'));
    if (reserved >= 0) throw unprocessable(`keys[${reserved}]`, 'keys starting with U+0000 are reserved for the cache itself');
  }
  if (svc.warming) throw new HttpError(409, 'ERR_ULTRA_PERF_HTTP_WARM_RUNNING', 'a warm run is already in progress; retry when it has finished');
  svc.warming = true;
  const timeoutMs = ctx.limits.warmTimeoutMs;
  const deadline = new WarmDeadlineError(timeoutMs);
  let expired = false;
  let timedOutKeys = 0;
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(deadline);
    }, timeoutMs);
  });
  expiry.catch(() => undefined);
  const guarded: WarmLoader<unknown> = (key) => {
    if (expired) {
      timedOutKeys++;
      return Promise.reject(deadline);
    }
    return Promise.race([Promise.resolve().then(() => loader(key)), expiry]).catch((error: unknown) => {
      if (error === deadline) timedOutKeys++;
      throw error;
    });
  };
  const order = body.order ?? 'hottest-last';
  const candidates = body.keys !== undefined ? Math.min(body.keys.length, maxKeys) : svc.warmer.warmKeys(maxKeys).length;
  let r: WarmResult;
  try {
    r = await svc.warmer.warm(svc.cache as TieredCache<unknown>, guarded, {
      maxKeys,
      concurrency: ctx.limits.warmConcurrency,
      order,
      ...(body.keys !== undefined && { keys: body.keys }),
      ...(body.ttlMs !== undefined && { setOptions: { ttlMs: body.ttlMs } }),
    });
  } finally {
    clearTimeout(timer);
    svc.warming = false;
  }
  const result: CacheWarmResult = {
    warmed_keys: r.warmedKeys,
    warming_time_ms: r.warmingTimeMs,
    maxWarmingKeys: maxKeys,
    candidateKeys: candidates,
    failedKeys: r.failedKeys,
    timedOutKeys,
    skippedKeys: r.skippedKeys,
    notFoundKeys: r.notFoundKeys,
    deadlineReached: expired,
    concurrency: ctx.limits.warmConcurrency,
    order,
    finishedAt: new Date().toISOString(),
    errors: r.errors.map((e) => errorOf(e.key, e.error)),
  };
  svc.lastWarm = result;
  return result;
}

function patternsOf(svc: CacheService, ctx: ServerContext, query: CachePatternsQuery, trend: HitRatioTrend): CacheAccessPatterns {
  const cap = ctx.limits.maxPatternKeys;
  const limit = query.limit ?? Math.min(100, cap);
  if (limit > cap) throw unprocessable('limit', `at most ${cap} (limits.maxPatternKeys), received ${limit}`);
  const p = svc.warmer.analyzeAccessPatterns({ limit });
  const l1 = svc.l1;
  const accesses = p.accesses;
  return {
    accesses,
    limit,
    hotKeys: p.hotKeys.map((h) => ({
      key: h.key,
      count: h.count,
      error: h.error,
      share: accesses > 0 ? Math.min(1, h.count / accesses) : 0,
      ...(l1 !== undefined && { l1Frequency: l1.sketch.frequency(hashKey(h.key)) }),
    })),
    successors: p.successors,
    periodic: p.periodic,
    ...(l1 !== undefined && { l1HotKeys: l1.hotKeys(limit).map((key) => ({ key, frequency: l1.sketch.frequency(hashKey(key)) })) }),
    hitRatioTrend: {
      intervalMs: kTrendIntervalMs,
      samples: trend.samples.map((s) => ({
        at: new Date(s.at).toISOString(),
        hits: s.hits,
        misses: s.misses,
        ...(s.hits + s.misses > 0 && { hitRatio: s.hits / (s.hits + s.misses) }),
      })),
    },
  };
}

function reportOf(svc: CacheService): ComponentReport {
  const s = svc.cache.status();
  let size = 0;
  let evictions = 0;
  let down = 0;
  for (const level of s.levels) {
    size += level.size;
    evictions += level.evictions;
    if (!level.up) down++;
  }
  const lookups = s.hits + s.misses;
  return {
    health: s.closed ? 'unavailable' : down > 0 ? 'degraded' : lookups === 0 ? 'idle' : 'ok',
    cache_levels: s.levels.length,
    levels: s.levels.map((level) => level.name),
    levels_down: down,
    hit_ratio: s.hitRatio,
    hits: s.hits,
    misses: s.misses,
    entries: size,
    evictions,
    warmer_accesses: svc.warmer.stats().accesses,
    warm_loader: svc.loader !== undefined,
    source: svc.source,
  };
}

export const cacheRoutes: RouteModule = (app, ctx) => {
  const { cache: userCache, warmer: userWarmer, warmLoader } = ctx.options ?? {};
  checkService(userCache, 'options.cache', ['stats', 'status', 'set', 'getOrLoad'], 'a TieredCache (lib/cache)');
  checkService(userWarmer, 'options.warmer', ['analyzeAccessPatterns', 'warm', 'warmKeys', 'stats'], 'a CacheWarmer (lib/cache)');
  if (warmLoader !== undefined && typeof warmLoader !== 'function') throw optionTypeError('options.warmLoader', 'a function (key) => value | Promise<value>', warmLoader);
  const l1 = userCache === undefined ? new L1Cache<unknown>() : undefined;
  const svc: CacheService = {
    cache: userCache ?? new TieredCache<unknown>({ name: 'ultra-performance-server', l1 }),
    warmer: userWarmer ?? new CacheWarmer<unknown>(),
    l1,
    source: userCache === undefined ? 'plugin-default' : 'user',
    loader: warmLoader,
    warming: false,
    lastWarm: undefined,
  };
  ctx.services.set('cache', svc.cache);
  ctx.services.set('cacheWarmer', svc.warmer);
  const trend = new HitRatioTrend(svc.cache);
  app.addHook('onClose', async () => {
    trend.close();
    // the user's cache is theirs to close
    if (svc.source === 'plugin-default') await svc.cache.close();
  });

  let report: ComponentReport | undefined;
  let reportAt = -Infinity;
  ctx.components.set('advanced_caching', () => {
    const now = performance.now();
    if (report === undefined || now - reportAt > kReportTtlMs) {
      report = reportOf(svc);
      reportAt = now;
    }
    return report;
  });

  for (const schema of kCacheSchemas) app.addSchema(schema);

  app.get(
    '/cache/status',
    {
      schema: {
        tags: kTags,
        operationId: 'getCacheStatus',
        summary: 'Tiered cache status per level',
        description:
          'Per configured level (L1 W-TinyLFU, L2 shared memory, L3 Redis, L4 LMDB): hits, misses, hit ratio (0..1), evictions, size and capacity (entries), ' +
          'get/set latency (ns, HdrHistogram; L1/L2 sample one call in 256), the L1 window/probation/protected sizes, the load counters, and the warmer. Cheap: no I/O.',
        response: { 200: Type.Ref('CacheStatus'), 400: kError },
      },
    },
    () => statusOf(svc),
  );

  app.post(
    '/cache/warm-intelligent',
    {
      schema: {
        tags: kTags,
        operationId: 'warmCacheIntelligent',
        summary: 'Warm the cache from the learned hot set',
        description:
          "Loads up to maxWarmingKeys (default 500, at most limits.maxWarmKeys) of the warmer's hot keys (or the given keys) with the plugin's warmLoader, " +
          'at most limits.warmConcurrency loads at once; loads pending after limits.warmTimeoutMs (ms) are abandoned (timedOutKeys). ' +
          '409 when no warmLoader is configured or a run is in progress; 422 past maxWarmKeys; 413 when keys holds more than maxWarmKeys. Times in ms.',
        body: CacheWarmBody,
        response: { 200: Type.Ref('CacheWarmResult'), 400: kError, 409: kError, 413: kError, 422: kError },
      },
      // a bare POST (the seed's call) warms with the defaults
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
    },
    (request) => warm(svc, ctx, request.body),
  );

  app.get(
    '/cache/access-patterns',
    {
      schema: {
        tags: kTags,
        operationId: 'getCacheAccessPatterns',
        summary: 'Access-pattern analysis',
        description:
          'What the warmer learned from recordAccess: hot keys with estimated counts (Space-Saving; error bound) and their share of accesses, first-order successors ' +
          'with P(next | key), periodic keys (period in ms), the L1 sketch frequencies when reachable, and the hit-ratio trend (one sample per second, last 60). ' +
          'limit: entries per list, default 100, at most limits.maxPatternKeys (422 past it).',
        querystring: CachePatternsQuery,
        response: { 200: Type.Ref('CacheAccessPatterns'), 400: kError, 422: kError },
      },
    },
    (request) => patternsOf(svc, ctx, request.query, trend),
  );
};
