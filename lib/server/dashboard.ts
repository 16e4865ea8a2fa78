/** The live dashboard (`/` and `/dashboard`), its static assets (no CDN) and its server-sent events. */
import type { ServerApp, ServerContext } from './types.js';

export async function registerDashboard(_app: ServerApp, _ctx: ServerContext): Promise<void> {}
