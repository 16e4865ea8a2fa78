/**
 * The network/* routes (SEED.md section 5 "API Endpoints"; DESIGN.md "HTTP control API"):
 * the transports' status, framed TCP connections (lib/net tcp.ts: TCP_NODELAY, batching,
 * heartbeats, acknowledged sends) created, listed and closed over HTTP, and round-trip
 * latency plus per-codec encode/decode timing.
 *
 * SSRF: create-connection reaches loopback only (127.0.0.0/8 written as a dotted quad, ::1,
 * 'localhost' which is connected to as 127.0.0.1 without a DNS lookup), or a host the plugin's
 * `allowedHosts` option names exactly. Anything else is refused with 403 before any lookup or
 * connect. Connections are bounded in number (`limits.maxObjectsPerKind`, 409), in buffers
 * (`limits.connectionBufferBytes` for the send queue and the largest frame; received
 * messages are counted and dropped) and in connect time (`limits.connectTimeoutMs`).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

import { Type } from 'typebox';

import type { Codec, SerializationProtocol } from '../../net/codec.js';
import type { Connection, LatencyResult } from '../../net/tcp.js';
import { HttpError, tooLarge, unavailable, unprocessable } from '../http-errors.js';
import { ConnectionError, backendInfo, codecFor, createConnection, createServer as createTcpServer, defineStruct, measureLatency, quoteSchema } from '../lib.js';
import type { RegisteredObject } from '../registry.js';
import {
  type ConnectionView,
  ConnectionList,
  ConnectionParams,
  CreateConnectionBody,
  MeasureLatencyBody,
  type MeasureLatencyResult,
  type NetworkStatus,
  type PingSummary,
  kNetworkSchemas,
} from '../schemas/network.js';
import type { ComponentReport, RouteModule, ServerContext } from '../types.js';
import { type CodecTimingInput, codecAndValue, kDefaultCodecMessage } from '../workloads/network.js';
import { optionTypeError } from './cache.js';

const kTags = ['network'];
const kKind = 'connection';
const kError = Type.Ref('ErrorResponse');
const kProtocols: readonly SerializationProtocol[] = ['raw', 'json', 'msgpack', 'binary-struct'];
/** Reconnect attempts of a connection created with `reconnect: true` before it gives up. */
const kReconnectAttempts = 10;
/** Pings timed first to size the measurement to `limits.measureBudgetMs` (the first 10 untimed). */
const kCalibrationPings = 32;
const kCalibrationWarmup = 10;
/** Default codec iterations (encode + decode each). */
const kDefaultCodecIterations = 2_048;
/** A graceful close waits this long (ms) before the socket is reset. */
const kCloseGraceMs = 1_000;

/** The codecs a connection may carry, one instance each (binary-struct carries lib/net's Quote). */
const kQuote = defineStruct(quoteSchema) as unknown as Codec<unknown>;
const kCodecs = new Map<SerializationProtocol, Codec<unknown> | undefined>(
  kProtocols.map((p) => [p, p === 'raw' ? undefined : codecFor(p, { struct: kQuote as never })]),
);

/** What the registry holds for a connection created over HTTP. */
interface NetConnection {
  readonly libId: string;
  readonly conn: Connection<unknown>;
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly protocol: SerializationProtocol;
  readonly noDelay: boolean;
  readonly reconnect: boolean;
  readonly name: string | undefined;
  readonly bufferBytes: number;
  connectMs: number;
  pings: number;
  measuring: boolean;
  lastLatency: PingSummary | undefined;
}

/** Normalises an IPv6 literal ('0:0::1' → '::1'); undefined when it is not one. */
function ipv6(host: string): string | undefined {
  if (!net.isIPv6(host)) return undefined;
  try {
    return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/**
 * The address to connect to for `host`, or a 403 naming it. Only literal loopback addresses and
 * 'localhost' pass without the allowlist; nothing here resolves a name.
 */
export function resolveTarget(host: string, allowed: ReadonlySet<string>): string {
  const lower = host.toLowerCase();
  const bare = lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
  if (bare === 'localhost') return '127.0.0.1';
  if (net.isIPv4(bare) && bare.startsWith('127.')) return bare;
  if (ipv6(bare) === '::1') return '::1';
  if (allowed.has(bare)) return bare;
  throw new HttpError(
    403,
    'ERR_ULTRA_PERF_HTTP_HOST_NOT_ALLOWED',
    `host ${JSON.stringify(host)} is not loopback (127.0.0.0/8, ::1, localhost) and not in the plugin's allowedHosts; refused without a lookup or connect`,
  );
}

function errorView(e: unknown): { code: string; message: string } | undefined {
  if (e === null || e === undefined) return undefined;
  const err = e as { code?: unknown; message?: unknown };
  return { code: typeof err.code === 'string' ? err.code : 'ERR_ULTRA_PERF_HTTP_CONNECTION', message: typeof err.message === 'string' ? err.message : String(e) };
}

function viewOf(entry: RegisteredObject<NetConnection>): ConnectionView {
  const c = entry.object;
  const s = c.conn.stats();
  const lastError = errorView(s.lastError);
  return {
    id: entry.id,
    ...(c.name !== undefined && { name: c.name }),
    host: c.host,
    address: c.address,
    port: c.port,
    protocol: c.protocol,
    noDelay: c.noDelay,
    reconnect: c.reconnect,
    state: s.state,
    createdAt: new Date(entry.createdAt).toISOString(),
    connectMs: c.connectMs,
    bufferBytes: c.bufferBytes,
    messagesSent: s.messagesSent,
    messagesReceived: s.messagesReceived,
    bytesSent: s.bytesSent,
    bytesReceived: s.bytesReceived,
    queuedBytes: s.queuedBytes,
    reconnects: s.reconnects,
    heartbeatTimeouts: s.heartbeatTimeouts,
    pings: c.pings,
    ...(lastError !== undefined && { lastError }),
    ...(c.lastLatency !== undefined && { lastLatency: c.lastLatency }),
  };
}

/** Rejects after `ms` with `error`; `cancel` stops the timer. */
function timeout(ms: number, error: Error): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(error), ms)));
  promise.catch(() => undefined);
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Reads and drops what the peer sends, so a chatty peer cannot fill memory (stats count it). */
function drain(conn: Connection<unknown>): void {
  void (async () => {
    try {
      for await (const _batch of conn.batches());
    } catch {
      // the connection ended with an error: stats().lastError has it
    }
  })();
}

const us = (ns: number): number => ns / 1_000;

/**
 * Round trips over the registered lib connection `libId`: a calibration of 32 pings sizes the
 * measurement so it ends within about `budgetMs`; the answer is the second run (or the
 * calibration itself when 32 or fewer were asked for).
 */
async function ping(libId: string, count: number, payloadBytes: number, budgetMs: number): Promise<PingSummary> {
  try {
    return await pingUnchecked(libId, count, payloadBytes, budgetMs);
  } catch (error) {
    // the connection ended under the measurement (peer gone, reset): the request cannot be answered, the server is fine
    if (error instanceof ConnectionError) throw new HttpError(409, 'ERR_ULTRA_PERF_HTTP_CONNECTION_LOST', `the connection was lost during the measurement: ${error.message}`);
    throw error;
  }
}

async function pingUnchecked(libId: string, count: number, payloadBytes: number, budgetMs: number): Promise<PingSummary> {
  const t0 = performance.now();
  const first = Math.min(count, kCalibrationPings);
  const warmup = Math.min(count, kCalibrationWarmup);
  let r: LatencyResult = await measureLatency(libId, { count: first, bytes: payloadBytes, warmup });
  if (count > first) {
    const spent = performance.now() - t0;
    const perPingMs = spent / (first + warmup);
    const n = Math.max(1, Math.min(count, Math.floor((budgetMs - spent) / perPingMs)));
    r = await measureLatency(libId, { count: n, bytes: payloadBytes, warmup: 0 });
  }
  return {
    requested: count,
    count: r.count,
    truncated: r.count < count,
    payloadBytes,
    p50Us: us(r.p50),
    p99Us: us(r.p99),
    p999Us: us(r.p999),
    minUs: us(r.min),
    maxUs: us(r.max),
    meanUs: us(r.mean),
    elapsedMs: performance.now() - t0,
    measuredAt: new Date().toISOString(),
  };
}

interface NetworkService {
  readonly tag: string;
  readonly allowed: ReadonlySet<string>;
  running: number;
  completed: number;
  echoes: number;
  last: PingSummary | undefined;
}

function checkAllowedHosts(value: unknown): Set<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw optionTypeError('options.allowedHosts', 'an array of host names or addresses', value);
  return new Set(
    value.map((h: unknown, i) => {
      if (typeof h !== 'string' || h.length === 0) throw optionTypeError(`options.allowedHosts[${i}]`, 'a non-empty string', h);
      const lower = h.toLowerCase();
      return lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
    }),
  );
}

/** The transports the routes use and what they copy (DESIGN.md: no kernel bypass in Node). */
const kTransports = [
  {
    name: 'tcp-framed',
    zeroCopy: false,
    note:
      'lib/net tcp.ts over node:net: received frames whole in a socket read are handed out as views (no copy), but sends copy frames of up to 16 KiB into one buffer per flush, and the kernel copies both ways',
  },
];

function statusOf(svc: NetworkService, ctx: ServerContext): NetworkStatus {
  const b = backendInfo();
  const totals = { count: 0, open: 0, cap: ctx.limits.maxObjectsPerKind, messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0 };
  for (const entry of ctx.registry.list(kKind) as RegisteredObject<NetConnection>[]) {
    const s = entry.object.conn.stats();
    totals.count++;
    if (s.state === 'open') totals.open++;
    totals.messagesSent += s.messagesSent;
    totals.messagesReceived += s.messagesReceived;
    totals.bytesSent += s.bytesSent;
    totals.bytesReceived += s.bytesReceived;
  }
  return {
    backend: { mode: b.mode, native: b.native, ...(b.nativeError !== undefined && { nativeError: b.nativeError }) },
    transports: kTransports,
    zeroCopyIo: kTransports.every((t) => t.zeroCopy),
    kernelBypass: false,
    codecs: kProtocols.map((protocol) => ({ protocol, codec: kCodecs.get(protocol)?.name ?? 'raw' })),
    connections: totals,
    measurements: { running: svc.running, completed: svc.completed, cap: ctx.limits.maxLatencyMeasurements, ...(svc.last !== undefined && { last: svc.last }) },
    allowedHosts: [...svc.allowed],
  };
}

function reportOf(svc: NetworkService, ctx: ServerContext): ComponentReport {
  let open = 0;
  let failing = 0;
  let bytesSent = 0;
  let bytesReceived = 0;
  const entries = ctx.registry.list(kKind) as RegisteredObject<NetConnection>[];
  for (const entry of entries) {
    const s = entry.object.conn.stats();
    if (s.state === 'open') open++;
    else if (s.state === 'closed' || s.state === 'reconnecting') failing++;
    bytesSent += s.bytesSent;
    bytesReceived += s.bytesReceived;
  }
  return {
    health: failing > 0 ? 'degraded' : entries.length === 0 && svc.completed === 0 ? 'idle' : 'ok',
    zero_copy_io: kTransports.every((t) => t.zeroCopy),
    kernel_bypass: false,
    connections: entries.length,
    connections_open: open,
    connections_failing: failing,
    bytes_sent: bytesSent,
    bytes_received: bytesReceived,
    latency_measurements: svc.completed,
    ...(svc.last !== undefined && { last_rtt_p50_us: svc.last.p50Us, last_rtt_p99_us: svc.last.p99Us }),
  };
}

function connect(svc: NetworkService, ctx: ServerContext, body: CreateConnectionBody): Promise<ConnectionView> {
  const address = resolveTarget(body.host, svc.allowed);
  const bufferBytes = ctx.limits.connectionBufferBytes;
  if (body.batchBytes !== undefined && body.batchBytes > bufferBytes) {
    throw unprocessable('batchBytes', `at most ${bufferBytes} (limits.connectionBufferBytes), received ${body.batchBytes}`);
  }
  const protocol = body.protocol ?? 'raw';
  const codec = kCodecs.get(protocol);
  const reconnect = body.reconnect ?? false;
  const noDelay = body.noDelay ?? true;
  const entry: RegisteredObject<NetConnection> = ctx.registry.add<NetConnection>(kKind, (id) => {
    const libId = `${svc.tag}/${id}`;
    const conn = createConnection<unknown>({
      id: libId,
      host: address,
      port: body.port,
      protocol,
      ...(codec !== undefined && { codec }),
      noDelay,
      reconnect: reconnect ? { maxAttempts: kReconnectAttempts } : false,
      ...(body.batchBytes !== undefined && { batchBytes: body.batchBytes }),
      ...(body.batchDelayUs !== undefined && { batchDelayUs: body.batchDelayUs }),
      ...(body.heartbeatMs !== undefined && { heartbeatMs: body.heartbeatMs }),
      sendQueue: { maxBytes: bufferBytes, overflow: 'error' },
      maxFrameBytes: bufferBytes,
    });
    drain(conn);
    const object: NetConnection = {
      libId,
      conn,
      host: body.host,
      address,
      port: body.port,
      protocol,
      noDelay,
      reconnect,
      name: body.name,
      bufferBytes,
      connectMs: 0,
      pings: 0,
      measuring: false,
      lastLatency: undefined,
    };
    return {
      object,
      describe: (): Record<string, unknown> => viewOf(entry),
      dispose: async () => {
        const reset = setTimeout(() => conn.destroy(), kCloseGraceMs);
        await conn.close();
        clearTimeout(reset);
      },
    };
  });
  const t0 = performance.now();
  const target = `${address}:${body.port}`;
  const limit = timeout(ctx.limits.connectTimeoutMs, new HttpError(422, 'ERR_ULTRA_PERF_HTTP_CONNECT_TIMEOUT', `${target} did not complete the TCP connect and handshake within limits.connectTimeoutMs (${ctx.limits.connectTimeoutMs} ms)`));
  return Promise.race([entry.object.conn.opened(), limit.promise]).then(
    () => {
      limit.cancel();
      entry.object.connectMs = performance.now() - t0;
      return viewOf(entry);
    },
    async (error: unknown) => {
      limit.cancel();
      entry.object.conn.destroy();
      await ctx.registry.delete(kKind, entry.id);
      if (error instanceof HttpError) throw error;
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : (error as Error).message;
      throw new HttpError(422, 'ERR_ULTRA_PERF_HTTP_CONNECT_FAILED', `could not connect to ${target}: ${why}`);
    },
  );
}

/** Checks the codec part of a measure-latency request (sizes, and that binary-struct can carry the message). */
function codecInput(ctx: ServerContext, codecs: NonNullable<MeasureLatencyBody['codecs']>): Omit<CodecTimingInput, 'base'> {
  const iterations = codecs.iterations ?? Math.min(kDefaultCodecIterations, ctx.limits.maxCodecIterations);
  if (iterations > ctx.limits.maxCodecIterations) {
    throw unprocessable('codecs.iterations', `at most ${ctx.limits.maxCodecIterations} (limits.maxCodecIterations), received ${iterations}`);
  }
  const message = (codecs.message ?? { ...kDefaultCodecMessage }) as Record<string, unknown>;
  const size = Buffer.byteLength(JSON.stringify(message));
  if (size > ctx.limits.maxCodecMessageBytes) throw tooLarge('codecs.message', ctx.limits.maxCodecMessageBytes, size, 'JSON bytes');
  const protocols = (codecs.protocols ?? kProtocols) as SerializationProtocol[];
  for (const protocol of protocols) {
    const { codec, value } = codecAndValue(protocol, message);
    try {
      codec.decode(codec.encodeToBytes(value));
    } catch (error) {
      throw unprocessable('codecs.message', `${protocol} cannot carry it (${(error as Error).message})`);
    }
  }
  return { protocols, message, iterations };
}

async function measure(svc: NetworkService, ctx: ServerContext, body: MeasureLatencyBody): Promise<Omit<MeasureLatencyResult, 'codecs'>> {
  const count = body.count ?? Math.min(1_000, ctx.limits.maxPings);
  if (count > ctx.limits.maxPings) throw unprocessable('count', `at most ${ctx.limits.maxPings} pings (limits.maxPings), received ${count}`);
  const payloadBytes = body.payloadBytes ?? 64;
  if (payloadBytes > ctx.limits.maxPingBytes) throw tooLarge('payloadBytes', ctx.limits.maxPingBytes, payloadBytes, 'bytes');
  let entry: RegisteredObject<NetConnection> | undefined;
  if (body.connectionId !== undefined) {
    entry = ctx.registry.get<NetConnection>(kKind, body.connectionId);
    if (entry.object.measuring) throw new HttpError(409, 'ERR_ULTRA_PERF_HTTP_BUSY_CONNECTION', `connection ${entry.id} is already being measured; one measurement at a time per connection`);
    const state = entry.object.conn.state;
    if (state !== 'open') throw new HttpError(409, 'ERR_ULTRA_PERF_HTTP_CONNECTION_NOT_OPEN', `connection ${entry.id} is ${state}, not open`);
  }
  if (svc.running >= ctx.limits.maxLatencyMeasurements) {
    throw unavailable(`${svc.running} latency measurements are running, the most limits.maxLatencyMeasurements allows`, 1);
  }
  svc.running++;
  try {
    if (entry !== undefined) {
      const c = entry.object;
      c.measuring = true;
      try {
        const pings = await ping(c.libId, count, payloadBytes, ctx.limits.measureBudgetMs);
        c.pings += pings.count;
        c.lastLatency = pings;
        svc.last = pings;
        svc.completed++;
        return { target: { kind: 'connection', connectionId: entry.id, address: c.address, port: c.port, protocol: c.protocol }, pings };
      } finally {
        c.measuring = false;
      }
    }
    // a loopback echo for the duration of this request: a lib/net server answers the PINGs
    const n = ++svc.echoes;
    const server = createTcpServer<Uint8Array>({ id: `${svc.tag}/echo-server-${n}`, host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    const conn = createConnection({ id: `${svc.tag}/echo-${n}`, host: '127.0.0.1', port, reconnect: false, noDelay: true });
    try {
      const pings = await ping(conn.id, count, payloadBytes, ctx.limits.measureBudgetMs);
      svc.last = pings;
      svc.completed++;
      return { target: { kind: 'loopback-echo', address: '127.0.0.1', port, protocol: 'raw' }, pings };
    } finally {
      conn.destroy();
      await server.destroy();
    }
  } finally {
    svc.running--;
  }
}

export const networkRoutes: RouteModule = (app, ctx) => {
  const svc: NetworkService = {
    tag: `ultra-perf-http-${randomBytes(4).toString('hex')}`,
    allowed: checkAllowedHosts(ctx.options?.allowedHosts),
    running: 0,
    completed: 0,
    echoes: 0,
    last: undefined,
  };
  ctx.components.set('network_io', () => reportOf(svc, ctx));
  for (const schema of kNetworkSchemas) app.addSchema(schema);

  app.get(
    '/network/status',
    {
      schema: {
        tags: kTags,
        operationId: 'getNetworkStatus',
        summary: 'Network transports, codecs and connections',
        description:
          'The backend, the transports in use and whether they are zero-copy (measured by construction: none is), the codecs available, the connections created over HTTP ' +
          '(totals of messages and bytes), and the latency measurements (last p50/p99 in µs).',
        response: { 200: Type.Ref('NetworkStatus'), 400: kError },
      },
    },
    () => statusOf(svc, ctx),
  );

  app.post(
    '/network/create-connection',
    {
      schema: {
        tags: kTags,
        operationId: 'createNetworkConnection',
        summary: 'Open a framed TCP connection (TCP_NODELAY)',
        description:
          'Connects to a lib/net framed TCP peer (createServer) at host:port. Loopback only unless the plugin option allowedHosts names the host (403 otherwise, before any DNS lookup); ' +
          'at most limits.maxObjectsPerKind connections (409); the connect and handshake must finish within limits.connectTimeoutMs (422 otherwise, and for a refused connect). ' +
          'Each connection holds at most limits.connectionBufferBytes in its send queue and frames; what the peer sends is counted and dropped.',
        body: CreateConnectionBody,
        response: { 201: Type.Ref('NetConnection'), 400: kError, 403: kError, 409: kError, 422: kError },
      },
    },
    async (request, reply) => {
      const view = await connect(svc, ctx, request.body);
      return reply.code(201).header('location', `${request.routeOptions.url?.replace('create-connection', 'connections') ?? ''}/${view.id}`).send(view);
    },
  );

  app.get(
    '/network/connections',
    {
      schema: {
        tags: kTags,
        operationId: 'listNetworkConnections',
        summary: 'Connections created over HTTP',
        description: 'Every connection create-connection made and not deleted, with its state, messages and bytes each way, and its last measured round trip (µs).',
        response: { 200: ConnectionList, 400: kError },
      },
    },
    () => {
      const entries = ctx.registry.list(kKind) as RegisteredObject<NetConnection>[];
      return { count: entries.length, cap: ctx.limits.maxObjectsPerKind, connections: entries.map(viewOf) };
    },
  );

  app.get(
    '/network/connections/:id',
    {
      schema: {
        tags: kTags,
        operationId: 'getNetworkConnection',
        summary: 'One connection created over HTTP',
        description: 'Its state, messages and bytes each way (socket bytes include frames and pings), and its last measured round trip (µs). 404 for an unknown id.',
        params: ConnectionParams,
        response: { 200: Type.Ref('NetConnection'), 400: kError, 404: kError },
      },
    },
    (request) => viewOf(ctx.registry.get<NetConnection>(kKind, request.params.id)),
  );

  app.delete(
    '/network/connections/:id',
    {
      schema: {
        tags: kTags,
        operationId: 'deleteNetworkConnection',
        summary: 'Close a connection created over HTTP',
        description: `Closes it gracefully (reset after ${kCloseGraceMs} ms) and forgets it; answers its final view. 404 for an unknown id (also after deletion).`,
        params: ConnectionParams,
        response: { 200: Type.Ref('NetConnection'), 400: kError, 404: kError },
      },
    },
    async (request) => {
      const entry = ctx.registry.get<NetConnection>(kKind, request.params.id);
      await ctx.registry.delete(kKind, entry.id);
      return viewOf(entry);
    },
  );

  app.post(
    '/network/measure-latency',
    {
      schema: {
        tags: kTags,
        operationId: 'measureNetworkLatency',
        summary: 'Round-trip latency and codec timing',
        description:
          'Times count PING/PONG round trips (µs: p50, p99, p99.9, min, max, mean) over connectionId, or over a loopback echo the route starts for the measurement; ' +
          'count at most limits.maxPings (422), payloadBytes at most limits.maxPingBytes (413); the pings stop after about limits.measureBudgetMs (truncated). ' +
          'With codecs, also the encode/decode time per call (ns) and encoded size of one message per protocol, run as a job (202 with a job to poll when it takes longer than limits.syncWaitMs). ' +
          '404 for an unknown connection, 409 when it is not open or already measured, 503 (Retry-After) past limits.maxLatencyMeasurements.',
        body: MeasureLatencyBody,
        response: { 200: Type.Ref('NetMeasureLatencyResult'), 202: Type.Ref('JobView'), 400: kError, 404: kError, 409: kError, 413: kError, 422: kError, 503: kError },
      },
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
    },
    async (request, reply) => {
      const codecs = request.body.codecs === undefined ? undefined : codecInput(ctx, request.body.codecs);
      const base = await measure(svc, ctx, request.body);
      if (codecs === undefined) return base;
      const job = ctx.jobs.submit('network.codec-timing', { base, ...codecs } satisfies CodecTimingInput);
      const result = await ctx.jobs.wait<MeasureLatencyResult>(job, reply);
      return result ?? reply;
    },
  );
};
