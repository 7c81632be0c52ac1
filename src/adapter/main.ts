import { setTimeout as sleep } from 'node:timers/promises';
import { usage } from '../lib/config.ts';
import { closeOnSignals, createRegistry, serve } from '../lib/http.ts';
import { createLogger } from '../lib/logger.ts';
import { createAdapterApp } from './app.ts';
import { createBatcher } from './batcher.ts';
import { createBudget } from './budget.ts';
import { createClickHouseClient } from './clickhouse.ts';
import { adapterSpec, loadAdapterConfig } from './config.ts';
import { SeriesCache } from './decode.ts';
import { createAdapterMetrics, createReadMetrics } from './metrics.ts';
import { migrate } from './schema.ts';
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
  const ch = createClickHouseClient({
    url: config.clickhouseUrl,
    database: config.clickhouseDatabase,
    user: config.clickhouseUser,
    password: config.clickhousePassword,
    timeoutMs: config.clickhouseTimeoutMs,
    idleSocketTtlMs: config.clickhouseIdleSocketTtlMs,
    events: {
      connected: () => metrics.clickhouseConnections.inc(),
      staleDropped: () => metrics.clickhouseStaleSockets.inc(),
      retried: () => metrics.clickhouseRetries.inc(),
    },
  });

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

  const store = createStore({ ch, metrics, logger: log });
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
    maxDelayMs: config.batchMaxDelayMs,
    maxConcurrent: config.batchMaxConcurrentInserts,
    logger: log,
  });
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
      const up = await ch.ping();
      metrics.clickhouseUp.set(up ? 1 : 0);
      return migrated && up;
    },
    onShutdown: async () => {
      stopping = true;
      // Requests still waiting were answered 503 by the server's grace period; what is queued is stored.
      await batcher.close();
      await Promise.race([migration, sleep(100)]);
      ch.close();
      logger.info('stopped');
    },
  });
  logger.info(
    { url: served.url, clickhouse: config.clickhouseUrl, database: config.clickhouseDatabase },
    'adapter listening',
  );
  closeOnSignals(served.close, logger);
}
