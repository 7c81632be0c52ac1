import { Agent, request } from 'node:http';
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
  timeoutMs?: number;
  /** Sockets kept open to ClickHouse. @default 16 */
  maxSockets?: number;
}

/** `Code: 252, e.displayText() = DB::Exception: Too many parts …` → 252. */
export function parseClickHouseError(status: number, body: string): ClickHouseError {
  const m = /Code:\s*(\d+)/.exec(body);
  const text = body.trim().replace(/, e\.what\(\) = DB::Exception$/, '');
  return new ClickHouseError(m ? Number(m[1]) : -1, status, text.slice(0, 2000));
}

export function createClickHouseClient(opts: ClickHouseClientOptions): ClickHouseClient {
  const base = new URL(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 16 });
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

  /** One HTTP call; resolves with the response stream once the status says success. */
  const call = (
    params: Record<string, string | number>,
    body: Buffer | readonly Buffer[] | string,
    o: QueryOptions = {},
  ): Promise<import('node:http').IncomingMessage> =>
    new Promise((resolve, reject) => {
      const chunks = typeof body === 'string' ? [Buffer.from(body)] : Buffer.isBuffer(body) ? [body] : body;
      const length = chunks.reduce((n, c) => n + c.length, 0);
      const req = request(
        {
          host: base.hostname,
          port: base.port || 80,
          method: 'POST',
          path: path({
            ...(o.noDatabase ? {} : { database: opts.database }),
            ...params,
            ...(o.settings ?? {}),
          }),
          agent,
          headers: { 'content-length': length, ...(auth ?? {}) },
          timeout: o.timeoutMs ?? timeoutMs,
          ...(o.signal ? { signal: o.signal } : {}),
        },
        (res) => {
          if (res.statusCode === 200) return resolve(res);
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            reject(parseClickHouseError(res.statusCode ?? 0, Buffer.concat(parts).toString('utf8'))),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => {
        const err = new Error(`ClickHouse did not answer within ${o.timeoutMs ?? timeoutMs} ms`);
        err.name = 'TimeoutError';
        req.destroy(err);
      });
      req.on('error', reject);
      for (const c of chunks) req.write(c);
      req.end();
    });

  const readAll = async (res: import('node:http').IncomingMessage): Promise<Buffer> => {
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
