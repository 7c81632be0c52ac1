import { type App, createApp, json, type Reply, type Req, type Route } from '../lib/http.ts';
import type { Logger } from '../lib/logger.ts';
import type { AssetDirs } from './assets.ts';
import { staticFiles } from './assets.ts';
import type { Dashboards } from './dashboards.ts';
import { invalidRequest } from './errors.ts';
import type { createUpstream } from './upstream.ts';

type Upstream = ReturnType<typeof createUpstream>;

export interface ConsoleDeps {
  readonly dirs: AssetDirs;
  readonly dashboards: Dashboards;
  readonly prometheus: Upstream;
  readonly dispatcher: Upstream;
  /** What the browser needs to know to build queries as Grafana would. */
  readonly settings: { readonly scrapeIntervalMs: number };
  readonly logger: Logger;
}

/** Query parameters relayed to Prometheus' HTTP API; anything else is refused. */
const PROM_PARAMS = new Set(['query', 'start', 'end', 'step', 'time', 'match[]', 'timeout', 'limit']);
const MAX_QUERY_CHARS = 32 << 10;
/** A label name (Prometheus' own rule) or a server id (the dispatcher's: printable, no slash). */
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const ID = '(?:[^/%]|%[0-7][0-9A-Fa-f])+';

function promQuery(req: Pick<Req, 'query'>): string {
  const out = new URLSearchParams();
  for (const [k, v] of req.query) {
    if (!PROM_PARAMS.has(k)) throw invalidRequest(`unknown query parameter ${JSON.stringify(k)}`);
    if (v.length > MAX_QUERY_CHARS)
      throw invalidRequest(`parameter ${k} is longer than ${MAX_QUERY_CHARS} characters`);
    out.append(k, v);
  }
  return out.toString();
}

const MAX_BATCH = 200;

/** `{queries: [{kind: 'query' | 'query_range', params: {...}}]}` → Prometheus paths, every one validated. */
function batchPaths(body: Buffer): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw invalidRequest(`the body is not valid JSON: ${(err as Error).message}`);
  }
  const qs = (doc as { queries?: unknown } | null)?.queries;
  if (!Array.isArray(qs) || qs.length === 0) throw invalidRequest('"queries" must be a non-empty array');
  if (qs.length > MAX_BATCH) throw invalidRequest(`at most ${MAX_BATCH} queries in one batch`);
  return qs.map((q, i) => {
    const { kind, params } = (q ?? {}) as { kind?: unknown; params?: unknown };
    if (kind !== 'query' && kind !== 'query_range')
      throw invalidRequest(`queries[${i}].kind must be "query" or "query_range"`);
    if (params === null || typeof params !== 'object' || Array.isArray(params))
      throw invalidRequest(`queries[${i}].params must be an object of strings`);
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (typeof v !== 'string') throw invalidRequest(`queries[${i}].params.${k} must be a string`);
      query.append(k, v);
    }
    return `/api/v1/${kind}?${promQuery({ query })}`;
  });
}

/**
 * Runs every query at once against Prometheus and streams one JSON line per answer as it arrives,
 * `{"i":index,"status":code,"body":<Prometheus' answer>}`: a dashboard needs one request, not one per panel
 * (a browser opens at most 6 connections to one host), and each panel draws as soon as its answer is in.
 */
async function* batch(prometheus: Upstream, paths: readonly string[]): AsyncIterable<Uint8Array> {
  const pending = new Map<number, Promise<{ i: number; line: string }>>();
  paths.forEach((path, i) => {
    pending.set(
      i,
      prometheus(path).then(
        (r) => ({
          i,
          line: `{"i":${i},"status":${r.status},"body":${Buffer.from(r.body as Uint8Array).toString('utf8') || 'null'}}\n`,
        }),
        (err: unknown) => {
          const e = err as { status?: number; code?: string; message?: string };
          return {
            i,
            line: `${JSON.stringify({ i, status: e.status ?? 500, body: { status: 'error', errorType: e.code ?? 'internal', error: e.message ?? String(err) } })}\n`,
          };
        },
      ),
    );
  });
  while (pending.size > 0) {
    const { i, line } = await Promise.race(pending.values());
    pending.delete(i);
    yield Buffer.from(line);
  }
}

/** The console's HTTP API as a socket-free app: its page and files, the dashboards, and two proxies. */
export function createConsoleApp(deps: ConsoleDeps): App {
  const web = staticFiles(deps.dirs.web, { cache: false });
  const vendor = staticFiles(deps.dirs.uplot, { cache: true });
  const prom = (path: string) => (req: Req) => deps.prometheus(`${path}?${promQuery(req)}`);

  const status = async (): Promise<Reply> => {
    const probe = async (up: Upstream, path: string) => {
      try {
        const r = await up(path);
        return r.status < 300 ? { ok: true } : { ok: false, error: `answered HTTP ${r.status}` };
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
    };
    const [prometheus, dispatcher] = await Promise.all([
      probe(deps.prometheus, '/-/ready'),
      probe(deps.dispatcher, '/-/healthy'),
    ]);
    return json(200, { prometheus, dispatcher }, { 'cache-control': 'no-store' });
  };

  const routes: Route[] = [
    { method: 'GET', path: '/', handler: () => web('index.html'), name: 'page' },
    { method: 'GET', path: /^\/static\/(.+)$/, handler: (r) => web(r.params[0] ?? ''), name: 'static' },
    {
      method: 'GET',
      path: /^\/vendor\/uplot\/(.+)$/,
      handler: (r) => vendor(r.params[0] ?? ''),
      name: 'vendor',
    },
    {
      method: 'GET',
      path: '/api/settings',
      handler: () => json(200, deps.settings),
      name: 'settings',
    },
    {
      method: 'GET',
      path: '/api/dashboards',
      handler: () => json(200, { dashboards: deps.dashboards.list() }, { 'cache-control': 'no-store' }),
      name: 'dashboards',
    },
    {
      method: 'GET',
      path: /^\/api\/dashboards\/([A-Za-z0-9._-]+)$/,
      handler: (r) => ({
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
        body: deps.dashboards.get(r.params[0] ?? ''),
      }),
      name: 'dashboard',
    },
    { method: 'GET', path: '/api/status', handler: status, name: 'status' },
    {
      method: 'POST',
      path: '/api/prom/batch',
      handler: (r) => ({
        status: 200,
        headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' },
        body: batch(deps.prometheus, batchPaths(r.body)),
      }),
      maxBodyBytes: 1 << 20,
      name: 'prom_batch',
    },
    { method: 'GET', path: '/api/prom/query_range', handler: prom('/api/v1/query_range'), name: 'prom' },
    { method: 'GET', path: '/api/prom/query', handler: prom('/api/v1/query'), name: 'prom' },
    { method: 'GET', path: '/api/prom/series', handler: prom('/api/v1/series'), name: 'prom' },
    {
      method: 'GET',
      path: /^\/api\/prom\/label\/([^/]+)\/values$/,
      handler: (r) => {
        const name = r.params[0] ?? '';
        if (!LABEL.test(name)) throw invalidRequest(`bad label name ${JSON.stringify(name)}`);
        return deps.prometheus(`/api/v1/label/${name}/values?${promQuery(r)}`);
      },
      name: 'prom',
    },
    {
      method: 'GET',
      path: '/api/dispatcher/servers',
      handler: (r) => {
        const region = r.query.get('region');
        return deps.dispatcher(
          `/api/v1/servers${region ? `?${new URLSearchParams({ region }).toString()}` : ''}`,
        );
      },
      name: 'dispatcher',
    },
    {
      method: 'POST',
      path: '/api/dispatcher/allocate',
      handler: (r) =>
        deps.dispatcher('/api/v1/allocate', {
          method: 'POST',
          body: r.body,
          headers: { 'content-type': 'application/json' },
        }),
      maxBodyBytes: 16 << 10,
      name: 'dispatcher',
    },
    {
      method: 'POST',
      path: new RegExp(`^/api/dispatcher/servers/(${ID})/(drain|undrain)$`),
      handler: (r) => {
        const auth = r.headers.authorization;
        return deps.dispatcher(`/api/v1/servers/${encodeURIComponent(r.params[0] ?? '')}/${r.params[1]}`, {
          method: 'POST',
          ...(typeof auth === 'string' ? { headers: { authorization: auth } } : {}),
        });
      },
      maxBodyBytes: 16 << 10,
      name: 'dispatcher',
    },
  ];
  return createApp(routes, deps.logger);
}
