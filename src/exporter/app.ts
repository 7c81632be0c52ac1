/**
 * The exporter's HTTP handlers: GET /metrics renders every source's servers at scrape time (text or
 * OpenMetrics by Accept header), plus the sources' own routes (push, Janus events).
 */
import type { Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';
import { type App, createApp, type Reply, type Req, type Route } from '../lib/http.ts';
import type { Logger } from '../lib/logger.ts';
import {
  CONTENT_TYPES,
  negotiateFormat,
  type PromClientMetric,
  renderExposition,
  type ServerSnapshot,
} from '../sdk/index.ts';
import { mergeSnapshots, type Source } from './source.ts';

/** The scrape path; main.ts hands it to serve() as its /metrics handler. */
export const METRICS_ROUTE = '/metrics';

export interface ExporterDeps {
  sources: readonly Source[];
  logger: Logger;
  /** Self-metrics registry; its metrics are appended to /metrics. */
  registry?: Registry;
  /** @default 2000 */
  collectTimeoutMs?: number;
}

export interface Exporter {
  readonly app: App;
  /** Every source's servers now (what one scrape renders). */
  collect(): Promise<ServerSnapshot[]>;
  /** The /metrics answer for an Accept header. */
  scrape(accept?: string): Promise<Reply>;
  ready(): boolean;
}

const down = (s: ServerSnapshot): ServerSnapshot => ({
  server: s.server,
  up: false,
  ...(s.info ? { info: s.info } : {}),
});

export function createExporter(deps: ExporterDeps): Exporter {
  const { sources, logger } = deps;
  const timeoutMs = deps.collectTimeoutMs ?? 2000;
  const registers = deps.registry ? [deps.registry] : [];
  const errors = new Counter({
    name: 'rtcmon_exporter_collect_errors_total',
    help: 'Source collections that failed or timed out, by source.',
    labelNames: ['source'],
    registers,
  });
  const duration = new Histogram({
    name: 'rtcmon_exporter_collect_duration_seconds',
    help: 'Time to collect and render every source at a scrape.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  const serversGauge = new Gauge({
    name: 'rtcmon_exporter_servers',
    help: 'RTC servers exposed at the last scrape, by source.',
    labelNames: ['source'],
    registers,
  });
  const lastGood = new Map<Source, readonly ServerSnapshot[]>();
  const pending = new Map<Source, Promise<readonly ServerSnapshot[]>>();
  const clashes = new Set<string>();

  const collectOne = async (src: Source): Promise<readonly ServerSnapshot[]> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      // A collection still running from an earlier scrape is awaited again, never started twice.
      let running = pending.get(src);
      if (!running) {
        running = Promise.resolve()
          .then(() => src.collect())
          .finally(() => pending.delete(src));
        running.catch(() => {});
        pending.set(src, running);
      }
      const got = await Promise.race([
        running,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`collect took longer than ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      lastGood.set(src, got);
      return got;
    } catch (err) {
      errors.inc({ source: src.name });
      logger.warn({ err, source: src.name }, 'collect failed; exposing its servers as down');
      return (lastGood.get(src) ?? []).map(down);
    } finally {
      clearTimeout(timer);
    }
  };

  const collect = async (): Promise<ServerSnapshot[]> => {
    const per = await Promise.all(sources.map(collectOne));
    sources.forEach((s, i) => {
      serversGauge.set({ source: s.name }, per[i]!.length);
    });
    return mergeSnapshots(per, (server) => {
      if (clashes.has(server) || clashes.size > 1000) return; // once per id, not at every scrape
      clashes.add(server);
      logger.warn({ server }, 'two sources report the same server id; the first source wins');
    });
  };

  const scrape = async (accept?: string): Promise<Reply> => {
    const end = duration.startTimer();
    const format = negotiateFormat(accept);
    const snaps = await collect();
    end();
    const self = deps.registry
      ? ((await deps.registry.getMetricsAsJSON()) as unknown as PromClientMetric[]).filter(
          // prom-client's nodejs_active_*_total are gauges with a counter suffix, which promtool and
          // OpenMetrics reject: they are left out of the exposition.
          (m) => m.type === 'counter' || !m.name.endsWith('_total'),
        )
      : [];
    return {
      status: 200,
      headers: { 'content-type': CONTENT_TYPES[format] },
      body: renderExposition(snaps, format, self),
    };
  };

  const routes: Route[] = [
    {
      method: 'GET',
      path: METRICS_ROUTE,
      name: '/metrics',
      handler: (req: Req) => scrape(req.headers.accept),
    },
    ...sources.flatMap((s) => s.routes ?? []),
  ];
  return {
    app: createApp(routes, logger),
    collect,
    scrape,
    ready: () => sources.every((s) => s.ready?.() ?? true),
  };
}
