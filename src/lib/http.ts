import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { ListenAddress } from './config.ts';
import { HttpError } from './errors.ts';
import type { Logger } from './logger.ts';
import { createWebSecurity, type WebFlags } from './web-security.ts';

/** A request as handlers see it: the body is already read (within the route's limit). */
export interface Req {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Capture groups of the route's path pattern. */
  readonly params: readonly string[];
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array | AsyncIterable<Uint8Array>;
}

export type Handler = (req: Req) => Promise<Reply> | Reply;

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string | RegExp;
  readonly handler: Handler;
  /** Largest body accepted; more is a 413. @default 1 MiB */
  readonly maxBodyBytes?: number;
  /** Label for self-metrics; defaults to the path. */
  readonly name?: string;
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  body: JSON.stringify(body),
});

export const text = (status: number, body: string, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
  body,
});

/** Maps any thrown value to a reply: HttpError keeps its status; anything else is a 500. */
export function errorReply(err: unknown): Reply {
  if (err instanceof HttpError) {
    const headers: Record<string, string> = {};
    if (err.retryAfter !== undefined) headers['retry-after'] = String(Math.ceil(err.retryAfter));
    return json(err.status, { status: 'error', errorType: err.code, error: err.message }, headers);
  }
  return json(500, { status: 'error', errorType: 'internal', error: (err as Error)?.message ?? String(err) });
}

export interface App {
  readonly routes: readonly Route[];
  /** Finds the route, runs it, maps errors; usable without a socket in tests. */
  handle(req: Omit<Req, 'params'>): Promise<Reply>;
  match(method: string, path: string): { route: Route; params: string[] } | { status: 404 | 405 };
}

/** decodeURIComponent, but a malformed escape (`%zz`) is the client's error, not a 500. */
function decodeParam(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, 'bad_path', `malformed percent-encoding in path segment ${JSON.stringify(s)}`);
  }
}

export function createApp(routes: readonly Route[], logger: Logger): App {
  const match: App['match'] = (method, path) => {
    let pathMatched = false;
    for (const route of routes) {
      let params: string[] | undefined;
      if (typeof route.path === 'string') params = route.path === path ? [] : undefined;
      else {
        const m = route.path.exec(path);
        params = m ? m.slice(1).map((s) => decodeParam(s ?? '')) : undefined;
      }
      if (!params) continue;
      pathMatched = true;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
    }
    return { status: pathMatched ? 405 : 404 };
  };
  return {
    routes,
    match,
    async handle(req) {
      let found: ReturnType<App['match']>;
      try {
        found = match(req.method, req.path);
      } catch (err) {
        return errorReply(err);
      }
      if ('status' in found)
        return errorReply(
          new HttpError(
            found.status,
            found.status === 404 ? 'not_found' : 'method_not_allowed',
            `${req.method} ${req.path}: ${found.status === 404 ? 'no such endpoint' : 'method not allowed'}`,
          ),
        );
      try {
        return await found.route.handler({ ...req, params: found.params });
      } catch (err) {
        const reply = errorReply(err);
        if (reply.status >= 500) logger.error({ err, path: req.path }, 'request failed');
        else
          logger.info(
            { path: req.path, status: reply.status, error: (err as Error).message },
            'request rejected',
          );
        return reply;
      }
    },
  };
}

const EMPTY = Buffer.alloc(0);
const BUILTIN = new Set(['/-/healthy', '/-/ready', '/metrics']);

/** Reads a body up to `limit` bytes; a longer one (declared or actual) is a 413. */
export async function readBody(msg: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(msg.headers['content-length'] ?? Number.NaN);
  const tooLarge = () =>
    new HttpError(413, 'body_too_large', `request body exceeds the limit of ${limit} bytes`);
  if (declared > limit) throw tooLarge();
  if (msg.complete && declared === 0) return EMPTY;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        msg.off('data', onData);
        msg.resume();
        reject(tooLarge());
      } else chunks.push(chunk);
    };
    msg.on('data', onData);
    msg.once('error', reject);
    msg.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
  });
}

/** A readiness answer with what it is made of (e.g. a cluster's shards and replicas). */
export interface ReadyState {
  readonly ok: boolean;
  readonly detail?: string;
}

export interface ServeOptions {
  app: App;
  listen: ListenAddress;
  logger: Logger;
  registry: Registry;
  /** `/-/ready` answers 200 only when this resolves true (or `ok`; `detail` is added to the body). */
  ready?: () => boolean | ReadyState | Promise<boolean | ReadyState>;
  /** Called on shutdown after the listener closed and in-flight requests ended (flush buffers here). */
  onShutdown?: () => Promise<void>;
  /** Answers GET /metrics instead of the registry alone (e.g. content negotiation by Accept). */
  metrics?: Handler;
  /** How long in-flight requests may take to finish on shutdown. @default 10s */
  shutdownGraceMs?: number;
  /** `--web.config.file` and `--web.route-policy` (TLS, basic auth, headers); a role passes its config. */
  web?: WebFlags;
}

export interface Served {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  /** Stops accepting, waits for in-flight requests (up to the grace period), then runs onShutdown. */
  close(): Promise<void>;
}

/** A registry with the process's default metrics, for a role's own /metrics. */
export function createRegistry(prefix = 'rtcmon_'): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
}

/** Opens the port: the app's routes plus /metrics, /-/healthy and /-/ready. */
export async function serve(opts: ServeOptions): Promise<Served> {
  const { app, logger, registry } = opts;
  const requests = new Counter({
    name: 'rtcmon_http_requests_total',
    help: 'HTTP requests served, by handler and status code.',
    labelNames: ['handler', 'code'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'rtcmon_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by handler.',
    labelNames: ['handler'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // Label children cached per handler and code: this runs on every request.
  const children = new Map<
    string,
    { count: ReturnType<typeof requests.labels>; time: ReturnType<typeof duration.labels> }
  >();
  const observe = (handler: string, status: number, seconds: number) => {
    const key = `${handler} ${status}`;
    let c = children.get(key);
    if (!c) {
      c = { count: requests.labels(handler, String(status)), time: duration.labels(handler) };
      children.set(key, c);
    }
    c.count.inc();
    c.time.observe(seconds);
  };
  let shuttingDown = false;
  let inflight = 0;
  let idle: (() => void) | undefined;

  const builtin = async (
    path: string,
    msg: IncomingMessage,
    query: URLSearchParams,
  ): Promise<Reply | undefined> => {
    if (path === '/-/healthy') return text(200, 'rtcmon is healthy.\n');
    if (path === '/-/ready') {
      const r = opts.ready
        ? await Promise.resolve()
            .then(opts.ready)
            .catch(() => false)
        : true;
      const ok = !shuttingDown && (typeof r === 'boolean' ? r : r.ok);
      const detail = typeof r === 'boolean' || r.detail === undefined ? '' : `${r.detail}\n`;
      return text(ok ? 200 : 503, `${ok ? 'rtcmon is ready.' : 'rtcmon is not ready.'}\n${detail}`);
    }
    if (path === '/metrics' && opts.metrics)
      return opts.metrics({
        method: 'GET',
        path,
        query,
        headers: msg.headers,
        body: Buffer.alloc(0),
        params: [],
      });
    if (path === '/metrics')
      return {
        status: 200,
        headers: { 'content-type': registry.contentType },
        body: await registry.metrics(),
      };
    return undefined;
  };

  const security = opts.web ? createWebSecurity({ flags: opts.web, logger, registry }) : undefined;
  const handlerOf = (method: string, path: string): string => {
    if (method === 'GET' && BUILTIN.has(path)) return path;
    try {
      const found = app.match(method, path);
      return 'route' in found ? (found.route.name ?? String(found.route.path)) : 'unmatched';
    } catch {
      return 'unmatched';
    }
  };

  const listener: RequestListener = async (msg, res) => {
    inflight++;
    const started = process.hrtime.bigint();
    let handler = 'unknown';
    let reply: Reply;
    try {
      const raw = msg.url ?? '/';
      const q = raw.indexOf('?');
      const path = q < 0 ? raw : raw.slice(0, q);
      const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
      const refused = security && (await security.admit(msg, path, handlerOf(msg.method ?? 'GET', path)));
      const b = !refused && msg.method === 'GET' ? await builtin(path, msg, query) : undefined;
      if (refused) {
        handler = handlerOf(msg.method ?? 'GET', path);
        reply = json(
          refused.status,
          { status: 'error', errorType: refused.reason, error: refused.message },
          refused.headers,
        );
        // The body was not read; Node discards a small one to keep the connection, a large one closes it.
        if (Number(msg.headers['content-length'] ?? 0) > 65_536 || msg.headers['transfer-encoding'])
          res.setHeader('connection', 'close');
      } else if (b) {
        handler = path;
        reply = b;
      } else if (shuttingDown) {
        reply = errorReply(new HttpError(503, 'shutting_down', 'server is shutting down', { retryAfter: 1 }));
      } else {
        const found = app.match(msg.method ?? 'GET', path);
        handler = 'route' in found ? (found.route.name ?? String(found.route.path)) : 'unmatched';
        const limit = 'route' in found ? (found.route.maxBodyBytes ?? 1 << 20) : 0;
        const body = await readBody(msg, limit);
        reply = await app.handle({
          method: msg.method ?? 'GET',
          path,
          query,
          headers: msg.headers,
          body,
        });
      }
    } catch (err) {
      reply = errorReply(err);
      if (reply.status === 413) res.setHeader('connection', 'close');
    }
    try {
      if (security) for (const [k, v] of Object.entries(security.headers())) res.setHeader(k, v);
      res.writeHead(reply.status, reply.headers);
      const body = reply.body;
      if (body === undefined || msg.method === 'HEAD') res.end();
      else if (typeof body === 'string' || body instanceof Uint8Array) res.end(body);
      else {
        for await (const chunk of body) {
          if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
          if (res.destroyed) break;
        }
        res.end();
      }
    } catch (err) {
      logger.warn({ err }, 'writing the response failed');
      res.destroy();
    } finally {
      observe(handler, reply.status, Number(process.hrtime.bigint() - started) / 1e9);
      inflight--;
      if (inflight === 0) idle?.();
    }
  };
  const server = security ? security.createServer(listener) : createServer(listener);
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 120_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host || undefined, () => resolve());
  }).catch((err: unknown) => {
    security?.close();
    throw err;
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.listen.host && opts.listen.host !== '0.0.0.0' ? opts.listen.host : '127.0.0.1';
  logger.info({ address: `${opts.listen.host}:${port}`, tls: security?.tls ?? false }, 'listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      security?.close();
      const stopped = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      if (inflight > 0) {
        const grace = opts.shutdownGraceMs ?? 10_000;
        await Promise.race([
          new Promise<void>((r) => {
            idle = r;
          }),
          new Promise<void>((r) => setTimeout(r, grace).unref()),
        ]);
      }
      server.closeAllConnections();
      await stopped;
      await opts.onShutdown?.();
    })();
    return closing;
  };
  const scheme = security?.tls ? 'https' : 'http';
  return { server, port, url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`, close };
}

/** Runs `close` on SIGTERM/SIGINT, once, then exits. */
export function closeOnSignals(close: () => Promise<void>, logger: Logger): void {
  let done = false;
  const onSignal = (signal: string) => {
    if (done) return;
    done = true;
    logger.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
}
