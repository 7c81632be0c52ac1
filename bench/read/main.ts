import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import snappy from 'snappy';
import { ReadRequest } from '../../test/support/prompb.ts';
import { startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { startVictoriaMetrics } from '../../src/stack/servers/victoria-metrics.ts';
import { load, loadAll, METRIC } from './payload.ts';

/**
 * bench/read: 1,000 series × 24 h at a 15 s interval (5.76 million samples) loaded into ClickHouse
 * through `rtcmon adapter` (remote write) and the same bodies into VictoriaMetrics; then the same range
 * queries through Prometheus B (empty TSDB, remote_read from the adapter) and through VictoriaMetrics'
 * PromQL API, in the same run. Prints the median of each, the ratio, and the adapter's peak RSS during
 * the largest query. `SERIES`, `HOURS` and `RUNS` environment variables shrink it for a quick look.
 */
const SERIES = Number(process.env.SERIES ?? 1000);
const HOURS = Number(process.env.HOURS ?? 24);
const RUNS = Number(process.env.RUNS ?? 3);

const log = (s: string) => process.stdout.write(`${s}\n`);

interface Series {
  metric: Record<string, string>;
  values: [number, string][];
}

async function queryRange(base: string, query: string, startS: number, endS: number, step: number) {
  const t0 = performance.now();
  const res = await fetch(`${base}/api/v1/query_range`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query, start: String(startS), end: String(endS), step: String(step) }),
  });
  const body = (await res.json()) as { status: string; error?: string; data: { result: Series[] } };
  const ms = performance.now() - t0;
  if (body.status !== 'success') throw new Error(`${base}: ${query}: ${body.error}`);
  const points = body.data.result.reduce((n, s) => n + s.values.length, 0);
  return { ms, series: body.data.result.length, points };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-bench-read-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    log(`bench/read: ${SERIES} series × ${HOURS} h at 15 s; ${RUNS} runs per query; ${load()}`);
    const ch = await startClickHouse({ dir: join(dir, 'clickhouse'), logDir: dir });
    stops.push(() => ch.stop());
    const port = await freePort();
    const adapterUrl = `http://127.0.0.1:${port}`;
    const adapter: ManagedProcess = await startRole({
      role: 'adapter',
      args: [`--web.listen-address=127.0.0.1:${port}`, `--clickhouse.url=${ch.url}`, '--log.level=warn'],
      url: adapterUrl,
      logDir: dir,
    });
    stops.push(() => adapter.stop());
    const vm = await startVictoriaMetrics({ dir: join(dir, 'vm') });
    stops.push(() => vm.stop());
    const prom = await startPrometheus({
      dir: join(dir, 'prometheus-b'),
      logDir: dir,
      jobs: [],
      remoteRead: [{ url: `${adapterUrl}/read`, readRecent: true }],
      extraArgs: ['--query.timeout=2m'],
    });
    stops.push(() => prom.stop());
    // Reference: the same data in a Prometheus of its own (remote-write receiver), to show what
    // Prometheus' engine costs on local data. LOCAL=0 skips it.
    const local =
      process.env.LOCAL === '0'
        ? undefined
        : await startPrometheus({
            dir: join(dir, 'prometheus-local'),
            name: 'prometheus-local',
            logDir: dir,
            jobs: [],
            extraArgs: ['--query.timeout=2m', '--web.enable-remote-write-receiver'],
          });
    if (local) stops.push(() => local.stop());

    const endMs = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const localWrite = local ? `${local.url}/api/v1/write` : undefined;
    await loadAll(
      [`${adapterUrl}/write`, vm.writeUrl, ...(localWrite ? [localWrite] : [])],
      SERIES,
      HOURS,
      endMs,
      (url) => (url === localWrite ? 1 : 4),
    );
    // VictoriaMetrics makes fresh data searchable after its in-memory buffers flush (about a second).
    await sleep(3_000);
    await ch.query('OPTIMIZE TABLE rtcmon.samples FINAL').catch(() => {});
    const rows = (await ch.query('SELECT count(), uniqExact(fingerprint) FROM rtcmon.samples')).trim();
    log(`ClickHouse holds ${rows.replace('\t', ' samples of ')} series`);

    const endS = endMs / 1000;
    const startS = endS - HOURS * 3600;
    const queries = [
      {
        name: `rate over all ${SERIES} series, ${HOURS} h, step 60 s`,
        q: `rate(${METRIC}[5m])`,
        largest: true,
      },
      {
        name: `one series, ${HOURS} h, step 60 s`,
        q: `${METRIC}{instance="host-0042:9100"}`,
        largest: false,
      },
      {
        name: `sum by over ${SERIES / 10} series, ${HOURS} h, step 60 s`,
        q: `sum by (instance) (rate(${METRIC}{group="g3"}[5m]))`,
        largest: false,
      },
    ];
    const results: string[] = [];
    for (const { name, q, largest } of queries) {
      // One untimed run each, so both sides start with warm caches.
      const ref = await queryRange(vm.url, q, startS, endS, 60);
      const check = await queryRange(prom.url, q, startS, endS, 60);
      if (check.series !== ref.series || Math.abs(check.points - ref.points) > ref.series * 2)
        log(
          `  note: answers differ in size: prometheus-b ${check.series}/${check.points}, vm ${ref.series}/${ref.points}`,
        );
      const pTimes: number[] = [];
      const vTimes: number[] = [];
      let peak = 0;
      const rssBefore = rssOf(adapter.pid);
      for (let r = 0; r < RUNS; r++) {
        let sampling = largest;
        const sampler = (async () => {
          while (sampling) {
            peak = Math.max(peak, rssOf(adapter.pid));
            await sleep(20);
          }
        })();
        pTimes.push((await queryRange(prom.url, q, startS, endS, 60)).ms);
        sampling = false;
        await sampler;
        vTimes.push((await queryRange(vm.url, q, startS, endS, 60)).ms);
      }
      const p = median(pTimes);
      const v = median(vTimes);
      let localNote = '';
      if (local) {
        await queryRange(local.url, q, startS, endS, 60);
        const lTimes: number[] = [];
        for (let r = 0; r < RUNS; r++) lTimes.push((await queryRange(local.url, q, startS, endS, 60)).ms);
        localNote = `   [same query on a Prometheus with the data in its own TSDB: ${median(lTimes).toFixed(0)} ms]`;
      }
      const line =
        `${name.padEnd(44)} prometheus-b+adapter ${p.toFixed(0).padStart(6)} ms   victoria-metrics ${v.toFixed(0).padStart(6)} ms` +
        `   ratio ${(p / v).toFixed(2)}   (${check.series} series, ${check.points} points; ${load()})${localNote}`;
      log(line);
      results.push(line);
      if (largest) {
        log(
          `  adapter RSS before this query ${(rssBefore / 1024 ** 2).toFixed(0)} MiB, peak during it ${(peak / 1024 ** 2).toFixed(0)} MiB`,
        );
        // Where the time goes: Prometheus B fetching and decoding the same samples with almost no PromQL work.
        const fetchOnly: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          const t0 = performance.now();
          const res = await fetch(`${prom.url}/api/v1/query`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              query: `count(count_over_time(${METRIC}[${HOURS}h5m]))`,
              time: String(endS),
            }),
          });
          await res.arrayBuffer();
          fetchOnly.push(performance.now() - t0);
        }
        log(
          `  prometheus-b remote read + decode only (count(count_over_time(…[${HOURS}h5m]))): ${median(fetchOnly).toFixed(0)} ms`,
        );
        // The adapter alone: the same remote read Prometheus B sends, timed to the last byte.
        const req = snappy.compressSync(
          Buffer.from(
            ReadRequest.encode(
              ReadRequest.fromObject({
                queries: [
                  {
                    start_timestamp_ms: (startS - 300) * 1000,
                    end_timestamp_ms: endS * 1000,
                    matchers: [{ type: 0, name: '__name__', value: METRIC }],
                  },
                ],
              }),
            ).finish(),
          ),
        );
        const times: number[] = [];
        let bytes = 0;
        for (let r = 0; r < RUNS; r++) {
          const t0 = performance.now();
          const res = await fetch(`${adapterUrl}/read`, { method: 'POST', body: new Uint8Array(req) });
          bytes = (await res.arrayBuffer()).byteLength;
          times.push(performance.now() - t0);
        }
        log(
          `  adapter alone (remote read SAMPLES of the same selector): ${median(times).toFixed(0)} ms, ${(bytes / 1024 ** 2).toFixed(0)} MiB snappy answer`,
        );
      }
    }
    log(`adapter RSS now ${(rssOf(adapter.pid) / 1024 ** 2).toFixed(0)} MiB; ${load()}`);
  } finally {
    for (const s of stops.reverse()) await s().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
