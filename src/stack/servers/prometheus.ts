import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, httpOk, type ManagedProcess, startProcess } from './process.ts';

export interface ScrapeJob {
  job: string;
  targets: readonly string[];
  /** Extra labels on every target of the job. */
  labels?: Record<string, string>;
  metricsPath?: string;
  scrapeInterval?: string;
  /** `https` for a role serving TLS. @default http */
  scheme?: 'http' | 'https';
  /** Prometheus HTTP client settings for the job (`basic_auth`, `tls_config`, `authorization`). */
  client?: Record<string, unknown>;
}

export interface PrometheusOptions {
  dir: string;
  port?: number;
  logDir?: string;
  name?: string;
  scrapeInterval?: string;
  externalLabels?: Record<string, string>;
  jobs: readonly ScrapeJob[];
  /** Adapter write URL(s): remote_write. */
  remoteWrite?: readonly {
    url: string;
    queueConfig?: Record<string, unknown>;
    client?: Record<string, unknown>;
  }[];
  /** Adapter read URL(s): remote_read. */
  remoteRead?: readonly { url: string; readRecent?: boolean; client?: Record<string, unknown> }[];
  /** Extra command-line flags. */
  extraArgs?: readonly string[];
}

export interface Prometheus {
  readonly url: string;
  readonly port: number;
  readonly configFile: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
  restart(): Promise<Prometheus>;
}

/** Builds prometheus.yml for the given jobs and remote storage. */
export function prometheusConfig(opts: PrometheusOptions): string {
  const cfg: Record<string, unknown> = {
    global: {
      scrape_interval: opts.scrapeInterval ?? '15s',
      evaluation_interval: opts.scrapeInterval ?? '15s',
      ...(opts.externalLabels ? { external_labels: opts.externalLabels } : {}),
    },
    scrape_configs: opts.jobs.map((j) => ({
      job_name: j.job,
      ...(j.metricsPath ? { metrics_path: j.metricsPath } : {}),
      ...(j.scrapeInterval ? { scrape_interval: j.scrapeInterval } : {}),
      ...(j.scheme ? { scheme: j.scheme } : {}),
      ...j.client,
      static_configs: [{ targets: j.targets, ...(j.labels ? { labels: j.labels } : {}) }],
    })),
  };
  if (opts.remoteWrite?.length)
    cfg.remote_write = opts.remoteWrite.map((w) => ({
      url: w.url,
      send_exemplars: false,
      metadata_config: { send: true, send_interval: '1m' },
      ...(w.queueConfig ? { queue_config: w.queueConfig } : {}),
      ...w.client,
    }));
  if (opts.remoteRead?.length)
    cfg.remote_read = opts.remoteRead.map((r) => ({
      url: r.url,
      read_recent: r.readRecent ?? false,
      ...r.client,
    }));
  return stringify(cfg);
}

/** Starts Prometheus with a generated config and its TSDB under `dir`, on 127.0.0.1. */
export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  const port = opts.port ?? (await freePort());
  mkdirSync(join(opts.dir, 'data'), { recursive: true });
  const configFile = join(opts.dir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig(opts));
  const url = `http://127.0.0.1:${port}`;
  const start = async (): Promise<Prometheus> => {
    const proc = await startProcess({
      name: opts.name ?? 'prometheus',
      command: '/usr/bin/prometheus',
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(opts.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-lifecycle',
        '--log.level=warn',
        ...(opts.extraArgs ?? []),
      ],
      cwd: opts.dir,
      logDir: opts.logDir ?? opts.dir,
      ready: () => httpOk(`${url}/-/ready`),
    });
    return {
      url,
      port,
      configFile,
      process: proc,
      stop: () => proc.stop(),
      restart: async () => {
        await proc.stop();
        return start();
      },
    };
  };
  return start();
}

/** Rewrites a running Prometheus' config (e.g. with more scrape jobs) and reloads it (/-/reload). */
export async function reloadPrometheus(prom: Prometheus, opts: PrometheusOptions): Promise<void> {
  writeFileSync(prom.configFile, prometheusConfig(opts));
  const r = await fetch(`${prom.url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`prometheus reload: HTTP ${r.status}: ${(await r.text()).trim()}`);
}
