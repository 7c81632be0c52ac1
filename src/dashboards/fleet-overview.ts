import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, stat, table, timeseries } from './panels.ts';
import { INFO, rate, scoped, sel, withRegion } from './promql.ts';
import {
  HEADROOM_STEPS,
  hostPanels,
  joinPanels,
  LOAD_STEPS,
  qualityPanels,
  rtcVariables,
} from './rtc-panels.ts';
import { COUNT, higherIsWorse } from './thresholds.ts';

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
      ...joinPanels(12, {
        success:
          'Share of join attempts that succeeded. No failure series at all means no failed join, counted as 0 failures.',
        failures:
          'Failed joins per second by reason (room_full, draining, ice_failed, timeout, …), over the selected servers; "none" at 0 while joins are attempted and none failed.',
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
