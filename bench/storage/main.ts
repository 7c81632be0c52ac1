import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ClickHouse, startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { freePort } from '../../src/stack/servers/process.ts';
import { startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { startVictoriaMetrics } from '../../src/stack/servers/victoria-metrics.ts';
import { forceMergeVm, instant, load, post } from '../read/payload.ts';
import { buildPayload, STEP_MS } from './data.ts';

/**
 * bench/storage: bytes per sample on disk after a merge, the same realistic data (data.ts) in every store:
 * - rtcmon: `rtcmon adapter` + ClickHouse 18.16 (server default LZ4), and the same into a second
 *   ClickHouse whose server config sets `<compression>` to ZSTD (every part, any size);
 * - VictoriaMetrics 1.79 (remote write), Prometheus 2.42's own TSDB (remote-write receiver, one sender,
 *   bodies in time order, all within its head's window: HOURS ≤ 3 keeps the head from compacting first).
 * Every store must hold exactly the samples sent (ClickHouse count(), count_over_time sums, the Prometheus
 * block's meta.json numSamples) or the bench fails. Merged alike before measuring: ClickHouse
 * OPTIMIZE … FINAL, VictoriaMetrics force_merge (waited for), Prometheus a TSDB snapshot (one block cut
 * from the head, as its compaction writes it). Then ClickHouse 18.16's options as plain tables filled by
 * INSERT … SELECT from rtcmon's samples table on both servers (LZ4 and ZSTD), each counted and merged.
 * `HOSTS` (≈50 series each) and `HOURS` environment variables change the size.
 */
const HOSTS = Number(process.env.HOSTS ?? 40);
const HOURS = Number(process.env.HOURS ?? 3);
const PER_BODY = 20; // scrapes per remote-write body (5 min of every series)

const log = (s: string) => process.stdout.write(`${s}\n`);

/** Sum of the sizes of the files under `p` (apparent bytes). */
function dirBytes(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((n, f) => n + dirBytes(join(p, f)), 0);
}

async function sendAll(
  name: string,
  url: string,
  bodies: readonly Buffer[],
  senders: number,
  samples: number,
): Promise<void> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) await post(url, bodies[next++]!);
  };
  await Promise.all(Array.from({ length: senders }, worker));
  const s = (performance.now() - t0) / 1000;
  log(
    `  loaded ${name} with ${senders} sender(s): ${s.toFixed(1)} s (${(samples / s / 1000).toFixed(0)}k samples/s, ${load()})`,
  );
}

/** Active parts of one table: compressed data bytes, on-disk bytes (+ marks, index), rows. */
async function parts(ch: ClickHouse, db: string, table: string) {
  const [compressed, onDisk, rows] = (
    await ch.query(
      `SELECT sum(data_compressed_bytes), sum(bytes_on_disk), sum(rows) FROM system.parts WHERE active AND database = '${db}' AND table = '${table}'`,
    )
  )
    .trim()
    .split('\t')
    .map(Number);
  return { compressed: compressed!, onDisk: onDisk!, rows: rows! };
}

/** ClickHouse 18.16's options, as plain tables filled from rtcmon.samples. */
const ALTERNATIVES = [
  {
    name: 'samples_t32',
    what: 'timestamp as DateTime (UInt32 s) + UInt16 ms, ORDER BY (fingerprint, t, ms)',
    schemaChange: true,
    ddl: '(fingerprint UInt64, t DateTime, ms UInt16, value Float64) ENGINE = MergeTree PARTITION BY toDate(t) ORDER BY (fingerprint, t, ms)',
    select:
      'SELECT fingerprint, toDateTime(intDiv(timestamp_ms, 1000)), toUInt16(timestamp_ms % 1000), value FROM rtcmon.samples',
  },
  {
    name: 'samples_by_metric',
    what: 'metric_name first: ORDER BY (metric_name, fingerprint, timestamp_ms)',
    schemaChange: true,
    ddl: '(metric_name String, fingerprint UInt64, timestamp_ms Int64, value Float64) ENGINE = MergeTree PARTITION BY toDate(toDateTime(intDiv(timestamp_ms, 1000))) ORDER BY (metric_name, fingerprint, timestamp_ms)',
    select:
      'SELECT metric_name, fingerprint, timestamp_ms, value FROM rtcmon.samples ANY LEFT JOIN (SELECT fingerprint, any(metric_name) AS metric_name FROM rtcmon.series GROUP BY fingerprint) USING fingerprint',
  },
  {
    name: 'samples_by_metric_t32',
    what: 'both: metric_name first, DateTime + UInt16 ms',
    schemaChange: true,
    ddl: '(metric_name String, fingerprint UInt64, t DateTime, ms UInt16, value Float64) ENGINE = MergeTree PARTITION BY toDate(t) ORDER BY (metric_name, fingerprint, t, ms)',
    select:
      'SELECT metric_name, fingerprint, toDateTime(intDiv(timestamp_ms, 1000)), toUInt16(timestamp_ms % 1000), value FROM rtcmon.samples ANY LEFT JOIN (SELECT fingerprint, any(metric_name) AS metric_name FROM rtcmon.series GROUP BY fingerprint) USING fingerprint',
  },
] as const;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-bench-storage-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    const points = Math.floor((HOURS * 3600_000) / STEP_MS);
    const endMs = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const payload = buildPayload(HOSTS, points, endMs, PER_BODY);
    const sent = payload.samples;
    log(
      `bench/storage: ${payload.series} series (${HOSTS} hosts × node_exporter-like + RTC-like) × ${HOURS} h at 15 s ` +
        `= ${sent} samples, ending ${new Date(endMs).toISOString()}; ${payload.bodies.length} remote-write bodies of ` +
        `${PER_BODY} scrapes; all stores counted and merged before measuring; ${load()}`,
    );

    const startCh = async (name: string, extraConfig?: string) => {
      const ch = await startClickHouse({
        dir: join(dir, name),
        logDir: dir,
        name,
        ...(extraConfig ? { extraConfig } : {}),
      });
      stops.push(() => ch.stop());
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const adapter = await startRole({
        role: 'adapter',
        name: `adapter-${name}`,
        args: [`--web.listen-address=127.0.0.1:${port}`, `--clickhouse.url=${ch.url}`, '--log.level=warn'],
        url,
        logDir: dir,
      });
      stops.push(() => adapter.stop());
      return { ch, writeUrl: `${url}/write` };
    };
    const lz4 = await startCh('clickhouse-lz4');
    const zstd = await startCh(
      'clickhouse-zstd',
      '<compression><case><min_part_size>0</min_part_size><min_part_size_ratio>0</min_part_size_ratio><method>zstd</method></case></compression>',
    );
    const vm = await startVictoriaMetrics({ dir: join(dir, 'vm'), logDir: dir });
    stops.push(() => vm.stop());
    const promDir = join(dir, 'prometheus');
    const prom = await startPrometheus({
      dir: promDir,
      logDir: dir,
      jobs: [],
      extraArgs: ['--web.enable-remote-write-receiver', '--web.enable-admin-api'],
    });
    stops.push(() => prom.stop());

    await sendAll('rtcmon adapter + ClickHouse LZ4', lz4.writeUrl, payload.bodies, 2, sent);
    await sendAll('rtcmon adapter + ClickHouse ZSTD', zstd.writeUrl, payload.bodies, 2, sent);
    await sendAll('VictoriaMetrics', vm.writeUrl, payload.bodies, 2, sent);
    await sendAll('Prometheus', `${prom.url}/api/v1/write`, payload.bodies, 1, sent);
    await sleep(3_000); // VictoriaMetrics makes fresh data searchable after its buffers flush

    // Merge every store, then count what it holds.
    for (const { ch } of [lz4, zstd])
      for (const t of ['samples', 'series', 'metadata']) await ch.query(`OPTIMIZE TABLE rtcmon.${t} FINAL`);
    await forceMergeVm(vm.url, payload.startMs);
    const snap = (await (
      await fetch(`${prom.url}/api/v1/admin/tsdb/snapshot`, { method: 'POST' })
    ).json()) as {
      status: string;
      data: { name: string };
    };
    if (snap.status !== 'success') throw new Error(`Prometheus snapshot: ${JSON.stringify(snap)}`);
    const snapDir = join(promDir, 'data', 'snapshots', snap.data.name);
    // count_over_time drops __name__, so count metric by metric (names as Prometheus lists them; any
    // missing name shows as a shortfall in the total).
    const names = (
      (await (await fetch(`${prom.url}/api/v1/label/__name__/values`)).json()) as { data: string[] }
    ).data;
    const countIn = async (base: string) => {
      let n = 0;
      for (const name of names)
        n += await instant(base, `sum(count_over_time(${name}[${HOURS * 3600 + 60}s]))`, endMs / 1000);
      return n;
    };
    const inVm = await countIn(vm.url);
    const inProm = await countIn(prom.url);
    const blocks = readdirSync(snapDir).filter((b) => statSync(join(snapDir, b)).isDirectory());
    let promChunks = 0;
    let promIndex = 0;
    let promBlockSamples = 0;
    for (const b of blocks) {
      promChunks += dirBytes(join(snapDir, b, 'chunks'));
      promIndex += dirBytes(join(snapDir, b, 'index'));
      promBlockSamples += (
        JSON.parse(readFileSync(join(snapDir, b, 'meta.json'), 'utf8')) as { stats: { numSamples: number } }
      ).stats.numSamples;
    }
    const chRows = [];
    for (const { ch } of [lz4, zstd])
      chRows.push(Number((await ch.query('SELECT count() FROM rtcmon.samples')).trim()));
    log(
      `stored: sent ${sent}; ClickHouse LZ4 ${chRows[0]}, ClickHouse ZSTD ${chRows[1]}, VictoriaMetrics ${inVm}, ` +
        `Prometheus ${inProm} (snapshot: ${blocks.length} block(s), ${promBlockSamples} samples)`,
    );
    if (chRows.some((n) => n !== sent) || inVm !== sent || inProm !== sent || promBlockSamples !== sent)
      throw new Error('a store does not hold exactly the samples sent');

    // Values as each store gives them back: the last sample of every series, VictoriaMetrics against Prometheus.
    const lastOf = async (base: string) => {
      const res = await fetch(`${base}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: '{__name__=~".+"}', time: String(endMs / 1000) }),
      });
      const body = (await res.json()) as {
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      return new Map(
        body.data.result.map((r) => [JSON.stringify(Object.entries(r.metric).sort()), r.value[1]]),
      );
    };
    const exact = await lastOf(prom.url);
    const viaVm = await lastOf(vm.url);
    let rounded = 0;
    let example = 'none';
    for (const [k, v] of exact) {
      const w = viaVm.get(k);
      if (w === undefined) throw new Error(`VictoriaMetrics has no last sample for ${k}`);
      if (Number(w) !== Number(v)) {
        if (rounded++ === 0) example = `${v} → ${w}`;
      }
    }
    if (exact.size !== payload.series) throw new Error(`Prometheus' last samples: ${exact.size} series`);

    const rows: [string, number, string][] = [];
    const bps = (bytes: number) => (bytes / sent).toFixed(2);
    for (const [label, { ch }] of [
      ['LZ4 (server default)', lz4],
      ['ZSTD (server <compression>)', zstd],
    ] as const) {
      const s = await parts(ch, 'rtcmon', 'samples');
      const series = await parts(ch, 'rtcmon', 'series');
      const meta = await parts(ch, 'rtcmon', 'metadata');
      rows.push(
        [`rtcmon samples table, ${label}: compressed columns`, s.compressed, ''],
        [`rtcmon samples table, ${label}: on disk (+ marks, index)`, s.onDisk, ''],
      );
      rows.push([`rtcmon series + metadata tables, ${label}: on disk`, series.onDisk + meta.onDisk, '']);
      // Where the samples' bytes go, column by column.
      for (const line of (
        await ch.query(
          "SELECT name, data_compressed_bytes FROM system.columns WHERE database = 'rtcmon' AND table = 'samples'",
        )
      )
        .trim()
        .split('\n')) {
        const [col, bytes] = line.split('\t');
        rows.push([`  of which column ${col}`, Number(bytes), '']);
      }
    }
    const vmData = join(dir, 'vm', 'data');
    rows.push(
      ['VictoriaMetrics 1.79 data/ (samples)', dirBytes(join(vmData, 'data')), ''],
      ['VictoriaMetrics 1.79 indexdb/ (series index)', dirBytes(join(vmData, 'indexdb')), ''],
    );
    rows.push(
      ['Prometheus 2.42 snapshot block chunks/', promChunks, ''],
      ['Prometheus 2.42 snapshot block index', promIndex, ''],
    );

    // ClickHouse 18.16's options: plain tables from rtcmon.samples, on both servers, counted and merged.
    for (const alt of ALTERNATIVES) {
      for (const [label, { ch }] of [
        ['LZ4', lz4],
        ['ZSTD', zstd],
      ] as const) {
        await ch.query(`CREATE TABLE rtcmon.${alt.name} ${alt.ddl}`);
        await ch.query(`INSERT INTO rtcmon.${alt.name} ${alt.select}`);
        await ch.query(`OPTIMIZE TABLE rtcmon.${alt.name} FINAL`);
        const p = await parts(ch, 'rtcmon', alt.name);
        if (p.rows !== sent) throw new Error(`${alt.name} (${label}): ${p.rows} rows, sent ${sent}`);
        rows.push([
          `option ${alt.name}, ${label}: compressed columns`,
          p.compressed,
          `${alt.what}${alt.schemaChange ? '; needs a schema change' : ''}`,
        ]);
      }
    }

    log(`\n${'store / option'.padEnd(84)} ${'bytes'.padStart(12)} ${'B/sample'.padStart(9)}`);
    for (const [name, bytes, note] of rows) {
      log(`${name.padEnd(84)} ${String(bytes).padStart(12)} ${bps(bytes).padStart(9)}`);
      if (note) log(`    ${note}`);
    }
    log(
      `\nVictoriaMetrics rounds values (stored as decimal mantissa and exponent, about 12 significant digits); ` +
        `rtcmon and Prometheus keep every float64 bit. Last sample of every series, VictoriaMetrics against ` +
        `Prometheus: ${rounded} of ${payload.series} differ (e.g. ${example}).`,
    );
    log(`done; ${load()}`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
