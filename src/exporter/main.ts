import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import { loadConfig, type Spec, usage } from '../lib/config.ts';
import { closeOnSignals, createRegistry, serve } from '../lib/http.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { readSecretFile } from '../lib/secret-file.ts';
import { type SimServer, startSimServer } from '../sdk/sim-server.ts';
import { createExporter } from './app.ts';
import { exporterOptions } from './config.ts';
import { createPushSource } from './push.ts';
import { type Source, sdkSource } from './source.ts';

/**
 * The Janus source plugs in here when present (src/exporter/janus/index.ts, built separately): it
 * exports its flags and a factory that returns undefined when it is not configured.
 */
interface JanusModule {
  readonly janusOptions: Spec;
  createJanusSource(
    cfg: Readonly<Record<string, unknown>>,
    deps: { logger: Logger; registry: Registry },
  ): Source | undefined;
}

async function loadJanus(): Promise<JanusModule | undefined> {
  // index.ts from the sources, index.js once compiled to dist/
  const url = new URL(`./janus/index${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  if (!existsSync(fileURLToPath(url))) return undefined;
  return (await import(url.href)) as JanusModule;
}

/** `rtcmon exporter`: RTC server state (SDK demo fleet, JSON push, Janus) as Prometheus metrics. */
export async function main(argv: string[]): Promise<void> {
  const janus = await loadJanus();
  const spec = { ...exporterOptions, ...janus?.janusOptions };
  if (argv.includes('--help')) {
    process.stdout.write(usage('exporter', spec));
    return;
  }
  const cfg = loadConfig(spec, argv);
  const logger = createLogger({ level: cfg.logLevel, role: 'exporter' });
  const registry = createRegistry();

  const sources: Source[] = [];
  const sims: SimServer[] = [];
  const stopSims = () => Promise.all(sims.map((s) => s.stop()));
  try {
    for (let i = 0; i < cfg.simServers; i++) {
      const region = cfg.simRegions.length ? cfg.simRegions[i % cfg.simRegions.length] : undefined;
      const zone = cfg.simZones.length ? cfg.simZones[i % cfg.simZones.length] : undefined;
      sims.push(
        await startSimServer({
          id: `sim-${i}`,
          capacity: cfg.simCapacity,
          eip: cfg.simEip,
          port: cfg.simPortBase ? cfg.simPortBase + i : 0,
          churn: cfg.simChurnPeriod > 0 ? cfg.simChurnPeriod / 1000 : false,
          ...(region ? { region } : {}),
          ...(zone ? { zone } : {}),
        }),
      );
    }
  } catch (err) {
    await stopSims();
    throw err;
  }
  if (sims.length) {
    sources.push(sdkSource(sims.map((s) => s.metrics)));
    logger.info({ servers: sims.map((s) => `${s.id}=${s.url}`) }, 'simulated RTC servers started');
  }
  if (cfg.pushEnabled)
    sources.push(
      createPushSource({
        token: readSecretFile(cfg.pushTokenFile, 'push.token-file', 'RTCMON_PUSH_TOKEN'),
        staleAfterMs: cfg.pushStaleAfter,
        forgetAfterMs: cfg.pushForgetAfter,
        maxServers: cfg.pushMaxServers,
        maxBodyBytes: cfg.pushMaxBody,
        limits: { maxSeriesPerServer: cfg.pushMaxSeries },
        logger: logger.child({ module: 'push' }),
      }),
    );
  const janusSource = janus?.createJanusSource(cfg, { logger: logger.child({ module: 'janus' }), registry });
  if (janusSource) sources.push(janusSource);

  for (const s of sources) await s.start?.();
  const exporter = createExporter({ sources, logger, registry, collectTimeoutMs: cfg.collectTimeout });
  const served = await serve({
    app: exporter.app,
    listen: cfg.listen,
    logger,
    registry,
    ready: exporter.ready,
    web: cfg,
    metrics: (req) => exporter.scrape(req.headers.accept),
    onShutdown: async () => {
      for (const s of sources) await s.stop?.();
      await stopSims();
    },
  });
  logger.info({ sources: sources.map((s) => s.name), url: served.url }, 'exporter ready');
  closeOnSignals(served.close, logger);
}
