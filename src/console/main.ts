import { Counter } from 'prom-client';
import { usage } from '../lib/config.ts';
import { closeOnSignals, createRegistry, serve } from '../lib/http.ts';
import { createLogger, type LogLevel } from '../lib/logger.ts';
import { createConsoleApp } from './app.ts';
import { assetDirs } from './assets.ts';
import { loadConsoleConfig, spec } from './config.ts';
import { createDashboards } from './dashboards.ts';
import { createUpstream } from './upstream.ts';

/** `rtcmon console`: config → dashboards folder + Prometheus and dispatcher proxies → HTTP → shutdown. */
export async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    process.stdout.write(usage('console', spec));
    return;
  }
  const cfg = loadConsoleConfig(argv);
  const logger = createLogger({ level: cfg.logLevel as LogLevel, role: 'console' });
  const registry = createRegistry();
  const upstreamCalls = new Counter({
    name: 'rtcmon_console_upstream_requests_total',
    help: 'Calls relayed to Prometheus and the dispatcher, by upstream and status answered (502: unreachable).',
    labelNames: ['upstream', 'code'],
    registers: [registry],
  });
  const dirs = assetDirs(cfg.dashboardsDir);
  const dashboards = createDashboards(dirs.dashboards, logger.child({ module: 'dashboards' }));
  const app = createConsoleApp({
    dirs,
    dashboards,
    prometheus: createUpstream({
      name: 'prometheus',
      baseUrl: cfg.prometheusUrl,
      timeoutMs: cfg.prometheusTimeout,
      observe: (code) => upstreamCalls.labels('prometheus', String(code)).inc(),
    }),
    dispatcher: createUpstream({
      name: 'dispatcher',
      baseUrl: cfg.dispatcherUrl,
      timeoutMs: cfg.dispatcherTimeout,
      observe: (code) => upstreamCalls.labels('dispatcher', String(code)).inc(),
    }),
    settings: { scrapeIntervalMs: cfg.scrapeInterval },
    logger: logger.child({ module: 'api' }),
  });
  const served = await serve({ app, listen: cfg.listen, logger, registry, web: cfg });
  logger.info(
    {
      url: served.url,
      prometheus: cfg.prometheusUrl,
      dispatcher: cfg.dispatcherUrl,
      dashboards: dirs.dashboards,
      count: dashboards.list().length,
    },
    'console started',
  );
  closeOnSignals(served.close, logger);
}
