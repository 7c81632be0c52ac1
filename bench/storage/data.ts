import snappy from 'snappy';
import { encodeLabels, PbWriter } from '../../src/adapter/read-proto.ts';
import { rng } from '../dispatch/sim/rng.ts';

/**
 * bench/storage's data: per host, about 50 series like node_exporter's and an RTC server's, scraped every
 * 15 s (a per-host offset in ms, as Prometheus spreads targets), deterministic (pure-rand's Mersenne Twister, fixed seed):
 * - integer counters (bytes, packets, context switches, histogram buckets and counts),
 * - 2-decimal float counters (node_cpu_seconds_total) and 3-decimal ones (io time),
 * - gauges that move little (memory and filesystem in 4 KiB pages, participants, rooms, fds; often unchanged),
 * - 2-decimal gauges (load averages, load ratio), constants (boot time, up),
 * - histogram `_sum`s, which carry full float mantissas.
 */
export const STEP_MS = 15_000;

interface Series {
  labels: Buffer;
  next(): number;
}

function labelsOf(ls: [string, string][]): Buffer {
  ls.sort(([a], [b]) => (a < b ? -1 : 1));
  return encodeLabels(ls.map(([name, value]) => ({ name: Buffer.from(name), value: Buffer.from(value) })));
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function hostSeries(h: number, rnd: () => number): Series[] {
  const out: Series[] = [];
  const instance = `10.0.${h >> 8}.${h & 255}`;
  const add = (name: string, job: string, extra: [string, string][], next: () => number) =>
    out.push({
      labels: labelsOf([
        ['__name__', name],
        ['instance', `${instance}:${job === 'node' ? 9100 : 9464}`],
        ['job', job],
        ['region', ['eu-west', 'us-east', 'ap-south'][h % 3]!],
        ...extra,
      ]),
      next,
    });
  const counter = (start: number, inc: () => number, round: (x: number) => number = Math.round) => {
    let v = round(start);
    return () => (v = round(v + inc()));
  };
  const walk = (start: number, step: number, pMove: number, min: number) => {
    let v = start;
    return () => {
      if (rnd() < pMove) v = Math.max(min, v + Math.round((rnd() - 0.5) * 2) * step);
      return v;
    };
  };
  // node_exporter
  for (const cpu of ['0', '1'])
    for (const [mode, share] of [
      ['idle', 0.8],
      ['user', 0.12],
      ['system', 0.06],
      ['iowait', 0.02],
    ] as const)
      add(
        'node_cpu_seconds_total',
        'node',
        [
          ['cpu', cpu],
          ['mode', mode],
        ],
        counter(1e5 * share + rnd() * 1000, () => 15 * share * (0.7 + rnd() * 0.6), r2),
      );
  for (const dir of ['receive', 'transmit']) {
    add(
      `node_network_${dir}_bytes_total`,
      'node',
      [['device', 'eth0']],
      counter(rnd() * 1e11, () => 1e5 + rnd() * 2e6),
    );
    add(
      `node_network_${dir}_packets_total`,
      'node',
      [['device', 'eth0']],
      counter(rnd() * 1e8, () => 100 + rnd() * 2000),
    );
  }
  for (const m of ['MemAvailable', 'Cached', 'Buffers', 'Dirty'])
    add(`node_memory_${m}_bytes`, 'node', [], walk(Math.round(rnd() * 1e6) * 4096, 4096 * 16, 0.5, 0));
  for (const mp of ['/', '/data'])
    add(
      'node_filesystem_avail_bytes',
      'node',
      [
        ['device', mp === '/' ? 'sda1' : 'sdb1'],
        ['mountpoint', mp],
      ],
      walk(Math.round(rnd() * 1e7) * 4096, 4096, 0.3, 0),
    );
  for (const n of ['1', '5', '15']) {
    let v = 0.5 + rnd();
    add(
      `node_load${n}`,
      'node',
      [],
      () => (v = r2(Math.max(0, v + (rnd() - 0.5) * (n === '1' ? 0.4 : 0.1)))),
    );
  }
  for (const d of ['read', 'written'])
    add(
      `node_disk_${d}_bytes_total`,
      'node',
      [['device', 'sda']],
      counter(rnd() * 1e10, () => Math.floor(rnd() * 2000) * 512),
    );
  add(
    'node_disk_io_time_seconds_total',
    'node',
    [['device', 'sda']],
    counter(rnd() * 1e4, () => rnd() * 0.5, r3),
  );
  add(
    'node_context_switches_total',
    'node',
    [],
    counter(rnd() * 1e9, () => 2e4 + rnd() * 1e4),
  );
  add(
    'node_intr_total',
    'node',
    [],
    counter(rnd() * 1e9, () => 1e4 + rnd() * 5e3),
  );
  add('node_procs_running', 'node', [], walk(2, 1, 0.4, 1));
  const boot = Math.floor(1.7e9 + rnd() * 1e7);
  add('node_boot_time_seconds', 'node', [], () => boot);
  add('node_filefd_allocated', 'node', [], walk(2000 + Math.floor(rnd() * 500), 1, 0.6, 0));
  // RTC server
  const participants = walk(Math.floor(rnd() * 200), 1, 0.5, 0);
  let p = 0;
  add('rtc_participants', 'rtc', [], () => (p = participants()));
  add('rtc_rooms', 'rtc', [], walk(Math.floor(rnd() * 30), 1, 0.2, 0));
  add('rtc_load_ratio', 'rtc', [], () => r2(p / 250));
  add('rtc_up', 'rtc', [], () => 1);
  for (const d of ['in', 'out'])
    for (const k of ['audio', 'video']) {
      const rate = k === 'audio' ? 6000 : 150_000;
      add(
        'rtc_rtp_bytes_total',
        'rtc',
        [
          ['direction', d],
          ['kind', k],
        ],
        counter(rnd() * 1e10, () => p * rate * (0.9 + rnd() * 0.2)),
      );
      add(
        'rtc_rtp_packets_total',
        'rtc',
        [
          ['direction', d],
          ['kind', k],
        ],
        counter(rnd() * 1e8, () => p * (rate / 1000) * (0.9 + rnd() * 0.2)),
      );
    }
  // One histogram: observations shared by its buckets, _sum and _count.
  const les = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, Number.POSITIVE_INFINITY];
  const buckets = les.map(() => Math.floor(rnd() * 1e5));
  buckets.sort((a, b) => a - b);
  let sum = rnd() * 1e4;
  const observe = (i: number) => {
    if (i === 0) {
      // advance the histogram once per scrape, when its first bucket is asked for
      const n = Math.floor(rnd() * 40);
      const obs = Array.from({ length: n }, () => 0.005 + rnd() ** 3 * 0.8);
      for (const o of obs) {
        sum += o;
        for (let b = 0; b < les.length; b++) if (o <= les[b]!) buckets[b]!++;
      }
    }
    return buckets[i]!;
  };
  les.forEach((le, i) => {
    add(
      'rtc_rtt_seconds_bucket',
      'rtc',
      [['le', le === Number.POSITIVE_INFINITY ? '+Inf' : String(le)]],
      () => observe(i),
    );
  });
  add('rtc_rtt_seconds_sum', 'rtc', [], () => sum);
  add('rtc_rtt_seconds_count', 'rtc', [], () => buckets[les.length - 1]!);
  return out;
}

export interface Payload {
  bodies: Buffer[];
  samples: number;
  series: number;
  startMs: number;
  endMs: number;
}

/**
 * Remote-write bodies in time order: each holds every series' samples of `perBody` consecutive scrapes
 * (each series' samples ascending). The last scrape is before `endMs`.
 */
export function buildPayload(hosts: number, points: number, endMs: number, perBody: number): Payload {
  const rnd = rng(20261201);
  const series: Series[] = [];
  const offsets: number[] = [];
  for (let h = 0; h < hosts; h++) {
    const off = Math.floor(rnd() * STEP_MS);
    for (const s of hostSeries(h, rnd)) {
      series.push(s);
      offsets.push(off);
    }
  }
  const startMs = endMs - points * STEP_MS;
  // generated scrape by scrape, series in order (rtc_load_ratio and the histogram read state set before)
  const bodies: Buffer[] = [];
  for (let p0 = 0; p0 < points; p0 += perBody) {
    const n = Math.min(perBody, points - p0);
    const vals = Array.from({ length: n }, () => series.map((s) => s.next()));
    const w = new PbWriter(series.length * (n * 20 + 200));
    series.forEach((s, i) => {
      let len = s.labels.length;
      const ts: number[] = [];
      for (let k = 0; k < n; k++) {
        ts.push(startMs + (p0 + k) * STEP_MS + offsets[i]!);
        len += 2 + 9 + 1 + uvarintLen(ts[k]!);
      }
      w.tag(1, 2);
      w.uvarint(len);
      w.raw(s.labels);
      for (let k = 0; k < n; k++) {
        w.tag(2, 2);
        w.uvarint(9 + 1 + uvarintLen(ts[k]!));
        w.tag(1, 1);
        w.ensure(8);
        w.buf.writeDoubleLE(vals[k]![i]!, w.pos);
        w.pos += 8;
        w.tag(2, 0);
        w.uvarint(ts[k]!);
      }
    });
    bodies.push(snappy.compressSync(w.bytes()) as Buffer);
  }
  return { bodies, samples: points * series.length, series: series.length, startMs, endMs };
}

function uvarintLen(n: number): number {
  let l = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    l++;
  }
  return l;
}
