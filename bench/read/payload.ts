import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import snappy from 'snappy';
import { PbWriter } from '../../src/adapter/read-proto.ts';

/** The bench's data: `series` counters `bench_rtp_bytes_total{group, instance, job}`, `hours` at 15 s. */
export const METRIC = 'bench_rtp_bytes_total';
export const STEP_MS = 15_000;
export const load = () =>
  `load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
const log = (s: string) => process.stdout.write(`${s}\n`);

/** Remote-write bodies: every series, `perRequest` consecutive samples each, hand-encoded protobuf. */
export function* writeBodies(
  SERIES: number,
  HOURS: number,
  endMs: number,
  perRequest: number,
): Generator<{ body: Buffer; samples: number }> {
  const points = Math.floor((HOURS * 3600_000) / STEP_MS);
  const startMs = endMs - points * STEP_MS;
  const labels = Array.from({ length: SERIES }, (_, i) => {
    const w = new PbWriter(256);
    const label = (name: string, value: string) => {
      const n = Buffer.from(name);
      const v = Buffer.from(value);
      w.tag(1, 2);
      w.uvarint(2 + n.length + 2 + v.length);
      w.bytesField(1, n);
      w.bytesField(2, v);
    };
    label('__name__', METRIC);
    label('group', `g${i % 10}`);
    label('instance', `host-${String(i).padStart(4, '0')}:9100`);
    label('job', 'rtc');
    return Buffer.from(w.bytes());
  });
  // A counter per series: a steady rate with noise, so XOR/Gorilla sees realistic values.
  const value = new Float64Array(SERIES);
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let p0 = 0; p0 < points; p0 += perRequest) {
    const n = Math.min(perRequest, points - p0);
    const w = new PbWriter(SERIES * (n * 20 + 80));
    for (let s = 0; s < SERIES; s++) {
      const lab = labels[s]!;
      const sampleBytes = n * (2 + 9 + 1 + 6);
      w.tag(1, 2);
      w.uvarint(lab.length + sampleBytes);
      w.raw(lab);
      for (let k = 0; k < n; k++) {
        value[s] = value[s]! + Math.round(1000 + rnd() * 500 * (1 + (s % 7)));
        w.tag(2, 2);
        w.uvarint(16);
        w.tag(1, 1);
        w.ensure(8);
        w.buf.writeDoubleLE(value[s]!, w.pos);
        w.pos += 8;
        w.tag(2, 0);
        w.int64(startMs + (p0 + k) * STEP_MS); // 6 bytes for today's timestamps
      }
    }
    yield { body: snappy.compressSync(w.bytes()), samples: n * SERIES };
  }
}

export async function post(url: string, body: Buffer): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-encoding': 'snappy',
        'content-type': 'application/x-protobuf',
        'x-prometheus-remote-write-version': '0.1.0',
      },
      body: new Uint8Array(body),
    });
    const text = await res.text();
    if (res.ok) return;
    if (res.status < 500 || attempt > 20) throw new Error(`${url}: ${res.status} ${text}`);
    await sleep(200);
  }
}

export async function loadAll(
  urls: readonly string[],
  series: number,
  hours: number,
  endMs: number,
  /** Concurrent senders per URL (1 keeps the bodies in time order, which Prometheus' TSDB needs). */
  concurrency: (url: string) => number = () => 4,
): Promise<Record<string, number>> {
  const secs: Record<string, number> = {};
  const bodies = [...writeBodies(series, hours, endMs, 60)];
  const total = bodies.reduce((n, b) => n + b.samples, 0);
  log(`payload: ${bodies.length} remote-write bodies, ${total} samples, ${series} series`);
  for (const url of urls) {
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < bodies.length) await post(url, bodies[next++]!.body);
    };
    await Promise.all(Array.from({ length: concurrency(url) }, worker));
    secs[url] = (performance.now() - t0) / 1000;
    log(
      `loaded ${url}: ${secs[url]!.toFixed(1)} s (${(total / secs[url]! / 1000).toFixed(0)}k samples/s, ${load()})`,
    );
  }
  return secs;
}

/** One instant PromQL query's single scalar-like result (first series' value), as a number. */
export async function instant(base: string, query: string, timeS: number): Promise<number> {
  const res = await fetch(`${base}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query, time: String(timeS) }),
  });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data: { result: { value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`${base}: ${query}: ${body.error}`);
  return Number(body.data.result[0]?.value[1] ?? Number.NaN);
}

/** VictoriaMetrics: merge every partition from `sinceMs`'s month to now's, and wait until no forced merge runs. */
export async function forceMergeVm(vmUrl: string, sinceMs: number): Promise<void> {
  const months = new Set<string>();
  for (const d of [new Date(), new Date(sinceMs)])
    months.add(`${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`);
  for (const m of months) {
    const res = await fetch(`${vmUrl}/internal/force_merge?partition_prefix=${m}`);
    if (!res.ok) throw new Error(`VictoriaMetrics force_merge ${m}: ${res.status} ${await res.text()}`);
  }
  for (;;) {
    await sleep(500);
    const text = await (await fetch(`${vmUrl}/metrics`)).text();
    const m = /^vm_active_force_merges (\d+)/m.exec(text);
    if (!m || m[1] === '0') return;
  }
}
