/**
 * Schemas of the network/* routes (SEED.md section 5 "API Endpoints"): the transports' status,
 * framed TCP connections created over HTTP (lib/net tcp.ts) and round-trip / codec timing.
 * Times carry their unit in the name (`...Us`, `...Ns`, `...Ms`), sizes end in `Bytes`.
 */
import { Type, type Static } from 'typebox';

const Count = Type.Integer({ minimum: 0 });

export const NetProtocol = Type.Union([Type.Literal('raw'), Type.Literal('msgpack'), Type.Literal('json'), Type.Literal('binary-struct')], {
  description: "the seed's serialization protocols; 'binary-struct' carries lib/net's Quote struct",
});

/** Round trips over one connection (PING/PONG frames), in µs. */
export const PingSummary = Type.Object(
  {
    requested: Type.Integer({ minimum: 1, description: 'pings asked for' }),
    count: Type.Integer({ minimum: 0, description: 'round trips timed (fewer than requested when limits.measureBudgetMs ran out)' }),
    truncated: Type.Boolean(),
    payloadBytes: Count,
    p50Us: Type.Number(),
    p99Us: Type.Number(),
    p999Us: Type.Number(),
    minUs: Type.Number(),
    maxUs: Type.Number(),
    meanUs: Type.Number(),
    elapsedMs: Type.Number({ description: 'wall time of the measurement, warm-up included' }),
    measuredAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'NetPingSummary', additionalProperties: false },
);
export type PingSummary = Static<typeof PingSummary>;

export const ConnectionView = Type.Object(
  {
    id: Type.String(),
    name: Type.Optional(Type.String()),
    host: Type.String({ description: 'as given' }),
    address: Type.String({ description: 'the address connected to (localhost is connected to as 127.0.0.1, with no DNS lookup)' }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    protocol: NetProtocol,
    noDelay: Type.Boolean({ description: 'TCP_NODELAY' }),
    reconnect: Type.Boolean(),
    state: Type.Union([
      Type.Literal('connecting'),
      Type.Literal('open'),
      Type.Literal('reconnecting'),
      Type.Literal('suspended'),
      Type.Literal('closing'),
      Type.Literal('closed'),
    ]),
    createdAt: Type.String({ format: 'date-time' }),
    connectMs: Type.Number({ description: 'TCP connect + HELLO handshake, ms' }),
    bufferBytes: Type.Integer({ description: 'send-queue bound and largest frame (limits.connectionBufferBytes)' }),
    messagesSent: Count,
    messagesReceived: Count,
    bytesSent: Type.Integer({ minimum: 0, description: 'socket bytes written, frames and pings included' }),
    bytesReceived: Count,
    queuedBytes: Count,
    reconnects: Count,
    heartbeatTimeouts: Count,
    pings: Type.Integer({ minimum: 0, description: 'round trips timed on this connection so far' }),
    lastError: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false })),
    lastLatency: Type.Optional(Type.Ref('NetPingSummary')),
  },
  { $id: 'NetConnection', additionalProperties: false },
);
export type ConnectionView = Static<typeof ConnectionView>;

export const ConnectionList = Type.Object(
  {
    count: Count,
    cap: Type.Integer({ minimum: 0, description: 'limits.maxObjectsPerKind' }),
    connections: Type.Array(Type.Ref('NetConnection')),
  },
  { additionalProperties: false },
);

export const ConnectionParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
export type ConnectionParams = Static<typeof ConnectionParams>;

export const CreateConnectionBody = Type.Object(
  {
    host: Type.String({
      minLength: 1,
      maxLength: 253,
      description: "a loopback address (127.0.0.0/8, ::1) or 'localhost'; other hosts only when the plugin's allowedHosts lists them (403 otherwise, before any DNS lookup or connect)",
    }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    protocol: Type.Optional(NetProtocol),
    noDelay: Type.Optional(Type.Boolean({ description: 'TCP_NODELAY, default true' })),
    reconnect: Type.Optional(Type.Boolean({ description: 'reconnect with backoff after a lost socket (at most 10 attempts); default false' })),
    batchBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1 << 30, description: 'flush once this many message bytes are queued (at most limits.connectionBufferBytes)' })),
    batchDelayUs: Type.Optional(Type.Number({ minimum: 0, maximum: 1_000_000, description: 'flush this long after the first queued message, µs (0: end of the task)' })),
    heartbeatMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 60_000, description: 'heartbeat interval, ms; the peer is declared dead after 3×' })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'a label (the seed\'s connection_id); ids are given by the server' })),
  },
  { additionalProperties: false },
);
export type CreateConnectionBody = Static<typeof CreateConnectionBody>;

export const CodecTiming = Type.Object(
  {
    protocol: NetProtocol,
    codec: Type.String({ description: "the codec's name" }),
    encodedBytes: Count,
    sizeVsJson: Type.Number({ description: 'encoded bytes / JSON bytes of the same message' }),
    iterations: Type.Integer({ minimum: 1 }),
    encodeNs: Type.Object({ p50: Type.Number(), p99: Type.Number() }, { additionalProperties: false, description: 'per call, ns: percentiles of batch means (32 calls a batch)' }),
    decodeNs: Type.Object({ p50: Type.Number(), p99: Type.Number() }, { additionalProperties: false }),
  },
  { $id: 'NetCodecTiming', additionalProperties: false },
);
export type CodecTiming = Static<typeof CodecTiming>;

export const MeasureLatencyBody = Type.Object(
  {
    connectionId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'a connection made by create-connection; without it the route times a loopback echo it starts for the measurement' }),
    ),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'round trips; default 1000, at most limits.maxPings (422 past it)' })),
    payloadBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 1 << 30, description: 'ping payload; default 64, at most limits.maxPingBytes (413 past it)' })),
    codecs: Type.Optional(
      Type.Object(
        {
          protocols: Type.Optional(Type.Array(NetProtocol, { minItems: 1, maxItems: 4, uniqueItems: true, description: 'default all four' })),
          message: Type.Optional(
            Type.Record(Type.String(), Type.Unknown(), {
              description: "the message to encode (JSON at most limits.maxCodecMessageBytes, 413 past it); default a Quote; 'binary-struct' needs the Quote fields (integers, prices in 10^-4 ticks)",
            }),
          ),
          iterations: Type.Optional(Type.Integer({ minimum: 32, maximum: 1_000_000_000, description: 'encode+decode calls per codec; default 2048, at most limits.maxCodecIterations (422 past it)' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type MeasureLatencyBody = Static<typeof MeasureLatencyBody>;

export const MeasureLatencyResult = Type.Object(
  {
    target: Type.Object(
      {
        kind: Type.Union([Type.Literal('connection'), Type.Literal('loopback-echo')]),
        connectionId: Type.Optional(Type.String()),
        address: Type.String(),
        port: Type.Integer(),
        protocol: NetProtocol,
      },
      { additionalProperties: false },
    ),
    pings: Type.Ref('NetPingSummary'),
    codecs: Type.Optional(Type.Array(Type.Ref('NetCodecTiming'), { maxItems: 4 })),
  },
  { $id: 'NetMeasureLatencyResult', additionalProperties: false },
);
export type MeasureLatencyResult = Static<typeof MeasureLatencyResult>;

export const NetworkStatus = Type.Object(
  {
    backend: Type.Object(
      { mode: Type.String(), native: Type.Boolean(), nativeError: Type.Optional(Type.String()) },
      { additionalProperties: false, description: 'the CPU addon (native UDP receiver, batch decoders) or the TS fallback' },
    ),
    transports: Type.Array(
      Type.Object(
        { name: Type.String(), zeroCopy: Type.Boolean(), note: Type.String() },
        { additionalProperties: false },
      ),
      { description: 'what create-connection and measure-latency use' },
    ),
    zeroCopyIo: Type.Boolean({ description: 'true only when every transport in use is zero-copy (none is: see transports)' }),
    kernelBypass: Type.Boolean(),
    codecs: Type.Array(Type.Object({ protocol: NetProtocol, codec: Type.String() }, { additionalProperties: false })),
    connections: Type.Object(
      {
        count: Count,
        open: Count,
        cap: Type.Integer({ minimum: 0 }),
        messagesSent: Count,
        messagesReceived: Count,
        bytesSent: Count,
        bytesReceived: Count,
      },
      { additionalProperties: false, description: 'connections created over HTTP (totals over those held now)' },
    ),
    measurements: Type.Object(
      {
        running: Count,
        completed: Count,
        cap: Type.Integer({ minimum: 0, description: 'limits.maxLatencyMeasurements' }),
        last: Type.Optional(Type.Ref('NetPingSummary')),
      },
      { additionalProperties: false },
    ),
    allowedHosts: Type.Array(Type.String(), { description: 'hosts allowed besides loopback (the allowedHosts option)' }),
  },
  { $id: 'NetworkStatus', additionalProperties: false },
);
export type NetworkStatus = Static<typeof NetworkStatus>;

/** Registered by routes/network.ts with addSchema (components in the OpenAPI document). */
export const kNetworkSchemas = [PingSummary, ConnectionView, CodecTiming, MeasureLatencyResult, NetworkStatus];
