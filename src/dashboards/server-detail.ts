import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, quantileQueries, stat, timeseries } from './panels.ts';
import { onHosts, quantile, RI, rate, scoped, sel } from './promql.ts';
import { hostPanels, joinPanels, LOAD_STEPS, qualityPanels, rtcVariables } from './rtc-panels.ts';
import { COUNT, higherIsBetter, higherIsWorse } from './thresholds.ts';

const AGE = higherIsWorse({ orange: 30, red: 60 });

/** 2. One server over time: state, load, joins, media quality and traffic, and its host (node_exporter). */
export function serverDetail(): Dashboard {
  return dashboard({
    uid: 'rtcmon-server-detail',
    title: 'rtcmon / Server detail',
    description:
      'One RTC server over time: state, load against capacity, joins, media quality and traffic, and the host it runs on (node_exporter).',
    variables: rtcVariables({ multiServer: false }),
    panels: [
      stat({
        title: 'Up',
        description: '1 when the exporter can read the server (rtc_up), 0 when it cannot.',
        unit: 'none',
        steps: higherIsBetter({ green: 1 }),
        queries: [{ expr: scoped(sel('rtc_up')), legend: '{{server}}' }],
        w: 4,
        h: 4,
      }),
      stat({
        title: 'Draining',
        description: '1 while the server is draining: it keeps its rooms but takes no new ones.',
        unit: 'none',
        steps: higherIsWorse({ orange: 1 }),
        queries: [{ expr: scoped(sel('rtc_server_state', 'state="draining"')), legend: '{{server}}' }],
        w: 4,
        h: 4,
      }),
      stat({
        title: 'Load',
        description: 'Participants divided by the configured capacity (rtc_load_ratio).',
        unit: 'percentunit',
        steps: LOAD_STEPS,
        queries: [{ expr: scoped(sel('rtc_load_ratio')), legend: '{{server}}' }],
        w: 4,
        h: 4,
      }),
      stat({
        title: 'Data age',
        description:
          'Seconds since the server stats last changed (rtc_stats_updated_timestamp_seconds): a frozen server shows a growing age.',
        unit: 's',
        steps: AGE,
        queries: [
          { expr: `time() - ${scoped(sel('rtc_stats_updated_timestamp_seconds'))}`, legend: '{{server}}' },
        ],
        w: 4,
        h: 4,
      }),
      stat({
        title: 'Largest room',
        description: 'Participants in the largest room of the server.',
        unit: 'short',
        steps: COUNT,
        queries: [{ expr: scoped(sel('rtc_largest_room_participants')), legend: '{{server}}' }],
        w: 4,
        h: 4,
      }),
      stat({
        title: 'ICE restarts',
        description: 'ICE restarts over the dashboard time range.',
        unit: 'short',
        steps: higherIsWorse({ orange: 10 }),
        queries: [
          {
            expr: `sum(${scoped(`increase(${sel('rtc_ice_restarts_total')}[$__range])`)})`,
            legend: 'restarts',
          },
        ],
        w: 4,
        h: 4,
      }),
      timeseries({
        title: 'Participants, rooms and capacity',
        description: 'Participants and rooms on the server, against its configured participant capacity.',
        unit: 'short',
        steps: COUNT,
        queries: [
          { expr: scoped(sel('rtc_participants')), legend: 'participants' },
          { expr: scoped(sel('rtc_rooms')), legend: 'rooms' },
          { expr: scoped(sel('rtc_capacity_participants')), legend: 'capacity' },
        ],
        w: 12,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Tracks',
        description: 'Media tracks by direction (in = published, out = forwarded) and kind.',
        unit: 'short',
        steps: COUNT,
        queries: [{ expr: scoped(sel('rtc_tracks')), legend: '{{direction}} {{kind}}' }],
        w: 12,
        h: 8,
        min: 0,
      }),
      ...joinPanels(8, {
        success: 'Share of join attempts on the server that succeeded (no failure series = no failure).',
        failures: 'Failed joins per second by reason; "none" at 0 while joins are attempted and none failed.',
      }),
      timeseries({
        title: 'Join duration',
        description: 'Time from join request to media flowing, for successful joins: p50 and p90.',
        unit: 's',
        steps: higherIsWorse({ orange: 2, red: 5 }),
        queries: quantileQueries([0.5, 0.9], (q) => quantile(q, 'rtc_join_duration_seconds')),
        w: 8,
        h: 8,
        min: 0,
      }),
      ...qualityPanels('this server'),
      timeseries({
        title: 'RTP bitrate',
        description: 'RTP bits per second received (in) and sent (out), by media kind.',
        unit: 'bps',
        steps: COUNT,
        queries: [
          {
            expr: `8 * sum by (direction, kind) (${scoped(rate('rtc_rtp_bytes_total'))})`,
            legend: '{{direction}} {{kind}}',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'RTP packets lost',
        description:
          'RTP packets lost per second: in = on streams the server receives, out = reported lost by receivers.',
        unit: 'pps',
        steps: higherIsWorse({ orange: 10, red: 100 }),
        queries: [
          {
            expr: `sum by (direction) (${scoped(rate('rtc_rtp_packets_lost_total'))})`,
            legend: '{{direction}}',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'NACKs and PLIs',
        description:
          'RTCP NACKs (retransmission requests) and PLIs (keyframe requests) per second: repair traffic.',
        unit: 'ops',
        steps: higherIsWorse({ orange: 50, red: 200 }),
        queries: [
          { expr: `sum(${scoped(rate('rtc_nacks_total'))})`, legend: 'NACK' },
          { expr: `sum(${scoped(rate('rtc_plis_total'))})`, legend: 'PLI' },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      ...hostPanels('this server', 6),
      timeseries({
        title: 'Host network',
        description:
          'Bits per second the host sends (tx) and receives (rx) on its interfaces, loopback excluded (node_exporter).',
        unit: 'bps',
        steps: COUNT,
        queries: [
          {
            expr: onHosts(`8 * sum by (host) (rate(node_network_transmit_bytes_total{device!="lo"}[${RI}]))`),
            legend: '{{host}} tx',
          },
          {
            expr: onHosts(`8 * sum by (host) (rate(node_network_receive_bytes_total{device!="lo"}[${RI}]))`),
            legend: '{{host}} rx',
          },
        ],
        w: 6,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Host load average',
        description:
          'One-minute load average of the host divided by its CPU count: above 1, work waits for a CPU.',
        unit: 'short',
        steps: higherIsWorse({ orange: 0.8, red: 1 }),
        queries: [
          {
            // By host on both sides: two node_exporters may report one host for a while (a move, a restart).
            expr: onHosts(
              'max by (host) (node_load1) / on(host) count by (host) (count by (host, cpu) (node_cpu_seconds_total{mode="idle"}))',
            ),
            legend: '{{host}}',
          },
        ],
        w: 6,
        h: 8,
        min: 0,
      }),
    ],
  });
}
