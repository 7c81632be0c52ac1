import { createHash } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../lib/logger.ts';
import type { ClickHouseClient, QueryOptions } from './clickhouse.ts';
import { ClickHouseError } from './errors.ts';

/**
 * A fingerprint's shard, 0-based: `fingerprint % shards`, which is what the Distributed tables'
 * sharding key `fingerprint` gives with equal shard weights. Computed from the two 32-bit halves.
 */
export function shardOf(lo: number, hi: number, shards: number): number {
  return (((hi >>> 0) % shards) * (4_294_967_296 % shards) + ((lo >>> 0) % shards)) % shards;
}

/** A metric family's shard: `halfMD5(metric_family_name) % shards`, as the metadata Distributed table. */
export function familyShard(family: string, shards: number): number {
  return Number(createHash('md5').update(family, 'utf8').digest().readBigUInt64BE(0) % BigInt(shards));
}

/** One node of the cluster as the adapter sees it. */
export interface Replica {
  readonly url: string;
  readonly client: ClickHouseClient;
  /** 0-based shard from the node's `{shard}` macro (1-based there); -1 until the node answered. */
  shard: number;
  /** Its `{replica}` macro ('' until known). */
  name: string;
  /** Last health check: answered, tables read-only, replication queue, delay. */
  up: boolean;
  readOnly: boolean;
  queueSize: number;
  delaySeconds: number;
  /** Writes skip it (try it last) until this time, after a failed insert. */
  avoidUntil: number;
  lastError: string;
}

export interface Topology {
  readonly cluster: string;
  /** Shards in `<remote_servers>` (from `system.clusters`); 0 until a node answered. */
  shards: number;
  readonly replicas: readonly Replica[];
  /** The replicas of a shard, the ones to try first first. */
  replicasOf(shard: number, now: number): Replica[];
}

export function createTopology(cluster: string, clients: readonly ClickHouseClient[]): Topology {
  const replicas: Replica[] = clients.map((client) => ({
    url: client.url,
    client,
    shard: -1,
    name: '',
    up: false,
    readOnly: false,
    queueSize: 0,
    delaySeconds: 0,
    avoidUntil: 0,
    lastError: '',
  }));
  return {
    cluster,
    shards: 0,
    replicas,
    replicasOf(shard, now) {
      // Healthy before avoided (a failed insert, or the last health check), then in the order given; the order is stable so a shard's writes keep
      // going to one replica (fewer parts to fetch) while it works.
      const last = (r: Replica) => Number(r.avoidUntil > now || !r.up || r.readOnly);
      return replicas.filter((r) => r.shard === shard).sort((a, b) => last(a) - last(b));
    },
  };
}

/** Per shard and replica series on the adapter's /metrics. */
export function createClusterMetrics(registry: Registry) {
  const registers = [registry];
  const labelNames = ['shard', 'replica'] as const;
  return {
    up: new Gauge({
      name: 'rtcmon_adapter_clickhouse_replica_up',
      help: 'Cluster: 1 when the replica answered its last health check.',
      labelNames,
      registers,
    }),
    readOnly: new Gauge({
      name: 'rtcmon_adapter_clickhouse_replica_readonly',
      help: 'Cluster: 1 when a table of the replica is read-only (ZooKeeper session lost).',
      labelNames,
      registers,
    }),
    queue: new Gauge({
      name: 'rtcmon_adapter_clickhouse_replica_queue_size',
      help: "Cluster: the replica's replication queue (system.replicas.queue_size, summed over tables).",
      labelNames,
      registers,
    }),
    delay: new Gauge({
      name: 'rtcmon_adapter_clickhouse_replica_delay_seconds',
      help: 'Cluster: replication delay of the replica (system.replicas.absolute_delay, max over tables).',
      labelNames,
      registers,
    }),
    inserts: new Counter({
      name: 'rtcmon_adapter_clickhouse_shard_inserts_total',
      help: 'Cluster: inserts sent to a replica, by shard, replica and outcome (ok, error).',
      labelNames: ['shard', 'replica', 'outcome'],
      registers,
    }),
    shardFailures: new Counter({
      name: 'rtcmon_adapter_clickhouse_shard_write_failures_total',
      help: 'Cluster: batches a shard could not store on any replica (each made the request a 503).',
      labelNames: ['shard'],
      registers,
    }),
  };
}
export type ClusterMetrics = ReturnType<typeof createClusterMetrics>;

const HEALTH_TIMEOUT_MS = 2_000;

/** Reads each node's macros (once) and replication state; updates the gauges. */
export async function checkCluster(
  topo: Topology,
  database: string,
  metrics: ClusterMetrics,
  logger: Logger,
): Promise<void> {
  await Promise.all(
    topo.replicas.map(async (r) => {
      const o: QueryOptions = { noDatabase: true, timeoutMs: HEALTH_TIMEOUT_MS };
      try {
        if (r.shard < 0) {
          const macros = new Map(
            (await r.client.query('SELECT macro, substitution FROM system.macros', o))
              .split('\n')
              .filter(Boolean)
              .map((l) => l.split('\t') as [string, string]),
          );
          const shard = Number.parseInt(macros.get('shard') ?? '', 10);
          if (!(shard >= 1)) throw new Error(`${r.url} has no numeric {shard} macro`);
          topo.shards = Number(
            await r.client.query(
              `SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = '${topo.cluster.replace(/[\\']/g, '\\$&')}'`,
              o,
            ),
          );
          if (shard > topo.shards)
            throw new Error(`${r.url}: {shard} macro ${shard} but ${topo.shards} shards in ${topo.cluster}`);
          r.shard = shard - 1;
          r.name = macros.get('replica') ?? r.url;
          logger.info({ url: r.url, shard, replica: r.name }, 'cluster node found');
        }
        const rows = (
          await r.client.query(
            `SELECT is_readonly OR is_session_expired, queue_size, absolute_delay FROM system.replicas WHERE database = '${database.replace(/[\\']/g, '\\$&')}'`,
            o,
          )
        )
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split('\t').map(Number));
        r.up = true;
        r.readOnly = rows.some((x) => x[0] === 1);
        r.queueSize = rows.reduce((n, x) => n + (x[1] ?? 0), 0);
        r.delaySeconds = rows.reduce((n, x) => Math.max(n, x[2] ?? 0), 0);
      } catch (err) {
        r.up = false;
        r.lastError = err instanceof ClickHouseError ? err.message.slice(0, 200) : (err as Error).message;
      }
      if (r.shard < 0) return;
      const l = { shard: String(r.shard + 1), replica: r.name };
      metrics.up.set(l, r.up ? 1 : 0);
      metrics.readOnly.set(l, r.readOnly ? 1 : 0);
      metrics.queue.set(l, r.queueSize);
      metrics.delay.set(l, r.delaySeconds);
    }),
  );
}

/** The cluster as /-/ready shows it: writable when every shard has a replica up and not read-only. */
export function clusterHealth(topo: Topology) {
  const shards = Array.from({ length: topo.shards }, (_, s) => {
    const reps = topo.replicas.filter((r) => r.shard === s);
    return {
      shard: s + 1,
      writable: reps.some((r) => r.up && !r.readOnly),
      replicas: reps.map((r) => ({
        replica: r.name,
        url: r.url,
        up: r.up,
        readOnly: r.readOnly,
        queueSize: r.queueSize,
        delaySeconds: r.delaySeconds,
        ...(r.up ? {} : { error: r.lastError }),
      })),
    };
  });
  const unknown = topo.replicas.filter((r) => r.shard < 0).map((r) => ({ url: r.url, error: r.lastError }));
  return {
    cluster: topo.cluster,
    writable: topo.shards > 0 && shards.every((s) => s.writable),
    shards,
    ...(unknown.length ? { unknownNodes: unknown } : {}),
  };
}

/**
 * A client for reads over the Distributed tables: any node can answer, so a call that cannot reach one
 * node (connection refused, timeout) goes to the next; ClickHouse's own errors are final. A stream fails
 * over only before its first chunk. Every statement carries the cluster read settings.
 */
export function createFailoverClient(
  clients: readonly ClickHouseClient[],
  settings: Record<string, string | number>,
): ClickHouseClient {
  let preferred = 0;
  const withSettings = (o?: QueryOptions): QueryOptions => ({
    ...o,
    settings: { ...settings, ...(o?.settings ?? {}) },
  });
  const attempt = async <T>(f: (c: ClickHouseClient) => Promise<T>): Promise<T> => {
    let last: unknown;
    for (let k = 0; k < clients.length; k++) {
      const i = (preferred + k) % clients.length;
      try {
        const out = await f(clients[i]!);
        preferred = i;
        return out;
      } catch (err) {
        if (err instanceof ClickHouseError && err.code !== 210 && err.code !== 209) throw err;
        last = err;
      }
    }
    throw last;
  };
  const first = clients[0]!;
  return {
    url: first.url,
    database: first.database,
    query: (sql, o) => attempt((c) => c.query(sql, withSettings(o))),
    queryBytes: (sql, o) => attempt((c) => c.queryBytes(sql, withSettings(o))),
    async *queryStream(sql, o) {
      const { iterator, head } = await attempt(async (c) => {
        const it = c.queryStream(sql, withSettings(o))[Symbol.asyncIterator]();
        return { iterator: it, head: await it.next() };
      });
      if (head.done) return;
      yield head.value;
      for (let n = await iterator.next(); !n.done; n = await iterator.next()) yield n.value;
    },
    insert: (table, format, body, o) => attempt((c) => c.insert(table, format, body, o)),
    async ping(t) {
      for (const c of clients) if (await c.ping(t)) return true;
      return false;
    },
    close() {
      for (const c of clients) c.close();
    },
  };
}
