import { type ConfigOf, loadConfig, options } from '../lib/config.ts';
import { webOptions } from '../lib/web-config.ts';

/**
 * Every `rtcmon adapter` option, with its default. Remote read adds its own `read.*` options below the
 * write ones; keep this one flat object so handlers can be given the whole frozen config.
 */
export const adapterSpec = {
  ...webOptions,
  listen: options.listen('web.listen-address', { host: '', port: 9201 }, 'Address to listen on.'),
  clickhouseUrl: options.url('clickhouse.url', 'http://127.0.0.1:8123', 'ClickHouse HTTP interface.'),
  clickhouseDatabase: options.string('clickhouse.database', 'rtcmon', 'ClickHouse database for the tables.'),
  clickhouseUser: options.string('clickhouse.user', 'default', 'ClickHouse user.'),
  clickhousePasswordFile: options.string(
    'clickhouse.password-file',
    '',
    'File holding the ClickHouse password (a file, so that ps never shows it).',
  ),
  clickhouseCaFile: options.string(
    'clickhouse.ca-file',
    '',
    'CA certificates (PEM) to trust for an https:// --clickhouse.url (default: the system CAs).',
  ),
  clickhouseTimeoutMs: options.duration('clickhouse.timeout', 30_000, 'Timeout of one ClickHouse request.'),
  clickhouseIdleSocketTtlMs: options.duration(
    'clickhouse.idle-socket-ttl',
    2_000,
    "Longest an idle connection to ClickHouse is kept for reuse; keep it below the server's keep_alive_timeout (3 s by default).",
  ),
  clickhouseCluster: options.string(
    'clickhouse.cluster',
    '',
    'ClickHouse cluster name in <remote_servers>: replicated local tables + Distributed tables, created ON CLUSTER; writes routed per shard (empty: one node).',
  ),
  clickhouseNodes: options.list(
    'clickhouse.nodes',
    [],
    "With --clickhouse.cluster: every node's HTTP URL (each node's shard and replica are read from its macros).",
  ),
  clickhouseInsertQuorum: options.int(
    'clickhouse.insert-quorum',
    0,
    'With --clickhouse.cluster: replicas that must have a write before it is acknowledged (0 or 1: one; 2: both).',
    0,
    16,
  ),
  clickhouseInsertTimeoutMs: options.duration(
    'clickhouse.insert-timeout',
    8_000,
    'With --clickhouse.cluster: longest wait for one replica before the write fails over to the next.',
  ),
  clickhouseMigrateTimeoutMs: options.duration(
    'clickhouse.migrate-timeout',
    60_000,
    'With --clickhouse.cluster: longest a migration waits for the hosts (a host down is reported, not waited for).',
  ),
  clickhouseMaxReplicaDelayMs: options.duration(
    'clickhouse.max-replica-delay',
    30_000,
    'With --clickhouse.cluster: reads skip a replica lagging more than this (bounded staleness).',
  ),
  migrate: options.bool('migrate', true, 'Create or upgrade the schema at start (--no-migrate to skip).'),
  writeMaxBodyBytes: options.bytes(
    'write.max-body-bytes',
    16 * 1024 ** 2,
    'Largest compressed remote-write body; more is a 413.',
  ),
  writeMaxDecodedBytes: options.bytes(
    'write.max-decoded-bytes',
    64 * 1024 ** 2,
    'Largest uncompressed remote-write body (the snappy header declares it); more is a 413.',
  ),
  writeMaxInflightBytes: options.bytes(
    'write.max-inflight-bytes',
    512 * 1024 ** 2,
    'Memory bound: bytes of requests being decoded or waiting for ClickHouse; past it, 503.',
  ),
  writeRetryAfterMs: options.duration(
    'write.retry-after',
    1_000,
    'Retry-After sent with 503 answers (Prometheus backs off on its own too).',
  ),
  batchMaxRows: options.int(
    'batch.max-rows',
    500_000,
    'Samples per ClickHouse insert at most; a full batch is sent at once.',
    1,
  ),
  batchMinRows: options.int(
    'batch.min-rows',
    16_000,
    'Samples that make a batch leave without waiting for the other writers (an insert slot free); 0: off.',
    0,
  ),
  batchMaxDelayMs: options.duration(
    'batch.max-delay',
    100,
    'Longest a request waits for other requests to share its insert (group commit).',
  ),
  batchMaxConcurrentInserts: options.int(
    'batch.max-concurrent-inserts',
    2,
    'Inserts into ClickHouse running at the same time.',
    1,
    64,
  ),
  seriesCacheSize: options.int(
    'series.cache-size',
    1_000_000,
    'Series whose fingerprint and stored row the adapter remembers.',
    1_000,
  ),
  seriesRefreshMs: options.duration(
    'series.refresh-interval',
    3_600_000,
    'How often a live series row is rewritten to advance its last_seen.',
  ),
  readMaxSeries: options.int('read.max-series', 100_000, 'Remote read: series one query may return.', 1),
  readMaxSamples: options.int(
    'read.max-samples',
    10_000_000,
    'Remote read: samples one query may return.',
    1,
  ),
  readMaxRangeMs: options.duration(
    'read.max-range',
    0,
    'Remote read: longest time range of a query (0: none).',
  ),
  readMaxConcurrent: options.int('read.max-concurrent', 4, 'Remote read: reads running at once.', 1, 1024),
  readQueueTimeoutMs: options.duration('read.queue-timeout', 10_000, 'Remote read: longest wait for a slot.'),
  readStripLabels: options.list(
    'read.strip-labels',
    [],
    'Remote read: labels whose matchers are ignored and that are removed from answers (external labels not stored).',
  ),
  readMaxFrameBytes: options.bytes(
    'read.max-frame-bytes',
    1024 ** 2,
    'Remote read: bytes per streamed frame.',
  ),
  shutdownGraceMs: options.duration(
    'web.shutdown-grace',
    10_000,
    'On SIGTERM, how long in-flight requests may take.',
  ),
};

/** The resolved, frozen adapter configuration (common options included). */
export type AdapterConfig = ReturnType<typeof loadAdapterConfig>;

/** Flags, then env (`RTCMON_…`), then YAML (`--config.file`), then defaults; frozen. */
export function loadAdapterConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<typeof adapterSpec> & ReturnType<typeof loadConfig<Record<string, never>>> {
  return loadConfig(adapterSpec, argv, env);
}
