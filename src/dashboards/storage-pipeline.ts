import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { instances } from './instances.ts';
import { dashboard, quantileQueries, stat, timeseries } from './panels.ts';
import { RI } from './promql.ts';
import { COUNT, higherIsBetter, higherIsWorse } from './thresholds.ts';

const ADAPTERS = instances('adapter', 'Adapter', 'rtcmon_adapter_clickhouse_up');
const A = ADAPTERS.matcher;
const ERRORS = higherIsWorse({ red: 0.001 });

/** `rate(metric{instance=~"$adapter", …}[$__rate_interval])` and quantiles over the same series. */
const { rate: ar, quantile: aq } = ADAPTERS;
/** Prometheus' own remote-storage series (the remote_write queue towards the adapter). */
const pr = (metric: string) => `rate(${metric}[${RI}])`;
const pq = (q: number, histogram: string) =>
  `histogram_quantile(${q}, sum by (le) (${pr(`${histogram}_bucket`)}))`;

/**
 * Per-second rate of a counter labeled by `reason`, whose series appear at the first occurrence. Where the
 * adapter answers write requests but none was ever rejected, the answer is `reason="none"` at 0 (true),
 * tied to the adapter's own request counter so that an adapter that is not scraped shows nothing.
 */
const byReasonOrZero = (metric: string) =>
  `sum by (reason) (${ar(metric)}) or on() label_replace(0 * sum(${ar('rtcmon_adapter_write_requests_total')}), "reason", "none", "", "")`;

/** 5. Prometheus → adapter → ClickHouse: the remote-write queue, the adapter's writes and reads, ClickHouse. */
export function storagePipeline(): Dashboard {
  return dashboard({
    uid: 'rtcmon-storage-pipeline',
    title: 'rtcmon / Storage pipeline',
    description:
      "The monitoring pipeline itself: Prometheus' remote-write queue to the rtcmon adapter, what the adapter stores in ClickHouse or rejects, its insert batches and latency, remote reads, and ClickHouse health as the adapter sees it.",
    variables: ADAPTERS.variables(),
    panels: [
      stat({
        title: 'ClickHouse up',
        description: '1 when the adapter’s last ClickHouse call or ping succeeded, per adapter.',
        unit: 'none',
        steps: higherIsBetter({ green: 1 }),
        queries: [{ expr: `rtcmon_adapter_clickhouse_up{${A}}`, legend: '{{instance}}' }],
        w: 6,
        h: 4,
      }),
      stat({
        title: 'Remote-write lag',
        description:
          'Newest sample timestamp Prometheus has ingested minus the newest it has sent to remote storage: how far ClickHouse is behind.',
        unit: 's',
        steps: higherIsWorse({ orange: 30, red: 120 }),
        queries: [
          {
            expr: 'max(prometheus_remote_storage_highest_timestamp_in_seconds - ignoring(remote_name, url) group_right prometheus_remote_storage_queue_highest_sent_timestamp_seconds)',
            legend: 'lag',
          },
        ],
        w: 6,
        h: 4,
      }),
      stat({
        title: 'Samples stored per second',
        description: 'Samples ClickHouse confirmed (acknowledged to Prometheus), over the selected adapters.',
        unit: 'ops',
        steps: COUNT,
        queries: [{ expr: `sum(${ar('rtcmon_adapter_samples_stored_total')})`, legend: 'stored' }],
        w: 6,
        h: 4,
      }),
      stat({
        title: 'Adapter memory in flight',
        description:
          'Bytes held for requests being decoded or waiting for ClickHouse, as a share of the memory bound.',
        unit: 'percentunit',
        steps: higherIsWorse({ orange: 0.7, red: 0.9 }),
        queries: [
          {
            expr: `sum(rtcmon_adapter_inflight_bytes{${A}}) / sum(rtcmon_adapter_inflight_limit_bytes{${A}})`,
            legend: 'in flight',
          },
        ],
        w: 6,
        h: 4,
      }),
      timeseries({
        title: 'Remote-write samples',
        description:
          'Samples per second entering the remote-write queue (in), sent to the adapter, retried after a 5xx, failed (non-recoverable) and dropped.',
        unit: 'ops',
        steps: COUNT,
        queries: [
          { expr: `sum(${pr('prometheus_remote_storage_samples_in_total')})`, legend: 'in' },
          { expr: `sum by (url) (${pr('prometheus_remote_storage_samples_total')})`, legend: 'sent {{url}}' },
          {
            expr: `sum by (url) (${pr('prometheus_remote_storage_samples_retried_total')})`,
            legend: 'retried {{url}}',
          },
          {
            expr: `sum by (url) (${pr('prometheus_remote_storage_samples_failed_total')})`,
            legend: 'failed {{url}}',
          },
          {
            expr: `sum by (url) (${pr('prometheus_remote_storage_samples_dropped_total')})`,
            legend: 'dropped {{url}}',
          },
        ],
        w: 12,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Remote-write queue: pending samples',
        description:
          'Samples waiting in the remote-write queue to be sent. It grows while the adapter is slow or down.',
        unit: 'short',
        steps: higherIsWorse({ orange: 10000, red: 100000 }),
        queries: [{ expr: 'sum by (url) (prometheus_remote_storage_samples_pending)', legend: '{{url}}' }],
        w: 12,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Remote-write shards',
        description: 'Parallel senders: running, desired by Prometheus, and the configured maximum.',
        unit: 'short',
        steps: COUNT,
        queries: [
          { expr: 'max by (url) (prometheus_remote_storage_shards)', legend: 'running {{url}}' },
          { expr: 'max by (url) (prometheus_remote_storage_shards_desired)', legend: 'desired {{url}}' },
          { expr: 'max by (url) (prometheus_remote_storage_shards_max)', legend: 'max {{url}}' },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Highest timestamp lag',
        description:
          'Newest sample ingested minus newest sample sent, per remote-write queue: the delay before ClickHouse has the data.',
        unit: 's',
        steps: higherIsWorse({ orange: 30, red: 120 }),
        queries: [
          {
            expr: 'prometheus_remote_storage_highest_timestamp_in_seconds - ignoring(remote_name, url) group_right prometheus_remote_storage_queue_highest_sent_timestamp_seconds',
            legend: '{{url}}',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Remote-write send time',
        description:
          'Time Prometheus takes to send one batch to the adapter (p50, p99), acknowledgement included.',
        unit: 's',
        steps: higherIsWorse({ orange: 1, red: 5 }),
        queries: [
          ...quantileQueries([0.5, 0.99], (q) =>
            pq(q, 'prometheus_remote_storage_sent_batch_duration_seconds'),
          ),
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Adapter samples received and stored',
        description:
          'Samples per second the adapter decoded from remote-write requests, and those ClickHouse confirmed.',
        unit: 'ops',
        steps: COUNT,
        queries: [
          { expr: `sum(${ar('rtcmon_adapter_samples_received_total')})`, legend: 'received' },
          { expr: `sum(${ar('rtcmon_adapter_samples_stored_total')})`, legend: 'stored' },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Write requests by outcome',
        description:
          'Remote-write requests per second: stored (2xx after ClickHouse confirmed), rejected (4xx), failed (5xx).',
        unit: 'reqps',
        steps: COUNT,
        queries: [
          { expr: `sum by (outcome) (${ar('rtcmon_adapter_write_requests_total')})`, legend: '{{outcome}}' },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Rejected requests by reason',
        description:
          'Remote-write requests answered 4xx or 5xx per second, by reason; "none" at 0 while requests arrive and none was ever rejected.',
        unit: 'reqps',
        steps: ERRORS,
        queries: [{ expr: byReasonOrZero('rtcmon_adapter_requests_rejected_total'), legend: '{{reason}}' }],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Samples in failed requests by reason',
        description:
          'Samples per second in requests answered 503 (Prometheus resends them), by reason; "none" at 0 while nothing failed.',
        unit: 'ops',
        steps: ERRORS,
        queries: [{ expr: byReasonOrZero('rtcmon_adapter_samples_failed_total'), legend: '{{reason}}' }],
        w: 12,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'ClickHouse insert latency',
        description: 'Time of one ClickHouse insert by table (p50, p99).',
        unit: 's',
        steps: higherIsWorse({ orange: 1, red: 5 }),
        queries: [
          ...quantileQueries(
            [0.5, 0.99],
            (q) => aq(q, 'rtcmon_adapter_insert_duration_seconds', { by: 'table' }),
            '{{table}} ',
          ),
        ],
        w: 12,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Insert batch size',
        description: 'Samples per ClickHouse insert (group commit), p50 and p99.',
        unit: 'short',
        steps: COUNT,
        queries: [...quantileQueries([0.5, 0.99], (q) => aq(q, 'rtcmon_adapter_batch_samples'), 'samples ')],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Requests per insert',
        description: 'Remote-write requests sharing one ClickHouse insert, p50 and p99.',
        unit: 'short',
        steps: COUNT,
        queries: [...quantileQueries([0.5, 0.99], (q) => aq(q, 'rtcmon_adapter_batch_requests'))],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Adapter memory',
        description:
          'Bytes held for requests in flight against the memory bound (beyond it the adapter answers 503).',
        unit: 'bytes',
        steps: COUNT,
        queries: [
          { expr: `sum(rtcmon_adapter_inflight_bytes{${A}})`, legend: 'in flight' },
          { expr: `sum(rtcmon_adapter_inflight_limit_bytes{${A}})`, legend: 'limit' },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Remote-read requests',
        description:
          'Remote-read requests per second the adapter answered, by response type and HTTP status code.',
        unit: 'reqps',
        steps: COUNT,
        queries: [
          {
            expr: `sum by (response_type, code) (${ar('rtcmon_adapter_read_requests_total')})`,
            legend: '{{response_type}} {{code}}',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Remote-read latency',
        description:
          'Time to answer a remote-read request to its last byte (p50, p99), and Prometheus’ view of it (p99).',
        unit: 's',
        steps: higherIsWorse({ orange: 1, red: 10 }),
        queries: [
          ...quantileQueries([0.5, 0.99], (q) => aq(q, 'rtcmon_adapter_read_duration_seconds'), 'adapter '),
          {
            expr: pq(0.99, 'prometheus_remote_storage_read_request_duration_seconds'),
            legend: 'prometheus p99',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Remote-read samples and series',
        description: 'Samples and series per second the adapter sent in remote-read answers.',
        unit: 'ops',
        steps: COUNT,
        queries: [
          { expr: `sum(${ar('rtcmon_adapter_read_samples_total')})`, legend: 'samples' },
          { expr: `sum(${ar('rtcmon_adapter_read_series_total')})`, legend: 'series' },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'ClickHouse health',
        description:
          'ClickHouse as the adapter reports it: 1 when its last ClickHouse call or ping succeeded.',
        unit: 'none',
        steps: higherIsBetter({ green: 1 }),
        queries: [{ expr: `rtcmon_adapter_clickhouse_up{${A}}`, legend: '{{instance}}' }],
        w: 8,
        h: 8,
        min: 0,
        max: 1,
      }),
      timeseries({
        title: 'ClickHouse inserts by outcome',
        description:
          'ClickHouse inserts per second by table and outcome: failures here become 503s to Prometheus.',
        unit: 'ops',
        steps: COUNT,
        queries: [
          {
            expr: `sum by (table, outcome) (${ar('rtcmon_adapter_insert_duration_seconds_count')})`,
            legend: '{{table}} {{outcome}}',
          },
        ],
        w: 8,
        h: 8,
        min: 0,
      }),
      timeseries({
        title: 'Read requests in flight',
        description: 'Remote-read requests the adapter is answering now (waiting ones not included).',
        unit: 'short',
        steps: COUNT,
        queries: [{ expr: `sum(rtcmon_adapter_read_inflight{${A}})`, legend: 'in flight' }],
        w: 8,
        h: 8,
        min: 0,
      }),
    ],
  });
}
