import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboard, heatmap, type PanelSpec, timeseries } from './panels.ts';
import { buckets, quantile, rate, withRegion } from './promql.ts';
import { JITTER_STEPS, LOSS_STEPS, MOS_STEPS, RTT_STEPS, rtcVariables } from './rtc-panels.ts';

const heat = (title: string, description: string, histogram: string, unit: PanelSpec['unit']) =>
  heatmap({
    title,
    description: `${description} Each column is one step: how many stream reports per second fell in each bucket.`,
    unit,
    steps: [['blue', null]],
    queries: [{ expr: buckets(histogram), legend: '{{le}}' }],
    w: 12,
    h: 9,
  });

/** 3. Media quality: heatmaps of the RTCP-derived histograms, then quality per region. */
export function mediaQuality(): Dashboard {
  return dashboard({
    uid: 'rtcmon-media-quality',
    title: 'rtcmon / Media quality',
    description:
      'How calls sound and look: distributions of RTT, jitter, loss and MOS over the selected servers, and the same signals per region.',
    variables: rtcVariables(),
    panels: [
      heat('RTT heatmap', 'Round-trip time of the RTCP stream reports.', 'rtc_rtt_seconds', 's'),
      heat(
        'Jitter heatmap',
        'Interarrival jitter of the RTCP stream reports (audio and video).',
        'rtc_jitter_seconds',
        's',
      ),
      heat(
        'Packet loss heatmap',
        'Fraction of packets lost per RTCP stream report.',
        'rtc_packet_loss_ratio',
        'percentunit',
      ),
      heat('MOS heatmap', 'E-model MOS estimate (1 to 4.5) per stream report.', 'rtc_quality_score', 'none'),
      timeseries({
        title: 'MOS p50 by region',
        description: 'Median E-model MOS per region. Below 3.6 users notice; below 3.1 many complain.',
        unit: 'none',
        steps: MOS_STEPS,
        decimals: 2,
        queries: [{ expr: quantile(0.5, 'rtc_quality_score', { by: 'region' }), legend: '{{region}}' }],
        w: 12,
        h: 8,
        min: 1,
        max: 4.5,
      }),
      timeseries({
        title: 'MOS p10 by region',
        description:
          'The worst tenth of the stream reports per region (MOS p10): where the unhappy users are.',
        unit: 'none',
        steps: MOS_STEPS,
        decimals: 2,
        queries: [{ expr: quantile(0.1, 'rtc_quality_score', { by: 'region' }), legend: '{{region}}' }],
        w: 12,
        h: 8,
        min: 1,
        max: 4.5,
      }),
      timeseries({
        title: 'RTT p90 by region',
        description: 'Round-trip time p90 per region.',
        unit: 's',
        steps: RTT_STEPS,
        queries: [{ expr: quantile(0.9, 'rtc_rtt_seconds', { by: 'region' }), legend: '{{region}}' }],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Jitter p90 by region',
        description: 'Interarrival jitter p90 per region, by media kind.',
        unit: 's',
        steps: JITTER_STEPS,
        queries: [
          {
            expr: quantile(0.9, 'rtc_jitter_seconds', { by: 'region, kind' }),
            legend: '{{region}} {{kind}}',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Packet loss by region',
        description:
          'RTP packets lost divided by packets received, per region, from the packet counters (direction in).',
        unit: 'percentunit',
        steps: LOSS_STEPS,
        queries: [
          {
            expr: `sum by (region) (${withRegion(rate('rtc_rtp_packets_lost_total', 'direction="in"'))}) / sum by (region) (${withRegion(rate('rtc_rtp_packets_total', 'direction="in"'))})`,
            legend: '{{region}}',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
    ],
  });
}
