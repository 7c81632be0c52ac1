import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ClickHouse, clickhouseQuery, startClickHouse } from './clickhouse.ts';
import { freePort } from './process.ts';

/** Where one clickhouse-server of a cluster listens. */
export interface ClusterHost {
  readonly host: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly interserverPort: number;
}

export interface ClusterLayout {
  /** The cluster's name in `<remote_servers>` (what `ON CLUSTER` and `--clickhouse.cluster` name). */
  readonly name: string;
  /** shards[s][r]: replica r of shard s (both 0-based here; macros and shard_num are 1-based). */
  readonly shards: readonly (readonly ClusterHost[])[];
  /** The ZooKeeper ensemble. */
  readonly zookeeper: readonly { host: string; port: number }[];
  /** ClickHouse's ZooKeeper session timeout: a restarted replica rejoins only once its old session expired. @default 10000 */
  readonly sessionTimeoutMs?: number;
}

/** The `{shard}` and `{replica}` macros of node (s, r): `01`, `s01r1` (a replica name is unique cluster-wide). */
export const clusterMacros = (s: number, r: number): { shard: string; replica: string } => ({
  shard: String(s + 1).padStart(2, '0'),
  replica: `s${String(s + 1).padStart(2, '0')}r${r + 1}`,
});

const esc = (v: string): string => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The cluster part of one node's config.xml (inside `<yandex>`): `<remote_servers>` (the same on every
 * node, `internal_replication` true so a Distributed insert writes one replica and replication copies it),
 * `<zookeeper>`, this node's `<macros>` and `<distributed_ddl>` for `ON CLUSTER`. The stack and the
 * Kubernetes manifests render their configs with this one function.
 */
export function clusterConfigXml(layout: ClusterLayout, self: { shard: number; replica: number }): string {
  const m = clusterMacros(self.shard, self.replica);
  const shards = layout.shards
    .map(
      (replicas) => `      <shard>
        <internal_replication>true</internal_replication>
${replicas.map((h) => `        <replica><host>${esc(h.host)}</host><port>${h.tcpPort}</port></replica>`).join('\n')}
      </shard>`,
    )
    .join('\n');
  return `<remote_servers>
    <${layout.name}>
${shards}
    </${layout.name}>
  </remote_servers>
  <zookeeper>
${layout.zookeeper.map((z, i) => `    <node index="${i + 1}"><host>${esc(z.host)}</host><port>${z.port}</port></node>`).join('\n')}
    <session_timeout_ms>${layout.sessionTimeoutMs ?? 10_000}</session_timeout_ms>
  </zookeeper>
  <macros>
    <shard>${m.shard}</shard>
    <replica>${m.replica}</replica>
  </macros>
  <distributed_ddl>
    <path>/clickhouse/task_queue/ddl</path>
  </distributed_ddl>`;
}

/** One node of a running cluster; `ch` changes when the node is restarted. */
export interface ClusterNode {
  readonly shard: number;
  readonly replica: number;
  readonly host: ClusterHost;
  readonly url: string;
  readonly ch: ClickHouse;
  /** Ends the process at once (SIGKILL), or with SIGTERM (~10 s in a cluster: pooled peer connections). */
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Starts it again on the same ports and data; resolves once it answers and reached ZooKeeper. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: slow, not dead. */
  pause(): void;
  resume(): void;
  running(): boolean;
}

export interface ClickHouseCluster {
  readonly layout: ClusterLayout;
  readonly name: string;
  /** Every node, shard by shard. */
  readonly nodes: readonly ClusterNode[];
  /** HTTP URLs of every node (what `--clickhouse.url` of a cluster adapter lists). */
  readonly urls: readonly string[];
  stop(): Promise<void>;
}

export interface ClusterOptions {
  dir: string;
  logDir?: string;
  name?: string;
  shards?: number;
  replicas?: number;
  zookeeper: readonly { host: string; port: number }[];
  /** @default 10000 (short, so that a restarted replica catches up within ~20 s) */
  sessionTimeoutMs?: number;
  /**
   * Profile `receive_timeout` in seconds: how long a node waits on a peer that stopped answering
   * (SIGSTOP) before a distributed query fails over; ClickHouse's default is 300. @default 10
   */
  receiveTimeoutS?: number;
  /** Preferred HTTP ports (the stack tries 8123…), else free ones. */
  port?: (preferred: number) => Promise<number>;
}

/** True once this node's DDL worker can have reached ZooKeeper (`ON CLUSTER` before that crashed 18.16). */
export async function reachedZooKeeper(url: string): Promise<boolean> {
  try {
    await clickhouseQuery(url, "SELECT count() FROM system.zookeeper WHERE path = '/'");
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts shards × replicas clickhouse-server processes on 127.0.0.1, each with its own ports, data dir and
 * config from `clusterConfigXml`, all in parallel; resolves once every node answers and sees ZooKeeper.
 */
export async function startClickHouseCluster(opts: ClusterOptions): Promise<ClickHouseCluster> {
  // Ports are picked free, then bound by six servers: another process may take one in between ("Address
  // already in use", seen in CI). The config of every node names every node's ports, so all start again
  // on new ones, in fresh directories.
  for (let attempt = 0; ; attempt++) {
    try {
      return await startClusterOnce(
        opts,
        attempt === 0 ? opts.dir : join(opts.dir, `attempt-${attempt + 1}`),
      );
    } catch (err) {
      if (attempt >= 2 || !/Address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startClusterOnce(opts: ClusterOptions, dir: string): Promise<ClickHouseCluster> {
  const name = opts.name ?? 'rtcmon';
  const nShards = opts.shards ?? 3;
  const nReplicas = opts.replicas ?? 2;
  const port = opts.port ?? ((_p: number) => freePort());
  const shards: ClusterHost[][] = [];
  let k = 0;
  for (let s = 0; s < nShards; s++) {
    const replicas: ClusterHost[] = [];
    for (let r = 0; r < nReplicas; r++, k++)
      replicas.push({
        host: '127.0.0.1',
        httpPort: await port(8123 + k),
        tcpPort: await freePort(),
        interserverPort: await freePort(),
      });
    shards.push(replicas);
  }
  const layout: ClusterLayout = {
    name,
    shards,
    zookeeper: opts.zookeeper,
    sessionTimeoutMs: opts.sessionTimeoutMs ?? 10_000,
  };
  const profile = { receive_timeout: opts.receiveTimeoutS ?? 10 };
  const launch = async (s: number, r: number): Promise<ClickHouse> => {
    const h = shards[s]![r]!;
    const ch = await startClickHouse({
      dir: join(dir, `ch-s${s + 1}r${r + 1}`),
      ...(opts.logDir ? { logDir: opts.logDir } : {}),
      name: `clickhouse-s${s + 1}r${r + 1}`,
      httpPort: h.httpPort,
      tcpPort: h.tcpPort,
      interserverPort: h.interserverPort,
      extraConfig: clusterConfigXml(layout, { shard: s, replica: r }),
      profile,
    });
    const deadline = Date.now() + 60_000;
    while (!(await reachedZooKeeper(ch.url))) {
      if (Date.now() > deadline) {
        await ch.process.stop('SIGKILL');
        throw new Error(`clickhouse s${s + 1}r${r + 1} did not reach ZooKeeper within 60 s`);
      }
      await sleep(200);
    }
    return ch;
  };

  const nodes: ClusterNode[] = [];
  const started: ClickHouse[] = [];
  try {
    const all = await Promise.allSettled(
      shards.flatMap((reps, s) =>
        reps.map(async (_h, r) => {
          const ch = await launch(s, r);
          started.push(ch);
          return { s, r, ch };
        }),
      ),
    );
    const failed = all.find((x) => x.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    for (const x of all) {
      if (x.status !== 'fulfilled') continue;
      const { s, r } = x.value;
      let ch = x.value.ch;
      const h = shards[s]![r]!;
      nodes.push({
        shard: s,
        replica: r,
        host: h,
        url: ch.url,
        get ch() {
          return ch;
        },
        kill: (signal = 'SIGKILL') => ch.process.stop(signal),
        async restart() {
          await ch.process.stop('SIGKILL');
          ch = await launch(s, r);
        },
        pause: () => {
          ch.process.child.kill('SIGSTOP');
        },
        resume: () => {
          ch.process.child.kill('SIGCONT');
        },
        running: () => !ch.process.exited(),
      });
    }
    nodes.sort((a, b) => a.shard - b.shard || a.replica - b.replica);
  } catch (err) {
    await Promise.all(started.map((c) => c.process.stop('SIGKILL')));
    throw err;
  }
  return {
    layout,
    name,
    nodes,
    urls: nodes.map((n) => n.url),
    async stop() {
      // SIGCONT first: a paused server would not act on SIGTERM.
      for (const n of nodes) if (n.running()) n.resume();
      await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    },
  };
}
