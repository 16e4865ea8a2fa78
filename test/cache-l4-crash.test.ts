/**
 * Issue 16 item 4: a writer process SIGKILLed during a burst of L4 writes → the reopened store
 * holds exactly the committed entries. The writer (test/helpers/cache-l4-writer.ts, mode
 * `burst`) reports each batch over IPC once its write promise resolved (committed, the
 * default durability); we kill it at several points and then read the store back:
 * - every acknowledged batch is there, every value as written;
 * - every unacknowledged batch is all there or not at all (one transaction each);
 * - every record of the namespace decodes (nothing torn), and the expiry index has one
 *   record per entry.
 *
 * Runs once (not per backend): LmdbLevel does not touch the native addon.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { open } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';

import { decodeEntry } from '../lib/cache/entry-codec.js';
import { LmdbLevel } from '../lib/cache/l4-lmdb.js';
import { msgpackCodec } from '../lib/net/codec.js';

import { type BurstValue, burstBatch } from './helpers/cache-l4-writer.js';

const writer = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'cache-l4-writer.ts');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Starts the burst writer on `path`; resolves with the acknowledged batches once it was SIGKILLed after `killAfterAcks` acks. */
function burstAndKill(path: string, killAfterAcks: number): Promise<{ acked: Set<number>; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', writer, 'burst', path], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const acked = new Set<number>();
    child.on('message', (m: { ack?: number; error?: string }) => {
      if (m.error !== undefined) reject(new Error(`writer failed: ${m.error}`));
      if (m.ack === undefined) return;
      acked.add(m.ack);
      if (acked.size === killAfterAcks) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited with ${code}/${signal} before the kill`));
      else resolve({ acked, signal });
    });
  });
}

describe.runIf(process.env.ULTRA_PERF_BACKEND !== 'ts')('LmdbLevel: writer SIGKILLed mid-burst', () => {
  // Kill points: right at the start, early, mid, later (the writer keeps 16 batches in flight).
  it.each([1, 20, 150, 600])('after %i acknowledged batches the reopened store holds exactly the committed batches', async (killAt) => {
    const dir = mkdtempSync(join(tmpdir(), 'up-l4-crash-'));
    dirs.push(dir);
    const { acked } = await burstAndKill(dir, killAt);
    expect(acked.size).toBeGreaterThanOrEqual(killAt);

    // Read back every record raw (no LmdbLevel in this process on this path yet).
    const codec = msgpackCodec<BurstValue>();
    const root = open({ path: dir, maxDbs: 256 });
    const entries = root.openDB<Uint8Array, string>({ name: 'e:default', encoding: 'binary' });
    const index = root.openDB<Uint8Array, [number, string]>({ name: 'x:default', encoding: 'binary' });
    const present = new Map<string, BurstValue>();
    let undecodable = 0;
    for (const { key, value } of entries.getRange({})) {
      try {
        present.set(key, decodeEntry(value, codec, `key ${key}`).value!);
      } catch {
        undecodable++;
      }
    }
    const indexed = [...index.getKeys({})].length;
    await root.close();
    expect(undecodable).toBe(0);
    expect(indexed).toBe(present.size);

    const batches = new Set([...present.keys()].map((k) => Number(k.slice(1, k.indexOf(':')))));
    const maxBatch = Math.max(-1, ...acked, ...batches);
    let committedUnacked = 0;
    for (let n = 0; n <= maxBatch; n++) {
      const pairs = burstBatch(n);
      const found = pairs.filter(([k]) => present.has(k)).length;
      if (acked.has(n)) expect(found, `acknowledged batch ${n}`).toBe(pairs.length);
      else expect([0, pairs.length], `unacknowledged batch ${n} is all or nothing`).toContain(found);
      if (!acked.has(n) && found > 0) committedUnacked++;
      for (const [k, e] of pairs) if (present.has(k)) expect(present.get(k), k).toEqual(e.value);
    }
    expect(present.size).toBe([...batches].reduce((s, n) => s + burstBatch(n).length, 0));

    // The store opens again through LmdbLevel (the dead writer's lock and reader slot are cleared) and takes writes.
    const level = await LmdbLevel.open<BurstValue>({ path: dir, maxEntries: Infinity, sweepIntervalMs: 0 });
    const last = [...acked].sort((a, b) => b - a)[0]!;
    const [k0, e0] = burstBatch(last)[0]!;
    expect(level.getEntrySync(k0)?.value).toEqual(e0.value);
    await level.setEntry('after', { value: e0.value, expiresAt: Infinity, staleUntil: Infinity, version: 0 });
    expect(level.getEntrySync('after')?.value).toEqual(e0.value);
    await level.close();
    // For the log: how far the writer had gone past its last acknowledgement.
    console.log(`kill after ${killAt} acks: ${acked.size} acked, ${batches.size} batches on disk (${committedUnacked} committed but unacknowledged), ${present.size} entries`);
  });
});
