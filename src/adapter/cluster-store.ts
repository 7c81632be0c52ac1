import type { Logger } from '../lib/logger.ts';
import { type ClusterMetrics, familyShard, type Replica, shardOf, type Topology } from './cluster.ts';
import type { SeriesEntry } from './decode.ts';
import { StorageError, storageError } from './errors.ts';
import type { AdapterMetrics } from './metrics.ts';
import { RowBinaryWriter } from './rowbinary.ts';
import { localTable, TABLES } from './schema.ts';
import { batchStored, type WriteChunk, writeMetadataRow, writeSeriesRow } from './store.ts';

/** What one shard receives from a batch. */
interface ShardBatch {
  series: RowBinaryWriter | undefined;
  seriesRows: number;
  /** Runs of samples rows, sliced from the requests' buffers (no copy). */
  samples: Buffer[];
  samplesRows: number;
  metadata: RowBinaryWriter | undefined;
  metadataRows: number;
}

const ROW = 24;

/** Splits requests' RowBinary samples into per-shard runs of rows (a series' rows are consecutive). */
export function splitRows(rowsBuf: Buffer, rows: number, shards: number, out: Buffer[][]): void {
  let runStart = 0;
  let runShard = -1;
  let lastLo = -1;
  let lastHi = -1;
  for (let i = 0; i < rows; i++) {
    const p = i * ROW;
    const lo = rowsBuf.readUInt32LE(p);
    const hi = rowsBuf.readUInt32LE(p + 4);
    if (lo === lastLo && hi === lastHi) continue;
    lastLo = lo;
    lastHi = hi;
    const s = shardOf(lo, hi, shards);
    if (s === runShard) continue;
    if (runShard >= 0) out[runShard]!.push(rowsBuf.subarray(runStart, p));
    runShard = s;
    runStart = p;
  }
  if (runShard >= 0) out[runShard]!.push(rowsBuf.subarray(runStart, rows * ROW));
}

/**
 * The cluster write path. A batch is split by shard (series and samples by fingerprint, metadata by
 * family, exactly as the Distributed tables would) and each shard's part is inserted synchronously into
 * the local Replicated tables of one of its replicas, all shards at once. A replica that fails or does not
 * answer within `insertTimeoutMs` is avoided for a while and the shard's part goes to the next replica.
 * The batch resolves only when every shard confirmed; one shard failing on every replica rejects the whole
 * batch (503): Prometheus resends it, the same series go to the same shards, and the ReplacingMergeTree key
 * (and block deduplication when the block is identical) collapses what had already been stored.
 */
export function createClusterStore(deps: {
  topology: Topology;
  metrics: AdapterMetrics;
  clusterMetrics: ClusterMetrics;
  logger: Logger;
  insertTimeoutMs: number;
  /** insert_quorum (0/1: one replica acknowledges). With ≥ 2, inserts into a shard run one at a time. */
  insertQuorum: number;
  /** How long a replica whose insert failed is tried last. @default 5000 */
  avoidMs?: number;
  retryAfterMs: number;
  now?: () => number;
}): (chunks: readonly WriteChunk[]) => Promise<void> {
  const { topology: topo, metrics, clusterMetrics: cm } = deps;
  const now = deps.now ?? Date.now;
  const avoidMs = deps.avoidMs ?? 5_000;
  const settings: Record<string, string | number> =
    deps.insertQuorum >= 2
      ? { insert_quorum: deps.insertQuorum, insert_quorum_timeout: deps.insertTimeoutMs }
      : {};
  // Quorum inserts into one table are serialised by ClickHouse 18.16 (a concurrent one gets 286).
  const shardQueue = new Map<number, Promise<unknown>>();

  const insertOn = async (r: Replica, b: ShardBatch) => {
    const o = { timeoutMs: deps.insertTimeoutMs, settings };
    const timed = async (table: string, body: Buffer | readonly Buffer[]) => {
      const end = metrics.insertDuration.startTimer({ table });
      try {
        await r.client.insert(localTable(table), 'RowBinary', body, o);
        end({ outcome: 'ok' });
      } catch (err) {
        end({ outcome: 'error' });
        throw err;
      }
    };
    // Series first, so a reader never finds samples without their series.
    if (b.series) await timed(TABLES.series, b.series.bytes());
    if (b.samplesRows > 0) await timed(TABLES.samples, b.samples);
    if (b.metadata) await timed(TABLES.metadata, b.metadata.bytes());
  };

  const writeShard = async (shard: number, b: ShardBatch): Promise<void> => {
    const candidates = topo.replicasOf(shard, now());
    if (candidates.length === 0)
      throw new StorageError(
        'clickhouse_unreachable',
        `shard ${shard + 1}: no replica of it has answered yet`,
        { retryAfterMs: deps.retryAfterMs },
      );
    let last: unknown;
    for (const r of candidates) {
      const l = { shard: String(shard + 1), replica: r.name };
      try {
        await insertOn(r, b);
        cm.inserts.inc({ ...l, outcome: 'ok' });
        r.avoidUntil = 0;
        return;
      } catch (err) {
        cm.inserts.inc({ ...l, outcome: 'error' });
        r.avoidUntil = now() + avoidMs;
        r.lastError = (err as Error).message?.slice(0, 300) ?? String(err);
        deps.logger.warn({ shard: shard + 1, replica: r.name, err: r.lastError }, 'insert failed on replica');
        last = err;
      }
    }
    cm.shardFailures.inc({ shard: String(shard + 1) });
    const e = storageError(last, deps.retryAfterMs);
    throw new StorageError(e.reason, `shard ${shard + 1}: every replica failed; last: ${e.message}`, {
      cause: last,
      retryAfterMs: deps.retryAfterMs,
    });
  };

  const serialised = (shard: number, f: () => Promise<void>): Promise<void> => {
    if (deps.insertQuorum < 2) return f();
    const prev = shardQueue.get(shard) ?? Promise.resolve();
    const next = prev.then(f, f);
    shardQueue.set(
      shard,
      next.catch(() => {}),
    );
    return next;
  };

  return async (chunks) => {
    const n = topo.shards;
    if (n === 0)
      throw new StorageError('clickhouse_unreachable', 'no node of the ClickHouse cluster has answered yet', {
        retryAfterMs: deps.retryAfterMs,
      });
    const t = now();
    const batches: ShardBatch[] = Array.from({ length: n }, () => ({
      series: undefined,
      seriesRows: 0,
      samples: [],
      samplesRows: 0,
      metadata: undefined,
      metadataRows: 0,
    }));
    const seen = new Set<SeriesEntry>();
    for (const c of chunks)
      for (const s of c.series) {
        if (seen.has(s) || s.row === undefined) continue;
        seen.add(s);
        const b = batches[shardOf(s.lo, s.hi, n)]!;
        b.series ??= new RowBinaryWriter(4096);
        writeSeriesRow(b.series, s, t);
        b.seriesRows++;
      }
    const runs: Buffer[][] = batches.map((b) => b.samples);
    let rows = 0;
    for (const c of chunks)
      if (c.rows > 0) {
        splitRows(c.rowsBuf, c.rows, n, runs);
        rows += c.rows;
      }
    for (const b of batches) b.samplesRows = b.samples.reduce((k, x) => k + x.length / ROW, 0);
    const mdSeen = new Set<string>();
    let mdRows = 0;
    for (const c of chunks)
      for (const m of c.metadata) {
        const k = `${m.family}\u0000${m.type}\u0000${m.help}\u0000${m.unit}`;
        if (mdSeen.has(k)) continue;
        mdSeen.add(k);
        const b = batches[familyShard(m.family, n)]!;
        b.metadata ??= new RowBinaryWriter(1024);
        writeMetadataRow(b.metadata, m, t);
        b.metadataRows++;
        mdRows++;
      }

    const results = await Promise.allSettled(
      batches.map((b, s) =>
        b.seriesRows + b.samplesRows + b.metadataRows === 0
          ? Promise.resolve()
          : serialised(s, () => writeShard(s, b)),
      ),
    );
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failed.length > 0) {
      metrics.clickhouseUp.set(0);
      const first = storageError(failed[0], deps.retryAfterMs);
      throw new StorageError(first.reason, failed.map((e) => (e as Error).message).join('; '), {
        cause: failed[0],
        retryAfterMs: deps.retryAfterMs,
      });
    }
    metrics.clickhouseUp.set(1);
    batchStored(metrics, { series: seen, t, rows, mdRows, requests: chunks.length });
  };
}
