/**
 * `GET stream`: the dashboard's live data as server-sent events. One `snapshot` event every
 * `interval` ms (default 1000, 250..10000) holding the telemetry snapshot, every component's
 * report, the job runner's counters and the count of objects per kind; a comment line every
 * {@link kHeartbeatMs} so proxies keep the connection open; a `retry:` field so EventSource
 * reconnects after {@link kRetryMs}.
 *
 * Bounded: at most `limits.maxStreams` streams at once (503 with Retry-After past it); a slow
 * reader gets no new events until its socket drains; the timers stop when the client goes away
 * and every stream is ended in `preClose`, so `app.close()` never waits on one.
 *
 * EventSource cannot send headers, so the page passes its token as `?access_token=` (the auth
 * hook accepts it on this route only); the route logs at `warn` so the query string is not
 * written by the request logger.
 */
import type { ServerResponse } from 'node:http';

import { Type } from 'typebox';

import { unavailable } from '../http-errors.js';
import type { JobStats } from '../jobs.js';
import { StreamQuery } from '../schemas/stream.js';
import type { TelemetrySnapshot } from '../telemetry.js';
import type { ComponentReport, RouteModule, ServerContext } from '../types.js';

/** ms between two heartbeat comments. */
export const kHeartbeatMs = 15_000;
/** ms EventSource waits before it reconnects (the `retry:` field). */
export const kRetryMs = 3_000;

/** The data of one `snapshot` event. */
export interface StreamSnapshot {
  /** ms since the epoch */
  at: number;
  intervalMs: number;
  telemetry: TelemetrySnapshot;
  /** One report per component; a report that throws reads `{ health: 'unavailable', error }`. */
  components: Record<string, ComponentReport>;
  jobs: JobStats;
  /** Objects created over HTTP, per kind. */
  registry: Record<string, number>;
  streams: { open: number; max: number };
}

/** Calls every component report; one that throws or returns no object reads as unavailable. */
export function readComponents(components: ServerContext['components']): Record<string, ComponentReport> {
  const out: Record<string, ComponentReport> = {};
  for (const [name, report] of components) {
    try {
      const value = report();
      out[name] = value !== null && typeof value === 'object' ? value : { health: 'unavailable', error: `report returned ${typeof value}` };
    } catch (err) {
      out[name] = { health: 'unavailable', error: err instanceof Error ? err.message : String(err) };
    }
  }
  return out;
}

export function buildSnapshot(ctx: ServerContext, intervalMs: number, open: number): StreamSnapshot {
  return {
    at: Date.now(),
    intervalMs,
    telemetry: ctx.telemetry.snapshot(),
    components: readComponents(ctx.components),
    jobs: ctx.jobs.stats(),
    registry: ctx.registry.counts(),
    streams: { open, max: ctx.limits.maxStreams },
  };
}

const kDescription =
  'Server-sent events (text/event-stream) for the dashboard: an event `snapshot` every `interval` ms whose `data` is JSON ' +
  '{ at (ms since the epoch), intervalMs, telemetry (requests: total, ratePerSec in req/s, routes with p50Us..maxUs in µs; ' +
  'eventLoop in ms; memory in bytes), components (one report per component), jobs (running, queued, completed, failed, rejected), ' +
  `registry (objects per kind), streams (open, max) }; a comment line every ${kHeartbeatMs / 1000} s; retry ${kRetryMs} ms. ` +
  'At most limits.maxStreams streams at once (503 past it).';

export const streamRoutes: RouteModule = (app, ctx) => {
  const open = new Set<() => void>();

  app.addHook('preClose', (done) => {
    for (const end of [...open]) end();
    done();
  });

  app.get(
    '/stream',
    {
      // No HEAD twin: the handler hijacks the socket, and Node never flushes the headers of a
      // HEAD response that gets no body, so a HEAD request would wait for ever.
      exposeHeadRoute: false,
      logLevel: 'warn',
      schema: {
        tags: ['dashboard'],
        summary: 'Live snapshots for the dashboard (server-sent events)',
        description: kDescription,
        operationId: 'streamSnapshots',
        querystring: StreamQuery,
        response: {
          200: {
            description: 'an endless text/event-stream of `snapshot` events',
            content: { 'text/event-stream': { schema: Type.String() } },
          },
          400: Type.Ref('ErrorResponse'),
          503: Type.Ref('ErrorResponse'),
        },
      },
    },
    (request, reply) => {
      if (open.size >= ctx.limits.maxStreams) {
        throw unavailable(`${open.size} event streams are open, the most this server serves (limits.maxStreams)`, kRetryMs / 1000);
      }
      const intervalMs = request.query.interval;
      const res: ServerResponse = reply.raw;
      void reply.hijack();
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-store, no-transform',
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
        // once the stream ends the socket goes too, so server.close() has nothing to wait for
        connection: 'close',
      });

      let seq = 0;
      let blocked = false;
      const write = (chunk: string): void => {
        if (blocked || res.writableEnded || res.destroyed) return;
        if (!res.write(chunk)) blocked = true;
      };
      const sendSnapshot = (): void => {
        if (blocked) return;
        const data = JSON.stringify(buildSnapshot(ctx, intervalMs, open.size));
        write(`id: ${++seq}\nevent: snapshot\ndata: ${data}\n\n`);
      };
      const snapshotTimer = setInterval(sendSnapshot, intervalMs);
      const heartbeatTimer = setInterval(() => write(`: heartbeat ${Date.now()}\n\n`), kHeartbeatMs);
      const onDrain = (): void => {
        blocked = false;
      };
      const end = (): void => {
        if (!open.delete(end)) return;
        clearInterval(snapshotTimer);
        clearInterval(heartbeatTimer);
        res.off('drain', onDrain);
        if (!res.writableEnded && !res.destroyed) res.end();
      };
      open.add(end);
      res.on('drain', onDrain);
      res.once('close', () => {
        end();
        // a client that only half-closed would otherwise keep the socket, and server.close() with it
        res.destroy();
      });

      write(`retry: ${kRetryMs}\n: connected\n\n`);
      sendSnapshot();
    },
  );
};
