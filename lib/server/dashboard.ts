/**
 * The live dashboard at `/` and `/dashboard` (relative to where the plugin is registered):
 * one HTML page, its script and style from `lib/server/dashboard/`, and uPlot served from the
 * `uplot` package itself. No CDN and no other origin: every asset is read into memory once
 * at registration and served under `dashboard/assets/`, with a Content-Security-Policy that
 * allows this origin only. The page's live numbers come from the event stream (`routes/stream.ts`).
 *
 * A token is given to the page in the URL fragment (`/dashboard#token=…`), which browsers
 * never send; the page passes it to the stream as `?access_token=`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import type { FastifyReply, FastifyRequest, FastifySchema } from 'fastify';

import type { ServerApp, ServerContext } from './types.js';

/** What the page may load: this origin only, no inline script or style, no frames, no forms. */
export const kDashboardCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The page's own files, beside this module in the sources and under lib/ in the package (dist/ is one level down). */
function pageDir(): string {
  for (const candidate of ['./dashboard/', '../lib/server/dashboard/']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  throw new Error(`the dashboard's files (index.html) are missing beside ${fileURLToPath(import.meta.url)}`);
}

function asset(path: string, type: string): Asset {
  const body = readFileSync(path);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

function loadAssets(): { page: Asset; files: Map<string, Asset> } {
  const dir = pageDir();
  const require = createRequire(import.meta.url);
  const files = new Map<string, Asset>([
    ['app.js', asset(`${dir}app.js`, 'text/javascript; charset=utf-8')],
    ['app.css', asset(`${dir}app.css`, 'text/css; charset=utf-8')],
    ['icon.svg', asset(`${dir}icon.svg`, 'image/svg+xml')],
    ['uPlot.iife.min.js', asset(require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8')],
    ['uPlot.min.css', asset(require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8')],
  ]);
  return { page: asset(`${dir}index.html`, 'text/html; charset=utf-8'), files };
}

function send(request: FastifyRequest, reply: FastifyReply, file: Asset): FastifyReply {
  void reply
    .header('content-security-policy', kDashboardCsp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-cache')
    .header('etag', file.etag);
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  return reply.type(file.type).send(file.body);
}

export async function registerDashboard(app: ServerApp, _ctx: ServerContext): Promise<void> {
  const { page, files } = loadAssets();
  // pages, not API: @fastify/swagger leaves routes with schema.hide out of the document
  const hide = { schema: { hide: true } as FastifySchema };

  app.get('/', hide, (request, reply) => {
    // under a prefix `/ops` answers too: send it to `/ops/` so the page's relative URLs resolve
    const [path, query] = splitUrl(request.url);
    if (!path.endsWith('/')) return reply.redirect(`${path}/${query}`, 308);
    return send(request, reply, page);
  });
  app.get('/dashboard', hide, (request, reply) => send(request, reply, page));
  app.get<{ Params: { name: string } }>('/dashboard/assets/:name', hide, (request, reply) => {
    const file = files.get(request.params.name);
    if (file === undefined) return reply.code(404).send({ statusCode: 404, code: 'ERR_ULTRA_PERF_HTTP_NOT_FOUND', error: 'Not Found', message: `no dashboard asset named ${JSON.stringify(request.params.name)}` });
    return send(request, reply, file);
  });
}

function splitUrl(url: string): [string, string] {
  const at = url.indexOf('?');
  return at < 0 ? [url, ''] : [url.slice(0, at), url.slice(at)];
}
