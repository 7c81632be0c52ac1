/**
 * Variables, threshold ladders and panel groups shared by the RTC dashboards (fleet overview, server
 * detail, media quality): each dashboard file then lists its own panels.
 */

import { datasourceVariable, labelVariable, type Query, quantileQueries, timeseries } from './panels.ts';
import { JOIN_FAILURES_BY_REASON, JOIN_SUCCESS, onHosts, quantile, RI } from './promql.ts';
import { higherIsBetter, higherIsWorse } from './thresholds.ts';

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

/** Join success ratio and failures by reason over the selected servers, each `w` columns wide. */
export function joinPanels(w: number, descriptions: { success: string; failures: string }) {
  return [
    timeseries({
      title: 'Join success ratio',
      description: descriptions.success,
      unit: 'percentunit',
      steps: SUCCESS_STEPS,
      queries: [{ expr: JOIN_SUCCESS, legend: 'success' }],
      w,
      h: 8,
      max: 1,
    }),
    timeseries({
      title: 'Join failures by reason',
      description: descriptions.failures,
      unit: 'ops',
      steps: higherIsWorse({ orange: 0.1, red: 1 }),
      queries: [{ expr: JOIN_FAILURES_BY_REASON, legend: '{{reason}}' }],
      w,
      h: 8,
      min: 0,
    }),
  ];
}
