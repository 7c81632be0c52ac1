import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { instances } from './instances.ts';
import { dashboard, quantileQueries, stat, timeseries } from './panels.ts';
import { COUNT, higherIsBetter, higherIsWorse } from './thresholds.ts';

const DISPATCHERS = instances('instance', 'Dispatcher', 'rtcmon_dispatcher_servers');
const { matcher: I, rate: r, quantile: q } = DISPATCHERS;
const BLIND = higherIsWorse({ red: 1 });

/** 4. The dispatcher: its decisions, why servers are excluded, the ledger, the snapshot and blind mode. */
export function dispatcherDashboard(): Dashboard {
  return dashboard({
    uid: 'rtcmon-dispatcher',
    title: 'rtcmon / Dispatcher',
    description:
      'rtcmon dispatcher replicas: allocation decisions and their outcome, servers excluded and why, the ledger of assignments not yet in the metrics, fleet snapshot age and monitoring-blind mode.',
    variables: DISPATCHERS.variables(),
    panels: [
      stat({
        title: 'Decisions per second',
        description: 'Allocate decisions per second over the selected replicas.',
        unit: 'ops',
        steps: COUNT,
        queries: [{ expr: `sum(${r('rtcmon_dispatcher_decisions_total')})`, legend: 'decisions' }],
        w: 6,
        h: 4,
      }),
      stat({
        title: 'Admissible servers',
        description: 'Servers able to take a new room in the current snapshot (per replica).',
        unit: 'short',
        steps: higherIsBetter({ orange: 1, green: 2 }),
        queries: [{ expr: `rtcmon_dispatcher_servers{${I}, status="admissible"}`, legend: '{{instance}}' }],
        w: 6,
        h: 4,
      }),
      stat({
        title: 'Snapshot age',
        description:
          'Age of the fleet snapshot the answers come from. It grows past a few scrape intervals when refreshes fail.',
        unit: 's',
        steps: higherIsWorse({ orange: 15, red: 60 }),
        queries: [{ expr: `rtcmon_dispatcher_snapshot_age_seconds{${I}}`, legend: '{{instance}}' }],
        w: 6,
        h: 4,
      }),
      stat({
        title: 'Blind mode',
        description:
          '1 while Prometheus is unreachable and the replica answers from its last good snapshot (flagged in every answer) instead of declaring every server dead.',
        unit: 'none',
        steps: BLIND,
        queries: [{ expr: `rtcmon_dispatcher_blind{${I}}`, legend: '{{instance}}' }],
        w: 6,
        h: 4,
      }),
      timeseries({
        title: 'Answers by outcome',
        description:
          'Decisions per second by result (allocated, no_server) and how the server was found (affinity: the room is already there, new_room, spill: its server was full).',
        unit: 'ops',
        steps: COUNT,
        queries: [
          {
            expr: `sum by (result, via) (${r('rtcmon_dispatcher_decisions_total')})`,
            legend: '{{result}} via {{via}}',
          },
        ],
        w: 12,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Decisions in blind mode',
        description:
          'Decisions per second answered from a fresh snapshot (blind=false) and from the last good one (blind=true).',
        unit: 'ops',
        steps: COUNT,
        queries: [
          { expr: `sum by (blind) (${r('rtcmon_dispatcher_decisions_total')})`, legend: 'blind={{blind}}' },
        ],
        w: 12,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Exclusions by reason',
        description:
          'Servers taking no new room, by reason (draining, drained, stale, cpu, memory, egress, loss, join_failures, full, …), summed over replicas.',
        unit: 'short',
        steps: higherIsWorse({ orange: 1 }),
        queries: [
          {
            expr: `sum by (reason) (rtcmon_dispatcher_excluded_servers{${I}})`,
            legend: '{{reason}}',
          },
        ],
        w: 12,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Servers known and admissible',
        description:
          'Servers in the snapshot (known) and those able to take a new room (admissible), per replica.',
        unit: 'short',
        steps: COUNT,
        queries: [{ expr: `rtcmon_dispatcher_servers{${I}}`, legend: '{{instance}} {{status}}' }],
        w: 12,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Ledger size',
        description:
          'Assignments made but not yet visible in the metrics: they count against their server until a scrape shows them.',
        unit: 'short',
        steps: higherIsWorse({ orange: 100, red: 1000 }),
        queries: [{ expr: `rtcmon_dispatcher_ledger_entries{${I}}`, legend: '{{instance}}' }],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Rooms with affinity',
        description:
          'Rooms the replica knows a server for: later participants of those rooms go to the same server.',
        unit: 'short',
        steps: COUNT,
        queries: [{ expr: `rtcmon_dispatcher_rooms{${I}}`, legend: '{{instance}}' }],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Snapshot age and blind time',
        description: 'Age of the snapshot and how long the replica has been blind (0 when not).',
        unit: 's',
        steps: higherIsWorse({ orange: 15, red: 60 }),
        queries: [
          { expr: `rtcmon_dispatcher_snapshot_age_seconds{${I}}`, legend: '{{instance}} age' },
          { expr: `rtcmon_dispatcher_blind_seconds{${I}}`, legend: '{{instance}} blind' },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Decision latency',
        description:
          'Time to take one allocate decision in memory (p50, p99), and the allocate HTTP request end to end (p99).',
        unit: 's',
        steps: higherIsWorse({ orange: 0.01, red: 0.1 }),
        queries: [
          ...quantileQueries(
            [0.5, 0.99],
            (p) => q(p, 'rtcmon_dispatcher_decision_duration_seconds'),
            'decision ',
          ),
          {
            expr: q(0.99, 'rtcmon_http_request_duration_seconds', { extra: 'handler="allocate"' }),
            legend: 'HTTP allocate p99',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Snapshot refreshes',
        description:
          'Fleet snapshot refreshes per second by result (ok, failed: Prometheus unreachable or too slow).',
        unit: 'ops',
        steps: COUNT,
        queries: [
          {
            expr: `sum by (result) (${r('rtcmon_dispatcher_snapshot_refreshes_total')})`,
            legend: '{{result}}',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Snapshot refresh time',
        description:
          'Time to query Prometheus and rebuild the snapshot (p90), and the longest event-loop block during a refresh (p99): how long requests may wait behind it.',
        unit: 's',
        steps: higherIsWorse({ orange: 1, red: 5 }),
        queries: [
          { expr: q(0.9, 'rtcmon_dispatcher_snapshot_refresh_duration_seconds'), legend: 'refresh p90' },
          {
            expr: q(0.99, 'rtcmon_dispatcher_snapshot_refresh_loop_block_seconds'),
            legend: 'loop block p99',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Room claim conflicts',
        description:
          'Room placements taken back per second because another replica placed the room first (shared Redis).',
        unit: 'ops',
        steps: higherIsWorse({ orange: 0.1 }),
        queries: [{ expr: `sum(${r('rtcmon_dispatcher_room_claim_conflicts_total')})`, legend: 'conflicts' }],
        w: 8,
        h: 8,
        min: 0,
      }),
    ],
  });
}
