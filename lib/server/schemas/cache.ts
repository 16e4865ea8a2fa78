/**
 * Schemas of the cache/* routes (SEED.md section 3 "API Endpoints"): the tiered cache's status
 * per level, intelligent warming and the access-pattern analysis. Field names follow the
 * library (`TieredCache.stats()`, `CacheWarmer.warm()`), camelCase with the unit in the name,
 * except where the seed names a response field: the warm result's `warmed_keys` and
 * `warming_time_ms`. The seed's request parameter `max_warming_keys` is `maxWarmingKeys`, as
 * every request field is camelCase. A number the library reports as Infinity (no TTL, an unbounded
 * level) is left out rather than invented.
 */
import { Type, type Static } from 'typebox';

const Count = Type.Integer({ minimum: 0 });
const Ratio = Type.Number({ minimum: 0, maximum: 1, description: 'a fraction in [0, 1]' });

export const CacheLevelName = Type.Union([Type.Literal('l1'), Type.Literal('l2'), Type.Literal('l3'), Type.Literal('l4')]);

/** An HdrHistogram summary in ns; the percentiles are absent until something was recorded. */
export const LatencyNs = Type.Object(
  {
    count: Type.Integer({ minimum: 0, description: 'calls timed (L1/L2: one call in 256; L3/L4: every call)' }),
    meanNs: Type.Optional(Type.Number()),
    p50Ns: Type.Optional(Type.Number()),
    p99Ns: Type.Optional(Type.Number()),
    p999Ns: Type.Optional(Type.Number()),
    maxNs: Type.Optional(Type.Number()),
  },
  { $id: 'CacheLatencyNs', additionalProperties: false },
);

export const CacheLevelStatus = Type.Object(
  {
    name: CacheLevelName,
    up: Type.Boolean({ description: 'false while the level fails (answered by the other levels)' }),
    hits: Count,
    misses: Count,
    hitRatio: Ratio,
    errors: Count,
    evictions: Count,
    admissionsRejected: Type.Optional(Type.Integer({ minimum: 0, description: 'W-TinyLFU candidates refused (L1)' })),
    windowSize: Type.Optional(Type.Integer({ minimum: 0, description: 'entries in the W-TinyLFU window now (L1)' })),
    size: Type.Integer({ minimum: 0, description: 'live entries (approximate for L3/L4)' }),
    capacity: Type.Optional(Type.Integer({ minimum: 0, description: 'most entries; absent when unbounded' })),
    getLatency: Type.Ref('CacheLatencyNs'),
    setLatency: Type.Ref('CacheLatencyNs'),
  },
  { $id: 'CacheLevelStatus', additionalProperties: false },
);

/** What CacheWarmer.warm answered (the last run is kept for cache/status). */
export const CacheWarmResult = Type.Object(
  {
    warmed_keys: Type.Integer({ minimum: 0, description: "keys now in the cache because of this run (the seed's name; CacheWarmer's warmedKeys)" }),
    warming_time_ms: Type.Number({ minimum: 0, description: "wall time of the run, ms (the seed's name; CacheWarmer's warmingTimeMs)" }),
    maxWarmingKeys: Type.Integer({ minimum: 0, description: 'the most keys this run could load (seed: max_warming_keys)' }),
    candidateKeys: Type.Integer({ minimum: 0, description: 'keys chosen to load: the given keys, or the hot set known so far' }),
    failedKeys: Type.Integer({ minimum: 0, description: 'keys whose loader threw or rejected (timed-out ones included)' }),
    timedOutKeys: Type.Integer({ minimum: 0, description: 'keys abandoned at the deadline (limits.warmTimeoutMs)' }),
    skippedKeys: Type.Integer({ minimum: 0, description: 'keys the cache already held' }),
    notFoundKeys: Type.Integer({ minimum: 0, description: 'keys the loader answered undefined for' }),
    deadlineReached: Type.Boolean(),
    concurrency: Type.Integer({ minimum: 1, description: 'loader calls in flight at once (limits.warmConcurrency)' }),
    order: Type.Union([Type.Literal('hottest-last'), Type.Literal('hottest-first')]),
    finishedAt: Type.String({ format: 'date-time' }),
    errors: Type.Array(Type.Object({ key: Type.String(), code: Type.String(), message: Type.String() }, { additionalProperties: false }), {
      maxItems: 10,
      description: 'the first 10 loader errors',
    }),
  },
  { $id: 'CacheWarmResult', additionalProperties: false },
);
export type CacheWarmResult = Static<typeof CacheWarmResult>;

export const CacheStatus = Type.Object(
  {
    name: Type.String(),
    source: Type.Union([Type.Literal('plugin-default'), Type.Literal('user')], {
      description: "'plugin-default': the in-process L1-only TieredCache the plugin made because no `cache` option was given",
    }),
    levelsConfigured: Type.Integer({ minimum: 0, maximum: 4 }),
    present: Type.Object({ l1: Type.Boolean(), l2: Type.Boolean(), l3: Type.Boolean(), l4: Type.Boolean() }, { additionalProperties: false }),
    levels: Type.Array(Type.Ref('CacheLevelStatus'), { maxItems: 4, description: 'in lookup order, configured levels only' }),
    hits: Count,
    misses: Count,
    hitRatio: Ratio,
    loaderCalls: Count,
    singleFlightJoins: Count,
    leaseWaits: Count,
    staleServed: Count,
    loadErrors: Count,
    loadTimeouts: Count,
    invalidationsReceived: Count,
    coherency: Type.Union([Type.Literal('none'), Type.Literal('pubsub'), Type.Literal('tracking')]),
    defaultTtlMs: Type.Optional(Type.Number({ minimum: 0, description: 'absent: no expiry' })),
    staleWhileRevalidateMs: Type.Number({ minimum: 0 }),
    staleIfErrorMs: Type.Number({ minimum: 0 }),
    loadTimeoutMs: Type.Optional(Type.Number({ minimum: 0, description: 'absent: no timeout' })),
    closed: Type.Boolean(),
    l1Policy: Type.Optional(
      Type.Object(
        {
          windowSize: Count,
          windowMaximum: Count,
          probationSize: Count,
          protectedSize: Count,
          admissionsRejected: Count,
          climbs: Type.Integer({ minimum: 0, description: 'times the hill climber moved the window' }),
          sketchResets: Type.Integer({ minimum: 0, description: 'times the frequency sketch halved its counters' }),
        },
        { additionalProperties: false, description: 'the W-TinyLFU regions of an L1Cache' },
      ),
    ),
    warmer: Type.Object(
      {
        accesses: Type.Number({ minimum: 0, description: 'accesses recorded by warmer.recordAccess (restored ones included)' }),
        hotKeysTracked: Count,
        successorSources: Count,
        prefetch: Type.Object(
          { issued: Count, completed: Count, failed: Count, dropped: Count, used: Count, inFlight: Count },
          { additionalProperties: false },
        ),
        loaderConfigured: Type.Boolean({ description: 'a warmLoader plugin option was given (cache/warm-intelligent needs one)' }),
        warming: Type.Boolean({ description: 'a warm run is in progress' }),
        lastWarm: Type.Optional(Type.Ref('CacheWarmResult')),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'CacheStatus', additionalProperties: false },
);
export type CacheStatus = Static<typeof CacheStatus>;

export const CacheWarmBody = Type.Object(
  {
    maxWarmingKeys: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: 'most keys to load; default 500 (the seed), at most limits.maxWarmKeys (422 past it)' }),
    ),
    keys: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 512 }), {
        maxItems: 100_000,
        description: 'warm these keys (best first) instead of the learned hot set; at most limits.maxWarmKeys (413 past it)',
      }),
    ),
    order: Type.Optional(
      Type.Union([Type.Literal('hottest-last'), Type.Literal('hottest-first')], {
        description: "'hottest-last' (default) sets the coldest first so a recency-ordered cache keeps the hottest longest; 'hottest-first' when the deadline may cut the run short",
      }),
    ),
    ttlMs: Type.Optional(Type.Number({ minimum: 0, description: "TTL of the warmed entries, ms; default the cache's defaultTtlMs" })),
  },
  { additionalProperties: false },
);
export type CacheWarmBody = Static<typeof CacheWarmBody>;

export const CachePatternsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'entries per list; default 100, at most limits.maxPatternKeys (422 past it)' })),
  },
  { additionalProperties: false },
);
export type CachePatternsQuery = Static<typeof CachePatternsQuery>;

export const CacheAccessPatterns = Type.Object(
  {
    accesses: Type.Number({ minimum: 0, description: 'accesses the warmer recorded (warmer.recordAccess)' }),
    limit: Type.Integer({ minimum: 1 }),
    hotKeys: Type.Array(
      Type.Object(
        {
          key: Type.String(),
          count: Type.Number({ description: 'estimated accesses (Space-Saving: over-estimates by at most `error`; halved as counts age)' }),
          error: Type.Number({ minimum: 0 }),
          share: Ratio,
          l1Frequency: Type.Optional(Type.Integer({ minimum: 0, maximum: 15, description: "the L1 count-min sketch's estimate (4-bit, aged), when the L1 is reachable" })),
        },
        { additionalProperties: false },
      ),
      { description: 'hottest first' },
    ),
    successors: Type.Array(
      Type.Object(
        {
          key: Type.String(),
          total: Type.Number(),
          next: Type.Array(Type.Object({ key: Type.String(), count: Type.Number(), probability: Ratio }, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
      { description: 'first-order Markov rows, most transitions first: P(next | key)' },
    ),
    periodic: Type.Array(
      Type.Object(
        {
          key: Type.String(),
          periodMs: Type.Number(),
          cv: Type.Number({ description: 'coefficient of variation of the gaps' }),
          intervals: Type.Integer({ minimum: 0 }),
          lastAt: Type.Number({ description: 'ms since the epoch' }),
          nextAt: Type.Number({ description: 'ms since the epoch' }),
        },
        { additionalProperties: false },
      ),
    ),
    l1HotKeys: Type.Optional(
      Type.Array(Type.Object({ key: Type.String(), frequency: Type.Integer({ minimum: 0, maximum: 15 }) }, { additionalProperties: false }), {
        description: "the L1's own hottest entries by its sketch (present when the plugin made the cache, so its L1 is reachable)",
      }),
    ),
    hitRatioTrend: Type.Object(
      {
        intervalMs: Type.Integer({ minimum: 1 }),
        samples: Type.Array(
          Type.Object(
            {
              at: Type.String({ format: 'date-time' }),
              hits: Count,
              misses: Count,
              hitRatio: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'hits / lookups in this interval; absent with no lookups' })),
            },
            { additionalProperties: false },
          ),
          { description: 'oldest first, one per interval (lookups of TieredCache over every level)' },
        ),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'CacheAccessPatterns', additionalProperties: false },
);
export type CacheAccessPatterns = Static<typeof CacheAccessPatterns>;

/** Registered by routes/cache.ts with addSchema (components in the OpenAPI document). */
export const kCacheSchemas = [LatencyNs, CacheLevelStatus, CacheWarmResult, CacheStatus, CacheAccessPatterns];
