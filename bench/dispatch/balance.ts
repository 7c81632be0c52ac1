/**
 * bench/dispatch part 1: balance in a simulated fleet whose metrics lag, in-process.
 *
 * The world (bench/dispatch/sim): 100 servers of capacity 50, 100 or 200 in two regions; calls of a
 * heavy-tailed length that end; rooms through three paths (this dispatcher, a second replica of the same
 * chooser sharing nothing, a legacy path picking a random server), so each chooser sees the others' joins
 * only through metrics; servers push stats every 2 s, Prometheus scrapes every 15 s with jitter, the
 * dispatcher refreshes every 15 s; one server fails and one is drained mid-run. Every chooser gets the same
 * pipeline, the same workload per seed, and the same high mark (0.9 of each server's true capacity).
 * Overload: a join that takes a server past its true capacity, whoever sent it.
 * Choosers: rtcmon's Chooser (default policy), Jicofo, LiveKit, least-loaded with local accounting, and
 * the clairvoyant reference (see sim/baselines.ts for what each does and where it comes from).
 * Run: node --import tsx bench/dispatch/balance.ts [--seeds=1,2,3] [--scenario=N] [--set=policyField=number …]
 */
import os from 'node:os';
import { defaultPolicy, type Policy } from '../../src/dispatcher/config.ts';
import { clairvoyant, jicofo, leastLoaded, legacyPath, livekit, STALE_MS } from './sim/baselines.ts';
import type { Placer, Truth } from './sim/model.ts';
import { rng } from './sim/rng.ts';
import { rtcmon } from './sim/rtcmon.ts';
import {
  cappedCallMeanMs,
  fleet,
  meanRoomSize,
  PATHS,
  type Settings,
  scenarios,
  settings,
  workload,
} from './sim/workload.ts';
import { type RunResult, simulate } from './sim/world.ts';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
/** `--set=spreadEpsilon=0.02` etc.: try other rtcmon policy values (numbers only) without editing the code. */
const overrides: Record<string, number> = Object.fromEntries(
  process.argv
    .filter((a) => a.startsWith('--set='))
    .map((a) => {
      const [k, v] = a.slice(6).split('=');
      return [k!, Number(v)];
    }),
);
/** `--world='{"pathWeights":[1,0,0]}'`: change the simulated world's settings (to take a result apart). */
const world: Settings = { ...settings, ...(JSON.parse(arg('world') ?? '{}') as Partial<Settings>) };
/** rtcmon's defaults, with the pipeline's intervals as an operator sets them (--ledger.*, --snapshot.interval). */
const policy: Policy = {
  ...defaultPolicy,
  reportIntervalMs: world.pushMs,
  scrapeIntervalMs: world.scrapeMs,
  refreshIntervalMs: world.refreshMs,
  ...overrides,
};
const seeds = arg('seeds')?.split(',').map(Number) ?? [...settings.seeds];
const only = arg('scenario');
const marks = { high: settings.highMark };

type Make = (truth: Truth, replica: boolean, seed: number) => Placer;
const choosers: readonly Make[] = [
  (_t, replica, seed) => rtcmon(policy, rng(seed * 17 + (replica ? 11 : 1))),
  () => jicofo(marks),
  (_t, replica, seed) => livekit(marks, rng(seed * 17 + (replica ? 12 : 2))),
  () => leastLoaded(marks),
  (truth) => clairvoyant(marks, truth, fleet(world), false),
  (truth) => clairvoyant(marks, truth, fleet(world)),
];

const s = world;
const sec = (ms: number) => `${ms / 1000} s`;
const caps = s.fleet.map(([c, n]) => `${n} × ${c}`).join(' + ');
console.log('bench/dispatch balance: simulated fleet, settings fixed before the run');
console.log(
  `  fleet: ${caps} participants (${fleet(s).reduce((a, b) => a + b.capacity, 0)} in all), regions ${s.regions.map(([r, w]) => `${r} ${w * 100}%`).join(' / ')}; high mark told to every chooser: ${s.highMark} of true capacity`,
);
console.log(
  `  pipeline: push every ${sec(s.pushMs)} (±${s.pushJitterMs / 2} ms), scrape every ${sec(s.scrapeMs)} (per-target offset, jitter 0-${s.scrapeJitterMs} ms), refresh every ${sec(s.refreshMs)}; join delay log-normal median ${sec(s.joinDelayMedianMs)} σ ${s.joinDelaySigma}; data older than ${sec(STALE_MS)} unused`,
);
console.log(
  `  calls: Lomax α ${s.callAlpha}, mean ${sec(s.callMeanMs)} (${(cappedCallMeanMs(s) / 1000).toFixed(0)} s after the ${s.callCapMs / 3_600_000} h cap), members stay ${s.stayFraction.join('-')} of it; rooms of ${s.roomSizes.join('/')} (mean ${meanRoomSize(s).toFixed(2)}), members after the first within ~${sec(s.memberSpreadMeanMs)} (exp.)`,
);
console.log(
  `  paths: ${PATHS.map((p, i) => `${p} ${s.pathWeights[i]! * 100}%`).join(', ')} of rooms; server s${workload(scenarios[0]!, 1, s).failServer} (eu, 200) fails at ${sec(s.failAtMs)}, clients reconnect after ${s.reconnectMs.map((x) => x / 1000).join('-')} s, a join sent to it times out after ${sec(s.connectTimeoutMs)}; s${workload(scenarios[0]!, 1, s).drainServer} (us, 100) drained at ${sec(s.drainAtMs)}`,
);
console.log(
  `  run: ${sec(s.durationMs)} simulated per scenario and seed, seeds ${seeds.join(',')}${arg('world') ? `, world changed: ${arg('world')}` : ''}; rtcmon policy: defaults with --ledger.report-interval=${sec(policy.reportIntervalMs)} --ledger.scrape-interval=${sec(policy.scrapeIntervalMs)} --snapshot.interval=${sec(policy.refreshIntervalMs)} (--ledger.join-delay ${sec(policy.joinDelayMs)})${Object.keys(overrides).length ? `, changed: ${JSON.stringify(overrides)}` : ''}`,
);
console.log(
  `  load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}, ${os.cpus().length} cpus`,
);
console.log(
  '  max/mean: time average (1 s samples) of the most loaded serving server over the fleet mean; overload: a join past true capacity (by any path; in brackets those the chooser and its replica sent);',
);
console.log(
  '  rejected: joins the chooser (or its replica) refused; moved: clients of the failed server that joined again + joins sent to it after it failed',
);

const stat = (xs: readonly number[], d: number) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return `${mean.toFixed(d)} [${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)}]`;
};

scenarios.forEach((sc, k) => {
  if (only !== undefined && Number(only) !== k) return;
  const per: RunResult[][] = choosers.map(() => []);
  const started = performance.now();
  for (const seed of seeds) {
    const w = workload(sc, seed, s);
    choosers.forEach((make, c) => {
      per[c]!.push(
        simulate(
          w,
          s,
          (truth, replica) => make(truth, replica, seed),
          () => legacyPath(rng(seed * 17 + 3)),
          seed,
        ),
      );
    });
  }
  const r0 = per[0]!;
  console.log(
    `\n## ${sc.name}: ${stat(
      r0.map((r) => r.joins),
      0,
    )} joins per seed, mean load ${stat(
      r0.map((r) => r.meanLoad),
      2,
    )} (rtcmon runs), ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(
    `${'chooser'.padEnd(38)}${'max/mean'.padEnd(20)}${'peak load'.padEnd(20)}${'overload events (by the chooser)'.padEnd(42)}${'rejected joins'.padEnd(20)}moved by failure (sent to failed)`,
  );
  per.forEach((rs) => {
    console.log(
      `${rs[0]!.chooser.padEnd(38)}${stat(
        rs.map((r) => r.maxOverMean),
        3,
      ).padEnd(20)}${stat(
        rs.map((r) => r.peakLoad),
        2,
      ).padEnd(20)}${`${stat(
        rs.map((r) => r.overloads),
        1,
      )} (${stat(
        rs.map((r) => r.ownOverloads),
        1,
      )})`.padEnd(42)}${stat(
        rs.map((r) => r.rejected),
        1,
      ).padEnd(20)}${stat(
        rs.map((r) => r.moved),
        0,
      )} (${stat(
        rs.map((r) => r.sentToFailed),
        0,
      )})`,
    );
  });
  const sum = (rs: RunResult[], f: (r: RunResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  const mean = (rs: RunResult[], f: (r: RunResult) => number) => sum(rs, f) / rs.length;
  const ref = per[per.length - 1]!;
  const live = per[per.length - 2]!;
  const peers = per.slice(1, -2);
  const over = sum(r0, (r) => r.overloads);
  const rej = sum(r0, (r) => r.rejected);
  const gap = (rs: RunResult[]) => {
    const g = mean(r0, (r) => r.maxOverMean) / mean(rs, (r) => r.maxOverMean) - 1;
    return `${g >= 0 ? '+' : ''}${(g * 100).toFixed(1)}%`;
  };
  console.log(
    `  rtcmon: overload events ${over} over ${seeds.length} seeds (fewest of the baselines: ${peers.every((p) => over <= sum(p, (r) => r.overloads)) ? 'yes' : 'no'}), rejected ${rej} (fewest: ${peers.every((p) => rej <= sum(p, (r) => r.rejected)) ? 'yes' : 'no'}), max/mean ${gap(ref)} vs the clairvoyant reference, ${gap(live)} vs live loads with sizes unknown`,
  );
});
