import { setTimeout as sleep } from 'node:timers/promises';
import { usage } from '../lib/config.ts';
import { closeOnSignals, createRegistry, serve } from '../lib/http.ts';
import { createLogger } from '../lib/logger.ts';
import { readCaFile, readSecretFile } from '../lib/secret-file.ts';
import { createAdapterApp } from './app.ts';
import { createBatcher } from './batcher.ts';
import { createBudget } from './budget.ts';
import { type ClickHouseClient, createClickHouseClient } from './clickhouse.ts';
import {
  checkCluster,
  clusterHealth,
  createClusterMetrics,
  createFailoverClient,
  createTopology,
} from './cluster.ts';
import { describeClusterState, migrateCluster } from './cluster-schema.ts';
import { createClusterStore } from './cluster-store.ts';
import { adapterSpec, loadAdapterConfig } from './config.ts';
import { SeriesCache } from './decode.ts';
import { createAdapterMetrics, createReadMetrics } from './metrics.ts';
import { migrate } from './schema.ts';
import { createWorkerCompressor } from './snappy.ts';
import { createStore, type WriteChunk } from './store.ts';

/**
 * `rtcmon adapter [flags]`: Prometheus remote storage on ClickHouse.
 * `rtcmon adapter migrate [flags]`: creates or upgrades the schema, then exits (idempotent).
 */
export async function main(argv: string[]): Promise<void> {
  const sub = argv[0] === 'migrate' ? 'migrate' : 'serve';
  const args = sub === 'migrate' ? argv.slice(1) : argv;
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage('adapter', adapterSpec));
    process.stdout.write('\n  rtcmon adapter migrate [flags]   create or upgrade the schema and exit\n');
    return;
  }
  const config = loadAdapterConfig(args);
  const logger = createLogger({ level: config.logLevel, role: 'adapter' });
  const registry = createRegistry();
  const metrics = createAdapterMetrics(registry);
  const clickhousePassword = readSecretFile(
    config.clickhousePasswordFile,
    'clickhouse.password-file',
    'RTCMON_CLICKHOUSE_PASSWORD',
  );
  const clickhouseCa = config.clickhouseCaFile ? readCaFile(config.clickhouseCaFile) : undefined;
  const connect = (url: string): ClickHouseClient =>
    createClickHouseClient({
      url,
      database: config.clickhouseDatabase,
      user: config.clickhouseUser,
      password: clickhousePassword,
      ...(clickhouseCa ? { ca: clickhouseCa } : {}),
      timeoutMs: config.clickhouseTimeoutMs,
      idleSocketTtlMs: config.clickhouseIdleSocketTtlMs,
      events: {
        connected: () => metrics.clickhouseConnections.inc(),
        staleDropped: () => metrics.clickhouseStaleSockets.inc(),
        retried: () => metrics.clickhouseRetries.inc(),
      },
    });
  const cluster = config.clickhouseCluster;
  const nodeUrls = config.clickhouseNodes.length > 0 ? config.clickhouseNodes : [config.clickhouseUrl];
  const nodes = cluster ? nodeUrls.map(connect) : [];
  // A cluster's reads go over the Distributed tables through any node that answers.
  const ch = cluster
    ? createFailoverClient(nodes, {
        // Bounded staleness: a replica lagging more than this is skipped while its twin is fresher.
        max_replica_delay_for_distributed_queries: Math.ceil(config.clickhouseMaxReplicaDelayMs / 1000),
        fallback_to_stale_replicas_for_distributed_queries: 1,
        skip_unavailable_shards: 0,
        load_balancing: 'in_order',
      })
    : connect(config.clickhouseUrl);

  if (sub === 'migrate' && cluster) {
    try {
      const r = await migrateCluster(ch, { cluster, timeoutMs: config.clickhouseMigrateTimeoutMs });
      process.stdout.write(
        [
          `schema of ${config.clickhouseDatabase} on cluster ${cluster} (ClickHouse ${r.features.version}), latest migration ${r.current}; sent ON CLUSTER now: ${r.sent.length ? r.sent.join(', ') : 'none'}`,
          ...describeClusterState(r.hosts).map((l) => `  ${l}`),
          r.complete
            ? 'every host is up to date'
            : 'some hosts have not applied every migration: they run the queued statements when they return; run migrate again to check',
          '',
        ].join('\n'),
      );
      if (!r.complete) process.exitCode = 3;
    } finally {
      ch.close();
    }
    return;
  }
  if (sub === 'migrate') {
    try {
      const r = await migrate(ch);
      process.stdout.write(
        `schema of ${config.clickhouseDatabase} at version ${r.current} on ClickHouse ${r.features.version}` +
          ` (applied now: ${r.applied.length ? r.applied.join(', ') : 'none'}; features: ${JSON.stringify(r.features)})\n`,
      );
    } finally {
      ch.close();
    }
    return;
  }

  metrics.inflightLimit.set(config.writeMaxInflightBytes);
  const log = logger.child({ module: 'write' });

  // The schema is created in the background, retried until ClickHouse answers; writes get 503 meanwhile.
  let migrated = !config.migrate;
  let stopping = false;
  const migration = (async () => {
    for (let attempt = 0; config.migrate && !stopping; attempt++) {
      try {
        if (cluster) {
          const r = await migrateCluster(ch, { cluster, timeoutMs: config.clickhouseMigrateTimeoutMs });
          const lagging = r.hosts.filter((h) => h.pending.length > 0);
          logger[lagging.length ? 'warn' : 'info'](
            { cluster, sent: r.sent, hosts: describeClusterState(r.hosts) },
            lagging.length ? 'schema sent; some hosts have not applied it yet' : 'schema ready on every host',
          );
          migrated = true;
          if (lagging.length === 0) return;
          await sleep(30_000);
          continue;
        }
        const r = await migrate(ch);
        logger.info(
          {
            version: r.current,
            applied: r.applied,
            features: r.features,
            database: config.clickhouseDatabase,
          },
          'schema ready',
        );
        migrated = true;
        metrics.clickhouseUp.set(1);
        return;
      } catch (err) {
        metrics.clickhouseUp.set(0);
        logger.error({ err, attempt }, 'schema migration failed; retrying');
        await sleep(Math.min(10_000, 500 * 2 ** Math.min(attempt, 5)));
      }
    }
  })();

  const topology = cluster ? createTopology(cluster, nodes) : undefined;
  const clusterMetrics = cluster ? createClusterMetrics(registry) : undefined;
  const health = async () => {
    if (topology && clusterMetrics)
      await checkCluster(
        topology,
        config.clickhouseDatabase,
        clusterMetrics,
        logger.child({ module: 'cluster' }),
      );
  };
  await health();
  const healthTimer = topology ? setInterval(() => void health(), 2_000) : undefined;
  healthTimer?.unref();
  const store =
    topology && clusterMetrics
      ? createClusterStore({
          topology,
          metrics,
          clusterMetrics,
          logger: log,
          insertTimeoutMs: config.clickhouseInsertTimeoutMs,
          insertQuorum: config.clickhouseInsertQuorum,
          retryAfterMs: config.writeRetryAfterMs,
        })
      : createStore({ ch, metrics, logger: log });
  const batcher = createBatcher<WriteChunk>({
    flush: async (chunks) => {
      try {
        await store(chunks);
      } catch (err) {
        metrics.clickhouseUp.set(0);
        log.error({ err: (err as Error).message, requests: chunks.length }, 'insert failed');
        throw err;
      }
    },
    maxRows: config.batchMaxRows,
    minRows: config.batchMinRows,
    maxDelayMs: config.batchMaxDelayMs,
    maxConcurrent: config.batchMaxConcurrentInserts,
    logger: log,
  });
  // Large remote-read answers are snappy-compressed on a worker thread, beside their encoding.
  const compressor = createWorkerCompressor();
  const app = createAdapterApp({
    config,
    logger,
    write: {
      batcher,
      budget: createBudget(config.writeMaxInflightBytes, (used) => metrics.inflightBytes.set(used)),
      cache: new SeriesCache(config.seriesCacheSize),
      metrics,
      logger: log,
      maxDecodedBytes: config.writeMaxDecodedBytes,
      retryAfterMs: config.writeRetryAfterMs,
      seriesRefreshMs: config.seriesRefreshMs,
      isMigrated: () => migrated,
    },
    read: {
      ch,
      options: {
        maxSeries: config.readMaxSeries,
        maxSamples: config.readMaxSamples,
        maxRangeMs: config.readMaxRangeMs,
        maxConcurrent: config.readMaxConcurrent,
        queueTimeoutMs: config.readQueueTimeoutMs,
        stripLabels: config.readStripLabels,
        maxFrameBytes: config.readMaxFrameBytes,
      },
      metrics: createReadMetrics(registry),
      logger: logger.child({ module: 'read' }),
      retryAfterMs: config.writeRetryAfterMs,
      compressor,
    },
  });
  const served = await serve({
    app,
    listen: config.listen,
    logger,
    registry,
    shutdownGraceMs: config.shutdownGraceMs,
    web: config,
    ready: async () => {
      if (topology) {
        const h = clusterHealth(topology);
        return { ok: migrated && h.writable, detail: JSON.stringify({ migrated, ...h }, null, 1) };
      }
      const up = await ch.ping();
      metrics.clickhouseUp.set(up ? 1 : 0);
      return migrated && up;
    },
    onShutdown: async () => {
      stopping = true;
      if (healthTimer) clearInterval(healthTimer);
      // Requests still waiting were answered 503 by the server's grace period; what is queued is stored.
      await batcher.close();
      await Promise.race([migration, sleep(100)]);
      ch.close();
      await compressor.close();
      logger.info('stopped');
    },
  });
  logger.info(
    { url: served.url, clickhouse: config.clickhouseUrl, database: config.clickhouseDatabase },
    'adapter listening',
  );
  closeOnSignals(served.close, logger);
}
