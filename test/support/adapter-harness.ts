import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fingerprint } from '../../src/adapter/fingerprint.ts';
import { type ClickHouse, startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { type NodeExporter, startNodeExporter } from '../../src/stack/servers/node-exporter.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { type Prometheus, startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { startRole } from '../../src/stack/servers/role.ts';

/** Real ClickHouse + `rtcmon adapter` (the CLI, as a process), and optionally node_exporter + Prometheus. */
export interface AdapterRig {
  dir: string;
  ch: ClickHouse;
  adapter: ManagedProcess;
  adapterUrl: string;
  database: string;
  node?: NodeExporter;
  prom?: Prometheus;
  externalLabels: Record<string, string>;
  /** Stops everything this rig started, by PID, and removes its directory. */
  stop(): Promise<void>;
  startAdapter(extraArgs?: readonly string[]): Promise<void>;
}

export async function startRig(opts: {
  prometheus: boolean;
  adapterArgs?: readonly string[];
  /** Extra XML for clickhouse-server's config (e.g. `<keep_alive_timeout>`). */
  clickhouseConfig?: string;
}): Promise<AdapterRig> {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-adapter-'));
  const logDir = join(dir, 'logs');
  const database = `t_${process.pid}_${Date.now()}`;
  const stops: (() => Promise<void>)[] = [];
  const rig: Partial<AdapterRig> & { externalLabels: Record<string, string> } = {
    dir,
    database,
    externalLabels: { cluster: 'it', replica: 'a' },
  };
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ch = await startClickHouse({
      dir: join(dir, 'clickhouse'),
      logDir,
      ...(opts.clickhouseConfig ? { extraConfig: opts.clickhouseConfig } : {}),
    });
    rig.ch = ch;
    stops.push(() => rig.ch!.stop());
    const port = await freePort();
    rig.adapterUrl = `http://127.0.0.1:${port}`;
    rig.startAdapter = async (extra = []) => {
      rig.adapter = await startRole({
        role: 'adapter',
        args: [
          `--web.listen-address=127.0.0.1:${port}`,
          `--clickhouse.url=${ch.url}`,
          `--clickhouse.database=${database}`,
          '--batch.max-delay=50ms',
          '--log.level=warn',
          ...(opts.adapterArgs ?? []),
          ...extra,
        ],
        url: rig.adapterUrl!,
        logDir,
      });
    };
    await rig.startAdapter();
    stops.push(() => rig.adapter!.stop());
    if (opts.prometheus) {
      const node = await startNodeExporter({ logDir });
      rig.node = node;
      stops.push(() => node.stop());
      rig.prom = await startPrometheus({
        dir: join(dir, 'prometheus'),
        logDir,
        scrapeInterval: '1s',
        externalLabels: rig.externalLabels,
        jobs: [
          { job: 'node', targets: [node.address] },
          { job: 'adapter', targets: [`127.0.0.1:${port}`] },
        ],
        remoteWrite: [
          {
            url: `${rig.adapterUrl}/write`,
            queueConfig: { batch_send_deadline: '1s', min_backoff: '100ms', max_backoff: '1s' },
          },
        ],
      });
      stops.push(() => rig.prom!.stop());
    }
  } catch (err) {
    await stop();
    throw err;
  }
  rig.stop = stop;
  return rig as AdapterRig;
}

/** A sample as (timestamp ms, the value's 64 bits). */
export interface Point {
  ts: bigint;
  bits: bigint;
}

export const STALE_NAN = 0x7ff0000000000002n;

export const doubleBits = (v: number): bigint => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return b.readBigUInt64LE(0);
};

/** Canonical key of a label set: sorted `name=value` pairs as JSON. */
export const labelKey = (labels: Record<string, string>): string =>
  JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Prometheus API value text (Go's strconv 'f', -1) back to its float64. */
export function promValue(s: string): number {
  if (s === 'NaN') return Number.NaN;
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(s);
}

/** Every raw sample Prometheus holds with a timestamp in [fromMs, toMs], by label key (external labels added). */
export async function prometheusSamples(
  promUrl: string,
  fromMs: number,
  toMs: number,
  externalLabels: Record<string, string>,
): Promise<Map<string, Point[]>> {
  const rangeMs = toMs - fromMs + 1;
  const u = new URL(`${promUrl}/api/v1/query`);
  u.searchParams.set('query', `{__name__=~".+"}[${rangeMs}ms]`);
  u.searchParams.set('time', (toMs / 1000).toFixed(3));
  const res = (await (await fetch(u)).json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; values: [number, string][] }[] };
  };
  if (res.status !== 'success') throw new Error(`Prometheus query failed: ${JSON.stringify(res)}`);
  const out = new Map<string, Point[]>();
  for (const s of res.data.result) {
    const pts = s.values
      .map(([t, v]) => ({ ts: BigInt(Math.round(t * 1000)), bits: doubleBits(promValue(v)) }))
      .filter((p) => p.ts >= BigInt(fromMs) && p.ts <= BigInt(toMs));
    if (pts.length) out.set(labelKey({ ...s.metric, ...externalLabels }), pts);
  }
  return out;
}

/** The same from ClickHouse: series (collapsed by fingerprint) and samples read in RowBinary, FINAL. */
export async function clickhouseSamples(
  ch: ClickHouse,
  database: string,
  fromMs: number,
  toMs: number,
): Promise<Map<string, Point[]>> {
  const series = await ch.query(
    `SELECT fingerprint, any(label_names) AS n, any(label_values) AS v FROM ${database}.series GROUP BY fingerprint FORMAT JSONEachRow`,
  );
  const byFp = new Map<string, string>();
  for (const line of series.split('\n').filter(Boolean)) {
    const r = JSON.parse(line) as { fingerprint: string; n: string[]; v: string[] };
    const labels = Object.fromEntries(r.n.map((n, i) => [n, r.v[i]!]));
    // The adapter's fingerprint must be the hash of exactly these labels.
    if (fingerprint(r.n, r.v).toString() !== r.fingerprint)
      throw new Error(`fingerprint ${r.fingerprint} does not match its labels ${labelKey(labels)}`);
    byFp.set(r.fingerprint, labelKey(labels));
  }
  const res = await fetch(`${ch.url}/?database=${database}`, {
    method: 'POST',
    body: `SELECT fingerprint, timestamp_ms, value FROM samples FINAL WHERE timestamp_ms >= ${fromMs} AND timestamp_ms <= ${toMs} ORDER BY fingerprint, timestamp_ms FORMAT RowBinary`,
  });
  if (!res.ok) throw new Error(await res.text());
  const buf = Buffer.from(await res.arrayBuffer());
  const out = new Map<string, Point[]>();
  for (let p = 0; p < buf.length; p += 24) {
    const fp = buf.readBigUInt64LE(p).toString();
    const key = byFp.get(fp);
    if (key === undefined) throw new Error(`samples of fingerprint ${fp} have no series row`);
    let list = out.get(key);
    if (!list) {
      list = [];
      out.set(key, list);
    }
    list.push({ ts: buf.readBigInt64LE(p + 8), bits: buf.readBigUInt64LE(p + 16) });
  }
  return out;
}

/** Differences between what Prometheus holds and what ClickHouse holds (empty when identical). */
export function diffSamples(prom: Map<string, Point[]>, ch: Map<string, Point[]>): string[] {
  const problems: string[] = [];
  for (const [key, pts] of prom) {
    const got = ch.get(key);
    if (!got) {
      problems.push(`missing series ${key}`);
      continue;
    }
    const want = new Map(pts.map((p) => [p.ts, p.bits]));
    const have = new Map(got.filter((p) => p.bits !== STALE_NAN).map((p) => [p.ts, p.bits]));
    for (const [ts, bits] of want) {
      const b = have.get(ts);
      if (b === undefined) problems.push(`missing sample ${key} @${ts}`);
      // The API prints every NaN as "NaN": only NaN-ness survives it.
      else if (b !== bits && !(isNaNBits(b) && isNaNBits(bits)))
        problems.push(
          `value bits differ ${key} @${ts}: prometheus ${bits.toString(16)} clickhouse ${b.toString(16)}`,
        );
    }
    for (const ts of have.keys()) if (!want.has(ts)) problems.push(`extra sample ${key} @${ts}`);
  }
  for (const [key, pts] of ch)
    if (!prom.has(key) && pts.some((p) => p.bits !== STALE_NAN)) problems.push(`extra series ${key}`);
  return problems;
}

const isNaNBits = (b: bigint): boolean =>
  (b & 0x7ff0000000000000n) === 0x7ff0000000000000n && (b & 0xfffffffffffffn) !== 0n;

/** Prometheus' own counter of what its remote-write queue has sent successfully (seconds). */
export async function highestSentMs(promUrl: string): Promise<number> {
  const text = await (await fetch(`${promUrl}/metrics`)).text();
  const m = /^prometheus_remote_storage_queue_highest_sent_timestamp_seconds\{[^}]*\} (\S+)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : 0;
}

/** Waits until Prometheus has sent (and the adapter acknowledged) everything up to `ms`. */
export async function waitSentPast(promUrl: string, ms: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await highestSentMs(promUrl)) >= ms) return;
    await sleep(250);
  }
  throw new Error(`Prometheus did not send samples past ${ms} within ${timeoutMs} ms`);
}

/** Waits until Prometheus holds at least `n` scrapes of node_exporter (scraping starts a while after ready). */
export async function waitScrapes(promUrl: string, n: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const u = new URL(`${promUrl}/api/v1/query`);
    u.searchParams.set('query', 'count_over_time(up{job="node"}[1h])');
    const r = (await (await fetch(u)).json()) as { data?: { result?: { value: [number, string] }[] } };
    if (Number(r.data?.result?.[0]?.value[1] ?? 0) >= n) return;
    await sleep(500);
  }
  throw new Error(`Prometheus did not scrape node_exporter ${n} times within ${timeoutMs} ms`);
}

/** Counts rows of `samples` as stored, and distinct (fingerprint, timestamp_ms) keys. */
export async function sampleCounts(
  ch: ClickHouse,
  database: string,
): Promise<{ rows: number; keys: number }> {
  const [rows, keys] = (
    await ch.query(`SELECT count(), uniqExact(fingerprint, timestamp_ms) FROM ${database}.samples`)
  )
    .trim()
    .split('\t')
    .map(Number);
  return { rows: rows!, keys: keys! };
}

/** A metric from the adapter's /metrics, summed over matching label sets. */
export async function adapterMetric(url: string, name: string, labelFilter = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labelFilter && !rest.includes(labelFilter)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
