import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from '../lib/logger.ts';
import type { Chooser } from './chooser.ts';
import type { PrometheusApi } from './prometheus-api.ts';
import { buildSnapshotAsync, type QueryName, type QueryResults, queries } from './snapshot.ts';

export interface RefreshOutcome {
  readonly ok: boolean;
  readonly durationMs: number;
  readonly servers: number;
  /**
   * The longest event-loop delay seen while the refresh ran (ms, 1 ms resolution): how long requests may
   * have waited behind the refresh (parsing and joining the answers run on the event loop).
   */
  readonly maxBlockMs: number;
  readonly error?: string;
}

export interface Refresher {
  /** One refresh: query, join, hand the snapshot to the chooser (or enter blind mode). */
  refresh(): Promise<RefreshOutcome>;
  start(): void;
  stop(): Promise<void>;
  /** True once a snapshot was loaded. */
  readonly loaded: boolean;
}

/**
 * Refreshes the fleet snapshot every `intervalMs` from instant queries. When Prometheus cannot be
 * reached, or answers with no target at all while servers were known (a Prometheus that lost its data),
 * the chooser keeps the last good snapshot in blind mode.
 */
export function createRefresher(deps: {
  chooser: Chooser;
  prometheus: PrometheusApi;
  rateWindow: string;
  intervalMs: number;
  timeoutMs: number;
  forgetAfterMs: number;
  /** Sample age past which a server is stale (staleness.exclude-after). */
  excludeAfterMs: number;
  /**
   * When every server that was usable is suddenly down or stale at once, suspect monitoring (a Prometheus
   * that restarted and has not scraped yet, or lost its network to the fleet) and stay blind.
   */
  fleetLossIsBlind: boolean;
  logger: Logger;
  clock?: () => number;
  onRefresh?: (o: RefreshOutcome) => void;
}): Refresher {
  const { chooser, prometheus, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const qs = Object.entries(queries(deps.rateWindow)) as [QueryName, string][];
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<RefreshOutcome> | undefined;
  let stopped = false;
  let loaded = false;
  let failingSince: number | undefined;

  const once = async (): Promise<RefreshOutcome> => {
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const o = await attempt();
    // One more timer turn, so that the delay caused by the refresh's last synchronous part is recorded.
    await new Promise((resolve) => setTimeout(resolve, 2));
    loop.disable();
    return { ...o, maxBlockMs: loop.count > 0 ? loop.max / 1e6 : 0 };
  };

  const attempt = async (): Promise<Omit<RefreshOutcome, 'maxBlockMs'>> => {
    const t0 = clock();
    const started = performance.now();
    const signal = AbortSignal.timeout(deps.timeoutMs);
    // Every query of the refresh listens to it (past 10, Node warns of a leak once per refresh).
    setMaxListeners(qs.length + 5, signal);
    try {
      const answers = await Promise.all(qs.map(([, q]) => prometheus.query(q, signal)));
      const results: QueryResults = {};
      qs.forEach(([name], i) => {
        results[name] = answers[i]!;
      });
      const prev = chooser.current;
      if ((results.up?.length ?? 0) === 0 && prev.servers.some((s) => s.present))
        throw new Error('Prometheus answered with no scrape target at all (restarted without its data?)');
      const snap = await buildSnapshotAsync(results, t0, prev, deps.forgetAfterMs);
      if (deps.fleetLossIsBlind) {
        const alive = (s: (typeof snap.servers)[number], at: number) =>
          s.present && s.targetUp !== false && s.rtcUp && at - s.sampleTimeMs <= deps.excludeAfterMs;
        const before = prev.servers.filter((s) => alive(s, prev.takenAtMs)).length;
        if (before >= 2 && !snap.servers.some((s) => alive(s, t0)))
          throw new Error(
            `all ${before} servers that were up are down or stale at once: suspecting monitoring, not the fleet`,
          );
      }
      // The grading of every server in slices, then the swap in one go: answers come from one snapshot.
      const now = clock();
      const prepared = await chooser.assessInSlices(snap, now);
      chooser.setSnapshot(snap, now, prepared);
      await chooser.expireRoomsInSlices(now);
      if (failingSince !== undefined)
        logger.info({ blindForMs: t0 - failingSince }, 'Prometheus is back: leaving blind mode');
      failingSince = undefined;
      loaded = true;
      return {
        ok: true,
        durationMs: performance.now() - started,
        servers: snap.servers.length,
      };
    } catch (err) {
      const msg = (err as Error).message;
      if (failingSince === undefined) {
        failingSince = t0;
        logger.warn(
          { err: msg },
          'fleet snapshot refresh failed: blind mode, answering from the last good snapshot',
        );
      }
      chooser.setBlind(failingSince, clock());
      return {
        ok: false,
        durationMs: performance.now() - started,
        servers: chooser.current.servers.length,
        error: msg,
      };
    }
  };

  const refresh = (): Promise<RefreshOutcome> => {
    running ??= once()
      .then((o) => {
        deps.onRefresh?.(o);
        return o;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const loop = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      refresh().then(loop, loop);
    }, deps.intervalMs);
  };

  return {
    refresh,
    start() {
      refresh().then(loop, loop);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => {});
    },
    get loaded() {
      return loaded;
    },
  };
}
