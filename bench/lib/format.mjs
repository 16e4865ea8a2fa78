/**
 * The one place bench output is formatted: durations pick ns/µs/ms/s so 3–4 significant
 * digits show (never `1.13e+3 ms`), rates pick k/M/G, ratios show 3 significant digits.
 * Every suite, bench/run.ts and bench/gpu/run.mjs use these. Plain JavaScript (types in
 * format.d.mts) because bench/gpu runs with plain Node over dist/, without tsx.
 */
const kTimeUnits = [
    [1, 'ns'],
    [1e3, 'µs'],
    [1e6, 'ms'],
    [1e9, 's'],
];
/** `v` rounded to 3 significant digits (4 when it has four integer digits). */
function round3(v) {
    return Math.abs(v) >= 1000 ? Math.round(v) : Number(v.toPrecision(3));
}
/** `v` with 3 significant digits, 4 when it has four integer digits; never an exponent. */
function digits(v) {
    if (v === 0)
        return '0';
    const r = round3(v);
    const a = Math.abs(r);
    if (a >= 100)
        return r.toFixed(0);
    if (a >= 10)
        return r.toFixed(1);
    if (a >= 1)
        return r.toFixed(2);
    // Below 1: 3 significant digits (0.230, 0.0412) without going to exponent form.
    return r.toFixed(Math.min(20, 2 - Math.floor(Math.log10(a))));
}
/** The largest of `units` ([scale, name], ascending) under which |v| still rounds to >= 1. */
function pick(v, units) {
    let unit = units[0];
    for (const u of units)
        if (Math.abs(round3(v / u[0])) >= 1)
            unit = u;
    return unit;
}
/** A duration given in ns: `0.230 ns`, `18.7 ns`, `452 ns`, `1.38 ms`, `1.07 s`, `1234 s`. */
export function formatNs(ns) {
    if (!Number.isFinite(ns))
        return String(ns);
    const [scale, name] = pick(ns, kTimeUnits);
    return `${digits(ns / scale)} ${name}`;
}
/** A duration given in ms. */
export function formatMs(ms) {
    return formatNs(ms * 1e6);
}
const kRatePrefixes = [
    [1, ''],
    [1e3, 'k'],
    [1e6, 'M'],
    [1e9, 'G'],
];
/** Per second with a k/M/G prefix: `formatRate(13.8e6, 'msg/s')` = `13.8 M msg/s`, `formatRate(24e6)` = `24.0 M/s`. */
export function formatRate(perSec, unit = '/s') {
    if (!Number.isFinite(perSec))
        return String(perSec);
    const [scale, prefix] = pick(perSec, kRatePrefixes);
    const tail = unit.startsWith('/') ? `${prefix}${unit}` : `${prefix}${prefix === '' ? '' : ' '}${unit}`;
    return `${digits(perSec / scale)} ${tail}`;
}
/** A ratio: `1.84×`, `20.8×`, `152×`. */
export function formatRatio(x) {
    if (!Number.isFinite(x))
        return '-';
    return `${digits(x)}×`;
}
/** Bytes: `56 B`, `4.00 KiB`, `1.50 MiB`. */
export function formatBytes(b) {
    if (b < 1024)
        return `${Math.round(b)} B`;
    if (b < 1024 ** 2)
        return `${digits(b / 1024)} KiB`;
    if (b < 1024 ** 3)
        return `${digits(b / 1024 ** 2)} MiB`;
    return `${digits(b / 1024 ** 3)} GiB`;
}
/**
 * A plain-text table, two-space indented. `align` is 'l' or 'r' per column (default:
 * the first column left, the others right).
 */
export function table(header, rows, align) {
    const al = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells) => cells
        .map((c, i) => (al[i] === 'r' ? (c ?? '').padStart(widths[i]) : (c ?? '').padEnd(widths[i])))
        .join('  ')
        .trimEnd();
    return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}
