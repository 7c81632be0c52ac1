import snappy from 'snappy';

/**
 * Remote-write requests shaped like Prometheus scraping an RTC fleet: `servers` targets of 100 series each
 * (rtc_* gauges, counters and histogram buckets plus the process series of each server, with `server`,
 * `instance`, `job`, `region`, `zone` labels and an external `cluster` label), scraped every 15 s with
 * per-target offsets; the last scrape is just before `endMs` (timestamps relative to now: VictoriaMetrics
 * drops samples far from now and still answers 204). Series are spread over `shards` like Prometheus'
 * remote-write shards (hash of the series); each shard sends `samplesPerRequest` samples per request
 * (Prometheus' max_samples_per_send, 2,000 by default), the rest at the end. Encoded by hand (protobuf wire
 * format) and snappy-compressed once, before timing.
 */
export interface FleetOptions {
  servers: number;
  rounds: number;
  shards: number;
  samplesPerRequest: number;
  /** Timestamps end just before this (ms since the epoch). */
  endMs: number;
  seed?: number;
}

export interface Payloads {
  bodies: Buffer[];
  /** Samples in each body. */
  samples: number[];
  /** The shard (sender) of each body: a shard sends its own bodies in order, one at a time. */
  shard: number[];
  totalSamples: number;
  series: number;
  compressedBytes: number;
  rawBytes: number;
}

const te = new TextEncoder();

function varint(n: number, out: number[]): void {
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

function label(name: string, value: string): Buffer {
  const n = te.encode(name);
  const v = te.encode(value);
  const inner: number[] = [0x0a];
  varint(n.length, inner);
  inner.push(...n, 0x12);
  varint(v.length, inner);
  inner.push(...v);
  const out: number[] = [0x0a];
  varint(inner.length, out);
  return Buffer.from([...out, ...inner]);
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SeriesDef {
  labels: Buffer;
  kind: 'gauge' | 'counter';
  server: number;
}

/** About a hundred series per RTC server (the catalogue in ARCHITECTURE.md). */
function serverSeries(s: number): SeriesDef[] {
  const server = `rtc-${String(s).padStart(5, '0')}`;
  const region = ['eu-west', 'us-east', 'ap-south', 'sa-east'][s % 4]!;
  const zone = `${region}-${'abc'[s % 3]}`;
  const instance = `10.${(s >> 16) & 255}.${(s >> 8) & 255}.${s & 255}:9464`;
  const base = (name: string, extra: [string, string][] = []): Buffer[] => {
    const ls: [string, string][] = [
      ['__name__', name],
      ['cluster', 'k8s-prod-1'],
      ['instance', instance],
      ['job', 'rtc'],
      ['region', region],
      ['server', server],
      ['zone', zone],
      ...extra,
    ];
    ls.sort(([a], [b]) => (a < b ? -1 : 1));
    return ls.map(([n, v]) => label(n, v));
  };
  const out: SeriesDef[] = [];
  const add = (name: string, kind: SeriesDef['kind'], extra: [string, string][] = []) =>
    out.push({ labels: Buffer.concat(base(name, extra)), kind, server: s });
  for (const n of ['rtc_up', 'rtc_capacity_participants', 'rtc_participants', 'rtc_rooms', 'rtc_load_ratio'])
    add(n, 'gauge');
  add('rtc_stats_updated_timestamp_seconds', 'gauge');
  add('rtc_largest_room_participants', 'gauge');
  for (const st of ['serving', 'draining', 'shutting_down'])
    add('rtc_server_state', 'gauge', [['state', st]]);
  for (const d of ['in', 'out'])
    for (const k of ['audio', 'video']) {
      add('rtc_rtp_bytes_total', 'counter', [
        ['direction', d],
        ['kind', k],
      ]);
      add('rtc_rtp_packets_total', 'counter', [
        ['direction', d],
        ['kind', k],
      ]);
      add('rtc_tracks', 'gauge', [
        ['direction', d],
        ['kind', k],
      ]);
    }
  for (const d of ['in', 'out']) add('rtc_rtp_packets_lost_total', 'counter', [['direction', d]]);
  for (const n of ['rtc_nacks_total', 'rtc_plis_total', 'rtc_join_attempts_total', 'rtc_ice_restarts_total'])
    add(n, 'counter');
  for (const r of ['full', 'timeout', 'ice_failed', 'rejected'])
    add('rtc_join_failures_total', 'counter', [['reason', r]]);
  const hist = (name: string, les: string[]) => {
    for (const le of les) add(`${name}_bucket`, 'counter', [['le', le]]);
    add(`${name}_sum`, 'counter');
    add(`${name}_count`, 'counter');
  };
  hist('rtc_rtt_seconds', ['0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '+Inf']);
  hist('rtc_jitter_seconds', ['0.005', '0.01', '0.02', '0.05', '0.1', '0.2', '+Inf']);
  hist('rtc_packet_loss_ratio', ['0.001', '0.005', '0.01', '0.02', '0.05', '0.1', '0.2', '+Inf']);
  hist('rtc_quality_score', ['1', '2', '3', '3.5', '4', '4.3', '+Inf']);
  hist('rtc_join_duration_seconds', ['0.1', '0.25', '0.5', '1', '2.5', '5', '+Inf']);
  hist('rtc_session_duration_seconds', ['10', '60', '300', '900', '3600', '+Inf']);
  for (const n of ['process_cpu_seconds_total', 'nodejs_gc_runs_total']) add(n, 'counter');
  for (const n of [
    'process_resident_memory_bytes',
    'process_heap_bytes',
    'process_open_fds',
    'process_start_time_seconds',
    'nodejs_eventloop_lag_seconds',
    'nodejs_active_handles',
    'nodejs_heap_size_used_bytes',
    'nodejs_heap_size_total_bytes',
    'nodejs_external_memory_bytes',
    'up',
    'scrape_duration_seconds',
  ])
    add(n, 'gauge');
  return out;
}

export function buildPayloads(o: FleetOptions): Payloads {
  const rand = rng(o.seed ?? 42);
  const series: SeriesDef[] = [];
  for (let s = 0; s < o.servers; s++) series.push(...serverSeries(s));
  const shardOf = series.map(() => Math.floor(rand() * o.shards));
  const offsets = Array.from({ length: o.servers }, () => Math.floor(rand() * 15_000));
  const values = series.map(() => Math.floor(rand() * 1000));
  const base = o.endMs - o.rounds * 15_000;
  const bodies: Buffer[] = [];
  const samples: number[] = [];
  const shard: number[] = [];
  let rawBytes = 0;
  let compressedBytes = 0;
  const queues: number[][] = Array.from({ length: o.shards }, () => []);
  const queueSeries: number[][] = Array.from({ length: o.shards }, () => []);
  const scratch = Buffer.allocUnsafe(64 * 1024 * 1024);
  const flushShard = (sh: number) => {
    const idx = queueSeries[sh]!;
    const tss = queues[sh]!;
    if (idx.length === 0) return;
    let p = 0;
    const sample = Buffer.allocUnsafe(32);
    for (let i = 0; i < idx.length; i++) {
      const def = series[idx[i]!]!;
      // Sample { double value = 1; int64 timestamp = 2; }
      let sp = 0;
      sample[sp++] = 0x09;
      if (def.kind === 'counter') values[idx[i]!]! += Math.floor(rand() * 50);
      const v = def.kind === 'counter' ? values[idx[i]!]! : Math.floor(rand() * 200) / 4;
      sample.writeDoubleLE(v, sp);
      sp += 8;
      sample[sp++] = 0x10;
      const tsBytes: number[] = [];
      varint(tss[i]!, tsBytes);
      for (const b of tsBytes) sample[sp++] = b;
      const ts: number[] = [];
      const inner = def.labels.length + 2 + sp;
      scratch[p++] = 0x0a;
      varint(inner, ts);
      for (const b of ts) scratch[p++] = b;
      def.labels.copy(scratch, p);
      p += def.labels.length;
      scratch[p++] = 0x12;
      scratch[p++] = sp;
      sample.copy(scratch, p, 0, sp);
      p += sp;
    }
    const raw = scratch.subarray(0, p);
    const body = snappy.compressSync(raw) as Buffer;
    bodies.push(body);
    samples.push(idx.length);
    shard.push(sh);
    rawBytes += raw.length;
    compressedBytes += body.length;
    queueSeries[sh] = [];
    queues[sh] = [];
  };
  for (let r = 0; r < o.rounds; r++) {
    for (let i = 0; i < series.length; i++) {
      const sh = shardOf[i]!;
      queueSeries[sh]!.push(i);
      queues[sh]!.push(base + r * 15_000 + offsets[series[i]!.server]!);
      if (queueSeries[sh]!.length >= o.samplesPerRequest) flushShard(sh);
    }
  }
  for (let sh = 0; sh < o.shards; sh++) flushShard(sh);
  return {
    bodies,
    samples,
    shard,
    totalSamples: samples.reduce((a, b) => a + b, 0),
    series: series.length,
    compressedBytes,
    rawBytes,
  };
}
