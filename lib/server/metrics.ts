/** `GET /metrics`: Prometheus text exposition from lib/monitor plus the server's own series. */
import type { ServerApp, ServerContext } from './types.js';

export async function registerMetrics(_app: ServerApp, _ctx: ServerContext): Promise<void> {}
