#!/usr/bin/env node
/**
 * `npx ultra-performance status [--json]`: which backends this machine gets and why,
 * the CPU, GPUs and the calling thread's affinity. `npx ultra-performance pipeline ...`: the
 * end-to-end pipeline on a user's market-data file (lib/pipeline/cli.ts). `compare` and
 * `history`: bench results judged by the regression detector (lib/monitor/cli-*.ts).
 * `serve`: the HTTP control API and dashboard (lib/server, docs/server.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { BackendInfo } from './backend.js';
import { nearestKey } from './internal/options.js';

interface Status extends BackendInfo {
  version: string;
  node: string;
  platform: string;
  affinity: number[] | null;
  affinityBackend: 'native' | 'ts';
  affinityError?: string;
  /** What a `backend: 'auto'` option picks per capability here (lib/internal/backend.ts kBackendPolicies). */
  auto: Record<string, { picks: string; rule: string }>;
}

async function collect(): Promise<Status> {
  // Imported here so a bad ULTRA_PERF_BACKEND becomes a one-line message, not a stack trace.
  const { backendInfo, packageRoot } = await import('./backend.js');
  const { UnsupportedError } = await import('./errors.js');
  const { affinityBackend, getThreadAffinity } = await import('./system/affinity.js');
  const { chooseBackend, kBackendPolicies } = await import('./internal/backend.js');
  type BackendPolicy = import('./internal/backend.js').BackendPolicy;
  const auto: Status['auto'] = {};
  for (const [name, policy] of Object.entries(kBackendPolicies)) {
    const picks: string = chooseBackend('auto', { argument: 'backend', policy: policy as BackendPolicy });
    auto[name] = { picks: picks === 'auto' ? policy.auto : picks, rule: policy.rule };
  }
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  const status: Status = {
    version: pkg.version,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    ...backendInfo(),
    affinity: null,
    affinityBackend,
    auto,
  };
  try {
    status.affinity = getThreadAffinity();
  } catch (err) {
    if (!(err instanceof UnsupportedError)) throw err;
    status.affinityError = err.message;
  }
  return status;
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function render(s: Status): string {
  const lines = [
    `ultra-performance ${s.version} on Node ${s.node} (${s.platform}), ULTRA_PERF_BACKEND=${s.mode}`,
    '',
    `CPU addon   ${s.native ? 'loaded (native backend)' : `not used, TS fallback: ${s.nativeError ?? 'unknown reason'}`}`,
    `GPU addon   ${s.cuda ? `loaded, ${s.devices.length} device(s)` : `not used: ${s.cudaError ?? 'unknown reason'}`}`,
    '',
    `CPU         ${s.cpu.model}`,
    `cores       ${s.cpu.cores} online`,
    `features    ${s.cpu.features.length > 0 ? s.cpu.features.join(' ') : 'none detected'}`,
    `affinity    ${s.affinity !== null ? `[${s.affinity.join(', ')}] (${s.affinityBackend})` : s.affinityError ?? 'unknown'}`,
  ];
  if (s.devices.length === 0) lines.push('GPUs        none');
  for (const d of s.devices) {
    lines.push(`GPU ${d.index}       ${d.name}, ${gib(d.totalMemory)}, compute ${d.computeCapability}, ${d.multiprocessors} SMs, ${d.pciBusId}`);
  }
  lines.push('', "backend 'auto' picks (backends: 'auto' | 'native' | 'ts', + 'cuda' for risk)");
  for (const [name, a] of Object.entries(s.auto)) lines.push(`${name.padEnd(11)} ${a.picks}`);
  return lines.join('\n');
}

const kUsage = `Usage: ultra-performance status [--json]
       ultra-performance pipeline --source <kind>:<file> [options]   (--help for its options)
       ultra-performance compare <baseline.json> <current.json> [--sensitivity x] [--alpha a] [--json]
       ultra-performance history <dir> [--p-value p] [--window n] [--min-size n] [--json]
       ultra-performance serve [--host 127.0.0.1] [--port 8420] [--token-file <file>]

  status     backends in use and why, CPU model, cores, SIMD features, GPUs, affinity
  --json     print the same as one JSON object
  pipeline   market data -> MboBook -> strategy -> RiskGate -> simulated venue on your
             LOBSTER, ITCH 5.0 or Binance file, measured, with an HTML report
  compare    two bench suite results, benchstat-style; exit code 1 on a regression
  history    change points per metric over a folder of bench runs
  serve      the HTTP control API, /metrics, /livez, /readyz and the dashboard; prints its
             URL, stops cleanly on SIGINT/SIGTERM. The bearer token comes from
             --token-file or the ULTRA_PERF_TOKEN environment variable (never the command
             line: it would show in ps); it is required beyond loopback`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(kUsage);
    return command === undefined ? 1 : 0;
  }
  if (command === 'pipeline') {
    const { pipelineCommand } = await import('./pipeline/cli.js');
    return pipelineCommand(rest);
  }
  if (command === 'compare') {
    const { compareCommand } = await import('./monitor/cli-compare.js');
    return compareCommand(rest);
  }
  if (command === 'history') {
    const { historyCommand } = await import('./monitor/cli-history.js');
    return historyCommand(rest);
  }
  if (command === 'serve') return serveCommand(rest);
  if (command !== 'status') {
    console.error(`Unknown command ${JSON.stringify(command)}.\n\n${kUsage}`);
    return 2;
  }
  const unknown = rest.filter((a) => a !== '--json');
  if (unknown.length > 0) {
    const near = unknown[0]!.startsWith('--') ? nearestKey(unknown[0]!.slice(2), ['json']) : undefined;
    console.error(`Unknown option ${JSON.stringify(unknown[0])}${near !== undefined ? `; did you mean "--${near}"?` : '.'}\n\n${kUsage}`);
    return 2;
  }
  let status: Status;
  try {
    status = await collect();
  } catch (err) {
    console.error(`ultra-performance: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  console.log(rest.includes('--json') ? JSON.stringify(status, null, 2) : render(status));
  return 0;
}

const kServeOptions = ['host', 'port', 'token-file'];

/** `serve`: listens until SIGINT/SIGTERM, then closes (in-flight requests finish, jobs stop). */
async function serveCommand(argv: string[]): Promise<number> {
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') ? arg.slice(2, eq < 0 ? undefined : eq) : '';
    if (name === 'token') {
      console.error('ultra-performance serve: --token is refused (a token on the command line shows in ps and shell history); use --token-file <file> or the ULTRA_PERF_TOKEN environment variable');
      return 2;
    }
    if (!kServeOptions.includes(name)) {
      const near = name !== '' ? nearestKey(name, kServeOptions) : undefined;
      console.error(`Unknown option ${JSON.stringify(arg)}${near !== undefined ? `; did you mean "--${near}"?` : '.'}\n\n${kUsage}`);
      return 2;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') {
      console.error(`ultra-performance serve: --${name} needs a value`);
      return 2;
    }
    values[name] = value;
  }
  const port = values.port === undefined ? 8420 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`ultra-performance serve: expected a port in [0, 65535] for --port but received ${JSON.stringify(values.port)}`);
    return 2;
  }
  let token = process.env.ULTRA_PERF_TOKEN;
  if (values['token-file'] !== undefined) {
    const { readFileSync: read, statSync } = await import('node:fs');
    try {
      token = read(values['token-file'], 'utf8').trim();
      if (process.platform !== 'win32' && (statSync(values['token-file']).mode & 0o077) !== 0) {
        console.error(`ultra-performance serve: warning: ${values['token-file']} can be read by other users; chmod 600 it`);
      }
    } catch (err) {
      console.error(`ultra-performance serve: cannot read --token-file ${JSON.stringify(values['token-file'])}: ${(err as Error).message}`);
      return 2;
    }
  }
  if (token === '') token = undefined;
  const { serve } = await import('./server/index.js');
  let app: Awaited<ReturnType<typeof serve>>;
  try {
    app = await serve({ host: values.host ?? '127.0.0.1', port, ...(token !== undefined && { token }) });
  } catch (err) {
    console.error(`ultra-performance serve: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  const address = app.server.address();
  const url = typeof address === 'object' && address !== null ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);
  console.log(`ultra-performance serving ${url}`);
  console.log(`  API ${url}/api/v1/ultra-performance/  dashboard ${url}/dashboard  probes ${url}/livez ${url}/readyz${token === undefined ? '  (no token: loopback only)' : ''}`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        console.error(`ultra-performance serve: ${signal} again, exiting now`);
        process.exit(1);
      }
      stopping = true;
      console.error(`ultra-performance serve: ${signal}, closing`);
      app.close().then(
        () => resolve(0),
        (err: unknown) => {
          console.error(`ultra-performance serve: close failed: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
