import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from '../lib/logger.ts';
import type { StackContext, StackPart, StartedPart } from './part.ts';
import { freePort } from './servers/process.ts';
import {
  type PrometheusOptions,
  reloadPrometheus,
  type ScrapeJob,
  startPrometheus,
} from './servers/prometheus.ts';

export interface StackOptions {
  readonly runDir: string;
  readonly logger: Logger;
  readonly scrapeInterval: string;
  /** Preferred Prometheus port (a free one if taken). */
  readonly prometheusPort: number;
  readonly parts: readonly StackPart[];
  /**
   * Ports: each part's preferred port when free (for people), or always a free one (tests: on a shared
   * machine a stopped stack's Prometheus may still be sending to the port an adapter used to have).
   * @default 'preferred'
   */
  readonly ports?: 'preferred' | 'free';
}

export interface Stack {
  /** Parts started so far, in start order (Prometheus among them). */
  readonly started: readonly { readonly name: string; readonly part: StartedPart }[];
  readonly logDir: string;
  /** Set once Prometheus is up. */
  readonly prometheusUrl: string | undefined;
  /** Starts every part phase by phase; on failure stops what was started and rethrows. */
  start(): Promise<void>;
  /** Stops what was started, newest first (also while start() is still running). */
  stop(progress?: (name: string) => void): Promise<void>;
}

/**
 * The whole system on 127.0.0.1 (`rtcmon stack`, and tests that need all of it): storage, sources,
 * Prometheus scraping every part (itself too), then consumers; parts of the consumers phase that serve
 * /metrics are added to Prometheus' scrape jobs by a config reload.
 */
export function createStack(opts: StackOptions): Stack {
  const { runDir, logger } = opts;
  const logDir = resolve(runDir, 'logs');
  const taken = new Set<number>();
  const ctx: StackContext = {
    runDir,
    logDir,
    logger,
    scrapeInterval: opts.scrapeInterval,
    async port(preferred) {
      const free = await new Promise<boolean>((ok) => {
        const s = createServer().once('error', () => ok(false));
        s.listen(preferred, '127.0.0.1', () => s.close(() => ok(true)));
      });
      const port =
        opts.ports !== 'free' && preferred > 0 && free && !taken.has(preferred)
          ? preferred
          : await freePort();
      taken.add(port);
      return port;
    },
  };
  const started: { name: string; part: StartedPart }[] = [];
  const stop = async (progress?: (name: string) => void) => {
    while (started.length > 0) {
      const { name, part } = started.pop()!;
      progress?.(name);
      await part.stop().catch((err: unknown) => logger.error({ err, part: name }, 'stop failed'));
    }
  };
  const runPhase = async (phase: StackPart['phase']) => {
    for (const p of opts.parts.filter((x) => x.phase === phase)) {
      logger.info({ part: p.name }, 'starting');
      started.push({ name: p.name, part: await p.start(ctx) });
    }
  };
  const jobsOf = (from: readonly { part: StartedPart }[]) => from.flatMap((s) => s.part.scrapeJobs ?? []);

  return {
    started,
    logDir,
    get prometheusUrl() {
      return ctx.prometheusUrl;
    },
    async start() {
      mkdirSync(logDir, { recursive: true });
      try {
        await runPhase('storage');
        await runPhase('sources');
        const promPort = await ctx.port(opts.prometheusPort);
        const beforeConsumers = started.length;
        const promOpts: PrometheusOptions = {
          dir: resolve(runDir, 'prometheus'),
          port: promPort,
          logDir,
          scrapeInterval: opts.scrapeInterval,
          jobs: [
            { job: 'prometheus', targets: [`127.0.0.1:${promPort}`] },
            ...jobsOf(started),
          ] as ScrapeJob[],
          remoteWrite: started.flatMap((s) => s.part.remoteWrite ?? []),
          remoteRead: started.flatMap((s) => s.part.remoteRead ?? []),
        };
        const prom = await startPrometheus(promOpts);
        started.push({
          name: 'prometheus',
          part: { endpoints: { prometheus: prom.url }, stop: () => prom.stop() },
        });
        ctx.prometheusUrl = prom.url;
        await runPhase('consumers');
        const consumerJobs = jobsOf(started.slice(beforeConsumers));
        if (consumerJobs.length > 0)
          await reloadPrometheus(prom, { ...promOpts, jobs: [...promOpts.jobs, ...consumerJobs] });
      } catch (err) {
        logger.error({ err }, 'start-up failed; stopping what was started');
        await stop();
        throw err;
      }
    },
    stop,
  };
}
