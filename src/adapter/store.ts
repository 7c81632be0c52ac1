import type { Logger } from '../lib/logger.ts';
import type { ClickHouseClient } from './clickhouse.ts';
import type { MetadataRow, SeriesEntry } from './decode.ts';
import type { AdapterMetrics } from './metrics.ts';
import { RowBinaryWriter } from './rowbinary.ts';
import { TABLES } from './schema.ts';

/** One decoded request waiting for its insert. */
export interface WriteChunk {
  /** Samples' RowBinary rows (24 bytes each). */
  readonly rowsBuf: Buffer;
  readonly rows: number;
  readonly series: readonly SeriesEntry[];
  readonly metadata: readonly MetadataRow[];
}

/**
 * Stores one batch: series rows first (so a reader never finds samples without their series), then all
 * samples in one RowBinary insert, then metadata. Resolves only when ClickHouse confirmed each insert;
 * any failure rejects the whole batch (Prometheus resends it; the ReplacingMergeTree keys collapse the
 * part that had already been stored).
 */
export function createStore(deps: {
  ch: ClickHouseClient;
  metrics: AdapterMetrics;
  logger: Logger;
  now?: () => number;
}): (chunks: readonly WriteChunk[]) => Promise<void> {
  const { ch, metrics } = deps;
  const now = deps.now ?? Date.now;
  const timed = async (table: string, body: Buffer | readonly Buffer[]) => {
    const end = metrics.insertDuration.startTimer({ table });
    try {
      await ch.insert(table, 'RowBinary', body);
      end({ outcome: 'ok' });
      metrics.clickhouseUp.set(1);
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  };

  return async (chunks) => {
    const t = now();
    const seen = new Set<SeriesEntry>();
    const series = new RowBinaryWriter(16_384);
    for (const c of chunks)
      for (const s of c.series) {
        // names are dropped once a row is stored; another batch stored this one meanwhile.
        if (seen.has(s) || s.row === undefined) continue;
        seen.add(s);
        writeSeriesRow(series, s, t);
      }
    if (seen.size > 0) await timed(TABLES.series, series.bytes());

    const bufs: Buffer[] = [];
    let rows = 0;
    for (const c of chunks)
      if (c.rows > 0) {
        bufs.push(c.rowsBuf);
        rows += c.rows;
      }
    if (rows > 0) await timed(TABLES.samples, bufs);

    const md = new RowBinaryWriter(4096);
    let mdRows = 0;
    const mdSeen = new Set<string>();
    for (const c of chunks)
      for (const m of c.metadata) {
        const k = `${m.family}\u0000${m.type}\u0000${m.help}\u0000${m.unit}`;
        if (mdSeen.has(k)) continue;
        mdSeen.add(k);
        writeMetadataRow(md, m, t);
        mdRows++;
      }
    if (mdRows > 0) await timed(TABLES.metadata, md.bytes());

    batchStored(metrics, { series: seen, t, rows, mdRows, requests: chunks.length });
  };
}

/** One `series` row (fingerprint, metric name, labels, first and last seen) in RowBinary. */
export function writeSeriesRow(w: RowBinaryWriter, s: SeriesEntry, t: number): void {
  if (s.row === undefined) throw new Error('series row already stored');
  w.raw(s.row).dateTime(s.firstSeen).dateTime(t);
}

/** One `metadata` row in RowBinary. */
export function writeMetadataRow(w: RowBinaryWriter, m: MetadataRow, t: number): void {
  w.string(m.family).string(m.type).string(m.help).string(m.unit).dateTime(t);
}

/** After ClickHouse confirmed a whole batch: its series rows are stored (labels dropped), counters move. */
export function batchStored(
  metrics: AdapterMetrics,
  b: {
    series: Iterable<SeriesEntry> & { size: number };
    t: number;
    rows: number;
    mdRows: number;
    requests: number;
  },
): void {
  for (const s of b.series) {
    s.storedAt = b.t;
    s.row = undefined;
  }
  metrics.seriesStored.inc(b.series.size);
  metrics.metadataStored.inc(b.mdRows);
  metrics.samplesStored.inc(b.rows);
  metrics.batchRows.observe(b.rows);
  metrics.batchRequests.observe(b.requests);
}
