/**
 * `ultra-performance pipeline`: the command line a user types on their own file. Runs the
 * command in-process on the first 3,000 messages of the real AAPL LOBSTER day, and on bad
 * command lines and bad files.
 */
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { afterAll, describe, expect, it, vi } from 'vitest';

import { pipelineCommand } from '../lib/pipeline/cli.js';

const lobster = join(import.meta.dirname, '..', 'bench', 'data', 'lobster');
const day = 'AAPL_2012-06-21_34200000_57600000';
const dir = mkdtempSync(join(tmpdir(), 'up-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first n lines of a gzipped LOBSTER file, written as plain CSV under the same kind of name. */
function head(kind: 'message' | 'orderbook', n: number): string {
  const text = gunzipSync(readFileSync(join(lobster, `${day}_${kind}_1.csv.gz`))).toString('utf8');
  const file = join(dir, `${day}_${kind}_1.csv`);
  writeFileSync(file, text.split('\n').slice(0, n).join('\n') + '\n');
  return file;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (out += `${a.join(' ')}\n`));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void (err += `${a.join(' ')}\n`));
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
  try {
    return { code: await pipelineCommand(args), out, err };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

describe('ultra-performance pipeline', () => {
  it('runs a LOBSTER file end to end and writes the report data', async () => {
    const messages = head('message', 3_000);
    head('orderbook', 3_000);
    const out = join(dir, 'report');
    const r = await run(['--source', `lobster:${messages}`, '--backend', 'ts', '--runs', '1', '--out', out]);
    expect(r.err).toContain('AAPL: 3,000 messages, 0 mismatches');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ts\s+AAPL\s+\d+ k/m);
    expect(r.out).toContain('book checked after every message at depth 1: 0 mismatches');
    const data = JSON.parse(readFileSync(join(out, 'pipeline.json'), 'utf8'));
    expect(data.reconstruction[0]).toMatchObject({ symbol: 'AAPL', messages: 3_000, mismatches: 0 });
    // The row is ReconstructionResult's fields, not the replay's event arrays.
    expect(Object.keys(data.reconstruction[0]).sort()).toEqual(['depth', 'messages', 'mismatches', 'refills', 'source', 'symbol', 'tsMessagesPerSecond', 'unknownOrders']);
    expect(data.stages.map((s: { backend: string }) => s.backend)).toEqual(['ts']);
    expect(existsSync(join(out, 'ts-AAPL-tickToTrade.hgrm'))).toBe(true);
    expect(existsSync(join(out, 'pipeline.html'))).toBe(true);
  }, 60_000);

  it('says no offered rate kept p99 under 10 µs, rather than a rate of 0 records/s', async () => {
    const messages = head('message', 3_000);
    head('orderbook', 3_000);
    // At 10^15 records/s every record is due at once: the queue of 3,000 puts p99 far above 10 µs.
    const r = await run(['--source', `lobster:${messages}`, '--backend', 'ts', '--runs', '1', '--sweep', '1000000000000000', '--out', join(dir, 'sweep')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ts: highest offered rate with p99 <= 10 µs: none of the rates offered \(p99 [\d.]+ (µs|ms) at the lowest, 1,000,000,000,000,000 records\/s\)$/m);
    expect(r.out).not.toContain(': 0 records/s');
  }, 60_000);

  it('names a misspelt option with the nearest one, and exits 2', async () => {
    const r = await run(['--sourse', 'lobster:x']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Unknown option "--sourse"; did you mean "--source"?');
  });

  it('refuses a missing source, an unknown kind, a missing file and bad numbers (exit 2)', async () => {
    expect((await run([])).err).toContain('Give at least one --source');
    expect((await run(['--source', 'csv:x.csv'])).err).toContain('expected <kind>:<file> with kind lobster, itch or binance');
    const missing = await run(['--source', `lobster:${join(dir, 'nope_message_1.csv')}`]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/LOBSTER message file ".*nope_message_1\.csv" does not exist/);
    const runs = await run(['--source', 'lobster:x_message_1.csv', '--runs', '0']);
    expect(runs.err).toContain('Option --runs takes positive integers');
    for (const date of ['2012-6-20', '2012-02-30', 'garbage']) {
      const r = await run(['--source', 'lobster:x_message_1.csv', '--var-end', date]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`--var-end takes a date as YYYY-MM-DD (e.g. 2012-06-20); got "${date}"`);
    }
    const backend = await run(['--source', 'lobster:x_message_1.csv', '--backend', 'gpu']);
    expect(backend.err).toContain('--backend takes native, ts or both; got "gpu"');
  });

  it('refuses, before running, a folder given as a file, --out naming a file, a --runs list and counts past their bounds (exit 2)', async () => {
    const messages = head('message', 10);
    head('orderbook', 10);
    const folder = await run(['--source', `itch:${dir}`]);
    expect(folder.code).toBe(2);
    expect(folder.err).toContain(`ITCH file ${JSON.stringify(dir)} is a folder`);
    const book = await run(['--source', `lobster:${messages},${dir}`]);
    expect(book.code).toBe(2);
    expect(book.err).toContain(`LOBSTER orderbook file ${JSON.stringify(dir)} is a folder`);
    const out = await run(['--source', `lobster:${messages}`, '--backend', 'ts', '--out', messages]);
    expect(out.code).toBe(2);
    expect(out.err).toContain(`--out ${JSON.stringify(messages)} is a file`);
    expect(out.err).not.toContain('AAPL: 10 messages');
    const list = await run(['--source', `lobster:${messages}`, '--runs', '3,5']);
    expect(list.code).toBe(2);
    expect(list.err).toContain('Option --runs takes one count, not a list; got "3,5"');
    const many = await run(['--source', `lobster:${messages}`, '--runs', '1000000000']);
    expect(many.code).toBe(2);
    expect(many.err).toContain('Option --runs takes positive integers up to 1000');
    const threads = await run(['--source', `lobster:${messages}`, '--threads', '1,100000']);
    expect(threads.code).toBe(2);
    expect(threads.err).toContain('Option --threads takes positive integers up to 256');
  });

  it('reports a bad file with its line, and exits 1', async () => {
    const messages = join(dir, 'BAD_2012-06-21_34200000_57600000_message_1.csv');
    writeFileSync(messages, '34200.004241176,1,16113575,18,5853300,1\n34200.025551909,9,16120456,18,5859100,-1\n');
    writeFileSync(messages.replace('_message_', '_orderbook_'), '5859400,200,5853300,18\n5859100,18,5853300,18\n');
    const r = await run(['--source', `lobster:${messages}`, '--backend', 'ts']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/BAD_.*message_1\.csv, line 2: .*type/);
  });
});
