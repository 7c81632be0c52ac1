import type { SelectedSeries } from './read-series.ts';

/** Bytes of one row of the samples statement: rank UInt32, timestamp_ms Int64, value Float64. */
const ROW = 20;

/** Where the rows of one query go, series after series, each series in ascending time. */
export interface SampleSink {
  begin(series: SelectedSeries): void;
  /** One sample; its value is the 8 little-endian bytes `buf[off, off + 8)` (exact bits). */
  sample(t: number, buf: Buffer, off: number): void;
  end(): void;
}

/** The ClickHouse calls reads make (the adapter's client has them). */
export interface ReadClickHouse {
  queryBytes(
    sql: string,
    opts?: { settings?: Record<string, string | number>; signal?: AbortSignal },
  ): Promise<Buffer>;
  queryStream(
    sql: string,
    opts?: { settings?: Record<string, string | number>; signal?: AbortSignal },
  ): AsyncIterable<Buffer>;
}

const inList = (batch: readonly SelectedSeries[]): string =>
  batch.map((s) => s.fingerprint.toString()).join(', ');

const rangeSql = (start: number, end: number): string =>
  `timestamp_ms >= ${Math.trunc(start)} AND timestamp_ms <= ${Math.trunc(end)}`;

/**
 * The samples of a batch of series in the order of the answer: each row carries the series' rank in
 * the batch, ClickHouse sorts by (rank, timestamp), so the adapter holds one series at a time. The
 * fingerprints are numbers ClickHouse gave us, never request text.
 */
export function samplesSql(batch: readonly SelectedSeries[], start: number, end: number): string {
  const fps = inList(batch);
  const ranks = batch.map((_, i) => i).join(', ');
  return (
    `SELECT transform(fingerprint, CAST([${fps}] AS Array(UInt64)), CAST([${ranks}] AS Array(UInt32)), toUInt32(0)) AS r,` +
    ` timestamp_ms, value FROM samples WHERE fingerprint IN (${fps}) AND ${rangeSql(start, end)}` +
    ' ORDER BY r, timestamp_ms FORMAT RowBinary'
  );
}

/** Samples (before collapsing duplicates) of a batch in the range: for the streamed answer's limit check. */
export const countSql = (batch: readonly SelectedSeries[], start: number, end: number): string =>
  `SELECT count() FROM samples WHERE fingerprint IN (${inList(batch)}) AND ${rangeSql(start, end)}`;

export function* batches<T>(items: readonly T[], size: number): Generator<readonly T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/**
 * Streams the samples of `series` (already in answer order) within [start, end] into `sink`, batch by
 * batch, and yields after each piece ClickHouse sent so the caller can pass output on (backpressure
 * reaches ClickHouse through the HTTP stream). Duplicate (series, timestamp) rows, a retried write not
 * merged yet, collapse to the first.
 */
export async function* streamSamples(opts: {
  ch: ReadClickHouse;
  series: readonly SelectedSeries[];
  start: number;
  end: number;
  sink: SampleSink;
  batchSeries: number;
  settings?: Record<string, string | number>;
  signal?: AbortSignal;
}): AsyncGenerator<void> {
  const { sink } = opts;
  for (const batch of batches(opts.series, opts.batchSeries)) {
    let rank = -1;
    let lastT = 0;
    let carry: Buffer | undefined;
    const stream = opts.ch.queryStream(samplesSql(batch, opts.start, opts.end), {
      ...(opts.settings ? { settings: opts.settings } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    for await (const piece of stream) {
      let buf = piece;
      if (carry) {
        buf = Buffer.concat([carry, piece]);
        carry = undefined;
      }
      const whole = buf.length - (buf.length % ROW);
      for (let off = 0; off < whole; off += ROW) {
        const r = buf.readUInt32LE(off);
        const t = buf.readInt32LE(off + 8) * 4294967296 + buf.readUInt32LE(off + 4);
        if (r !== rank) {
          if (rank >= 0) sink.end();
          const s = batch[r];
          if (!s || r < rank) throw new Error(`samples out of order: rank ${r} after ${rank}`);
          rank = r;
          sink.begin(s);
        } else if (t === lastT) continue;
        lastT = t;
        sink.sample(t, buf, off + 12);
      }
      if (whole < buf.length) carry = Buffer.from(buf.subarray(whole));
      yield;
    }
    if (carry) throw new Error(`ClickHouse answer ends inside a row (${carry.length} bytes left)`);
    if (rank >= 0) sink.end();
  }
}

/** Sum of the rows of `series` in the range, stopping early once past `stopAt`. */
export async function countSamples(opts: {
  ch: ReadClickHouse;
  series: readonly SelectedSeries[];
  start: number;
  end: number;
  batchSeries: number;
  stopAt: number;
  signal?: AbortSignal;
}): Promise<number> {
  let total = 0;
  for (const batch of batches(opts.series, opts.batchSeries)) {
    const out = await opts.ch.queryBytes(`${countSql(batch, opts.start, opts.end)} FORMAT RowBinary`, {
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    total += Number(out.readBigUInt64LE(0));
    if (total > opts.stopAt) break;
  }
  return total;
}
