import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { type CpuProfile, Profiler, summarizeProfile } from '../lib/monitor/index.js';

const dir = mkdtempSync(join(tmpdir(), 'profiler-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Kept out of line so the profile shows them as themselves.
function deliberatelyHot(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x += Math.sqrt(i) * Math.sin(i);
  return x;
}
function mildlyWarm(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x += Math.sqrt(i);
  return x;
}

describe('Profiler', () => {
  it('puts a deliberately hot function on top by self time and writes a .cpuprofile DevTools loads', async () => {
    const profiler = new Profiler();
    const file = join(dir, 'hot.cpuprofile');
    const { result, profile } = await profiler.profileFunction(
      'hot',
      () => {
        let s = 0;
        for (let k = 0; k < 20; k++) s += deliberatelyHot(400_000) + mildlyWarm(40_000);
        return s;
      },
      { samplingIntervalUs: 100, writeTo: file, top: 5 },
    );
    expect(result).toBeGreaterThan(0);
    expect(profiler.session).toBeNull();
    expect(profile).toMatchObject({ name: 'hot', samplingIntervalUs: 100, file });
    const top = profile.topBySelf[0]!;
    expect(top.functionName).toBe('deliberatelyHot');
    expect(top.url).toMatch(/profiler\.test\.ts$/);
    expect(top.line).toBeGreaterThan(0); // of the code V8 ran (vitest's transform of this file), 1-based
    expect(top.selfPercent).toBeGreaterThan(50);
    expect(profile.topBySelf).toHaveLength(5);
    // Total time holds each function's callees: the caller of both is at least as large.
    const totals = new Map(profile.topByTotal.map((f) => [f.functionName, f]));
    expect(totals.get('deliberatelyHot')!.totalMs).toBeGreaterThanOrEqual(top.selfMs);
    for (const f of [...profile.topBySelf, ...profile.topByTotal]) expect(f.totalMs).toBeGreaterThanOrEqual(f.selfMs - 1e-9);
    const selfSum = summarizeProfile(profile.profile, 10_000).topBySelf.reduce((s, f) => s + f.selfMs, 0);
    expect(selfSum).toBeCloseTo(profile.sampledMs, 6);

    // The file: the JSON DevTools' "Load profile" and speedscope read.
    const written = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    expect(Object.keys(written).sort()).toEqual(['endTime', 'nodes', 'samples', 'startTime', 'timeDeltas']);
    expect(written.samples.length).toBe(written.timeDeltas.length);
    expect(written.samples.length).toBe(profile.samples);
    expect(written.endTime).toBeGreaterThan(written.startTime);
    const ids = new Set(written.nodes.map((n) => n.id));
    expect(ids.size).toBe(written.nodes.length);
    for (const node of written.nodes) {
      expect(Number.isInteger(node.id)).toBe(true);
      expect(node.callFrame).toEqual({
        functionName: expect.any(String),
        scriptId: expect.any(String),
        url: expect.any(String),
        lineNumber: expect.any(Number),
        columnNumber: expect.any(Number),
      });
      for (const c of node.children ?? []) expect(ids.has(c)).toBe(true);
    }
    expect(written.nodes[0]!.callFrame.functionName).toBe('(root)');
    expect(written.nodes[0]!.children!.length).toBeGreaterThan(0);
    for (const s of written.samples) expect(ids.has(s)).toBe(true);
    expect(written.nodes.some((n) => n.callFrame.functionName === 'deliberatelyHot')).toBe(true);
  });

  it('runs startSession/stopSession around async work', async () => {
    const profiler = new Profiler();
    await profiler.startSession('async', { samplingIntervalUs: 200 });
    expect(profiler.session).toBe('async');
    for (let k = 0; k < 5; k++) {
      deliberatelyHot(200_000);
      await new Promise((r) => setImmediate(r));
    }
    const report = await profiler.stopSession({ top: 3 });
    expect(report.name).toBe('async');
    expect(report.file).toBeNull();
    expect(report.samples).toBeGreaterThan(0);
    expect(report.topBySelf.length).toBeLessThanOrEqual(3);
    expect(report.topBySelf.map((f) => f.functionName)).toContain('deliberatelyHot');
  });
});

describe('summarizeProfile on a profile with known times', () => {
  const frame = (functionName: string, lineNumber: number) => ({ functionName, scriptId: '1', url: 'file:///x.js', lineNumber, columnNumber: 0 });
  // (root) -> a -> b -> a (recursion), and a -> c. Each sample is 10 µs.
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 }, children: [2] },
      { id: 2, callFrame: frame('a', 0), children: [3, 4] },
      { id: 3, callFrame: frame('b', 10), children: [5] },
      { id: 4, callFrame: frame('c', 20), children: [] },
      { id: 5, callFrame: frame('a', 0), children: [] },
    ],
    startTime: 0,
    endTime: 50,
    samples: [2, 3, 5, 4, 5],
    timeDeltas: [0, 10, 10, 10, 10],
  };

  it('counts self time where a function is on top and total time once per sample however deep it recursed', () => {
    const s = summarizeProfile(profile);
    const by = (list: typeof s.topBySelf) => Object.fromEntries(list.map((f) => [f.functionName, [f.selfMs * 1000, f.totalMs * 1000]]));
    expect(s.sampledMs).toBeCloseTo(0.05, 12);
    expect(s.samples).toBe(5);
    expect(by(s.topBySelf)).toEqual({ a: [30, 50], b: [10, 30], c: [10, 10] });
    expect(s.topBySelf.map((f) => f.functionName)).toEqual(['a', 'b', 'c']);
    expect(s.topByTotal.map((f) => f.functionName)).toEqual(['a', 'b', 'c']);
    expect(s.topBySelf[0]).toMatchObject({ url: 'file:///x.js', line: 1, column: 1, selfPercent: 60, totalPercent: 100 });
    expect(summarizeProfile(profile, 1).topBySelf).toHaveLength(1);
  });

  it('names what is wrong with a profile', () => {
    expect(() => summarizeProfile({ ...profile, timeDeltas: [0] })).toThrow(/profile\.timeDeltas\.length but received 1/);
    expect(() => summarizeProfile({ ...profile, samples: [2, 3, 9, 4, 5] })).toThrow(/profile\.samples\[2\] but received 9/);
    expect(() => summarizeProfile({} as never)).toThrow(/for profile but received an object/);
    expect(() => summarizeProfile(profile, 0)).toThrow(/for top but received 0/);
  });
});

describe('Profiler bad input and state', () => {
  it('names the argument and the value', async () => {
    const profiler = new Profiler();
    await expect(profiler.startSession('')).rejects.toThrow(/for name but received ""/);
    await expect(profiler.startSession(3 as never)).rejects.toThrow(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/for name but received 3/) }));
    await expect(profiler.startSession('x', { samplingIntervalUs: -1 })).rejects.toThrow(/options\.samplingIntervalUs but received -1/);
    await expect(profiler.startSession('x', { samplingIntervalUs: Number.NaN })).rejects.toThrow(/options\.samplingIntervalUs but received NaN/);
    await expect(profiler.startSession('x', { samplingIntervalUs: 2.5 })).rejects.toThrow(/options\.samplingIntervalUs but received 2\.5/);
    await expect(profiler.startSession('x', { samplingIntervalUS: 10 } as never)).rejects.toThrow(/unknown option 'samplingIntervalUS' for Profiler\.startSession; did you mean 'samplingIntervalUs'\?/);
    await expect(profiler.profileFunction('x', 'f' as never)).rejects.toThrow(/for fn but received "f"/);
    await expect(profiler.profileFunction('x', () => 1, { top: 0 })).rejects.toThrow(/options\.top but received 0/);
    await expect(profiler.profileFunction('x', () => 1, { writeTo: '' })).rejects.toThrow(/options\.writeTo but received ""/);
    expect(profiler.session).toBeNull();
  });

  it('refuses a second session and a stop without one; a throwing function ends its session', async () => {
    const profiler = new Profiler();
    await expect(profiler.stopSession()).rejects.toThrow(expect.objectContaining({ code: 'ERR_ULTRA_PERF_NOT_RUNNING' }));
    const first = profiler.startSession('one');
    // Claimed synchronously: a second start in the same turn already fails.
    await expect(profiler.startSession('two')).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_ULTRA_PERF_ALREADY_RUNNING', message: expect.stringMatching(/session 'one' is already running; stop it before starting 'two'/) }),
    );
    await first;
    await expect(profiler.stopSession({ top: -1 })).rejects.toThrow(/options\.top but received -1/);
    expect(profiler.session).toBe('one');
    await profiler.stopSession();
    await expect(profiler.profileFunction('boom', () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(profiler.session).toBeNull();
    await expect(profiler.profileFunction('again', () => 2)).resolves.toMatchObject({ result: 2 });
  });
});
