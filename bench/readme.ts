/**
 * `npx tsx bench/readme.ts [--write]`: the README's measured sections, made from the
 * committed runs in bench/baseline/ and nothing else, so every figure the README quotes
 * can be traced to a file and reproduced with the command that file records.
 * Prints the Markdown; --write replaces the text between `<!-- bench:begin -->` and
 * `<!-- bench:end -->` in README.md (the rest of the README is left alone).
 * Refresh: `ULTRA_PERF_BACKEND=native npm run bench -- --save-baseline`, then this with --write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { formatBytes, formatNs, formatRate, formatRatio } from './lib/format.mjs';
import { baselineDir, benchRoot, type Figure, type SuiteResult, type TaskRecord } from './lib/suite.js';

const suites = ['floor', 'memory', 'orderbook', 'queue', 'risk'] as const;
const runs = Object.fromEntries(
  suites.map((s) => [s, JSON.parse(readFileSync(join(baselineDir, `${s}.json`), 'utf8')) as SuiteResult]),
) as Record<(typeof suites)[number], SuiteResult>;

/** When the baselines were saved: one run on one day, or suite by suite (the table below gives each file). */
function whenRun(dates: string[]): string {
  const first = dates[0]!;
  const last = dates[dates.length - 1]!;
  const cmd = '`ULTRA_PERF_BACKEND=native npm run bench -- --save-baseline`';
  if (first.slice(0, 10) === last.slice(0, 10)) return `one run, ${cmd},\non ${first.slice(0, 10)} (${first.slice(11, 16)}–${last.slice(11, 16)} UTC)`;
  return `${cmd} runs of each suite (one file per suite, below),\nbetween ${first.slice(0, 10)} ${first.slice(11, 16)} and ${last.slice(0, 10)} ${last.slice(11, 16)} UTC`;
}

function task(suite: keyof typeof runs, name: string): TaskRecord {
  const t = runs[suite].tasks.find((x) => x.name === name);
  if (t === undefined) throw new Error(`bench/baseline/${suite}.json has no task "${name}"`);
  return t;
}
function figure(suite: keyof typeof runs, name: string): Figure {
  const f = ((runs[suite].extras as { figures?: Figure[] }).figures ?? []).find((x) => x.name === name);
  if (f === undefined) throw new Error(`bench/baseline/${suite}.json has no figure "${name}"`);
  return f;
}
const med = (s: keyof typeof runs, n: string): string => formatNs(task(s, n).medianNsPerOp);
const p99 = (s: keyof typeof runs, n: string): string => formatNs(task(s, n).p99NsPerOp);
const rate = (s: keyof typeof runs, n: string): string => {
  const r = task(s, n).rate;
  return r === undefined ? '-' : formatRate(r.value, r.unit);
};
const ratio = (s: keyof typeof runs, a: string, b: string): string => formatRatio(task(s, a).medianNsPerOp / task(s, b).medianNsPerOp);
const alloc = (s: keyof typeof runs, n: string): string => formatBytes(task(s, n).allocation?.bytesPerOp ?? 0);
const met = (s: keyof typeof runs, n: string): string => (task(s, n).target?.met ? 'met' : '**missed**');
const loadOf = (s: keyof typeof runs): string => {
  const l = runs[s].groups.map((g) => g.load.load1);
  return `${Math.min(...l).toFixed(1)}–${Math.max(...l).toFixed(1)}`;
};
const allLoads = suites.flatMap((s) => runs[s].groups.map((g) => g.load.load1));
const loadAll = (): string => `${Math.min(...allLoads).toFixed(1)}–${Math.max(...allLoads).toFixed(1)}`;
const busy = (): boolean => Math.max(...allLoads) > runs.floor.machine.cpu.cores - 1;
const qRate = (n: string): string => formatRate(figure('queue', n).median, 'msg/s');
const qNs = (n: string): string => formatNs(figure('queue', n).median);
const qP99 = (n: string): string => formatNs(figure('queue', n).p99!);

const m = runs.floor.machine;
const dates = suites.map((s) => runs[s].date);
const churn = (runs.memory.extras as { gcChurn: Record<string, { gcCount: number; gcTotalMs: number; wallMs: number }> }).gcChurn;
const fresh = churn['new objects + new Uint8Array(64)']!;
const pooled = churn['ObjectPool + SlabAllocator']!;
const tgts = (runs.queue.extras as { targets: { target: string; measured: number; met: boolean }[] }).targets;
const qTarget = (prefix: string): { measured: number; met: boolean } => tgts.find((t) => t.target.startsWith(prefix))!;
const numpy = (runs.risk.extras as { numpy: { version?: string } }).numpy.version ?? 'absent';
const spscSingle = 'SpscQueue push/pop (default paths)';
const spscBatch = 'SpscQueue pushBatch/popBatch (default paths)';
const portSingle = 'MessagePort.postMessage, one message per post';
const portBatch = 'MessagePort.postMessage, 64 messages per 4 KiB post';

// ---- risk: one figure per workload (bench/risk/index.ts: threaded workloads timed one call at a
// time, each call a pause after the last, NumPy likewise). A risk.json from before that protocol
// (no extras.gapUs: calls back to back, no cholesky-500) still renders, saying so.
type RiskExtras = {
  riskThreads: number;
  gapUs?: number;
  pool?: { gapUs: number; wakeUpNs: number; policies: { spinUs: number; medianNs: number; p99Ns: number; cpuPerCallNs: number }[] };
};
const riskExtras = runs.risk.extras as RiskExtras;
const riskGapUs = riskExtras.gapUs;
if (riskGapUs === undefined) {
  console.error(
    'bench/readme.ts: bench/baseline/risk.json predates the spaced-call protocol (issue 18: no extras.gapUs); its risk figures are ' +
      'back-to-back calls and the README says so. Refresh it: ULTRA_PERF_BACKEND=native npx tsx bench/run.ts risk --save-baseline',
  );
}
const riskTask = (name: string): TaskRecord | undefined => runs.risk.tasks.find((x) => x.name === name);
/** Each target piece of a task with its own verdict (the JSON's `met` is all of them together). */
const targetPieces = (name: string, prefix = ''): string[] => {
  const r = riskTask(name);
  const t = r?.target;
  if (r === undefined || t === undefined) return [];
  const v = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const out: string[] = [];
  if (t.maxNs !== undefined) out.push(`${prefix}≤ ${formatNs(t.maxNs)}: ${v(r.medianNsPerOp <= t.maxNs)}`);
  if (t.minRate !== undefined) out.push(`${prefix}≥ ${formatRate(t.minRate, r.rate?.unit ?? '/s')}: ${v((r.rate?.value ?? 0) >= t.minRate)}`);
  const f = t.fasterThan;
  if (f !== undefined) {
    const what = f.factor === 1 ? `${prefix}at least even with NumPy` : `${prefix}≥ ${formatRatio(f.factor)} NumPy's speed`;
    out.push(f.measured === undefined ? `${what}: not judged (${t.unjudged ?? 'no NumPy figure'})` : `${what}: ${v(f.measured >= f.factor)}`);
  }
  return out;
};
const riskRow = (label: string, w: string, showRate = false): string => {
  const cell = (who: string): string => {
    const r = riskTask(`${who} ${w}`);
    if (r === undefined) return 'not in this baseline';
    return showRate && r.rate !== undefined ? `${formatNs(r.medianNsPerOp)} (${formatRate(r.rate.value, r.rate.unit)})` : formatNs(r.medianNsPerOp);
  };
  const n = riskTask(`native ${w}`);
  const p = riskTask(`numpy ${w}`);
  const speed = n !== undefined && p !== undefined ? formatRatio(p.medianNsPerOp / n.medianNsPerOp) : '-';
  const target = [...targetPieces(`native ${w}`), ...targetPieces(`ts ${w}`, 'TS ')].join('; ');
  return `| ${label} | ${cell('native')} | ${cell('ts')} | ${cell('numpy')} | ${speed} | ${target} |`;
};
const riskProtocol = (): string => {
  if (riskGapUs === undefined) {
    return `**These risk figures predate the one-protocol bench** (issue 18): they are calls made back to back (the
pool's workers kept spinning between them), measured ${runs.risk.date.slice(0, 16).replace('T', ' ')} UTC; \`ULTRA_PERF_BACKEND=native npx tsx bench/run.ts risk --save-baseline\`
refreshes them with calls spaced as a caller makes them.`;
  }
  return `One figure per workload, timed the way a caller calls: every threaded workload one call at a time, each call
${formatNs(riskGapUs * 1000)} after the last (an untimed pause, longer than the thread pool's spin window, so the call pays the
workers' wake-up), NumPy's calls spaced the same way. The 10k VaR runs on one thread in microseconds and is timed in
batches of back-to-back calls. "NumPy ÷ native" is the speed-up (above 1× we are faster).`;
};
const riskAfter = (): string => {
  const b2b = riskTask('native corr-100x1000, back-to-back');
  const b2bNumpy = riskTask('numpy corr-100x1000, back-to-back');
  const pool = riskExtras.pool;
  const lines: string[] = [];
  if (b2b !== undefined) {
    lines.push(
      `Back to back (no pause, the workers still spinning), correlation 100 × 1,000 takes ${formatNs(b2b.medianNsPerOp)} native` +
        (b2bNumpy !== undefined ? ` and ${formatNs(b2bNumpy.medianNsPerOp)} in NumPy (${formatRatio(b2bNumpy.medianNsPerOp / b2b.medianNsPerOp)} speed-up)` : '') +
        '; the table\'s figure is the spaced one.',
    );
  }
  if (pool !== undefined && pool.policies.length >= 2) {
    const first = pool.policies[0]!;
    const last = pool.policies[pool.policies.length - 1]!;
    const byPolicy = pool.policies.map((q) => `${formatNs(q.medianNs)} with \`spinUs: ${q.spinUs}\``).join(', ');
    lines.push(
      `The pool's idle policy (\`setRiskPoolPolicy\`, docs/risk.md): the same call ${formatNs(pool.gapUs * 1000)} apart took ${byPolicy}, so a ` +
        (pool.wakeUpNs > 0 ? `sleeping pool's wake-up costs the call ${formatNs(pool.wakeUpNs)}` : `sleeping pool's wake-up cost the call nothing measurable (${formatNs(pool.wakeUpNs)}, within the noise)`) +
        '; spinning through the pause instead costs ' +
        `${formatNs(last.cpuPerCallNs)} of CPU per call against ${formatNs(first.cpuPerCallNs)} (all threads).`,
    );
  }
  return lines.length > 0 ? `${lines.join('\n\n')}\n\n` : '';
};


// ---- the main job (bench/baseline/pipeline.json, its own run: `npm run bench -- pipeline --save-baseline`) ----
type Report = import('../lib/pipeline/report-data.js').PipelineReportData;
const pipeRun = JSON.parse(readFileSync(join(baselineDir, 'pipeline.json'), 'utf8')) as SuiteResult;
const pipe = (pipeRun.extras as { report: Report }).report;
const dist = (s: Report['stages'][number], name: string) => s.distributions.find((d) => d.name === name)!;
const nativeStages = pipe.stages.filter((s) => s.backend === 'native');
const metIf = (ok: boolean): string => (ok ? 'met' : '**missed**');
const stageRows = pipe.stages
  .map((s) => `| ${s.backend} | ${s.symbol} | ${formatRate(s.eventsPerSecond, 'ev/s')} | ${['marketData', 'book', 'signal', 'risk', 'venue'].map((n) => formatNs(dist(s, n).p50)).join(' | ')} | ${formatNs(dist(s, 'tickToTrade').p50)} / ${formatNs(dist(s, 'tickToTrade').p99)} | ${formatRatio(pipe.seed.total / dist(s, 'tickToTrade').p50)} |`)
  .join('\n');
const reconRows = pipe.reconstruction
  .map((r) => `| ${r.symbol} L${r.depth} | ${r.messages.toLocaleString('en-US')} | ${r.mismatches} | ${r.refills.toLocaleString('en-US')} | ${r.nativeMessagesPerSecond === undefined ? '-' : formatRate(r.nativeMessagesPerSecond, 'msg/s')} | ${r.tsMessagesPerSecond === undefined ? '-' : formatRate(r.tsMessagesPerSecond, 'msg/s')} |`)
  .join('\n');
const sweepText = pipe.rateSweep
  .map((w) => `${w.backend}: ${w.maxRateP99Under10us > 0 ? formatRate(w.maxRateP99Under10us, 'rec/s') : '**none**'} (p99 at the lowest rate, ${formatRate(w.points[0]!.offeredPerSecond, '/s')}: ${formatNs(w.points[0]!.p99)})`)
  .join('; ');
const hic = pipe.meta.hiccups;
const seedRow = (label: string, seed: number, ours: string) => `| ${label} | ${formatNs(seed)} | ${ours} |`;
const gAapl = nativeStages.find((s) => s.symbol === 'AAPL') ?? pipe.stages[0]!;
const pipelineMd = `## The main job: the end-to-end pipeline

\`npm run bench\` ends with the pipeline ([docs/pipeline.md](docs/pipeline.md)) on a full
NASDAQ day from LOBSTER (2012-06-21, AAPL level 1 and GOOG level 10, in \`bench/data/lobster/\`):
market data → \`MboBook\` → \`quoteAroundMid\` → \`RiskGate\` (with a VaR budget over the
S&P 500 panel) → our \`MatchingEngine\` as the venue. It writes \`bench/out/pipeline/pipeline.html\`;
the committed run is \`bench/results/pipeline.html\` (open it in a browser; with
\`pipeline.json\` and one \`.hgrm\` per histogram), from \`${pipeRun.command}\` on
${pipeRun.date.slice(0, 16).replace('T', ' ')} UTC, load ${pipe.meta.load.map((l) => l.toFixed(1)).join(' → ')} on ${pipe.meta.cores} cores.

Book reconstruction, checked against the exchange's book after every message (targets: ≥ 10 M msg/s native, ≥ 3 M TS):

| file | messages | mismatches | refills | native | TS |
| --- | ---: | ---: | ---: | ---: | ---: |
${reconRows}

At maximum rate (stage p50 over every 16th record; tick-to-trade over the rest; targets native p50 ≤ 2 µs, p99 ≤ 10 µs):

| backend | symbol | events/s | market data | book | signal | risk | venue | tick-to-trade p50 / p99 | seed 0.22 ms ÷ p50 |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${stageRows}

Native targets: ${nativeStages.map((s) => `${s.symbol} p50 ${metIf(dist(s, 'tickToTrade').p50 <= 2_000)}, p99 ${metIf(dist(s, 'tickToTrade').p99 <= 10_000)}`).join('; ') || 'no native run'}.
Beside the seed's table (${gAapl.backend}, ${gAapl.symbol}, p50):

| stage | seed | ours |
| --- | ---: | ---: |
${seedRow('market data processing', pipe.seed.marketData, formatNs(dist(gAapl, 'marketData').p50))}
${seedRow('order book update', pipe.seed.book, formatNs(dist(gAapl, 'book').p50))}
${seedRow('risk calculation', pipe.seed.risk, formatNs(dist(gAapl, 'risk').p50))}
${seedRow('total pipeline', pipe.seed.total, formatNs(dist(gAapl, 'tickToTrade').p50))}

Highest offered rate whose tick-to-trade p99 stays ≤ 10 µs (fixed rate, latency from each
record's intended time, so coordinated omission is counted): ${sweepText}.${hic === undefined ? '' : ` What decides it here is the machine: a thread doing nothing but read the clock (jHiccup's method) saw ${Math.round(hic.stallsPerSecond).toLocaleString('en-US')} stalls above 10 µs a second (median ${formatNs(hic.medianStallNs)}, longest ${formatNs(hic.maxStallNs)}), ${(100 * hic.lostFraction).toFixed(1)} % of its time. A record that arrives during a stall waits for its end, so the p99 at a given rate moves with the machine's load from run to run (a lower rate can fail where a higher one passed, as the table in the report shows), and at a load of 5–6 an earlier run found no rate under 10 µs.`}
Events/s against worker threads (${pipe.threads[0]?.symbols ?? 0} symbols): ${pipe.threads.map((t) => `${t.threads}: ${formatRate(t.eventsPerSecond, 'ev/s')}`).join(', ')}; this machine has ${pipe.meta.cores} cores, and the main thread decodes and routes.
Trading (both symbols): ${pipe.trading.orders.toLocaleString('en-US')} orders, ${pipe.trading.fills.toLocaleString('en-US')} fills, rejects ${Object.entries(pipe.trading.rejects).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ')}.
VaR backtest of the S&P 500 index 1990–2022 (window 250): ${pipe.backtest.rows.map((r) => `${r.method} ${r.confidence * 100} %: ${r.exceptions} exceptions (${r.expected.toFixed(1)} expected, Kupiec p ${r.kupiecPValue.toPrecision(2)})`).join('; ')}.

`;
const md = `## The floor

Every later number is judged against these: the cost of crossing into native code, of
reading the clock, and of recording one latency sample (\`bench/baseline/floor.json\`).

| measure | median | p99 | peer |
| --- | ---: | ---: | --- |
| empty call into the CPU addon (\`noop()\`) | ${med('floor', 'cpuAddon.noop()')} | ${p99('floor', 'cpuAddon.noop()')} | empty JS function ${med('floor', 'empty JS function')} (inlined) |
| \`MicrosecondTimer\` start + stopNs (raw, two clock reads) | ${med('floor', 'MicrosecondTimer start()+stopNs()')} | ${p99('floor', 'MicrosecondTimer start()+stopNs()')} | \`performance.now()\` ×2 ${med('floor', 'performance.now() x2')} (${alloc('floor', 'performance.now() x2')}/op), \`hrtime.bigint()\` ×2 ${med('floor', 'process.hrtime.bigint() x2')} (${alloc('floor', 'process.hrtime.bigint() x2')}/op); ours ${alloc('floor', 'MicrosecondTimer start()+stopNs()')}/op |
| calibrated timer overhead subtracted | ${formatNs(runs.floor.settings.timerOverheadNs)} | | |
| \`LatencyHistogram.record\` | ${med('floor', 'LatencyHistogram.record')} | ${p99('floor', 'LatencyHistogram.record')} | \`perf_hooks\` ${med('floor', 'perf_hooks histogram.record')} (${ratio('floor', 'perf_hooks histogram.record', 'LatencyHistogram.record')}), hdr-histogram-js WASM ${med('floor', 'hdr-histogram-js wasm recordValue')} (${ratio('floor', 'hdr-histogram-js wasm recordValue', 'LatencyHistogram.record')}), JS ${med('floor', 'hdr-histogram-js js recordValue')} (${ratio('floor', 'hdr-histogram-js js recordValue', 'LatencyHistogram.record')}) |
| \`monitorLatency\` wrapper around a trivial function | ${med('floor', 'monitorLatency wrapper')} | ${p99('floor', 'monitorLatency wrapper')} | plain call ${med('floor', 'plain call')} |

The clock on this VM reads in steps of about 10 ns (single-call figures are multiples of
it), which bounds every per-call figure below.

${pipelineMd}## Measured

Every figure here comes from ${whenRun(dates)}: ${m.cpu.model}, ${m.cpu.cores} cores,
Node ${m.node.replace(/^v/, '')}, native backend. The machine was shared: the 1-minute load average was
${loadAll()} on its ${m.cpu.cores} cores throughout${busy() ? ', so every figure is slower and noisier than on an idle\nmachine, most of all the threaded and cross-thread ones' : ''}.
The JSON behind each table is in \`bench/baseline/\`; a new run writes \`bench/out/\` and
prints each figure beside the baseline. Each group's peers are measured in the same
round-robin (\`bench/lib/suite.ts\`), so load falls on all of them alike; batch-mode medians
time K calls per sample and divide, and their p99 is over batch means, not single calls${riskGapUs !== undefined ? ';\nthe threaded risk kernels are timed one call at a time, each after a pause (risk, below)' : ''}.

| suite | reproduce | baseline file | load (1 min) |
| --- | --- | --- | --- |
${suites.map((s) => `| ${s} | \`${runs[s].command}\` | \`bench/baseline/${s}.json\` | ${loadOf(s)} |`).join('\n')}

### Queues (\`bench/baseline/queue.json\`, 64-byte messages, two worker threads)

| workload | queue | \`MessagePort.postMessage\` | target |
| --- | ---: | ---: | --- |
| SPSC, one message per push/pop | ${qRate(spscSingle)} | ${qRate(portSingle)} (${formatRatio(qTarget('>= 50x postMessage throughput (single)').measured)}) | ≥ 10 M msg/s: ${qTarget('SPSC single').met ? 'met' : '**missed**'}; ≥ 50× postMessage: ${qTarget('>= 50x postMessage throughput (single)').met ? 'met' : '**missed**'} |
| SPSC, batches of 64 | ${qRate(spscBatch)} | ${qRate(portBatch)} in 4 KiB posts (${formatRatio(qTarget('>= 50x postMessage throughput (batched vs batched').measured)}); ${formatRatio(qTarget('>= 50x postMessage throughput (queue batches').measured)} one-message posts | ≥ 30 M msg/s: ${qTarget('SPSC batched').met ? 'met' : '**missed**'} |
| MPMC 2 producers × 2 consumers, single / batches of 64 | ${qRate('MpmcQueue 2x2 push/pop (default paths)')} / ${qRate('MpmcQueue 2x2 pushBatch/popBatch x64 (default paths)')} | | (4 threads on ${m.cpu.cores} cores) |
| round trip, both sides spinning | p50 ${qNs('SpscQueue pair, both sides spin on tryPush/tryPop')}, p99 ${qP99('SpscQueue pair, both sides spin on tryPush/tryPop')} | echo p50 ${qNs('MessagePort.postMessage echo (event loop)')}, p99 ${qP99('MessagePort.postMessage echo (event loop)')} | p50 ≤ 1 µs: ${qTarget('spin round trip').met ? 'met' : '**missed**'} |
| round trip, blocking \`push\`/\`pop\` (spin, then \`Atomics.wait\`) | p50 ${qNs('SpscQueue pair, push/pop default (spin 500 tries, then wait)')}, p99 ${qP99('SpscQueue pair, push/pop default (spin 500 tries, then wait)')} | | |
| round trip, \`Atomics.wait\` at once | p50 ${qNs('SpscQueue pair, push/pop with Atomics.wait at once')} | | |

Single messages fall short of 50× postMessage because every publish is an \`Atomics.store\`
(a locked \`xchg\`) waiting on a cache line the other core keeps pulling; a batched post
amortises postMessage's per-message cost as our batches do.

### Memory (\`bench/baseline/memory.json\`, one alloc + free from JS)

| workload | median | p99 | peers | target |
| --- | ---: | ---: | --- | --- |
| \`SlabAllocator\` 64 B (TS path, default) | ${med('memory', 'SlabAllocator alloc+free (ts)')} | ${p99('memory', 'SlabAllocator alloc+free (ts)')} | \`Buffer.allocUnsafe(64)\` ${med('memory', 'Buffer.allocUnsafe(64)')}, \`new ArrayBuffer(64)\` ${med('memory', 'new ArrayBuffer(64)')} | ≤ 15 ns: ${met('memory', 'SlabAllocator alloc+free (ts)')} |
| \`SlabAllocator\` shared (Atomics CAS) | ${med('memory', 'SlabAllocator alloc+free (ts, shared)')} | ${p99('memory', 'SlabAllocator alloc+free (ts, shared)')} | | |
| \`BuddyAllocator\` 16 B–4 KiB (TS path, default) | ${med('memory', 'BuddyAllocator alloc+free (ts)')} | ${p99('memory', 'BuddyAllocator alloc+free (ts)')} | \`Buffer.allocUnsafe\` ${med('memory', 'Buffer.allocUnsafe(16..4096)')}, \`new ArrayBuffer\` ${med('memory', 'new ArrayBuffer(16..4096)')} | ≤ 80 ns: ${met('memory', 'BuddyAllocator alloc+free (ts)')} |
| \`ObjectPool\` acquire + release | ${med('memory', 'ObjectPool acquire+release')} | ${p99('memory', 'ObjectPool acquire+release')} | object literal ${med('memory', 'new object literal')} (${alloc('memory', 'new object literal')}, GC) | ≤ 10 ns: ${met('memory', 'ObjectPool acquire+release')} |
| 2 M messages of churn: GC pauses | ${pooled.gcCount} GCs with pool + slab | ${fresh.gcCount} GCs, ${formatNs(fresh.gcTotalMs * 1e6)} total with \`new\` | | |

There is no native allocator backend from JS: the addon's raw bindings cost ${med('memory', 'slabAlloc+slabFree raw bindings (C++ from JS, no wrapper)')} per slab pair, and
two addon calls that do almost nothing already ${med('memory', '2 x currentCpu() (two addon calls doing ~nothing: the floor)')}, more than two TS pairs, so no binding
could come within 2x of the TS path ([memory layouts](docs/memory-layout.md#why-there-is-no-native-backend-from-js)); C++ code uses the same bytes directly.

### Order books (\`bench/baseline/orderbook.json\`)

| workload | native | TS | nodejs-order-book | target |
| --- | ---: | ---: | ---: | --- |
| \`updateBid\` median / p99 (batch) | ${med('orderbook', 'native updateBid')} / ${p99('orderbook', 'native updateBid')} | ${med('orderbook', 'ts updateBid')} / ${p99('orderbook', 'ts updateBid')} | | ≤ 60 / ≤ 250 ns |
| \`updateBid\` single-call median / p99 | ${med('orderbook', 'native updateBid, per call')} / ${p99('orderbook', 'native updateBid, per call')} | ${med('orderbook', 'ts updateBid, per call')} / ${p99('orderbook', 'ts updateBid, per call')} | | |
| \`applyDeltas\`, 1,000 deltas | ${rate('orderbook', 'native applyDeltas(1000 deltas)')} | ${rate('orderbook', 'ts applyDeltas(1000 deltas)')} | | ≥ 30 M: ${met('orderbook', 'native applyDeltas(1000 deltas)')} |
| matching, exchange-core mix, per call | ${med('orderbook', 'native MatchingEngine per call')} (${rate('orderbook', 'native MatchingEngine per call')}) | ${med('orderbook', 'ts MatchingEngine per call')} | ${med('orderbook', 'nodejs-order-book per call')} (${ratio('orderbook', 'nodejs-order-book per call', 'native MatchingEngine per call')} native) | ≥ 3 M ops/s: ${met('orderbook', 'native MatchingEngine per call')}; ≥ 20× peer: ${task('orderbook', 'nodejs-order-book per call').medianNsPerOp / task('orderbook', 'native MatchingEngine per call').medianNsPerOp >= 20 ? 'met' : '**missed**'} |
| matching, same stream, \`submitInto\` (reused \`ExecutionReportBuffer\`), per call | ${med('orderbook', 'native MatchingEngine submitInto per call')} | ${med('orderbook', 'ts MatchingEngine submitInto per call')} | ${ratio('orderbook', 'nodejs-order-book per call', 'native MatchingEngine submitInto per call')} native | ≥ 20× peer: ${task('orderbook', 'nodejs-order-book per call').medianNsPerOp / task('orderbook', 'native MatchingEngine submitInto per call').medianNsPerOp >= 20 ? 'met' : '**missed**'} |
| matching, same stream, \`submitCommandInto\` (packed command, no objects), per call | ${med('orderbook', 'native MatchingEngine submitCommandInto per call')} | ${med('orderbook', 'ts MatchingEngine submitCommandInto per call')} | ${ratio('orderbook', 'nodejs-order-book per call', 'native MatchingEngine submitCommandInto per call')} native | ≥ 20× peer: ${task('orderbook', 'nodejs-order-book per call').medianNsPerOp / task('orderbook', 'native MatchingEngine submitCommandInto per call').medianNsPerOp >= 20 ? 'met' : '**missed**'} |
| \`submitBatch\`, 1,000 commands | ${rate('orderbook', 'native submitBatch(1000 commands)')} | ${rate('orderbook', 'ts submitBatch(1000 commands)')} | | ≥ 10 M: ${met('orderbook', 'native submitBatch(1000 commands)')} |

### Risk on the CPU (\`bench/baseline/risk.json\`, NumPy ${numpy} in the same round-robin)

${riskProtocol()}

| workload | native | TS | NumPy | NumPy ÷ native | target |
| --- | ---: | ---: | ---: | ---: | --- |
${riskRow('VaR + CVaR, 10k returns', 'var-10k')}
${riskRow('VaR + CVaR, 1M returns', 'var-1M')}
${riskRow('correlation 100 × 1,000', 'corr-100x1000')}
${riskRow('correlation 500 × 2,520', 'corr-500x2520')}
${riskRow('Cholesky 100 × 100', 'cholesky-100')}
${riskRow('Cholesky 500 × 500', 'cholesky-500')}
${riskRow('`simulateGBM` 100k paths × 252 steps', 'gbm-100kx252')}
${riskRow('`monteCarloVaR` 5 assets × 1M paths', 'mcvar-5x1M', true)}
${riskRow('normals from the generator, 1M', 'normals-1M', true)}

${riskAfter()}The native kernels for 1M-return VaR, the correlations, GBM, Monte Carlo VaR and
the generator run on ${riskExtras.riskThreads} threads${busy() ? '; at this load they shared the cores with other work' : ''}.
Correlation spends most of its time in a packed, register-blocked SYRK (4 × 12 AVX2+FMA tiles),
which sustains 30–34 GFLOP/s per core, about 70 % of this CPU's measured 45 GFLOP/s FMA peak and
the rate OpenBLAS's dsyrk reaches behind NumPy: 500 × 2,520 is 631 MFLOP, ≈ 20 ms of one core, and
a 1.5× lead over an equally fast dsyrk would need the kernel above its peak, so that target stays
missed for a reason no blocking fixes (roofline in [risk](docs/risk.md#covariance-correlation-cholesky)).
At 100 × 1,000 (10 MFLOP, ≈ 0.15 ms on two cores) the packing pass, the call and the
workers' wake-up weigh as much as the arithmetic. Cholesky is bit-identical to the TS loop,
so it multiplies and subtracts without FMA (n³/3 flops, one rounding each); at 500 its blocked
update is shared by both cores from about n = 256, where LAPACK's blocked dpotrf with FMA and
its own threads stays ahead. TS GBM is bound by Philox's 32×32→64-bit multiplies, which JS must
emulate in float64.
`;


// ---- net and monitor: their own run (bench/baseline/net.json, monitor.json) ----
const later = Object.fromEntries(
  (['net', 'monitor'] as const).map((s) => [s, JSON.parse(readFileSync(join(baselineDir, `${s}.json`), 'utf8')) as SuiteResult]),
) as Record<'net' | 'monitor', SuiteResult>;
const lt = (s: 'net' | 'monitor', name: string): TaskRecord => {
  const t = later[s].tasks.find((x) => x.name === name);
  if (t === undefined) throw new Error(`bench/baseline/${s}.json has no task '${name}'`);
  return t;
};
const lf = (s: 'net' | 'monitor', name: string): Figure => {
  const f = ((later[s].extras as { figures?: Figure[] }).figures ?? []).find((x) => x.name === name);
  if (f === undefined) throw new Error(`bench/baseline/${s}.json has no figure '${name}'`);
  return f;
};
const lmed = (s: 'net' | 'monitor', n: string): string => formatNs(lt(s, n).medianNsPerOp);
const lp99 = (s: 'net' | 'monitor', n: string): string => formatNs(lt(s, n).p99NsPerOp);
const lrate = (s: 'net' | 'monitor', n: string): string => formatRate(lt(s, n).rate!.value, lt(s, n).rate!.unit);
const lratio = (s: 'net' | 'monitor', a: string, b: string): string => formatRatio(lt(s, a).medianNsPerOp / lt(s, b).medianNsPerOp);
const lmet = (s: 'net' | 'monitor', n: string): string => (lt(s, n).target?.met ? 'met' : '**missed**');
const loadsOf = (r: SuiteResult): string => {
  const l = r.groups.map((g) => g.load.load1);
  return `${Math.min(...l).toFixed(1)}–${Math.max(...l).toFixed(1)}`;
};
const tcp = (later.net.extras as { tcp: { rtt: { overheadP50: number; ours: { p999: number }; bare: { p999: number } } } }).tcp;
const udpRuns = (later.net.extras as { udp: { load: { load1: number }; results: { name: string; drainPerSec: number; flatReceivedPerSec: number; flatReceivedOfSent: number; p50: number; p99: number }[] } }).udp;
const udpOf = (name: string) => udpRuns.results.find((r) => r.name === name)!;
const dg = udpOf('dgram');
const nv = udpOf('native recvmmsg (notify)');
const det = (later.monitor.extras as { detector: { rates: { what: string; length: number; pValue: number; correction: string; percent: number }[]; appendNs: number; wholeNs: number } }).detector;
const rateOf = (what: string, length: number, pValue: number, correction = 'bonferroni'): string =>
  `${det.rates.find((r) => r.what.startsWith(what) && r.length === length && r.pValue === pValue && r.correction === correction)!.percent.toFixed(1)} %`;
const overhead = (later.monitor.extras as { metrics: { overhead: { medianPercentOfOneCore: number; targetPercentOfOneCore: number; met: boolean } } }).metrics.overhead;
const emptyTimer = (later.monitor.extras as { metrics: { overhead: { conditions: { name: string; medianExtraNsPerWallSecond: number }[] } } }).metrics.overhead.conditions.find((c) => c.name.startsWith('an empty setInterval'))!.medianExtraNsPerWallSecond;
const netMd = `### Codecs and transports (\`bench/baseline/net.json\`)

A run of its own: \`${later.net.command}\` on ${later.net.date.slice(0, 16).replace('T', ' ')} UTC, load ${loadsOf(later.net)} during the
task groups and ${udpRuns.load.load1.toFixed(1)} during the socket measurements (other work on the machine), so the socket figures are noisy.

| 7-field quote | encode | decode | bytes | target |
| --- | ---: | ---: | ---: | --- |
| \`defineStruct\`, TS | ${lmed('net', 'struct encode TS (48 B)')} | ${lmed('net', 'struct decode TS to object (48 B)')} to an object | 48 | encode ≤ 30 ns: ${lmet('net', 'struct encode TS (48 B)')} |
| flyweight (zero-copy view) | ${lmed('net', 'struct flyweight 7 setters (48 B)')} (7 setters) | ${lmed('net', 'struct flyweight wrap + 7 reads (48 B)')} (wrap + 7 reads); one field ${lmed('net', 'struct flyweight read, u32 size')}–${lmed('net', 'struct flyweight read, i64 price')} | 48 | field read ≤ 5 ns: ${lmet('net', 'struct flyweight read, i64 price')} |
| msgpackr, records (fixed key lists) | ${lmed('net', 'msgpackr records encode (26 B)')} (${lratio('net', 'msgpackr records encode (26 B)', 'struct encode TS (48 B)')} ours) | ${lmed('net', 'msgpackr records decode (26 B)')} (${lratio('net', 'msgpackr records decode (26 B)', 'struct decode TS to object (48 B)')}) | 26 | ≥ 10× on encode: ${lt('net', 'msgpackr records encode (26 B)').medianNsPerOp / lt('net', 'struct encode TS (48 B)').medianNsPerOp >= 10 ? 'met' : '**missed**'} |
| msgpackr, plain | ${lmed('net', 'msgpackr plain encode (93 B)')} | ${lmed('net', 'msgpackr plain decode (93 B)')} | 93 | |
| JSON | ${lmed('net', 'JSON encode (124 B)')} | ${lmed('net', 'JSON decode (124 B)')} | 124 | |
| batches of 256, native / TS | ${lrate('net', 'struct native batch encode (48 B/msg)')} / ${lrate('net', 'struct TS batch encode')} | ${lrate('net', 'struct native batch decode')} / ${lrate('net', 'struct TS batch decode')} | 48 | |

Beside the seed's table: its binary struct took 3.2 µs to encode and 4.1 µs to decode (ours: ${formatRatio(3200 / lt('net', 'struct encode TS (48 B)').medianNsPerOp)} and ${formatRatio(4100 / lt('net', 'struct decode TS to object (48 B)').medianNsPerOp)} less), its MsgPack 12.3 / 18.7 µs (msgpackr plain here: ${formatRatio(12300 / lt('net', 'msgpackr plain encode (93 B)').medianNsPerOp)} / ${formatRatio(18700 / lt('net', 'msgpackr plain decode (93 B)').medianNsPerOp)} less).

| ITCH 5.0 from memory (real AAPL excerpt ×10) | msg/s | target |
| --- | ---: | --- |
| \`decodeItch\`, one message to an object | ${lrate('net', 'itch decodeItch ts (real, per message)')} | |
| TS batch decoder (columns) | ${lrate('net', 'itch batch ts (real)')} | ≥ 20 M: ${lmet('net', 'itch batch ts (real)')} |
| native batch decoder | ${lrate('net', 'itch batch native (real)')} (synthetic A/D/E mix ${lrate('net', 'itch batch native (synthetic)')}) | ≥ 100 M: ${lmet('net', 'itch batch native (real)')} |

The TS batch decoder runs 31–35 M msg/s in a script of its own and ${lrate('net', 'itch batch ts (real)')} inside the bench harness,
where V8 inlines it into the timing loop (26 M with \`--max-inlined-bytecode-size=0\`); the cause is not yet found.

| TCP loopback, 64 B, peer in another process | p50 | p99 | p99.9 |
| --- | ---: | ---: | ---: |
| ours (\`measureLatency\`: framed, acknowledged) | ${formatNs(lf('net', 'RTT ours measureLatency 64 B').median)} | ${formatNs(lf('net', 'RTT ours measureLatency 64 B').p99!)} | ${formatNs(tcp.rtt.ours.p999)} |
| bare \`net.Socket\` ping-pong | ${formatNs(lf('net', 'RTT bare net.Socket 64 B').median)} | ${formatNs(lf('net', 'RTT bare net.Socket 64 B').p99!)} | ${formatNs(tcp.rtt.bare.p999)} |

Framing overhead at p50: ${(100 * tcp.rtt.overheadP50).toFixed(1)} % (target ≤ 10 %: ${tcp.rtt.overheadP50 <= 0.1 ? 'met' : '**missed**'}). One way, 64-byte messages: ours ${formatRate(lf('net', 'throughput ours 64 B').median, 'msg/s')} (${formatRate(lf('net', 'throughput ours 64 B, peer reads batches()').median, 'msg/s')} when the peer reads \`batches()\`; target ≥ 1 M: ${lf('net', 'throughput ours 64 B').median >= 1e6 ? 'met' : '**missed**'}), bare corked writes ${formatRate(lf('net', 'throughput bare corked writes 64 B').median, 'msg/s')}.

| UDP loopback, 64 B | drain of a full socket buffer | received/s, sender flat out (share of sent) | send-to-JS p50 / p99 at 20 k pkt/s |
| --- | ---: | ---: | ---: |
| \`dgram\` | ${formatRate(dg.drainPerSec, 'pkt/s')} | ${formatRate(dg.flatReceivedPerSec, 'pkt/s')} (${(100 * dg.flatReceivedOfSent).toFixed(0)} %) | ${formatNs(dg.p50)} / ${formatNs(dg.p99)} |
| native \`recvmmsg\` thread → \`SpscQueue\` | ${formatRate(nv.drainPerSec, 'pkt/s')} (${formatRatio(nv.drainPerSec / dg.drainPerSec)}) | ${formatRate(nv.flatReceivedPerSec, 'pkt/s')} (${(100 * nv.flatReceivedOfSent).toFixed(0)} %) | ${formatNs(nv.p50)} / ${formatNs(nv.p99)} |

Target ≥ 3× \`dgram\`: ${nv.drainPerSec / dg.drainPerSec >= 3 ? 'met' : '**missed**'} (the receiver thread, the JS thread and the sender share 2 cores). MoldUDP64 feed, publisher → subscriber
in one process: ${formatRate(lf('net', 'publisher→subscriber, no loss').median, 'msg/s')} without loss, ${formatRate(lf('net', 'publisher→subscriber, 1% loss').median, 'msg/s')} through a relay dropping 1 % and reordering 1 %;
gap detection p50 ${formatNs(lf('net', 'gap detection (1% loss)').median)} (p99 ${formatNs(lf('net', 'gap detection (1% loss)').p99!)}), recovery p50 ${formatNs(lf('net', 'gap recovery (1% loss)').median)} (p99 ${formatNs(lf('net', 'gap recovery (1% loss)').p99!)}).

### Monitoring (\`bench/baseline/monitor.json\`)

\`${later.monitor.command}\` on ${later.monitor.date.slice(0, 16).replace('T', ' ')} UTC, load ${loadsOf(later.monitor)}.

| one recorded latency | median | p99 |
| --- | ---: | ---: |
| \`LatencyHistogram.record\` | ${lmed('monitor', 'LatencyHistogram.record')} | ${lp99('monitor', 'LatencyHistogram.record')} |
| hdr-histogram-js, WASM / JS | ${lmed('monitor', 'hdr-histogram-js recordValue (WASM)')} / ${lmed('monitor', 'hdr-histogram-js recordValue (JS)')} | |
| prom-client \`Histogram.observe\` | ${lmed('monitor', 'prom-client Histogram.observe')} (${lratio('monitor', 'prom-client Histogram.observe', 'LatencyHistogram.record')}) | ${lp99('monitor', 'prom-client Histogram.observe')} |

A \`PerformanceMetrics\` tick costs ${lmed('monitor', 'PerformanceMetrics.sample()')}; at 10 Hz monitoring adds ${overhead.medianPercentOfOneCore.toFixed(2)} % of one core (target ≤ ${overhead.targetPercentOfOneCore} %: ${overhead.met ? 'met' : '**missed**'}; an empty 10 Hz \`setInterval\` alone costs ${(emptyTimer / 1e7).toFixed(2)} % here).
Change points (E-divisive means with a t-test, Bonferroni over split positions) on 1,000 seeded series of 100 points at 5 % noise:
${rateOf('no change', 100, 0.01)} raise a change at p 0.01 (Otava's uncorrected test: ${rateOf('no change', 100, 0.01, 'none')}), a 10 % step is found within 10 points in ${rateOf('10% step', 100, 0.01)}.
Analysis time: ${lmed('monitor', 'changePoints 100 points')} for 100 points, ${lmed('monitor', 'changePoints 1,000 points')} for 1,000 (target ≤ 50 ms), ${lmed('monitor', 'changePoints 10,000 points')} for 10,000, ${lmed('monitor', 'changePoints 100,000 points')} for 100,000; appending one point to ~1,000: ${formatNs(det.appendNs)}.
`;

// ---- cache: its own run (bench/baseline/cache.json) ----
const cacheRun = JSON.parse(readFileSync(join(baselineDir, 'cache.json'), 'utf8')) as SuiteResult;
const ct = (name: string): TaskRecord => {
  const t = cacheRun.tasks.find((x) => x.name === name);
  if (t === undefined) throw new Error(`bench/baseline/cache.json has no task '${name}'`);
  return t;
};
const cf = (name: string): Figure => {
  const f = ((cacheRun.extras as { figures?: Figure[] }).figures ?? []).find((x) => x.name === name);
  if (f === undefined) throw new Error(`bench/baseline/cache.json has no figure '${name}'`);
  return f;
};
const cmed = (n: string): string => formatNs(ct(n).medianNsPerOp);
const cp99 = (n: string): string => formatNs(ct(n).p99NsPerOp);
const cx = cacheRun.extras as {
  'hit-ratio': { rows: { trace: string; size: number; optimal: number; lru: number; l1: number; capped: boolean; requests: number }[] };
  l2: { fromAnotherThread: { op: string; backend: string; medianNs: number; p99Ns: number }[] };
  warm: {
    warmRestart: { cache: string; trace: string; capacity: number; steady: number; cold: number; warm: number; warmOfSteady: number; warmL1: number; warmL1OfSteady: number }[];
    prefetch?: { cache: string; trace: string; capacity: number; hitOff: number; hitOn: number; loadsOff: number; loadsOn: number }[];
  };
};
const pct = (x: number): string => `${x.toFixed(2)} %`;
const hitRows = cx['hit-ratio'].rows;
const below = hitRows.filter((r) => r.l1 < r.lru - 1e-9);
const near = (name: string): boolean => ['lirs loop', 'lirs gli', 'lirs multi2', 'arc OLTP'].some((t) => name.startsWith(t));
const farFromOptimal = hitRows.filter((r) => near(r.trace) && r.optimal - r.l1 > 5);
const l1Peer = (op: string, tag: string): string => {
  const ours = ct(`${op} ${tag}: L1Cache (ours)`).medianNsPerOp;
  const peer = (n: string): string => `${cmed(`${op} ${tag}: ${n}`)} (${formatRatio(ct(`${op} ${tag}: ${n}`).medianNsPerOp / ours)})`;
  return `| ${op}, ${tag} | ${cmed(`${op} ${tag}: L1Cache (ours)`)} | ${peer('lru-cache')} | ${peer('mnemonist LRUCache')} | ${peer('bentocache (memory, awaited)')} |`;
};
const getRatio = (tag: string): number => ct(`get ${tag}: lru-cache`).medianNsPerOp / ct(`get ${tag}: L1Cache (ours)`).medianNsPerOp;
const l2Worker = cx.l2.fromAnotherThread.find((r) => r.op === 'get' && r.backend === 'ts')!;
const warmRows = cx.warm.warmRestart;
const cacheMd = `### Tiered cache (\`bench/baseline/cache.json\`)

\`${cacheRun.command}\` on ${cacheRun.date.slice(0, 16).replace('T', ' ')} UTC, load ${loadsOf(cacheRun)}. Hit ratios are
deterministic (the same in every run); times are medians of single calls or of batches, with p99.

| trace @ entries | Bélády (optimal) | LRU (lru-cache) | L1 (W-TinyLFU) |
| --- | ---: | ---: | ---: |
${hitRows.map((r) => `| ${r.trace}${r.capped ? ` (first ${r.requests.toLocaleString('en-US')})` : ''} @ ${r.size} | ${pct(r.optimal)} | ${pct(r.lru)} | ${pct(r.l1)} |`).join('\n')}

Targets: never below LRU: ${below.length === 0 ? 'met' : `**missed** at ${below.map((r) => `${r.trace} @ ${r.size} (${(r.l1 - r.lru).toFixed(2)} points)`).join(', ')}`};
within 5 points of optimal on loop, gli, multi2 and OLTP: ${farFromOptimal.length === 0 ? 'met' : `**missed** at ${farFromOptimal.map((r) => `${r.trace} @ ${r.size} (${(r.optimal - r.l1).toFixed(1)} behind)`).join(', ')}`}.
The seed claims a 95.2 % L1 hit ratio at 1,000 entries on no named workload.

| Zipf(0.99), get + set on miss | L1Cache | lru-cache (÷ ours) | mnemonist LRUCache | bentocache, memory (awaited) |
| --- | ---: | ---: | ---: | ---: |
${['1k entries', '10k entries'].flatMap((t) => ['get', 'set', 'get+set'].map((op) => l1Peer(op, t))).join('\n')}

L1 \`get\` p50 ≤ 60 ns at 1k: ${ct('get 1k entries: L1Cache (ours)').target?.met ? 'met' : '**missed**'}; ≤ 100 ns at 10k: ${ct('get 10k entries: L1Cache (ours)').target?.met ? 'met' : '**missed**'}; ≥ 1.5× lru-cache: ${getRatio('1k entries') >= 1.5 && getRatio('10k entries') >= 1.5 ? 'met' : `**missed** (${formatRatio(getRatio('1k entries'))} at 1k, ${formatRatio(getRatio('10k entries'))} at 10k)`}.

| level | median | p99 | target | seed |
| --- | ---: | ---: | --- | ---: |
| \`TieredCache.getSync\`, L1 hit | ${cmed('TieredCache getSync (L1 hit, L1Cache)')} | ${cp99('TieredCache getSync (L1 hit, L1Cache)')} | | 2.3 µs |
| \`TieredCache.getOrLoad\`, hit | ${cmed('TieredCache getOrLoad (hit, L1Cache)')} | ${cp99('TieredCache getOrLoad (hit, L1Cache)')} | | |
| bentocache \`getOrSet\`, hit | ${cmed('bentocache getOrSet (hit, memory L1)')} | ${cp99('bentocache getOrSet (hit, memory L1)')} | | |
| L2 get from another thread, 100 B msgpack incl. decode | ${formatNs(l2Worker.medianNs)} | ${formatNs(l2Worker.p99Ns)} (batch means) | ≤ 300 ns: ${l2Worker.medianNs <= 300 ? 'met' : '**missed**'} | 18.5 µs |
| L3 \`RedisLevel.getEntry\` / bare node-redis GET | ${formatNs(cf('RedisLevel.getEntry').median)} / ${formatNs(cf('bare node-redis GET').median)} | ${formatNs(cf('RedisLevel.getEntry').p99!)} / ${formatNs(cf('bare node-redis GET').p99!)} | ≤ 1.2×: ${cf('RedisLevel.getEntry').median / cf('bare node-redis GET').median <= 1.2 ? 'met' : '**missed**'} (${formatRatio(cf('RedisLevel.getEntry').median / cf('bare node-redis GET').median)}) | 0.85 ms |
| L4 \`getEntrySync\` / lmdb-js \`getBinaryFast\` (floor) | ${formatNs(cf('L4 getEntrySync single calls (interleaved)').median)} / ${formatNs(cf('lmdb-js getBinaryFast single calls (interleaved)').median)} | ${formatNs(cf('L4 getEntrySync single calls (interleaved)').p99!)} | ≤ 2 µs: ${cf('L4 getEntrySync single calls (interleaved)').median <= 2000 ? 'met' : '**missed**'} | 15.2 ms |
| invalidation across processes, pub/sub | ${formatNs(cf('invalidation delay (pubsub)').median)} | ${formatNs(cf('invalidation delay (pubsub)').p99!)} | p99 ≤ 5 ms: ${cf('invalidation delay (pubsub)').p99! <= 5e6 ? 'met' : '**missed**'} | |
| invalidation across processes, RESP3 tracking | ${formatNs(cf('invalidation delay (tracking)').median)} | ${formatNs(cf('invalidation delay (tracking)').p99!)} | p99 ≤ 5 ms: ${cf('invalidation delay (tracking)').p99! <= 5e6 ? 'met' : '**missed**'} | |

Warm restart (\`CacheWarmer\` persist → new process → restore + warm), hit ratio over the first 10,000 requests:

| cache | trace @ entries | steady | cold | warm: the warmer's hot set | ÷ steady (target ≥ 90 %) | warm: + the cache's own hot keys and L1 state | ÷ steady |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
${warmRows.map((r) => `| ${r.cache} | ${r.trace} @ ${r.capacity} | ${(100 * r.steady).toFixed(1)} % | ${(100 * r.cold).toFixed(1)} % | ${(100 * r.warm).toFixed(1)} % | ${(100 * r.warmOfSteady).toFixed(0)} %${r.warmOfSteady >= 0.9 ? '' : ' (**missed**)'} | ${(100 * r.warmL1).toFixed(1)} % | ${(100 * r.warmL1OfSteady).toFixed(0)} %${r.warmL1OfSteady >= 0.9 ? '' : ' (**missed**)'} |`).join('\n')}

Predictive prefetch (first-order successors, loader answering before the next request), off → on:

| cache | trace @ entries | hit ratio | loader calls |
| --- | --- | ---: | ---: |
${(cx.warm.prefetch ?? []).map((r) => `| ${r.cache} | ${r.trace} @ ${r.capacity} | ${(100 * r.hitOff).toFixed(1)} % → ${(100 * r.hitOn).toFixed(1)} % | ${r.loadsOff.toLocaleString('en-US')} → ${r.loadsOn.toLocaleString('en-US')} |`).join('\n')}
`;

// ---- HTTP control API: its own run (bench/baseline/server.json, `npm run bench -- server --save-baseline`) ----
interface ServerSide { reqPerSec: number; p50Ns: number; p99Ns: number; autocannonP99Ms: number; non2xx: number; errors: number }
const serverRun = JSON.parse(readFileSync(join(baselineDir, 'server.json'), 'utf8')) as SuiteResult;
const sx = serverRun.extras as {
  routes: { route: string; method: string; bodyBytes: number; responseBytes: number; ours: ServerSide; bare: ServerSide; ratio: number }[];
  targets: { route: string; target: string; measured: number; met: boolean }[];
  settings: { connections: number; pipelining: number; rounds: number; roundSeconds: number; pinned: boolean; rateLimitPerSec: number };
  load: { cores: number; load1AtStart: number; load1AtEnd: number };
};
const sRow = (r: (typeof sx.routes)[number]): string =>
  `| ${r.method} ${r.route} | ${formatRate(r.ours.reqPerSec, 'req/s')} | ${formatNs(r.ours.p50Ns)} / ${formatNs(r.ours.p99Ns)} | ${formatRate(r.bare.reqPerSec, 'req/s')} | ${formatNs(r.bare.p50Ns)} / ${formatNs(r.bare.p99Ns)} | ${formatRatio(r.ratio)} | ${r.responseBytes.toLocaleString('en-US')} B |`;
const sTargets = sx.targets.map((t) => `${t.route} ${t.target.replace('>=', '≥').replace('<=', '≤')}: ${t.met ? 'met' : '**missed**'} (${t.target.startsWith('p99') ? formatNs(t.measured) : t.target.includes('bare') ? formatRatio(t.measured) : formatRate(t.measured, 'req/s')})`);
const serverMd = `### HTTP control API (\`bench/baseline/server.json\`)

\`${serverRun.command}\` on ${serverRun.date.slice(0, 16).replace('T', ' ')} UTC, load ${sx.load.load1AtStart.toFixed(1)}–${sx.load.load1AtEnd.toFixed(1)} on ${sx.load.cores} cores.
autocannon 9 (${sx.settings.connections} connections, pipelining ${sx.settings.pipelining}) against our server (\`createServer\` with a bearer token on every request and
\`limits.rateLimitPerSec\` raised to ${sx.settings.rateLimitPerSec.toLocaleString('en-US')}: the default, 1,000/s per token, would answer the bench 429) and against a bare
\`node:http\` server that sends the bytes our server sent for the same route; ${sx.settings.rounds} interleaved rounds of ${sx.settings.roundSeconds} s per side, medians.
Each server is a child process${sx.settings.pinned ? ' pinned to core 1, autocannon pinned to core 0' : ''}. p50/p99 are exact over every answer
(autocannon's own histogram keeps whole milliseconds).

| route | ours | ours p50 / p99 | bare \`node:http\` | bare p50 / p99 | ours ÷ bare | answer |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${sx.routes.map(sRow).join('\n')}

Targets (issue 17): ${sTargets.join('; ')}.
`;

const begin = '<!-- bench:begin (made by `npx tsx bench/readme.ts --write` from bench/baseline/) -->';
const end = '<!-- bench:end -->';
if (process.argv.includes('--write')) {
  const file = join(benchRoot, '..', 'README.md');
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${begin} ... ${end} block`);
  writeFileSync(file, `${text.slice(0, a + begin.length)}\n\n${md}\n${netMd}\n${cacheMd}\n${serverMd}\n${text.slice(b)}`);
  console.log(`README.md: bench block rewritten from ${baselineDir}`);
} else {
  console.log(`${md}\n${netMd}\n${cacheMd}\n${serverMd}`);
}
