import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { freePort, httpOk, startProcess } from '../../src/stack/servers/process.ts';
import { RTCMON_BIN } from '../../src/stack/servers/role.ts';
import { startVictoriaMetrics } from '../../src/stack/servers/victoria-metrics.ts';
import { basic, bcryptHash, httpsCall, makeCa, makeLeaf, writeWebConfig } from '../../test/support/pki.ts';

/** One system under test, started empty for each run. */
export interface IngestTarget {
  readonly name: string;
  /** Flags and settings, printed before any result. */
  readonly settings: string;
  start(dir: string): Promise<RunningTarget>;
}

export interface RunningTarget {
  /** Remote-write 1.0 endpoint. */
  readonly writeUrl: string;
  /** The processes whose CPU time is the target's cost, by name. */
  readonly processes: readonly { name: string; pid: number }[];
  /** Samples the store holds with timestamps in [fromMs, toMs], counted in the store itself. */
  storedSamples(fromMs: number, toMs: number): Promise<number>;
  /** For a TLS target: the CA and the Authorization header a sender needs. */
  readonly secure?: { ca: Buffer; authorization: string };
  /** A line of target-specific figures after the run (e.g. inserts). */
  notes(): Promise<string>;
  stop(): Promise<void>;
}

/** rtcmon adapter (a process from the sources) on one clickhouse-server 18.16. */
export function rtcmonSingleNode(opts: {
  adapterArgs: readonly string[];
  profileDir?: string;
  /** Behind --web.config.file: TLS (server certificate, no client certificate) and bcrypt basic auth. */
  tls?: boolean;
}): IngestTarget {
  return {
    name: opts.tls ? 'rtcmon TLS+basic auth' : 'rtcmon adapter+ClickHouse',
    settings:
      `adapter ${opts.adapterArgs.join(' ') || '(defaults)'}; ClickHouse 18.16 defaults` +
      (opts.tls
        ? '; --web.config.file: TLS 1.2-1.3 (P-256 certificate), basic_auth_users bcrypt cost 10'
        : ''),
    async start(dir) {
      const logDir = join(dir, 'logs');
      const ch = await startClickHouse({ dir: join(dir, 'clickhouse'), logDir });
      const port = await freePort();
      const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
      let secure: { ca: Buffer; authorization: string } | undefined;
      const webArgs: string[] = [];
      if (opts.tls) {
        const pki = join(dir, 'pki');
        const ca = makeCa(pki, 'ca');
        const server = makeLeaf(pki, ca, 'server');
        const password = randomBytes(12).toString('hex');
        writeWebConfig(join(pki, 'web.yml'), {
          tls_server_config: { cert_file: server.cert, key_file: server.key },
          basic_auth_users: { prometheus: bcryptHash(password, 10) },
        });
        webArgs.push(`--web.config.file=${join(pki, 'web.yml')}`);
        secure = { ca: readFileSync(ca.cert), authorization: basic('prometheus', password) };
      }
      const get = async (path: string): Promise<{ ok: boolean; text: string }> => {
        if (!secure) {
          const r = await fetch(`${url}${path}`);
          return { ok: r.ok, text: await r.text() };
        }
        const r = await httpsCall(`${url}${path}`, {
          ca: join(dir, 'pki', 'ca.crt'),
          auth: secure.authorization,
        });
        return { ok: r.status === 200, text: r.body.toString() };
      };
      let adapter: Awaited<ReturnType<typeof startProcess>>;
      try {
        adapter = await startProcess({
          name: 'adapter',
          command: process.execPath,
          // --cpu-prof is not allowed in NODE_OPTIONS: node runs the CLI directly.
          args: [
            ...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []),
            RTCMON_BIN,
            'adapter',
            `--web.listen-address=127.0.0.1:${port}`,
            `--clickhouse.url=${ch.url}`,
            '--clickhouse.database=bench',
            '--log.level=warn',
            ...webArgs,
            ...opts.adapterArgs,
          ],
          logDir,
          ready: () =>
            secure
              ? get('/-/ready').then(
                  (r) => r.ok,
                  () => false,
                )
              : httpOk(`${url}/-/ready`),
        });
      } catch (err) {
        await ch.stop();
        throw err;
      }
      const metric = (text: string, name: string) =>
        Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
      return {
        writeUrl: `${url}/write`,
        ...(secure ? { secure } : {}),
        processes: [
          { name: 'adapter', pid: adapter.pid },
          { name: 'ClickHouse', pid: ch.process.pid },
        ],
        // FINAL: a 5xx that was resent may have been stored twice physically; the key collapses it.
        storedSamples: async (from, to) =>
          Number(
            await ch.query(
              `SELECT count() FROM bench.samples FINAL WHERE timestamp_ms >= ${from} AND timestamp_ms <= ${to}`,
            ),
          ),
        async notes() {
          const m = (await get('/metrics')).text;
          const inserts = metric(m, 'rtcmon_adapter_batch_samples_count');
          const rows = Number(await ch.query('SELECT count() FROM bench.samples'));
          // Seconds spent waiting for ClickHouse's inserts, per table (they overlap when inserts run at once).
          const busy = [
            ...m.matchAll(
              /^rtcmon_adapter_insert_duration_seconds_sum\{table="(\w+)",outcome="ok"\} (\S+)$/gm,
            ),
          ]
            .map((x) => `${x[1]} ${Number(x[2]).toFixed(2)} s`)
            .join(', ');
          return `${inserts} sample inserts, ${(metric(m, 'rtcmon_adapter_batch_samples_sum') / inserts).toFixed(0)} samples and ${(metric(m, 'rtcmon_adapter_batch_requests_sum') / inserts).toFixed(1)} requests per insert; ${rows} physical rows; insert time ${busy}`;
        },
        async stop() {
          await adapter.stop();
          await ch.stop();
        },
      };
    },
  };
}

/** Single-node VictoriaMetrics 1.79 (the Debian package) with its defaults and the search cache off. */
export function victoriaMetrics(): IngestTarget {
  return {
    name: 'VictoriaMetrics',
    settings:
      'victoria-metrics 1.79 defaults, -search.disableCache -search.latencyOffset=0s -search.maxQueryDuration=10m (for the count)',
    async start(dir) {
      const vm = await startVictoriaMetrics({
        dir: join(dir, 'vm'),
        logDir: join(dir, 'logs'),
        extraArgs: ['-search.disableCache', '-search.maxQueryDuration=10m'],
      });
      return {
        writeUrl: vm.writeUrl,
        processes: [{ name: 'VictoriaMetrics', pid: vm.process.pid }],
        async storedSamples(from, to) {
          // Recent rows sit in memory buffers until flushed (about a second); flush so every one is searchable.
          await fetch(`${vm.url}/internal/force_flush`);
          const u = new URL(`${vm.url}/api/v1/query`);
          u.searchParams.set('query', `sum(count_over_time({__name__!=""}[${to - from + 1}ms]))`);
          u.searchParams.set('time', (to / 1000).toFixed(3));
          const res = (await (await fetch(u)).json()) as {
            status: string;
            data?: { result: { value: [number, string] }[] };
            error?: string;
          };
          if (res.status !== 'success') throw new Error(`VictoriaMetrics count: ${res.error}`);
          return Number(res.data?.result[0]?.value[1] ?? 0);
        },
        notes: async () => '',
        stop: () => vm.stop(),
      };
    },
  };
}

/**
 * rtcmon adapter in cluster mode on ClickHouse 3 shards × 2 replicas with three ZooKeeper servers (the
 * test rig's launchers). Stored means on both replicas of every shard: each replica's local table is
 * counted after SYSTEM SYNC REPLICA, and the smaller of the two counts of a shard is what it holds.
 */
export function rtcmonCluster(opts: { adapterArgs: readonly string[] }): IngestTarget {
  return {
    name: 'rtcmon adapter+CH 3x2',
    settings: `adapter --clickhouse.cluster ${opts.adapterArgs.join(' ') || '(defaults)'}; ClickHouse 18.16 3 shards x 2 replicas (receive_timeout 10 s, session_timeout_ms 10000), ZooKeeper 3.8 x 3 (-Xmx256m); CPU counted over the adapter, the six clickhouse-server and the three ZooKeeper processes`,
    async start(dir) {
      const { startZooKeeper } = await import('../../src/stack/servers/zookeeper.ts');
      const { startClickHouseCluster } = await import('../../src/stack/servers/clickhouse-cluster.ts');
      const logDir = join(dir, 'logs');
      const zk = await startZooKeeper({ dir: join(dir, 'zk'), logDir });
      const cluster = await startClickHouseCluster({ dir, logDir, zookeeper: zk.nodes }).catch(
        async (err) => {
          await zk.stop();
          throw err;
        },
      );
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      let adapter: Awaited<ReturnType<typeof startProcess>>;
      try {
        adapter = await startProcess({
          name: 'adapter',
          command: RTCMON_BIN,
          args: [
            'adapter',
            `--web.listen-address=127.0.0.1:${port}`,
            `--clickhouse.cluster=${cluster.name}`,
            `--clickhouse.nodes=${cluster.urls.join(',')}`,
            '--clickhouse.database=bench',
            '--log.level=warn',
            ...opts.adapterArgs,
          ],
          logDir,
          ready: () => httpOk(`${url}/-/ready`),
          readyTimeoutMs: 180_000,
        });
      } catch (err) {
        await cluster.stop();
        await zk.stop();
        throw err;
      }
      const query = async (u: string, sql: string) => {
        const res = await fetch(`${u}/`, { method: 'POST', body: sql });
        const text = await res.text();
        if (!res.ok) throw new Error(`${u}: ${text}`);
        return text;
      };
      const perReplica = async (from: number, to: number) =>
        Promise.all(
          cluster.nodes.map(async (n) => {
            await query(n.url, 'SYSTEM SYNC REPLICA bench.samples_local');
            return Number(
              await query(
                n.url,
                `SELECT count() FROM bench.samples_local FINAL WHERE timestamp_ms >= ${from} AND timestamp_ms <= ${to}`,
              ),
            );
          }),
        );
      let lastCounts: number[] = [];
      return {
        writeUrl: `${url}/write`,
        processes: [
          { name: 'adapter', pid: adapter.pid },
          ...cluster.nodes.map((n) => ({
            name: `CH s${n.shard + 1}r${n.replica + 1}`,
            pid: n.ch.process.pid,
          })),
          ...zk.servers.map((s) => ({ name: `ZK${s.node.id}`, pid: s.process.pid })),
        ],
        async storedSamples(from, to) {
          lastCounts = await perReplica(from, to);
          let total = 0;
          for (let s = 0; s < cluster.layout.shards.length; s++)
            total += Math.min(
              ...cluster.nodes.filter((n) => n.shard === s).map((n) => lastCounts[cluster.nodes.indexOf(n)]!),
            );
          return total;
        },
        async notes() {
          return `per replica (s1r1, s1r2, …): ${lastCounts.join(', ')}`;
        },
        async stop() {
          await adapter.stop();
          await cluster.stop();
          await zk.stop();
        },
      };
    },
  };
}
