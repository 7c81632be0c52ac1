import { HttpError } from '../lib/errors.ts';
import type { Handler, Reply } from '../lib/http.ts';
import type { Logger } from '../lib/logger.ts';
import { ClickHouseError, readLimit, storageError, tooLarge, unsupportedResponseType } from './errors.ts';
import { STREAMED_CONTENT_TYPE } from './frames.ts';
import { createGate } from './gate.ts';
import { InvalidMatcherError, type Matcher, validateMatchers } from './matchers.ts';
import type { ReadMetrics } from './metrics.ts';
import { ResponseType } from './prompb.ts';
import { type DecodedReadRequest, decodeReadRequest, type ReadQuery } from './read-request.ts';
import { type CountedSeries, countRows, type ReadClickHouse, streamSamples } from './read-samples.ts';
import { parseSeriesRows, type SelectedSeries, seriesSql, toSelectedSeries } from './read-series.ts';
import { ChunkedSink, SamplesResultSink, snappyBlock } from './read-sinks.ts';
import { inlineCompressor, type PieceCompressor, snappyHeader, uncompressToScratch } from './snappy.ts';

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
  readonly metrics: ReadMetrics;
  readonly logger: Logger;
  /** Retry-After of 503 answers. @default 1000 */
  readonly retryAfterMs?: number;
  /** Compresses SAMPLES answers (main.ts: on a worker thread). @default in the calling thread */
  readonly compressor?: PieceCompressor;
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

/** The largest uncompressed ReadRequest accepted (requests are small: a few matchers per query). */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const TYPE_NAMES = ['samples', 'streamed_xor_chunks'] as const;
const NO_TS = new Float64Array(0);
const NO_VALS = new Uint32Array(0);

/**
 * Checks one query and narrows its time range with the hints: Prometheus' engine reads a selector only
 * within [hints.start_ms, hints.end_ms] (lookback and range included), so cutting the rest changes no
 * answer. Step, func and grouping are not used: they would change what is returned.
 */
export function planQuery(q: ReadQuery, index: number, opts: ReadOptions): PlannedQuery {
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
    throw readLimit(
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
  throw unsupportedResponseType(accepted);
}

/** POST /read: Prometheus remote read 0.1.0 (SAMPLES and STREAMED_XOR_CHUNKS) from ClickHouse. */
export function createReadHandler(deps: ReadDeps): Handler {
  const { ch, options, logger, metrics } = deps;
  const gate = createGate(options.maxConcurrent);
  const batchRows = options.batchRows ?? 2_000_000;
  const strip = new Set(options.stripLabels);
  const retryAfterMs = deps.retryAfterMs ?? 1000;
  const compressor = deps.compressor ?? inlineCompressor;

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
      throw readLimit(
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
      throw readLimit(
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
      const sink = new SamplesResultSink(compressor);
      if (q.labelsOnly)
        for (const c of counted) {
          const wait = sink.series(c.series, NO_TS, NO_VALS, 0, 0);
          if (wait) await wait;
        }
      else for await (const _ of streamSamples({ ch, counted, start: q.start, end: q.end, sink, batchRows }));
      const done = await sink.finish();
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
      // The snappy header declares the uncompressed length: checked before anything is allocated.
      const declared = snappyHeader(req.body).length;
      if (declared > MAX_REQUEST_BYTES)
        throw tooLarge('decoded_too_large', `uncompressed read request of ${declared} bytes is too large`);
      // Decompressed into the shared scratch buffer and decoded at once (strings are copied out).
      const request: DecodedReadRequest = decodeReadRequest(uncompressToScratch(req.body));
      const queries = request.queries;
      const accepted = request.accepted_response_types;
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
