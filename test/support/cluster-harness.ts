import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import snappy from 'snappy';
import { fingerprint } from '../../src/adapter/fingerprint.ts';
import {
  type ClickHouseCluster,
  startClickHouseCluster,
} from '../../src/stack/servers/clickhouse-cluster.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { startZooKeeper, type ZooKeeperEnsemble } from '../../src/stack/servers/zookeeper.ts';
import { ReadRequest, ReadResponse, TO_OBJECT, WriteRequest } from './prompb.ts';

/** ZooKeeper × 3, ClickHouse 3 shards × 2 replicas, and `rtcmon adapter` processes in cluster mode. */
export interface ClusterRig {
  readonly dir: string;
  readonly logDir: string;
  readonly zk: ZooKeeperEnsemble;
  readonly cluster: ClickHouseCluster;
  readonly database: string;
  readonly adapters: AdapterHandle[];
  /** Arguments of a cluster adapter on this rig (without the listen address). */
  adapterArgs(extra?: readonly string[]): string[];
  startAdapter(extra?: readonly string[], name?: string): Promise<AdapterHandle>;
  stop(): Promise<void>;
}

export interface AdapterHandle {
  readonly url: string;
  readonly port: number;
  process: ManagedProcess;
  /** Starts it again on the same port (after a kill). */
  restart(): Promise<void>;
}

export async function startClusterRig(opts: { adapterArgs?: readonly string[] } = {}): Promise<ClusterRig> {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-cluster-'));
  const logDir = join(dir, 'logs');
  const database = `c_${process.pid}_${Date.now()}`;
  const zk = await startZooKeeper({ dir: join(dir, 'zk'), logDir });
  let cluster: ClickHouseCluster;
  try {
    cluster = await startClickHouseCluster({ dir, logDir, zookeeper: zk.nodes });
  } catch (err) {
    await zk.stop();
    throw err;
  }
  const adapters: AdapterHandle[] = [];
  const adapterArgs = (extra: readonly string[] = []) => [
    '--clickhouse.cluster=rtcmon',
    `--clickhouse.nodes=${cluster.urls.join(',')}`,
    `--clickhouse.database=${database}`,
    '--batch.max-delay=50ms',
    '--log.level=warn',
    ...(opts.adapterArgs ?? []),
    ...extra,
  ];
  const rig: ClusterRig = {
    dir,
    logDir,
    zk,
    cluster,
    database,
    adapters,
    adapterArgs,
    async startAdapter(extra = [], name = `adapter-${adapters.length + 1}`) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const launch = () =>
        startRole({
          role: 'adapter',
          name,
          args: [`--web.listen-address=127.0.0.1:${port}`, ...adapterArgs(extra)],
          url,
          logDir,
          readyTimeoutMs: 120_000,
        });
      const h: AdapterHandle = {
        url,
        port,
        process: await launch(),
        async restart() {
          await h.process.stop('SIGKILL');
          h.process = await launch();
        },
      };
      adapters.push(h);
      return h;
    },
    async stop() {
      for (const a of adapters) await a.process.stop('SIGKILL').catch(() => {});
      await cluster.stop().catch(() => {});
      await zk.stop().catch(() => {});
      if (!process.env.RTCMON_KEEP_RIG) rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

/** Deterministic samples: request r holds `perSeries` samples of each of `series` series. */
export interface GenOptions {
  /** Metric name of this run (each test its own). */
  readonly metric: string;
  readonly series: number;
  readonly perSeries: number;
  /** Extra labels on every series (e.g. an external label). */
  readonly labels?: Record<string, string>;
  /** First timestamp (ms). */
  readonly base?: number;
}

export interface SeriesKey {
  readonly labels: [string, string][];
  readonly fp: bigint;
}

/** The generator's series, with the fingerprints the adapter will give them. */
export function genSeries(o: GenOptions): SeriesKey[] {
  return Array.from({ length: o.series }, (_, i) => {
    const labels = Object.entries({ __name__: o.metric, series: String(i), ...(o.labels ?? {}) }).sort(
      ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0),
    );
    return {
      labels,
      fp: fingerprint(
        labels.map((l) => l[0]),
        labels.map((l) => l[1]),
      ),
    };
  });
}

const base = (o: GenOptions) => o.base ?? 1_700_000_000_000;
/** Timestamp of sample k of request r. */
export const tsOf = (o: GenOptions, r: number, k: number): number => base(o) + (r * o.perSeries + k) * 10;
/** Value of series i at ts: varied bits (not round numbers). */
export const sampleValue = (i: number, ts: number): number => (i * 1_000_003 + ts) / 7 + Math.sin(ts + i);

export function requestBody(o: GenOptions, series: readonly SeriesKey[], r: number): Buffer {
  const req = WriteRequest.fromObject({
    timeseries: series.map((s, i) => ({
      labels: s.labels.map(([name, value]) => ({ name, value })),
      samples: Array.from({ length: o.perSeries }, (_, k) => {
        const ts = tsOf(o, r, k);
        return { value: sampleValue(i, ts), timestamp: ts };
      }),
    })),
  });
  return snappy.compressSync(Buffer.from(WriteRequest.encode(req).finish()));
}

/** Empty writer statistics, to watch while a writer runs. */
export const newStats = (): WriterStats => ({
  sent: 0,
  acked: new Set(),
  answers: new Map(),
  ackedAt: new Map(),
  timeouts: 0,
});

export interface WriterStats {
  /** Requests attempted (each counted once however often it was resent). */
  sent: number;
  /** Requests answered 204. */
  acked: Set<number>;
  /** Answers by status (or error code), every attempt. */
  answers: Map<string, number>;
  /** Request r was answered 204 at this time (ms). */
  ackedAt: Map<number, number>;
  /** Attempts that got no answer within the client timeout. */
  timeouts: number;
}

/**
 * Posts requests 0, 1, 2, … like Prometheus: each is resent after a 5xx or a connection error (backoff
 * 100 ms … 1 s) until answered 204; a 4xx is a test failure. Runs `workers` requests at once until
 * `stop()` returns true; requests started are finished (acknowledged) before it resolves unless
 * `giveUpAt()` says so.
 */
export async function runWriter(opts: {
  url: () => string;
  gen: GenOptions;
  workers: number;
  stop: () => boolean;
  /** Stop resending unfinished requests once this returns true. @default never */
  giveUp?: () => boolean;
  timeoutMs?: number;
  stats?: WriterStats;
  pauseMs?: number;
}): Promise<WriterStats> {
  const series = genSeries(opts.gen);
  const stats: WriterStats = opts.stats ?? newStats();
  let next = stats.sent;
  const count = (k: string) => stats.answers.set(k, (stats.answers.get(k) ?? 0) + 1);
  const worker = async () => {
    while (!opts.stop()) {
      const r = next++;
      stats.sent++;
      const body = requestBody(opts.gen, series, r);
      for (let attempt = 0; ; attempt++) {
        if (opts.giveUp?.()) return;
        let status: number | string;
        try {
          const res = await fetch(`${opts.url()}/write`, {
            method: 'POST',
            body: new Uint8Array(body),
            headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' },
            signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
          });
          const text = await res.text();
          status = res.status;
          if (status >= 400 && status < 500) throw new Error(`request ${r}: ${status} ${text}`);
        } catch (err) {
          const e = err as Error & { cause?: { code?: string } };
          if (e.message.startsWith(`request ${r}:`)) throw err;
          if (e.name === 'TimeoutError') stats.timeouts++;
          status = e.cause?.code ?? e.name;
        }
        count(String(status));
        if (status === 204) {
          stats.acked.add(r);
          stats.ackedAt.set(r, Date.now());
          break;
        }
        await sleep(Math.min(1_000, 100 * 2 ** attempt));
      }
      if (opts.pauseMs) await sleep(opts.pauseMs);
    }
  };
  await Promise.all(Array.from({ length: opts.workers }, worker));
  return stats;
}

/** A node's query (by URL), throwing ClickHouse's message. */
export async function q(url: string, sql: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${url}/`, { method: 'POST', body: sql, signal: AbortSignal.timeout(60_000) });
      const body = await res.text();
      if (!res.ok) throw new Error(`${url}: ${body.trim()}`);
      return body;
    } catch (err) {
      // ClickHouse closes idle keep-alive sockets after 3 s; fetch keeps them longer.
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (attempt >= 2 || (code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET')) throw err;
    }
  }
}

/**
 * Merges a replica's table (OPTIMIZE … FINAL) and returns '' — or, when ClickHouse 18.16 refuses with
 * "Unknown log entry type: 0" (a known 18.16 fault after a ZooKeeper quorum loss, see PLATFORM.md) or
 * "Leader was suddenly changed" (code 292, replicas electing a leader again after it) on every try, says so and returns 'FINAL', so that the count merges at read time instead: duplicates are
 * still counted after a merge, of the other kind.
 */
async function optimizeFinal(url: string, table: string): Promise<'' | 'FINAL'> {
  for (let attempt = 0; ; attempt++) {
    try {
      await q(url, `OPTIMIZE TABLE ${table} FINAL`);
      return '';
    } catch (err) {
      // Both seen after a ZooKeeper quorum loss: code 292 while the replicas elect a leader again.
      const refusal = /Unknown log entry type: 0|Leader was suddenly changed/.exec((err as Error).message);
      if (!refusal) throw err;
      if (attempt >= 2) {
        process.stdout.write(
          `# ${url}: OPTIMIZE FINAL refused by 18.16 ("${refusal[0]}"); counted with SELECT … FINAL\n`,
        );
        return 'FINAL';
      }
      await sleep(2000);
    }
  }
}

export interface Verdict {
  sent: number;
  acknowledged: number;
  stored: number;
  duplicates: number;
  /** Acknowledged samples missing (or with other value bits) on some replica of their shard. */
  missing: string[];
  /** Replicas of one shard holding different sets of keys. */
  divergent: string[];
}

/**
 * Compares what was acknowledged with what every replica stores: each acknowledged (series, timestamp)
 * must be on both replicas of its shard with the exact value bits; after OPTIMIZE FINAL no key appears
 * twice on any replica. Waits (bounded) for replication to settle first.
 */
export async function verify(
  rig: ClusterRig,
  gen: GenOptions,
  stats: WriterStats,
  opts: { settleMs?: number } = {},
): Promise<Verdict> {
  const series = genSeries(gen);
  const byFp = new Map(series.map((s, i) => [s.fp.toString(), i]));
  const fpList = series.map((s) => s.fp.toString()).join(',');
  const db = rig.database;
  const expected = new Map<string, bigint>();
  const b = Buffer.alloc(8);
  for (const r of stats.acked)
    for (let i = 0; i < series.length; i++)
      for (let k = 0; k < gen.perSeries; k++) {
        const ts = tsOf(gen, r, k);
        b.writeDoubleLE(sampleValue(i, ts));
        expected.set(`${series[i]!.fp}:${ts}`, b.readBigUInt64LE(0));
      }
  // Every replica must reach the same keys as its twin (a restarted one catches up).
  const deadline = Date.now() + (opts.settleMs ?? 90_000);
  const keysOn = async (url: string) =>
    Number(
      await q(
        url,
        `SELECT uniqExact(fingerprint, timestamp_ms) FROM ${db}.samples_local WHERE fingerprint IN (${fpList})`,
      ),
    );
  for (;;) {
    const counts = await Promise.all(rig.cluster.nodes.map((n) => keysOn(n.url).catch(() => -1)));
    const settled = rig.cluster.nodes.every(
      (n, j) => counts[j] === counts[rig.cluster.nodes.findIndex((m) => m.shard === n.shard)],
    );
    if (settled || Date.now() > deadline) break;
    await sleep(500);
  }
  const missing: string[] = [];
  const divergent: string[] = [];
  let stored = 0;
  let duplicates = 0;
  for (const n of rig.cluster.nodes) {
    const final = await optimizeFinal(n.url, `${db}.samples_local`);
    const rows = (
      await q(
        n.url,
        `SELECT fingerprint, timestamp_ms, reinterpretAsUInt64(reinterpretAsString(value)), count() FROM ${db}.samples_local ${final} WHERE fingerprint IN (${fpList}) GROUP BY fingerprint, timestamp_ms, value FORMAT TSV`,
      )
    )
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'));
    const have = new Map<string, bigint>();
    for (const [fp, ts, bits, c] of rows) {
      const key = `${fp}:${ts}`;
      if (have.has(key) || Number(c) > 1) duplicates += have.has(key) ? 1 : Number(c) - 1;
      have.set(key, BigInt(bits!));
    }
    if (n.replica === 0) stored += have.size;
    for (const [key, bits] of expected) {
      const fp = key.slice(0, key.indexOf(':'));
      const i = byFp.get(fp)!;
      if (shardOfFp(series[i]!.fp, rig.cluster.layout.shards.length) !== n.shard) continue;
      const got = have.get(key);
      if (got === undefined || got !== bits)
        missing.push(
          `s${n.shard + 1}r${n.replica + 1} ${key} ${got === undefined ? 'missing' : 'bits differ'}`,
        );
    }
    const twin = rig.cluster.nodes.find((m) => m.shard === n.shard && m.replica === 0)!;
    if (n !== twin) {
      // Distinct keys, as `have` holds: a replica whose OPTIMIZE was refused still has unmerged rows.
      const a = Number(
        await q(
          twin.url,
          `SELECT uniqExact(fingerprint, timestamp_ms) FROM ${db}.samples_local WHERE fingerprint IN (${fpList})`,
        ),
      );
      if (a !== have.size)
        divergent.push(`shard ${n.shard + 1}: r1 ${a} keys, r${n.replica + 1} ${have.size}`);
    }
  }
  return {
    sent: stats.sent * series.length * gen.perSeries,
    acknowledged: expected.size,
    stored,
    duplicates,
    missing: missing.slice(0, 20),
    divergent,
  };
}

const shardOfFp = (fp: bigint, shards: number): number => Number(fp % BigInt(shards));

/** The verdict line each test prints. */
export const report = (name: string, v: Verdict, extra = ''): void => {
  process.stdout.write(
    `# ${name}: sent ${v.sent}, acknowledged ${v.acknowledged}, stored ${v.stored}, duplicates ${v.duplicates}, missing ${v.missing.length}, divergent replicas ${v.divergent.length}${extra ? `; ${extra}` : ''}\n`,
  );
};

/** Waits until the adapter's /-/ready answers 200 (bounded). */
export async function waitReady(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${url}/-/ready`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Remote read (SAMPLES) of one query through an adapter: series by labels → samples count; throws on non-200. */
export async function remoteRead(
  url: string,
  matchers: { type: number; name: string; value: string }[],
  start: number,
  end: number,
): Promise<Map<string, number>> {
  const body = snappy.compressSync(
    Buffer.from(
      ReadRequest.encode(
        ReadRequest.fromObject({ queries: [{ start_timestamp_ms: start, end_timestamp_ms: end, matchers }] }),
      ).finish(),
    ),
  );
  const res = await fetch(`${url}/read`, {
    method: 'POST',
    body: new Uint8Array(body),
    headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' },
    signal: AbortSignal.timeout(30_000),
  });
  const raw = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`read: ${res.status} ${raw.toString()}`);
  const out = ReadResponse.toObject(ReadResponse.decode(snappy.uncompressSync(raw) as Buffer), TO_OBJECT) as {
    results: { timeseries: { labels: { name: string; value: string }[]; samples: unknown[] }[] }[];
  };
  return new Map(
    (out.results[0]?.timeseries ?? []).map((t) => [
      JSON.stringify(t.labels.map((l) => [l.name, l.value])),
      t.samples.length,
    ]),
  );
}

/** The JSON detail of an adapter's /-/ready answer (cluster mode), with its status. */
export async function readyDetail(url: string): Promise<{
  status: number;
  detail: {
    migrated: boolean;
    writable: boolean;
    shards: {
      shard: number;
      writable: boolean;
      replicas: { replica: string; up: boolean; readOnly: boolean }[];
    }[];
  };
}> {
  const res = await fetch(`${url}/-/ready`);
  const text = await res.text();
  return { status: res.status, detail: JSON.parse(text.slice(text.indexOf('\n') + 1)) };
}
