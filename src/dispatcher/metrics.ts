import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Answer, Chooser } from './chooser.ts';
import type { RefreshOutcome } from './refresher.ts';
import type { ExclusionCode } from './score.ts';

const REASONS: readonly ExclusionCode[] = [
  'gone',
  'target_down',
  'rtc_down',
  'shutting_down',
  'draining',
  'drained',
  'stale',
  'no_capacity',
  'no_address',
  'cpu',
  'memory',
  'egress',
  'loss',
  'join_failures',
  'full',
];

export interface DispatcherMetrics {
  decision(a: Answer, seconds: number): void;
  refresh(o: RefreshOutcome): void;
  claimConflict(): void;
}

/** The dispatcher's own series: decisions, decision latency, exclusions, ledger, snapshot age, blind mode. */
export function createDispatcherMetrics(
  registry: Registry,
  chooser: Chooser,
  clock: () => number,
): DispatcherMetrics {
  const registers = [registry];
  const decisions = new Counter({
    name: 'rtcmon_dispatcher_decisions_total',
    help: 'Allocate decisions, by result (allocated, no_server), how the server was found (affinity, new_room, spill) and blind mode.',
    labelNames: ['result', 'via', 'blind'],
    registers,
  });
  const latency = new Histogram({
    name: 'rtcmon_dispatcher_decision_duration_seconds',
    help: 'Time to take one allocate decision in memory (without HTTP and Redis).',
    buckets: [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3],
    registers,
  });
  const refreshes = new Counter({
    name: 'rtcmon_dispatcher_snapshot_refreshes_total',
    help: 'Fleet snapshot refreshes, by result (ok, failed).',
    labelNames: ['result'],
    registers,
  });
  const refreshDuration = new Histogram({
    name: 'rtcmon_dispatcher_snapshot_refresh_duration_seconds',
    help: 'Time to query Prometheus and rebuild the fleet snapshot.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const refreshBlock = new Histogram({
    name: 'rtcmon_dispatcher_snapshot_refresh_loop_block_seconds',
    help: 'Longest event-loop delay during each snapshot refresh (how long requests may wait behind it).',
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
    registers,
  });
  let maxBlock = 0;
  new Gauge({
    name: 'rtcmon_dispatcher_snapshot_refresh_loop_block_max_seconds',
    help: 'Longest event-loop delay during any snapshot refresh since start.',
    registers,
    collect() {
      this.set(maxBlock);
    },
  });
  const conflicts = new Counter({
    name: 'rtcmon_dispatcher_room_claim_conflicts_total',
    help: 'Room placements taken back because another replica had placed the room first (Redis).',
    registers,
  });
  new Gauge({
    name: 'rtcmon_dispatcher_excluded_servers',
    help: 'Servers taking no new room, by reason.',
    labelNames: ['reason'],
    registers,
    collect() {
      const ex = chooser.stats().excluded;
      for (const r of REASONS) this.set({ reason: r }, ex[r] ?? 0);
    },
  });
  new Gauge({
    name: 'rtcmon_dispatcher_servers',
    help: 'Servers in the snapshot (known) and those able to take a new room (admissible).',
    labelNames: ['status'],
    registers,
    collect() {
      const s = chooser.stats();
      this.set({ status: 'known' }, s.servers);
      this.set({ status: 'admissible' }, s.admissible);
    },
  });
  new Gauge({
    name: 'rtcmon_dispatcher_ledger_entries',
    help: 'Assignments not yet visible in the metrics.',
    registers,
    collect() {
      this.set(chooser.stats().ledger);
    },
  });
  new Gauge({
    name: 'rtcmon_dispatcher_rooms',
    help: 'Rooms with an affinity.',
    registers,
    collect() {
      this.set(chooser.stats().rooms);
    },
  });
  new Gauge({
    name: 'rtcmon_dispatcher_snapshot_age_seconds',
    help: 'Age of the fleet snapshot answers come from.',
    registers,
    collect() {
      const t = chooser.current.takenAtMs;
      this.set(t > 0 ? (clock() - t) / 1000 : Number.NaN);
    },
  });
  new Gauge({
    name: 'rtcmon_dispatcher_blind',
    help: '1 while Prometheus is unreachable and answers come from the last good snapshot.',
    registers,
    collect() {
      this.set(chooser.blind ? 1 : 0);
    },
  });
  new Gauge({
    name: 'rtcmon_dispatcher_blind_seconds',
    help: 'How long the dispatcher has been in blind mode (0 when not).',
    registers,
    collect() {
      this.set((chooser.blindForMs(clock()) ?? 0) / 1000);
    },
  });
  const via = (a: Answer) =>
    !a.ok
      ? 'none'
      : a.spilled
        ? 'spill'
        : a.reasons[0]?.startsWith('room affinity')
          ? 'affinity'
          : 'new_room';
  // Label children cached: decision() runs on every allocate.
  const children = new Map<string, ReturnType<typeof decisions.labels>>();
  return {
    decision(a, seconds) {
      const result = a.ok ? 'allocated' : 'no_server';
      const v = via(a);
      const blind = a.blind ? 'true' : 'false';
      const key = `${result} ${v} ${blind}`;
      let c = children.get(key);
      if (!c) {
        c = decisions.labels(result, v, blind);
        children.set(key, c);
      }
      c.inc();
      latency.observe(seconds);
    },
    refresh(o) {
      refreshes.inc({ result: o.ok ? 'ok' : 'failed' });
      refreshDuration.observe(o.durationMs / 1000);
      refreshBlock.observe(o.maxBlockMs / 1000);
      maxBlock = Math.max(maxBlock, o.maxBlockMs / 1000);
    },
    claimConflict() {
      conflicts.inc();
    },
  };
}
