import type { Logger } from '../lib/logger.ts';
import type { ScrapeJob } from './servers/prometheus.ts';

/** What every part of the stack is given. */
export interface StackContext {
  /** Run directory: every generated config, data dir and log lives below it. */
  readonly runDir: string;
  readonly logDir: string;
  readonly logger: Logger;
  /** Prometheus' scrape interval (e.g. `5s`): how often fresh data can arrive. */
  readonly scrapeInterval: string;
  /** The preferred port if it is free, else any free port on 127.0.0.1. */
  port(preferred: number): Promise<number>;
  /** Set once Prometheus is up (for parts of the `consumers` phase). */
  prometheusUrl?: string;
  /** Set once the dispatcher is up (for the console). */
  dispatcherUrl?: string;
}

export interface StartedPart {
  /** Human-facing addresses, printed in the start-up table. */
  readonly endpoints: Record<string, string>;
  /** Targets Prometheus should scrape (parts of the `storage` and `sources` phases). */
  readonly scrapeJobs?: readonly ScrapeJob[];
  readonly remoteWrite?: readonly { url: string }[];
  readonly remoteRead?: readonly { url: string; readRecent?: boolean }[];
  /** Example commands printed after start-up. */
  readonly hints?: readonly string[];
  stop(): Promise<void>;
}

/**
 * One piece of the local system. Phases run in order: `storage` (ClickHouse + adapter), `sources`
 * (exporters), then Prometheus is started with every scrape job, then `consumers` (dispatcher, console).
 */
export interface StackPart {
  readonly name: string;
  readonly phase: 'storage' | 'sources' | 'consumers';
  start(ctx: StackContext): Promise<StartedPart>;
}
