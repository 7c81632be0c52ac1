import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  COUNT,
  dashboard,
  datasourceVariable,
  higherIsBetter,
  higherIsWorse,
  labelVariable,
  type Query,
  quantileQueries,
  stat,
  table,
  timeseries,
} from './panels.ts';
import {
  INFO,
  JOIN_FAILURES_BY_REASON,
  JOIN_SUCCESS,
  onHosts,
  quantile,
  RI,
  rate,
  scoped,
  sel,
  withRegion,
} from './promql.ts';

/** Shared by the RTC dashboards: `$datasource`, `$region`, `$server` (chained on `$region`). */
export function rtcVariables(opts: { multiServer?: boolean } = {}) {
  return [
    datasourceVariable(),
    labelVariable('region', 'Region', 'label_values(rtc_server_info, region)'),
    labelVariable('server', 'Server', 'label_values(rtc_server_info{region=~"$region"}, server)', {
      multi: opts.multiServer ?? true,
    }),
  ];
}

export const LOAD_STEPS = higherIsWorse({ orange: 0.8, red: 0.9 });
export const HEADROOM_STEPS = higherIsBetter({ orange: 0.1, green: 0.25 });
export const MOS_STEPS = higherIsBetter({ orange: 3.1, green: 3.6 });
export const SUCCESS_STEPS = higherIsBetter({ orange: 0.95, green: 0.99 });
export const RTT_STEPS = higherIsWorse({ orange: 0.15, red: 0.3 });
export const JITTER_STEPS = higherIsWorse({ orange: 0.03, red: 0.05 });
export const LOSS_STEPS = higherIsWorse({ orange: 0.02, red: 0.05 });

/** p50/p90/p99 of an rtc histogram over the selected servers. */
export function percentiles(histogram: string): Query[] {
  return quantileQueries([0.5, 0.9, 0.99], (q) => quantile(q, histogram));
}

/** CPU busy ratio and memory used ratio of the hosts the selected servers run on (node_exporter). */
export const HOST_CPU = onHosts(`1 - avg by (host) (rate(node_cpu_seconds_total{mode="idle"}[${RI}]))`);
export const HOST_MEMORY = onHosts('1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes');

/** MOS p50/p10 and RTT, jitter and loss percentiles over `where` (from the RTCP histograms). */
export function qualityPanels(where: string) {
  return [
    timeseries({
      title: 'MOS (p50, p10)',
      description: `E-model MOS estimate (1 to 4.5) of the stream reports on ${where}: median and the worst tenth (p10). Below 3.6 users notice; below 3.1 many complain.`,
      unit: 'none',
      steps: MOS_STEPS,
      decimals: 2,
      queries: quantileQueries([0.5, 0.1], (q) => quantile(q, 'rtc_quality_score')),
      w: 6,
      h: 8,
      min: 1,
      max: 4.5,
    }),
    timeseries({
      title: 'RTT percentiles',
      description: `Round-trip time of the RTCP stream reports on ${where}: p50, p90, p99.`,
      unit: 's',
      steps: RTT_STEPS,
      queries: percentiles('rtc_rtt_seconds'),
      w: 6,
      h: 8,
      min: 0,
    }),
    timeseries({
      title: 'Jitter percentiles',
      description: `Interarrival jitter of the RTCP stream reports (audio and video) on ${where}: p50, p90, p99.`,
      unit: 's',
      steps: JITTER_STEPS,
      queries: percentiles('rtc_jitter_seconds'),
      w: 6,
      h: 8,
      min: 0,
    }),
    timeseries({
      title: 'Packet loss percentiles',
      description: `Fraction of packets lost per RTCP stream report on ${where}: p50, p90, p99.`,
      unit: 'percentunit',
      steps: LOSS_STEPS,
      queries: percentiles('rtc_packet_loss_ratio'),
      w: 6,
      h: 8,
      min: 0,
    }),
  ];
}

/** CPU busy and memory used of the hosts `where` runs on (node_exporter, joined by host). */
export function hostPanels(where: string, w: number) {
  return [
    timeseries({
      title: 'Host CPU busy',
      description: `Share of CPU time not idle on the hosts ${where} run on (node_exporter, joined by host).`,
      unit: 'percentunit',
      steps: LOAD_STEPS,
      queries: [{ expr: HOST_CPU, legend: '{{host}}' }],
      w,
      h: 8,
      min: 0,
      max: 1,
    }),
    timeseries({
      title: 'Host memory used',
      description: `Share of memory not available (1 - MemAvailable / MemTotal) on the hosts ${where} run on (node_exporter).`,
      unit: 'percentunit',
      steps: LOAD_STEPS,
      queries: [{ expr: HOST_MEMORY, legend: '{{host}}' }],
      w,
      h: 8,
      min: 0,
      max: 1,
    }),
  ];
}

const sumScoped = (metric: string, extra = '') => `sum(${scoped(sel(metric, extra))})`;
const byRegion = (metric: string) => `sum by (region) (${withRegion(sel(metric))})`;

/** 1. Fleet overview: state, load against capacity, joins, quality, bandwidth, hosts, hottest servers. */
export function fleetOverview(): Dashboard {
  return dashboard({
    uid: 'rtcmon-fleet-overview',
    title: 'rtcmon / Fleet overview',
    description:
      'The whole RTC fleet at a glance: servers up, draining and down, load against capacity per region, join success, media quality and the hosts underneath.',
    variables: rtcVariables(),
    panels: [
      stat({
        title: 'Servers up',
        description: 'RTC servers the exporter can read (rtc_up = 1).',
        unit: 'short',
        steps: COUNT,
        queries: [{ expr: sumScoped('rtc_up'), legend: 'up' }],
        w: 4,
        h: 4,
      }),
      stat({
        title: 'Servers draining',
        description: 'Servers in the draining state: they keep their rooms but take no new ones.',
        unit: 'short',
        steps: higherIsWorse({ orange: 1 }),
        queries: [{ expr: sumScoped('rtc_server_state', 'state="draining"'), legend: 'draining' }],
        w: 4,
        h: 4,
      }),
      stat({
        title: 'Servers down',
        description:
          'Servers the exporter knows but cannot read (rtc_up = 0): a dead process, a stale push or a Janus that stopped answering.',
        unit: 'short',
        steps: higherIsWorse({ red: 1 }),
        queries: [{ expr: `sum(${scoped(`${sel('rtc_up')} == bool 0`)})`, legend: 'down' }],
        w: 4,
        h: 4,
      }),
      stat({
        title: 'Rooms',
        description: 'Rooms with at least one participant, over the selected servers.',
        unit: 'short',
        steps: COUNT,
        queries: [{ expr: sumScoped('rtc_rooms'), legend: 'rooms' }],
        w: 4,
        h: 4,
      }),
      stat({
        title: 'Participants',
        description: 'Participants connected, over the selected servers.',
        unit: 'short',
        steps: COUNT,
        queries: [{ expr: sumScoped('rtc_participants'), legend: 'participants' }],
        w: 4,
        h: 4,
      }),
      stat({
        title: 'Headroom',
        description:
          'Share of the configured participant capacity still free: 1 - participants / capacity over the selected servers.',
        unit: 'percentunit',
        steps: HEADROOM_STEPS,
        queries: [
          {
            expr: `1 - ${sumScoped('rtc_participants')} / ${sumScoped('rtc_capacity_participants')}`,
            legend: 'headroom',
          },
        ],
        w: 4,
        h: 4,
        min: 0,
        max: 1,
      }),
      timeseries({
        title: 'Participants and capacity by region',
        description:
          'Participants connected (solid) against the participant capacity the servers are configured for, per region.',
        unit: 'short',
        steps: COUNT,
        queries: [
          { expr: byRegion('rtc_participants'), legend: '{{region}} participants' },
          { expr: byRegion('rtc_capacity_participants'), legend: '{{region}} capacity' },
        ],
        w: 12,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Headroom by region',
        description: 'Share of the participant capacity still free per region (1 - participants / capacity).',
        unit: 'percentunit',
        steps: HEADROOM_STEPS,
        queries: [
          {
            expr: `1 - ${byRegion('rtc_participants')} / ${byRegion('rtc_capacity_participants')}`,
            legend: '{{region}}',
          },
        ],
        w: 12,
        h: 8,
        min: 0,
        max: 1,
      }),
      timeseries({
        title: 'Join success ratio',
        description:
          'Share of join attempts that succeeded. No failure series at all means no failed join, counted as 0 failures.',
        unit: 'percentunit',
        steps: SUCCESS_STEPS,
        queries: [{ expr: JOIN_SUCCESS, legend: 'success' }],
        w: 12,
        h: 8,
        max: 1,
      }),
      timeseries({
        title: 'Join failures by reason',
        description:
          'Failed joins per second by reason (room_full, draining, ice_failed, timeout, …), over the selected servers; "none" at 0 while joins are attempted and none failed.',
        unit: 'ops',
        steps: higherIsWorse({ orange: 0.1, red: 1 }),
        queries: [{ expr: JOIN_FAILURES_BY_REASON, legend: '{{reason}}' }],
        w: 12,
        h: 8,
        min: 0,
      }),
      ...qualityPanels('the selected servers'),
      timeseries({
        title: 'Egress bandwidth by region',
        description: 'RTP bits per second the servers send (direction out), per region.',
        unit: 'bps',
        steps: COUNT,
        queries: [
          {
            expr: `8 * sum by (region) (${withRegion(rate('rtc_rtp_bytes_total', 'direction="out"'))})`,
            legend: '{{region}}',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      ...hostPanels('the selected servers', 8),
      table({
        title: 'Top 10 hottest servers',
        description:
          'The ten selected servers with the highest load (participants / capacity), with their region and zone.',
        unit: 'percentunit',
        steps: LOAD_STEPS,
        queries: [
          {
            expr: `topk(10, ${sel('rtc_load_ratio')} * on(server) group_left(region, zone) ${INFO})`,
            legend: '{{server}}',
          },
        ],
        w: 24,
        h: 9,
      }),
    ],
  });
}
