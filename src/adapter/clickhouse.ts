import { Agent, type ClientRequest, type ClientRequestArgs, type IncomingMessage, request } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { ClickHouseError } from './errors.ts';

/** The few ClickHouse calls the adapter makes, over its HTTP interface. Injected, so tests can fake it. */
export interface ClickHouseClient {
  /** Runs one statement; returns the response body (e.g. TabSeparated rows). */
  query(sql: string, opts?: QueryOptions): Promise<string>;
  /** Runs one statement and returns the raw body bytes (RowBinary results). */
  queryBytes(sql: string, opts?: QueryOptions): Promise<Buffer>;
  /** Streams the answer of one statement (large RowBinary results), chunk by chunk. */
  queryStream(sql: string, opts?: QueryOptions): AsyncIterable<Buffer>;
  /** `INSERT INTO table FORMAT fmt` with the body as data. */
  insert(table: string, format: string, body: Buffer | readonly Buffer[], opts?: QueryOptions): Promise<void>;
  /** True when `SELECT 1` answers within the timeout. */
  ping(timeoutMs?: number): Promise<boolean>;
  readonly url: string;
  readonly database: string;
  close(): void;
}

export interface QueryOptions {
  /** Extra ClickHouse settings for this statement, sent as URL parameters. */
  settings?: Record<string, string | number>;
  /** Use no database (for CREATE DATABASE). */
  noDatabase?: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ClickHouseClientOptions {
  url: string;
  database: string;
  user?: string;
  password?: string;
  /** CA certificates (PEM) trusted for an `https://` URL, instead of the system's. */
  ca?: Buffer;
  timeoutMs?: number;
  /** Sockets kept open to ClickHouse. @default 16 */
  maxSockets?: number;
  /**
   * Longest an idle socket is kept for reuse; below ClickHouse's `keep_alive_timeout` (3 s by default), which
   * also caps it through the `Keep-Alive: timeout=N` ClickHouse announces (N s less 1 s). @default 2000
   */
  idleSocketTtlMs?: number;
  /** Connection events, for /metrics. */
  events?: Partial<ClickHouseConnectionEvents>;
  /** Wall clock (tests). */
  now?: () => number;
}

/** What the client tells /metrics about its connections. */
export interface ClickHouseConnectionEvents {
  /** A new connection was opened (the first one, or a reconnect). */
  connected(): void;
  /** An idle socket was dropped before reuse: idle too long (by the wall clock) or closed by ClickHouse. */
  staleDropped(): void;
  /** A request failed on a reused socket before any answer byte and was sent again on a fresh connection. */
  retried(): void;
}

/** Socket errors that mean "the connection was already gone", not "ClickHouse failed this request". */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_DESTROYED']);

/** When the socket was last handed back to the pool (wall clock, ms). */
const idleSince = Symbol('idleSince');
type PooledSocket = Socket & { [idleSince]?: number };

/**
 * A keep-alive agent whose idle sockets expire after `ttlMs` (or ClickHouse's announced keep-alive less 1 s,
 * whichever is shorter). The socket timer that enforces this runs late when the event loop is busy (a large
 * decode, a loaded host), so `sweep` also checks each idle socket's age by the wall clock right before a
 * request picks one.
 */
class ClickHouseAgent extends Agent {
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly events: ClickHouseConnectionEvents,
    maxSockets: number,
    /** Set for an `https://` URL: connections are TLS (verified against `ca` or the system's CAs). */
    private readonly tls?: ConnectionOptions,
  ) {
    super({ keepAlive: maxSockets > 0, maxSockets: Math.max(1, maxSockets), timeout: ttlMs });
  }

  override createConnection(
    options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    if (!this.tls) return super.createConnection(options, callback);
    return tlsConnect({ ...(options as ConnectionOptions), ...this.tls });
  }

  override keepSocketAlive(socket: Socket): boolean {
    // Node lowers the timeout to the server's Keep-Alive hint less 1 s (and refuses reuse below that).
    // (@types/node says void; Node returns whether the socket may be kept.)
    const keep = (super.keepSocketAlive(socket) as unknown as boolean | undefined) !== false;
    const t = socket.timeout ?? 0;
    if (t === 0 || t > this.ttlMs) socket.setTimeout(this.ttlMs);
    (socket as PooledSocket)[idleSince] = this.now();
    return keep;
  }

  /** Drops idle sockets that are too old or already closed by ClickHouse, so the next request cannot pick one. */
  sweep(): void {
    const t = this.now();
    for (const list of Object.values(this.freeSockets))
      for (const s of [...(list ?? [])] as PooledSocket[]) {
        const age = t - (s[idleSince] ?? t);
        if (!s.destroyed && !s.readableEnded && age < Math.min(this.ttlMs, s.timeout || this.ttlMs)) continue;
        // destroy() first: the agent removes a socket from its free list only once it is no longer writable.
        s.destroy();
        s.emit('agentRemove');
        this.events.staleDropped();
      }
  }
}

/** A reused socket turned out to be closed before ClickHouse answered (internal: triggers the one retry). */
class StaleSocketError extends Error {
  constructor(cause: NodeJS.ErrnoException) {
    super(`ClickHouse connection was closed before the answer: ${cause.message}`, { cause });
    this.name = 'StaleSocketError';
  }
}

/** `Code: 252, e.displayText() = DB::Exception: Too many parts …` → 252. */
export function parseClickHouseError(status: number, body: string): ClickHouseError {
  const m = /Code:\s*(\d+)/.exec(body);
  const text = body.trim().replace(/, e\.what\(\) = DB::Exception$/, '');
  return new ClickHouseError(m ? Number(m[1]) : -1, status, text.slice(0, 2000));
}

export function createClickHouseClient(opts: ClickHouseClientOptions): ClickHouseClient {
  const base = new URL(opts.url);
  const events: ClickHouseConnectionEvents = {
    connected: () => {},
    staleDropped: () => {},
    retried: () => {},
    ...opts.events,
  };
  const tls: ConnectionOptions | undefined =
    base.protocol === 'https:'
      ? {
          ...(opts.ca ? { ca: opts.ca } : {}),
          ...(isIP(base.hostname.replace(/^\[|\]$/g, '')) ? {} : { servername: base.hostname }),
        }
      : undefined;
  const agent = new ClickHouseAgent(
    opts.idleSocketTtlMs ?? 2000,
    opts.now ?? Date.now,
    events,
    opts.maxSockets ?? 16,
    tls,
  );
  // The retry's connection of its own (closed after it); over TLS it needs an agent that speaks TLS.
  const oneShot = tls ? new ClickHouseAgent(0, opts.now ?? Date.now, events, 0, tls) : false;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const auth =
    opts.user && (opts.user !== 'default' || opts.password)
      ? { 'x-clickhouse-user': opts.user, 'x-clickhouse-key': opts.password ?? '' }
      : undefined;

  const path = (params: Record<string, string | number>): string => {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) u.set(k, String(v));
    return `${base.pathname.replace(/\/$/, '')}/?${u.toString()}`;
  };

  /**
   * One HTTP call; resolves with the response stream once the status says success. A request that fails on
   * a reused socket before any answer byte arrived is sent once more on a fresh connection: ClickHouse closed
   * that socket before reading the request, and an insert that did arrive is deduplicated anyway.
   */
  const call = async (
    params: Record<string, string | number>,
    body: Buffer | readonly Buffer[] | string,
    o: QueryOptions = {},
  ): Promise<IncomingMessage> => {
    const chunks = typeof body === 'string' ? [Buffer.from(body)] : Buffer.isBuffer(body) ? [body] : body;
    const urlPath = path({
      ...(o.noDatabase ? {} : { database: opts.database }),
      ...params,
      ...(o.settings ?? {}),
    });
    try {
      return await send(urlPath, chunks, o, true);
    } catch (err) {
      if (!(err instanceof StaleSocketError)) throw err;
      events.retried();
      return send(urlPath, chunks, o, false);
    }
  };

  const send = (
    urlPath: string,
    chunks: readonly Buffer[],
    o: QueryOptions,
    pooled: boolean,
  ): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const length = chunks.reduce((n, c) => n + c.length, 0);
      if (pooled) agent.sweep();
      let answered = false;
      const req: ClientRequest = request(
        {
          host: base.hostname,
          port: base.port || (tls ? 443 : 80),
          method: 'POST',
          path: urlPath,
          // The retry gets a connection of its own, closed after it.
          agent: pooled ? agent : oneShot,
          headers: { 'content-length': length, ...(auth ?? {}) },
          timeout: o.timeoutMs ?? timeoutMs,
          ...(o.signal ? { signal: o.signal } : {}),
        },
        (res) => {
          answered = true;
          if (res.statusCode === 200) return resolve(res);
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            reject(parseClickHouseError(res.statusCode ?? 0, Buffer.concat(parts).toString('utf8'))),
          );
          res.on('error', reject);
        },
      );
      req.on('socket', () => {
        if (!req.reusedSocket) events.connected();
      });
      req.on('timeout', () => {
        const err = new Error(`ClickHouse did not answer within ${o.timeoutMs ?? timeoutMs} ms`);
        err.name = 'TimeoutError';
        req.destroy(err);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const stale =
          pooled &&
          req.reusedSocket &&
          !answered &&
          err.name !== 'TimeoutError' &&
          !o.signal?.aborted &&
          STALE_SOCKET_CODES.has(err.code ?? '');
        reject(stale ? new StaleSocketError(err) : err);
      });
      for (const c of chunks) req.write(c);
      req.end();
    });

  const readAll = async (res: IncomingMessage): Promise<Buffer> => {
    const parts: Buffer[] = [];
    for await (const c of res as AsyncIterable<Buffer>) parts.push(c);
    return Buffer.concat(parts);
  };

  return {
    url: opts.url,
    database: opts.database,
    async query(sql, o) {
      return (await readAll(await call({}, sql, o))).toString('utf8');
    },
    async queryBytes(sql, o) {
      return readAll(await call({}, sql, o));
    },
    async *queryStream(sql, o) {
      const res = await call({}, sql, o);
      for await (const c of res as AsyncIterable<Buffer>) yield c;
    },
    async insert(table, format, body, o) {
      const res = await call({ query: `INSERT INTO ${table} FORMAT ${format}` }, body, o);
      // ClickHouse reports an error that happens after the headers inside the body; it is empty on success.
      const rest = await readAll(res);
      if (rest.length > 0 && /Code:\s*\d+/.test(rest.toString('utf8')))
        throw parseClickHouseError(200, rest.toString('utf8'));
    },
    async ping(t = 2000) {
      try {
        const out = await readAll(await call({}, 'SELECT 1', { timeoutMs: t, noDatabase: true }));
        return out.toString().trim() === '1';
      } catch {
        return false;
      }
    },
    close() {
      agent.destroy();
    },
  };
}
