import { type ConfigOf, loadConfig, options } from '../lib/config.ts';
import { webOptions } from '../lib/web-config.ts';

/** Every flag of `rtcmon console` (also env `RTCMON_…` and YAML keys). */
export const spec = {
  ...webOptions,
  listen: options.listen('web.listen-address', { host: '', port: 3000 }, 'Address to serve the console on.'),
  prometheusUrl: options.url(
    'prometheus.url',
    'http://127.0.0.1:9090',
    'Prometheus HTTP API base URL (queries are proxied to it).',
  ),
  prometheusTimeout: options.duration('prometheus.timeout', 30_000, 'Timeout of one proxied query.'),
  scrapeInterval: options.duration(
    'prometheus.scrape-interval',
    15_000,
    'Prometheus’ scrape interval: the smallest query step and the base of $__rate_interval.',
  ),
  dispatcherUrl: options.url(
    'dispatcher.url',
    'http://127.0.0.1:8080',
    'Dispatcher API base URL (fleet page, allocation answers, drain/undrain).',
  ),
  dispatcherTimeout: options.duration(
    'dispatcher.timeout',
    10_000,
    'Timeout of one proxied dispatcher call.',
  ),
  dashboardsDir: options.string(
    'dashboards.dir',
    '',
    'Folder of Grafana dashboard JSON files to render (default: the dashboards/ folder shipped in the package).',
  ),
};

export type ConsoleConfig = ReturnType<typeof loadConsoleConfig>;

/** Parses argv/env/YAML once; bad values throw a ConfigError naming the key. */
export function loadConsoleConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<typeof spec> & { readonly logLevel: string; readonly configFile: string } {
  return loadConfig(spec, argv, env);
}
