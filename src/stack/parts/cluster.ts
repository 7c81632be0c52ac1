import { join } from 'node:path';
import type { StackPart } from '../part.ts';
import { type ClickHouseCluster, startClickHouseCluster } from '../servers/clickhouse-cluster.ts';
import { startRole } from '../servers/role.ts';
import { startZooKeeper } from '../servers/zookeeper.ts';

/**
 * `rtcmon stack --cluster`: a ZooKeeper ensemble of three, ClickHouse 3 shards × 2 replicas, and
 * `rtcmon adapter --clickhouse.cluster` in front of it (the adapter creates the schema ON CLUSTER).
 */
export const clusterAdapterPart: StackPart = {
  name: 'adapter (cluster)',
  phase: 'storage',
  async start(ctx) {
    const zk = await startZooKeeper({
      dir: join(ctx.runDir, 'zookeeper'),
      logDir: ctx.logDir,
      port: ctx.port,
    });
    let cluster: ClickHouseCluster | undefined;
    try {
      cluster = await startClickHouseCluster({
        dir: join(ctx.runDir, 'clickhouse'),
        logDir: ctx.logDir,
        zookeeper: zk.nodes,
        port: ctx.port,
      });
      const port = await ctx.port(9201);
      const url = `http://127.0.0.1:${port}`;
      const adapter = await startRole({
        role: 'adapter',
        args: [
          `--web.listen-address=127.0.0.1:${port}`,
          `--clickhouse.cluster=${cluster.name}`,
          `--clickhouse.nodes=${cluster.urls.join(',')}`,
        ],
        url,
        logDir: ctx.logDir,
        readyTimeoutMs: 120_000,
      });
      const c = cluster;
      const first = c.nodes[0]!;
      return {
        endpoints: {
          ...Object.fromEntries(
            zk.servers.map((s) => [`zookeeper ${s.node.id}`, `127.0.0.1:${s.node.clientPort}`]),
          ),
          ...Object.fromEntries(
            c.nodes.map((n) => [
              `clickhouse s${n.shard + 1}r${n.replica + 1}`,
              `${n.url} (clickhouse-client --port ${n.host.tcpPort})`,
            ]),
          ),
          adapter: `${url} (cluster ${c.name}; /-/ready shows every shard and replica)`,
        },
        scrapeJobs: [{ job: 'rtcmon-adapter', targets: [`127.0.0.1:${port}`] }],
        remoteWrite: [{ url: `${url}/write` }],
        remoteRead: [{ url: `${url}/read`, readRecent: false }],
        hints: [
          `curl -s ${url}/-/ready`,
          `clickhouse-client --port ${first.host.tcpPort} -q "SELECT hostName(), _shard_num, count() FROM rtcmon.samples GROUP BY 1, 2"`,
          `clickhouse-client --port ${first.host.tcpPort} -q "SELECT database, table, replica_name, is_readonly, queue_size, absolute_delay FROM system.replicas"`,
        ],
        stop: async () => {
          await adapter.stop();
          await c.stop();
          await zk.stop();
        },
      };
    } catch (err) {
      await cluster?.stop();
      await zk.stop();
      throw err;
    }
  },
};
