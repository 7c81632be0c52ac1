import { usage } from '../lib/config.ts';
import { closeOnSignals, createRegistry, serve } from '../lib/http.ts';
import { createLogger, type LogLevel } from '../lib/logger.ts';
import { readSecretFile } from '../lib/secret-file.ts';
import { createDispatcherApp } from './app.ts';
import { Chooser } from './chooser.ts';
import { loadDispatcherConfig, spec } from './config.ts';
import { createDispatcherMetrics } from './metrics.ts';
import { createPrometheusApi } from './prometheus-api.ts';
import { createRefresher } from './refresher.ts';
import { createDispatchService } from './service.ts';
import { createRedisStore, memoryStore, type SharedStore } from './store.ts';

/** `rtcmon dispatcher`: config → chooser + store (Redis) → dispatch service + refresher → HTTP API → graceful shutdown. */
export async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    process.stdout.write(usage('dispatcher', spec));
    return;
  }
  const { cfg, policy } = loadDispatcherConfig(argv);
  const logger = createLogger({ level: cfg.logLevel as LogLevel, role: 'dispatcher' });
  const clock = Date.now;
  const chooser = new Chooser(policy);
  const registry = createRegistry();
  const metrics = createDispatcherMetrics(registry, chooser, clock);

  const store: SharedStore = cfg.redisUrl
    ? createRedisStore({
        url: cfg.redisUrl,
        prefix: cfg.redisPrefix,
        roomTtlMs: policy.roomTtlMs,
        logger: logger.child({ module: 'redis' }),
      })
    : memoryStore;
  const service = createDispatchService({
    chooser,
    store,
    metrics,
    logger: logger.child({ module: 'dispatch' }),
    clock,
  });
  await service.start();

  const refresher = createRefresher({
    chooser,
    prometheus: createPrometheusApi(cfg.prometheusUrl),
    rateWindow: cfg.rateWindow,
    intervalMs: cfg.refreshInterval,
    timeoutMs: Math.min(cfg.prometheusTimeout, Math.max(500, cfg.refreshInterval)),
    forgetAfterMs: policy.forgetAfterMs,
    excludeAfterMs: policy.excludeAfterMs,
    fleetLossIsBlind: cfg.fleetLossIsBlind,
    logger: logger.child({ module: 'refresher' }),
    clock,
    onRefresh: (o) => {
      metrics.refresh(o);
      void service.syncDrains();
    },
  });
  refresher.start();

  const app = createDispatcherApp({
    service,
    logger: logger.child({ module: 'api' }),
    apiToken: readSecretFile(cfg.apiTokenFile, 'api.token-file', 'RTCMON_API_TOKEN'),
  });
  const served = await serve({
    app,
    listen: cfg.listen,
    logger,
    registry,
    ready: () => refresher.loaded,
    web: cfg,
    onShutdown: async () => {
      await refresher.stop();
      await store.close();
    },
  });
  logger.info(
    { prometheus: cfg.prometheusUrl, redis: cfg.redisUrl || null, url: served.url },
    'dispatcher started',
  );
  closeOnSignals(served.close, logger);
}
