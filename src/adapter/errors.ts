import { HttpError } from '../lib/errors.ts';

/**
 * The adapter's error catalogue. 4xx means "this payload will never be stored" (Prometheus drops it);
 * 5xx means "try again" (Prometheus retries). A storage problem must never become a 4xx.
 */
export type RejectReason =
  | 'malformed_snappy'
  | 'malformed_protobuf'
  | 'invalid_labels'
  | 'invalid_utf8'
  | 'body_too_large'
  | 'decoded_too_large'
  | 'unsupported_encoding';

/** Content-Encoding other than snappy (remote write 1.0 knows only snappy). */
export const unsupportedEncoding = (enc: string): HttpError =>
  new HttpError(415, 'unsupported_encoding', `content-encoding ${JSON.stringify(enc)}: only snappy`);

export const malformed = (code: RejectReason, message: string, cause?: unknown): HttpError =>
  new HttpError(400, code, message, cause === undefined ? {} : { cause });

export const tooLarge = (code: 'body_too_large' | 'decoded_too_large', message: string): HttpError =>
  new HttpError(413, code, message);

/** A remote-read limit exceeded: 400 with a code and a message naming the flag (`limit_max_series`). */
export const readLimit = (flag: string, message: string): HttpError =>
  new HttpError(400, `limit_${flag.replace(/^read\./, '').replace(/-/g, '_')}`, `${message} (limit ${flag})`);

/** A remote-read client that accepts none of the response types the adapter serves. */
export const unsupportedResponseType = (accepted: readonly number[]): HttpError =>
  new HttpError(
    400,
    'unsupported_response_type',
    `none of the accepted response types ${JSON.stringify(accepted)} is supported (0 SAMPLES, 1 STREAMED_XOR_CHUNKS)`,
  );

/** A remote-read answer could not be snappy-compressed (the compression worker failed): the adapter's fault. */
export const compressionFailed = (message: string, cause?: unknown): HttpError =>
  new HttpError(500, 'compression_failed', `the answer could not be compressed: ${message}`, { cause });

/** Every read slot stayed busy for the whole wait: 503, the client may try again. */
export const readQueueTimeout = (max: number, waitedMs: number): HttpError =>
  new HttpError(
    503,
    'limit_max_concurrent',
    `${max} reads are already running and this one waited ${waitedMs} ms (limit read.max-concurrent)`,
    { retryAfter: 1 },
  );

/** Why ClickHouse could not take the data; every one is a 503 with Retry-After. */
export type StorageReason =
  | 'clickhouse_unreachable'
  | 'clickhouse_timeout'
  | 'clickhouse_read_only'
  | 'clickhouse_too_many_parts'
  | 'clickhouse_memory'
  | 'clickhouse_zookeeper'
  | 'clickhouse_quorum'
  | 'clickhouse_error'
  | 'clickhouse_bad_answer'
  | 'memory_bound'
  | 'shutting_down'
  | 'not_migrated';

export class StorageError extends HttpError {
  readonly reason: StorageReason;
  constructor(reason: StorageReason, message: string, opts: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(503, reason, message, {
      retryAfter: Math.max(1, Math.ceil((opts.retryAfterMs ?? 1000) / 1000)),
      ...(opts.cause === undefined ? {} : { cause: opts.cause }),
    });
    this.name = 'StorageError';
    this.reason = reason;
  }
}

/** The schema is not created yet (migration still running at start-up). */
export const notMigrated = (retryAfterMs: number): StorageError =>
  new StorageError('not_migrated', 'the ClickHouse schema is not ready yet', { retryAfterMs });

/** The adapter already holds its bound of unstored writes. */
export const memoryBound = (used: number, limit: number, retryAfterMs: number): StorageError =>
  new StorageError(
    'memory_bound',
    `the adapter holds ${used} bytes of unstored writes (limit ${limit}); retry later`,
    { retryAfterMs },
  );

/** An error answer from ClickHouse (`Code: N, e.displayText() = …`), with its numeric code. */
export class ClickHouseError extends Error {
  readonly code: number;
  readonly httpStatus: number;
  constructor(code: number, httpStatus: number, message: string) {
    super(message);
    this.name = 'ClickHouseError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

/** ClickHouse error codes that mean "the server cannot take writes right now". */
const CH_CODES: Record<number, StorageReason> = {
  164: 'clickhouse_read_only', // READONLY
  242: 'clickhouse_read_only', // TABLE_IS_READ_ONLY
  252: 'clickhouse_too_many_parts', // TOO_MANY_PARTS
  241: 'clickhouse_memory', // MEMORY_LIMIT_EXCEEDED
  173: 'clickhouse_memory', // CANNOT_ALLOCATE_MEMORY
  159: 'clickhouse_timeout', // TIMEOUT_EXCEEDED
  209: 'clickhouse_timeout', // SOCKET_TIMEOUT
  210: 'clickhouse_unreachable', // NETWORK_ERROR
  279: 'clickhouse_unreachable', // ALL_CONNECTION_TRIES_FAILED
  225: 'clickhouse_zookeeper', // NO_ZOOKEEPER
  999: 'clickhouse_zookeeper', // KEEPER_EXCEPTION (session lost, connection loss)
  319: 'clickhouse_quorum', // UNKNOWN_STATUS_OF_INSERT (quorum insert, outcome unknown)
  286: 'clickhouse_quorum', // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
};

/** Socket errors that mean ClickHouse could not be reached or the connection broke. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * Maps any failure of a ClickHouse call to the 503 that tells Prometheus to retry. Only a timeout or a
 * socket error is "unreachable"; an answer the adapter could not use (a RowBinary row cut short, an
 * unexpected shape) is `clickhouse_bad_answer`, so /metrics and the client see what really happened.
 */
export function storageError(err: unknown, retryAfterMs: number): StorageError {
  if (err instanceof StorageError) return err;
  if (err instanceof ClickHouseError) {
    const reason = CH_CODES[err.code] ?? 'clickhouse_error';
    return new StorageError(reason, `ClickHouse: ${err.message}`, { cause: err, retryAfterMs });
  }
  const e = err as NodeJS.ErrnoException | undefined;
  const message = e?.message ?? String(err);
  if (e?.name === 'TimeoutError' || e?.code === 'ETIMEDOUT' || e?.code === 'ESOCKETTIMEDOUT')
    return new StorageError('clickhouse_timeout', `ClickHouse timed out: ${message}`, {
      cause: err,
      retryAfterMs,
    });
  if (e?.code !== undefined && NETWORK_CODES.has(e.code))
    return new StorageError('clickhouse_unreachable', `ClickHouse unreachable: ${message}`, {
      cause: err,
      retryAfterMs,
    });
  return new StorageError('clickhouse_bad_answer', `ClickHouse's answer could not be used: ${message}`, {
    cause: err,
    retryAfterMs,
  });
}
