import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from './clickhouse.ts';
import { ClickHouseError } from './errors.ts';
import { clusterLayout, detectFeatures, type Features, localTable, MIGRATIONS } from './schema.ts';

/** One clickhouse-server of the cluster, as `system.clusters` names it, and what it has applied. */
export interface ClusterHostState {
  /** 1-based, as in `system.clusters`. */
  readonly shard: number;
  readonly replica: number;
  readonly host: string;
  /** Its native (TCP) port: how the cluster and the DDL queue name a host. */
  readonly port: number;
  /** Answered through `remote()` and sees ZooKeeper. */
  readonly reachable: boolean;
  /** Migrations whose tables are not all there (every one while unreachable). */
  readonly pending: readonly number[];
}

export interface ClusterMigrateResult {
  readonly features: Features;
  readonly cluster: string;
  readonly hosts: readonly ClusterHostState[];
  /** Migration ids sent `ON CLUSTER` in this run. */
  readonly sent: readonly number[];
  /** Every host has applied every migration. */
  readonly complete: boolean;
  readonly current: number;
}

const str = (s: string): string => `'${s.replace(/[\\']/g, '\\$&')}'`;

/** `host:port` for `remote()`, or `[v6]:port`. */
const address = (h: { host: string; port: number }): string =>
  h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;

/** The hosts of `cluster` in `<remote_servers>` of the node `ch` talks to. */
export async function clusterHosts(
  ch: ClickHouseClient,
  cluster: string,
): Promise<{ shard: number; replica: number; host: string; port: number }[]> {
  const rows = (
    await ch.query(
      `SELECT shard_num, replica_num, host_name, port FROM system.clusters WHERE cluster = ${str(cluster)} ORDER BY shard_num, replica_num`,
      { noDatabase: true },
    )
  )
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
  if (rows.length === 0)
    throw new Error(
      `cluster ${JSON.stringify(cluster)} is not in <remote_servers> of ClickHouse at ${ch.url}`,
    );
  return rows.map(([s, r, h, p]) => ({ shard: Number(s), replica: Number(r), host: h!, port: Number(p) }));
}

/** Each host's tables in the database, read through the node `ch` talks to (`remote()`); undefined when unreachable. */
async function hostTables(
  ch: ClickHouseClient,
  h: { host: string; port: number },
  db: string,
): Promise<Set<string> | undefined> {
  const settings = { connect_timeout: 1, connect_timeout_with_failover_ms: 500, receive_timeout: 5 };
  try {
    // A host whose DDL worker has not reached ZooKeeper is not ready for ON CLUSTER (18.16 crashed then).
    await ch.query(`SELECT count() FROM remote(${str(address(h))}, system.zookeeper) WHERE path = '/'`, {
      noDatabase: true,
      settings,
      timeoutMs: 8_000,
    });
    const names = await ch.query(
      `SELECT name FROM remote(${str(address(h))}, system.tables) WHERE database = ${str(db)}`,
      { noDatabase: true, settings, timeoutMs: 8_000 },
    );
    return new Set(names.split('\n').filter(Boolean));
  } catch {
    return undefined;
  }
}

/** What every host of the cluster has applied, by the tables each migration creates. */
export async function clusterState(
  ch: ClickHouseClient,
  cluster: string,
  features: Features,
): Promise<ClusterHostState[]> {
  const hosts = await clusterHosts(ch, cluster);
  return Promise.all(
    hosts.map(async (h) => {
      const tables = await hostTables(ch, h, ch.database);
      const pending = MIGRATIONS.filter(
        (m) =>
          !tables || !m.tables(features).every((t) => tables.has(t.name) && tables.has(localTable(t.name))),
      ).map((m) => m.id);
      return { ...h, reachable: tables !== undefined, pending };
    }),
  );
}

/**
 * The features a cluster schema uses. A host runs `ON CLUSTER` DDL without the query's settings, so a
 * type that needs an experimental setting (LowCardinality on 18.x) fails there: String instead.
 */
export const clusterFeatures = (f: Features): Features =>
  f.lowCardinalitySetting ? { ...f, lowCardinality: false, lowCardinalitySetting: false } : f;

/**
 * Creates or upgrades the cluster schema `ON CLUSTER`, within `timeoutMs` whatever the cluster's state.
 * With every host up it waits for each statement on every host (so a host's error is reported); with a
 * host down it only queues the statements in ZooKeeper's DDL queue (a host executes the queue in order
 * when it returns) and then waits for the hosts that are up. Returns which host lacks which migration;
 * a later run sends the missing ones again (every statement is IF NOT EXISTS).
 */
export async function migrateCluster(
  ch: ClickHouseClient,
  opts: { cluster: string; timeoutMs: number; features?: Features },
): Promise<ClusterMigrateResult> {
  const deadline = Date.now() + opts.timeoutMs;
  const left = () => deadline - Date.now();
  const db = ch.database;
  const features = clusterFeatures(opts.features ?? (await detectFeatures(ch)));
  const current = MIGRATIONS.at(-1)?.id ?? 0;
  let hosts = await clusterState(ch, opts.cluster, features);
  const result = (sent: number[]): ClusterMigrateResult => ({
    features,
    cluster: opts.cluster,
    hosts,
    sent,
    complete: hosts.every((h) => h.pending.length === 0),
    current,
  });
  const needed = MIGRATIONS.filter((m) => hosts.some((h) => h.pending.includes(m.id)));
  if (needed.length === 0) return result([]);

  const layout = clusterLayout(opts.cluster);
  // Waiting for a host that is down would only burn the budget: queue, then watch the others.
  let wait = hosts.every((h) => h.reachable);
  const statements = [
    layout.createDatabase(db),
    ...needed.flatMap((m) => m.statements(db, features, layout)),
  ];
  for (const sql of statements) {
    const seconds = wait ? Math.max(1, Math.floor(left() / 1000)) : 0;
    try {
      await ch.query(sql, {
        noDatabase: true,
        settings: { distributed_ddl_task_timeout: seconds },
        timeoutMs: seconds * 1000 + 10_000,
      });
    } catch (err) {
      // 159: some host did not finish in time; the statement stays queued for it.
      if (err instanceof ClickHouseError && err.code === 159) wait = false;
      else throw err;
    }
  }
  const sent = needed.map((m) => m.id);
  for (;;) {
    hosts = await clusterState(ch, opts.cluster, features);
    if (hosts.every((h) => !h.reachable || h.pending.length === 0) || left() <= 0) return result(sent);
    await sleep(Math.min(500, Math.max(0, left())));
  }
}

/** One line per host: `shard 1 replica 2 127.0.0.1:9000 ok` / `… unreachable; not applied: 1`. */
export function describeClusterState(hosts: readonly ClusterHostState[]): string[] {
  return hosts.map(
    (h) =>
      `shard ${h.shard} replica ${h.replica} ${address(h)} ${h.reachable ? 'reachable' : 'unreachable'}; ${
        h.pending.length ? `not applied: migration ${h.pending.join(', ')}` : 'up to date'
      }`,
  );
}
