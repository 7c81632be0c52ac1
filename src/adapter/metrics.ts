import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The adapter's own series on its /metrics. */
export function createAdapterMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'rtcmon_adapter_write_requests_total',
      help: 'Remote-write requests received, by outcome (stored, rejected, failed).',
      labelNames: ['outcome'],
      registers,
    }),
    samplesReceived: new Counter({
      name: 'rtcmon_adapter_samples_received_total',
      help: 'Samples decoded from remote-write requests.',
      registers,
    }),
    samplesStored: new Counter({
      name: 'rtcmon_adapter_samples_stored_total',
      help: 'Samples ClickHouse confirmed (acknowledged to Prometheus).',
      registers,
    }),
    seriesStored: new Counter({
      name: 'rtcmon_adapter_series_rows_stored_total',
      help: 'Rows written to the series table (new series and last_seen refreshes).',
      registers,
    }),
    metadataStored: new Counter({
      name: 'rtcmon_adapter_metadata_stored_total',
      help: 'Metadata entries written to the metadata table.',
      registers,
    }),
    rejected: new Counter({
      name: 'rtcmon_adapter_requests_rejected_total',
      help: 'Remote-write requests answered 4xx or 5xx, by reason.',
      labelNames: ['reason', 'code'],
      registers,
    }),
    samplesRejected: new Counter({
      name: 'rtcmon_adapter_samples_failed_total',
      help: 'Samples in requests answered 503 (Prometheus resends them).',
      labelNames: ['reason'],
      registers,
    }),
    insertDuration: new Histogram({
      name: 'rtcmon_adapter_insert_duration_seconds',
      help: 'Time of one ClickHouse insert, by table and outcome.',
      labelNames: ['table', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    batchRows: new Histogram({
      name: 'rtcmon_adapter_batch_samples',
      help: 'Samples per ClickHouse insert (group commit).',
      buckets: [100, 1000, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000],
      registers,
    }),
    batchRequests: new Histogram({
      name: 'rtcmon_adapter_batch_requests',
      help: 'Remote-write requests sharing one ClickHouse insert.',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers,
    }),
    inflightBytes: new Gauge({
      name: 'rtcmon_adapter_inflight_bytes',
      help: 'Bytes held for requests being decoded or waiting for ClickHouse.',
      registers,
    }),
    inflightLimit: new Gauge({
      name: 'rtcmon_adapter_inflight_limit_bytes',
      help: 'The memory bound (write.max-inflight-bytes).',
      registers,
    }),
    seriesCache: new Gauge({
      name: 'rtcmon_adapter_series_cache_entries',
      help: 'Series in the fingerprint cache.',
      registers,
    }),
    clickhouseConnections: new Counter({
      name: 'rtcmon_adapter_clickhouse_connections_total',
      help: 'Connections opened to ClickHouse (the first ones and every reconnect).',
      registers,
    }),
    clickhouseStaleSockets: new Counter({
      name: 'rtcmon_adapter_clickhouse_stale_sockets_dropped_total',
      help: 'Idle ClickHouse sockets dropped before reuse (idle past clickhouse.idle-socket-ttl or closed by ClickHouse).',
      registers,
    }),
    clickhouseRetries: new Counter({
      name: 'rtcmon_adapter_clickhouse_retries_total',
      help: 'ClickHouse requests that failed on a reused socket before any answer and were sent again on a fresh connection.',
      registers,
    }),
    clickhouseUp: new Gauge({
      name: 'rtcmon_adapter_clickhouse_up',
      help: '1 when the last ClickHouse call or ping succeeded.',
      registers,
    }),
  };
}

export type AdapterMetrics = ReturnType<typeof createAdapterMetrics>;

/** The remote-read side's series on the adapter's /metrics. */
export function createReadMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'rtcmon_adapter_read_requests_total',
      help: 'Remote-read requests answered, by response type and HTTP status code.',
      labelNames: ['response_type', 'code'],
      registers,
    }),
    queries: new Counter({
      name: 'rtcmon_adapter_read_queries_total',
      help: 'Queries of remote-read requests answered, by response type.',
      labelNames: ['response_type'],
      registers,
    }),
    series: new Counter({
      name: 'rtcmon_adapter_read_series_total',
      help: 'Series sent in remote-read answers, by response type.',
      labelNames: ['response_type'],
      registers,
    }),
    samples: new Counter({
      name: 'rtcmon_adapter_read_samples_total',
      help: 'Samples sent in remote-read answers, by response type.',
      labelNames: ['response_type'],
      registers,
    }),
    duration: new Histogram({
      name: 'rtcmon_adapter_read_duration_seconds',
      help: 'Time to answer a remote-read request, to its last byte, by response type.',
      labelNames: ['response_type'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    inflight: new Gauge({
      name: 'rtcmon_adapter_read_inflight',
      help: 'Remote-read requests running now (waiting ones not included).',
      registers,
    }),
  };
}

export type ReadMetrics = ReturnType<typeof createReadMetrics>;
