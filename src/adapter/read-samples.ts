import type { SelectedSeries } from './read-series.ts';

/** Bytes of one row of the samples statement: rank UInt32, timestamp_ms Int64, value Float64. */
const ROW = 20;

/**
 * Where the samples of a query go: one whole series at a time, in answer order, its samples sorted by
 * time with duplicates removed: timestamps `ts[from..to)`, value bits `vals[2i]` (low 32) and
 * `vals[2i + 1]` (high 32), exact (NaN payloads included).
 */
export interface SeriesSink {
  series(s: SelectedSeries, ts: Float64Array, vals: Uint32Array, from: number, to: number): void;
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

/** Series per statement: keeps the statement well under ClickHouse's max_query_size (256 KiB). */
export const SERIES_PER_STATEMENT = 2000;

const rangeSql = (start: number, end: number): string =>
  `timestamp_ms >= ${Math.trunc(start)} AND timestamp_ms <= ${Math.trunc(end)}`;

/**
 * `rank` (the series' index in `group`) as a ClickHouse expression, and the IN list. The fingerprints
 * are numbers ClickHouse gave us, never request text.
 */
function rankSql(group: readonly SelectedSeries[]): { rank: string; list: string } {
  const list = group.map((s) => s.fingerprint.toString()).join(', ');
  const ranks = group.map((_, i) => i).join(', ');
  return {
    rank: `transform(fingerprint, CAST([${list}] AS Array(UInt64)), CAST([${ranks}] AS Array(UInt32)), toUInt32(0))`,
    list,
  };
}

/** Rows per series in the range (before duplicates collapse), as RowBinary (rank UInt32, count UInt64). */
export function countSql(group: readonly SelectedSeries[], start: number, end: number): string {
  const { rank, list } = rankSql(group);
  return `SELECT ${rank} AS r, count() FROM samples WHERE fingerprint IN (${list}) AND ${rangeSql(start, end)} GROUP BY r FORMAT RowBinary`;
}

/**
 * The samples of a group of series, in no particular order (ClickHouse's ORDER BY would cost more than
 * reading): the adapter puts each series' rows in time order itself, see `mergeRuns`.
 */
export function samplesSql(group: readonly SelectedSeries[], start: number, end: number): string {
  const { rank, list } = rankSql(group);
  return `SELECT ${rank} AS r, timestamp_ms, value FROM samples WHERE fingerprint IN (${list}) AND ${rangeSql(start, end)} FORMAT RowBinary`;
}

export function* groups<T>(items: readonly T[], size: number): Generator<readonly T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** A series with the number of its rows in the range. */
export interface CountedSeries {
  readonly series: SelectedSeries;
  readonly rows: number;
}

/**
 * Counts the rows of every series in the range; series without any are dropped (Prometheus answers
 * only series with samples in the range). Stops early once the total passes `stopAt`.
 */
export async function countRows(opts: {
  ch: ReadClickHouse;
  series: readonly SelectedSeries[];
  start: number;
  end: number;
  stopAt: number;
  signal?: AbortSignal;
}): Promise<{ counted: CountedSeries[]; total: number }> {
  const counted: CountedSeries[] = [];
  let total = 0;
  for (const group of groups(opts.series, SERIES_PER_STATEMENT)) {
    const out = await opts.ch.queryBytes(
      countSql(group, opts.start, opts.end),
      opts.signal ? { signal: opts.signal } : {},
    );
    const rows = new Float64Array(group.length);
    for (let off = 0; off + 12 <= out.length; off += 12)
      rows[out.readUInt32LE(off)] = Number(out.readBigUInt64LE(off + 4));
    for (let i = 0; i < group.length; i++) {
      const n = rows[i]!;
      if (n > 0) counted.push({ series: group[i]!, rows: n });
      total += n;
    }
    if (total > opts.stopAt) break;
  }
  return { counted, total };
}

/** Consecutive series whose rows add up to at most `maxRows` (a larger series goes alone). */
export function* batchesByRows(
  counted: readonly CountedSeries[],
  maxRows: number,
  maxSeries = SERIES_PER_STATEMENT,
): Generator<readonly CountedSeries[]> {
  let batch: CountedSeries[] = [];
  let rows = 0;
  for (const c of counted) {
    if (batch.length > 0 && (rows + c.rows > maxRows || batch.length >= maxSeries)) {
      yield batch;
      batch = [];
      rows = 0;
    }
    batch.push(c);
    rows += c.rows;
  }
  if (batch.length > 0) yield batch;
}

/**
 * Sorts `ts[a..b)` (with its values) by time where the rows came in several ascending runs (one per
 * ClickHouse part), by merging neighbouring runs; `tmpT`/`tmpV` hold at least b - a entries.
 */
export function mergeRuns(
  ts: Float64Array,
  vals: Uint32Array,
  a: number,
  b: number,
  tmpT: Float64Array,
  tmpV: Uint32Array,
): void {
  let starts: number[] = [a];
  for (let i = a + 1; i < b; i++) if (ts[i]! < ts[i - 1]!) starts.push(i);
  while (starts.length > 1) {
    const next: number[] = [];
    for (let r = 0; r < starts.length; r += 2) {
      const lo = starts[r]!;
      const mid = starts[r + 1] ?? b;
      const hi = starts[r + 2] ?? b;
      next.push(lo);
      if (mid >= hi) continue;
      let i = lo;
      let j = mid;
      let k = 0;
      while (i < mid && j < hi) {
        const from = ts[j]! < ts[i]! ? j++ : i++;
        tmpT[k] = ts[from]!;
        tmpV[2 * k] = vals[2 * from]!;
        tmpV[2 * k + 1] = vals[2 * from + 1]!;
        k++;
      }
      for (; i < mid; i++, k++) {
        tmpT[k] = ts[i]!;
        tmpV[2 * k] = vals[2 * i]!;
        tmpV[2 * k + 1] = vals[2 * i + 1]!;
      }
      for (; j < hi; j++, k++) {
        tmpT[k] = ts[j]!;
        tmpV[2 * k] = vals[2 * j]!;
        tmpV[2 * k + 1] = vals[2 * j + 1]!;
      }
      ts.set(tmpT.subarray(0, k), lo);
      vals.set(tmpV.subarray(0, 2 * k), 2 * lo);
    }
    starts = next;
  }
}

/** Drops repeated timestamps from sorted `ts[a..b)` (a retried write not merged yet); returns the new end. */
export function dropDuplicates(ts: Float64Array, vals: Uint32Array, a: number, b: number): number {
  if (b - a < 2) return b;
  let w = a + 1;
  for (let i = a + 1; i < b; i++) {
    if (ts[i] === ts[w - 1]) continue;
    if (w !== i) {
      ts[w] = ts[i]!;
      vals[2 * w] = vals[2 * i]!;
      vals[2 * w + 1] = vals[2 * i + 1]!;
    }
    w++;
  }
  return w;
}

/**
 * Reads the samples of `counted` (in answer order) within [start, end] batch by batch, each batch at
 * most `batchRows` rows in memory, and hands every series, sorted and without duplicates, to `sink`.
 * Yields after each series so a streaming caller can pass output on (backpressure then reaches
 * ClickHouse through the HTTP stream).
 */
export async function* streamSamples(opts: {
  ch: ReadClickHouse;
  counted: readonly CountedSeries[];
  start: number;
  end: number;
  sink: SeriesSink;
  batchRows: number;
  signal?: AbortSignal;
}): AsyncGenerator<void> {
  const all = [...batchesByRows(opts.counted, opts.batchRows)];
  // One set of arrays for every batch of the request (fewer large allocations, less allocator churn).
  let maxRows = 0;
  let maxSeriesRows = 0;
  for (const batch of all) {
    let rows = 0;
    for (const c of batch) {
      rows += c.rows;
      maxSeriesRows = Math.max(maxSeriesRows, c.rows);
    }
    maxRows = Math.max(maxRows, rows);
  }
  const tsAll = new Float64Array(maxRows);
  const valsAll = new Uint32Array(2 * maxRows);
  let tmpT = new Float64Array(maxSeriesRows);
  let tmpV = new Uint32Array(2 * maxSeriesRows);
  /** Reads a batch's answer whole (its rows are bounded by batchRows), so the next one loads meanwhile. */
  const fetch = async (batch: readonly CountedSeries[]): Promise<Buffer[]> => {
    const pieces: Buffer[] = [];
    const sql = samplesSql(
      batch.map((c) => c.series),
      opts.start,
      opts.end,
    );
    for await (const piece of opts.ch.queryStream(sql, opts.signal ? { signal: opts.signal } : {}))
      pieces.push(piece);
    return pieces;
  };
  let next = all.length > 0 ? fetch(all[0]!) : undefined;
  for (let b = 0; b < all.length; b++) {
    const batch = all[b]!;
    const pieces = await next!;
    next = b + 1 < all.length ? fetch(all[b + 1]!) : undefined;
    // If this batch fails, the prefetch's own failure must not go unhandled.
    next?.catch(() => {});
    const offsets = new Float64Array(batch.length + 1);
    let longest = 0;
    for (let i = 0; i < batch.length; i++) {
      offsets[i + 1] = offsets[i]! + batch[i]!.rows;
      longest = Math.max(longest, batch[i]!.rows);
    }
    const total = offsets[batch.length]!;
    let ts = tsAll.subarray(0, total);
    let vals = valsAll.subarray(0, 2 * total);
    let fill = new Float64Array(offsets.subarray(0, batch.length));
    // Rows beyond a series' count: a write landed between counting and reading. Kept aside, merged after.
    const extra = new Map<number, number[]>();
    const take = (dv: DataView, off: number) => {
      const r = dv.getUint32(off, true);
      const at = fill[r];
      const t = dv.getInt32(off + 8, true) * 4294967296 + dv.getUint32(off + 4, true);
      if (at === undefined) throw new Error(`ClickHouse returned a row of unknown rank ${r}`);
      if (at >= offsets[r + 1]!) {
        const list = extra.get(r) ?? [];
        list.push(t, dv.getUint32(off + 12, true), dv.getUint32(off + 16, true));
        extra.set(r, list);
        return;
      }
      fill[r] = at + 1;
      ts[at] = t;
      vals[2 * at] = dv.getUint32(off + 12, true);
      vals[2 * at + 1] = dv.getUint32(off + 16, true);
    };
    const carry = Buffer.alloc(ROW);
    const carryView = new DataView(carry.buffer, carry.byteOffset, ROW);
    let carried = 0;
    for (const piece of pieces) {
      let off = 0;
      if (carried > 0) {
        const need = ROW - carried;
        if (piece.length < need) {
          piece.copy(carry, carried);
          carried += piece.length;
          continue;
        }
        piece.copy(carry, carried, 0, need);
        take(carryView, 0);
        carried = 0;
        off = need;
      }
      const whole = off + Math.floor((piece.length - off) / ROW) * ROW;
      const view = new DataView(piece.buffer, piece.byteOffset, piece.length);
      for (; off < whole; off += ROW) take(view, off);
      if (whole < piece.length) {
        piece.copy(carry, 0, whole);
        carried = piece.length - whole;
      }
    }
    if (carried > 0) throw new Error(`ClickHouse answer ends inside a row (${carried} bytes left)`);
    if (extra.size > 0) {
      // Rare: rebuild the batch with room for the extra rows of each series.
      const grown = new Float64Array(batch.length + 1);
      for (let i = 0; i < batch.length; i++)
        grown[i + 1] = grown[i]! + (fill[i]! - offsets[i]!) + (extra.get(i)?.length ?? 0) / 3;
      const ts2 = new Float64Array(grown[batch.length]!);
      const vals2 = new Uint32Array(2 * ts2.length);
      const fill2 = new Float64Array(batch.length);
      for (let i = 0; i < batch.length; i++) {
        const a = offsets[i]!;
        const n = fill[i]! - a;
        let w = grown[i]!;
        ts2.set(ts.subarray(a, a + n), w);
        vals2.set(vals.subarray(2 * a, 2 * (a + n)), 2 * w);
        w += n;
        const list = extra.get(i) ?? [];
        for (let k = 0; k < list.length; k += 3, w++) {
          ts2[w] = list[k]!;
          vals2[2 * w] = list[k + 1]!;
          vals2[2 * w + 1] = list[k + 2]!;
        }
        fill2[i] = w;
        longest = Math.max(longest, w - grown[i]!);
      }
      ts = ts2;
      vals = vals2;
      fill = fill2;
      offsets.set(grown);
    }
    if (longest > tmpT.length) {
      tmpT = new Float64Array(longest);
      tmpV = new Uint32Array(2 * longest);
    }
    for (let i = 0; i < batch.length; i++) {
      const a = offsets[i]!;
      const b = fill[i]!;
      if (b === a) continue;
      mergeRuns(ts, vals, a, b, tmpT, tmpV);
      opts.sink.series(batch[i]!.series, ts, vals, a, dropDuplicates(ts, vals, a, b));
      yield;
    }
  }
}
