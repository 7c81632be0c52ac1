import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import snappy from 'snappy';
import { HttpError } from '../lib/errors.ts';
import type { Handler, Reply, Route } from '../lib/http.ts';
import type { Logger } from '../lib/logger.ts';
import type { AdapterConfig } from './config.ts';
import { ClickHouseError, storageError } from './errors.ts';
import { STREAMED_CONTENT_TYPE } from './frames.ts';
import { InvalidMatcherError, type Matcher, validateMatchers } from './matchers.ts';
import { ReadRequest, ResponseType, TO_OBJECT } from './prompb.ts';
import { type CountedSeries, countRows, type ReadClickHouse, streamSamples } from './read-samples.ts';
import { parseSeriesRows, type SelectedSeries, seriesSql, toSelectedSeries } from './read-series.ts';
import { ChunkedSink, SamplesResultSink, snappyBlock } from './read-sinks.ts';

/** Remote-read settings (`read.*` flags). */
export interface ReadOptions {
  /** Series one query may return; more is an error naming `read.max-series`. */
  readonly maxSeries: number;
  /** Samples one query may return; more is an error naming `read.max-samples`. */
  readonly maxSamples: number;
  /** Longest time range of one query in ms (0: no limit). */
  readonly maxRangeMs: number;
  /** Reads running at once; later ones wait up to `queueTimeoutMs`, then get 503. */
  readonly maxConcurrent: number;
  readonly queueTimeoutMs: number;
  /**
   * Label names ignored on read: their matchers (Prometheus adds its external labels as equality
   * matchers) are dropped and the labels are removed from the answer.
   */
  readonly stripLabels: readonly string[];
  /** Streamed answers: a frame is sent once it holds this many bytes (Prometheus: 1 MiB). */
  readonly maxFrameBytes: number;
  /** Rows of samples the adapter holds at once while putting series in order. @default 2,000,000 */
  readonly batchRows?: number;
}

export interface ReadDeps {
  readonly ch: ReadClickHouse;
  readonly options: ReadOptions;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Retry-After of 503 answers. @default 1000 */
  readonly retryAfterMs?: number;
}

/** A query as decoded from the request. */
interface PQuery {
  start_timestamp_ms: number;
  end_timestamp_ms: number;
  matchers: Matcher[];
  hints: { start_ms: number; end_ms: number; func: string; step_ms: number; range_ms: number } | null;
}

/** One query, checked and narrowed, ready to run. */
export interface PlannedQuery {
  readonly index: number;
  readonly start: number;
  readonly end: number;
  readonly matchers: readonly Matcher[];
  /** `func: "series"` (the series API): labels only, as Prometheus' own TSDB skips chunks then. */
  readonly labelsOnly: boolean;
}

/** The uncompressed length a snappy block declares in its varint header (read before allocating). */
export function snappyLength(body: Buffer): number {
  let n = 0;
  for (let i = 0; i < 5 && i < body.length; i++) {
    n += (body[i]! & 0x7f) * 2 ** (7 * i);
    if (body[i]! < 0x80) return n;
  }
  throw new HttpError(400, 'malformed_request', 'the body is not a snappy block (bad length header)');
}

/** The largest uncompressed ReadRequest accepted (requests are small: a few matchers per query). */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const TYPE_NAMES = ['samples', 'streamed_xor_chunks'] as const;
const NO_TS = new Float64Array(0);
const NO_VALS = new Uint32Array(0);

export const limitError = (flag: string, message: string): HttpError =>
  new HttpError(400, `limit_${flag.replace(/^read\./, '').replace(/-/g, '_')}`, `${message} (limit ${flag})`);

/**
 * Checks one query and narrows its time range with the hints: Prometheus' engine reads a selector only
 * within [hints.start_ms, hints.end_ms] (lookback and range included), so cutting the rest changes no
 * answer. Step, func and grouping are not used: they would change what is returned.
 */
export function planQuery(q: PQuery, index: number, opts: ReadOptions): PlannedQuery {
  validateMatchers(q.matchers);
  let start = q.start_timestamp_ms;
  let end = q.end_timestamp_ms;
  const h = q.hints;
  if (h && (h.start_ms !== 0 || h.end_ms !== 0) && h.start_ms <= h.end_ms) {
    start = Math.max(start, h.start_ms);
    end = Math.min(end, h.end_ms);
  }
  // The range actually read (after the hints) is what costs.
  if (opts.maxRangeMs > 0 && end - start > opts.maxRangeMs)
    throw limitError(
      'read.max-range',
      `query ${index} spans ${end - start} ms, more than ${opts.maxRangeMs} ms`,
    );
  const strip = new Set(opts.stripLabels);
  return {
    index,
    start,
    end,
    matchers: q.matchers.filter((m) => !strip.has(m.name)),
    labelsOnly: h?.func === 'series',
  };
}

/** First of the client's accepted types that we serve, in its order of preference; none listed: SAMPLES. */
export function negotiateResponseType(accepted: readonly number[]): number {
  if (accepted.length === 0) return ResponseType.SAMPLES;
  for (const t of accepted)
    if (t === ResponseType.SAMPLES || t === ResponseType.STREAMED_XOR_CHUNKS) return t;
  throw new HttpError(
    400,
    'unsupported_response_type',
    `none of the accepted response types ${JSON.stringify(accepted)} is supported (0 SAMPLES, 1 STREAMED_XOR_CHUNKS)`,
  );
}

/** A counting semaphore whose waiters give up after a timeout. */
export function createGate(max: number) {
  let running = 0;
  const waiters: (() => void)[] = [];
  const release = () => {
    const next = waiters.shift();
    if (next) next();
    else running--;
  };
  return {
    get running() {
      return running;
    },
    /** Resolves with a release function (call it once), or rejects after `timeoutMs`. */
    acquire(timeoutMs: number): Promise<() => void> {
      const once = () => {
        let done = false;
        return () => {
          if (done) return;
          done = true;
          release();
        };
      };
      if (running < max) {
        running++;
        return Promise.resolve(once());
      }
      return new Promise((resolve, reject) => {
        const grant = () => {
          clearTimeout(timer);
          resolve(once());
        };
        const timer = setTimeout(() => {
          const i = waiters.indexOf(grant);
          if (i >= 0) waiters.splice(i, 1);
          reject(
            new HttpError(
              503,
              'limit_max_concurrent',
              `${max} reads are already running and this one waited ${timeoutMs} ms (limit read.max-concurrent)`,
              { retryAfter: 1 },
            ),
          );
        }, timeoutMs);
        waiters.push(grant);
      });
    },
  };
}

function createReadMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'rtcmon_adapter_read_requests_total',
      help: 'Remote-read requests answered, by response type and HTTP status code.',
      labelNames: ['response_type', 'code'],
      registers,
    }),
    queries: new Counter({
      name: 'rtcmon_adapter_read_queries_total',
      help: 'Queries of remote-read requests answered, by response type.',
      labelNames: ['response_type'],
      registers,
    }),
    series: new Counter({
      name: 'rtcmon_adapter_read_series_total',
      help: 'Series sent in remote-read answers, by response type.',
      labelNames: ['response_type'],
      registers,
    }),
    samples: new Counter({
      name: 'rtcmon_adapter_read_samples_total',
      help: 'Samples sent in remote-read answers, by response type.',
      labelNames: ['response_type'],
      registers,
    }),
    duration: new Histogram({
      name: 'rtcmon_adapter_read_duration_seconds',
      help: 'Time to answer a remote-read request, to its last byte, by response type.',
      labelNames: ['response_type'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    inflight: new Gauge({
      name: 'rtcmon_adapter_read_inflight',
      help: 'Remote-read requests running now (waiting ones not included).',
      registers,
    }),
  };
}

/** POST /read: Prometheus remote read 0.1.0 (SAMPLES and STREAMED_XOR_CHUNKS) from ClickHouse. */
export function createReadHandler(deps: ReadDeps): Handler {
  const { ch, options, logger } = deps;
  const metrics = createReadMetrics(deps.registry);
  const gate = createGate(options.maxConcurrent);
  const batchRows = options.batchRows ?? 2_000_000;
  const strip = new Set(options.stripLabels);
  const retryAfterMs = deps.retryAfterMs ?? 1000;

  /** ClickHouse failures are 503 (try again); a regex ClickHouse's RE2 cannot compile is the client's: 400. */
  const mapError = (err: unknown): unknown => {
    if (err instanceof HttpError) return err;
    if (err instanceof ClickHouseError && err.code === 427)
      return new InvalidMatcherError(`invalid regular expression: ${err.message}`);
    return storageError(err, retryAfterMs);
  };

  const selectSeries = async (q: PlannedQuery): Promise<SelectedSeries[]> => {
    // A request may carry long regexes: room for them beyond ClickHouse's default 256 KiB statement.
    const sql = seriesSql(q.matchers, options.maxSeries + 1);
    const rows = parseSeriesRows(
      await ch.queryBytes(sql, { settings: { max_query_size: Math.max(262_144, 2 * sql.length) } }),
    );
    if (rows.length > options.maxSeries)
      throw limitError(
        'read.max-series',
        `query ${q.index} selects more than ${options.maxSeries} series (${q.matchers.length} matchers)`,
      );
    return toSelectedSeries(rows, strip);
  };

  /** Series of a query with their row counts; past `read.max-samples` nothing is read at all. */
  const plan = async (q: PlannedQuery): Promise<CountedSeries[]> => {
    const selected = await selectSeries(q);
    const { counted, total } = await countRows({
      ch,
      series: selected,
      start: q.start,
      end: q.end,
      stopAt: options.maxSamples,
    });
    if (total > options.maxSamples)
      throw limitError(
        'read.max-samples',
        `query ${q.index} returns more than ${options.maxSamples} samples (${total} at least)`,
      );
    return counted;
  };

  const answerSamples = async (queries: readonly PlannedQuery[]): Promise<Reply> => {
    const elements: Buffer[] = [];
    let bytes = 0;
    let series = 0;
    let samples = 0;
    for (const q of queries) {
      const counted = await plan(q);
      // compressSync: snappy 7.4.3's async compress never frees its output (measured: RSS grows by every
      // answer's compressed size); the sync one is freed by the GC as usual.
      const sink = new SamplesResultSink((raw) => snappy.compressSync(raw) as Buffer);
      if (q.labelsOnly) for (const c of counted) sink.series(c.series, NO_TS, NO_VALS, 0, 0);
      else for await (const _ of streamSamples({ ch, counted, start: q.start, end: q.end, sink, batchRows }));
      const done = sink.finish();
      elements.push(...done.elements);
      bytes += done.bytes;
      series += sink.seriesCount;
      samples += sink.samples;
    }
    metrics.series.inc({ response_type: 'samples' }, series);
    metrics.samples.inc({ response_type: 'samples' }, samples);
    return {
      status: 200,
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
      // The pieces go out one after the other: no copy of the whole answer.
      body: (async function* () {
        yield* snappyBlock(elements, bytes);
      })(),
    };
  };

  /** Every query is checked (series and samples limits) before the first byte goes out. */
  const answerStreamed = async (queries: readonly PlannedQuery[], done: () => void): Promise<Reply> => {
    const planned: CountedSeries[][] = [];
    for (const q of queries) planned.push(await plan(q));
    async function* body(): AsyncGenerator<Uint8Array> {
      try {
        for (const q of queries) {
          const sink = new ChunkedSink(q.index, options.maxFrameBytes);
          const counted = planned[q.index]!;
          for await (const _ of streamSamples({ ch, counted, start: q.start, end: q.end, sink, batchRows })) {
            if (sink.outBytes >= options.maxFrameBytes) yield sink.take()!;
          }
          const rest = sink.take();
          if (rest) yield rest;
          metrics.series.inc({ response_type: 'streamed_xor_chunks' }, sink.seriesCount);
          metrics.samples.inc({ response_type: 'streamed_xor_chunks' }, sink.samples);
        }
      } catch (err) {
        logger.error({ err }, 'streamed read failed after the answer started; the stream is cut');
        throw err;
      } finally {
        done();
      }
    }
    return { status: 200, headers: { 'content-type': STREAMED_CONTENT_TYPE }, body: body() };
  };

  return async (req): Promise<Reply> => {
    const started = process.hrtime.bigint();
    let typeName = 'unknown';
    let status = 500;
    let release: (() => void) | undefined;
    let streaming = false;
    const finish = () => {
      metrics.requests.inc({ response_type: typeName, code: String(status) });
      metrics.duration.observe({ response_type: typeName }, Number(process.hrtime.bigint() - started) / 1e9);
      metrics.inflight.set(gate.running);
      release?.();
      metrics.inflight.set(gate.running);
    };
    try {
      const declared = snappyLength(req.body);
      if (declared > MAX_REQUEST_BYTES)
        throw new HttpError(
          413,
          'decoded_too_large',
          `uncompressed read request of ${declared} bytes is too large`,
        );
      let queries: PQuery[];
      let accepted: number[];
      try {
        const raw = ReadRequest.toObject(
          ReadRequest.decode(snappy.uncompressSync(req.body) as Buffer),
          TO_OBJECT,
        ) as {
          queries: PQuery[];
          accepted_response_types: number[];
        };
        queries = raw.queries;
        accepted = raw.accepted_response_types;
      } catch (err) {
        throw new HttpError(
          400,
          'malformed_request',
          `cannot decode the ReadRequest: ${(err as Error).message}`,
        );
      }
      const type = negotiateResponseType(accepted);
      typeName = TYPE_NAMES[type]!;
      const planned = queries.map((q, i) => planQuery(q, i, options));
      release = await gate.acquire(options.queueTimeoutMs);
      metrics.inflight.set(gate.running);
      metrics.queries.inc({ response_type: typeName }, planned.length);
      let reply: Reply;
      if (type === ResponseType.STREAMED_XOR_CHUNKS) {
        reply = await answerStreamed(planned, () => {
          status = 200;
          finish();
        });
        streaming = true;
      } else reply = await answerSamples(planned);
      status = reply.status;
      return reply;
    } catch (err) {
      const e = mapError(err);
      status = e instanceof HttpError ? e.status : 500;
      throw e;
    } finally {
      if (!streaming) finish();
    }
  };
}

/** Remote-read settings from the adapter's config. */
export const readOptions = (c: AdapterConfig): ReadOptions => ({
  maxSeries: c.readMaxSeries,
  maxSamples: c.readMaxSamples,
  maxRangeMs: c.readMaxRangeMs,
  maxConcurrent: c.readMaxConcurrent,
  queueTimeoutMs: c.readQueueTimeoutMs,
  stripLabels: c.readStripLabels,
  maxFrameBytes: c.readMaxFrameBytes,
});

/** The POST /read route of the adapter's app. */
export function readRoute(deps: {
  config: AdapterConfig;
  ch: ReadClickHouse;
  registry: Registry;
  logger: Logger;
}): Route {
  const handler = createReadHandler({
    ch: deps.ch,
    options: readOptions(deps.config),
    registry: deps.registry,
    logger: deps.logger.child({ module: 'read' }),
    retryAfterMs: deps.config.writeRetryAfterMs,
  });
  return { method: 'POST', path: '/read', handler, name: '/read' };
}
