import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import snappy from 'snappy';
import { startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { startVictoriaMetrics } from '../../src/stack/servers/victoria-metrics.ts';
import { ReadRequest } from '../../test/support/prompb.ts';
import { forceMergeVm, instant, load, loadAll, METRIC, STEP_MS } from './payload.ts';

/**
 * bench/read: 1,000 series × 24 h at a 15 s interval (5.76 million samples) loaded into ClickHouse
 * through `rtcmon adapter` (remote write), the same bodies into VictoriaMetrics and into a Prometheus of
 * its own (remote-write receiver, the reference). Then the same range queries through Prometheus B (empty
 * TSDB, remote_read from the adapter), VictoriaMetrics' PromQL API and the reference, in the same run.
 *
 * Fair by construction, and checked:
 * - the same state: ClickHouse gets OPTIMIZE … FINAL and VictoriaMetrics a forced merge (waited for)
 *   before anything is timed; VictoriaMetrics runs with `-search.disableCache` (ClickHouse 18.16 and
 *   Prometheus have no result cache); every side gets one untimed run (its answer is the one compared);
 * - every store is counted: each must hold exactly the samples sent, or the bench fails;
 * - every answer is compared series by series and value by value with the reference Prometheus (labels
 *   but `__name__`, timestamps, float values exactly); a mismatch fails the bench. The timed queries are
 *   ones PromQL and MetricsQL define alike (max_over_time, a bare selector, sum by); query times sit 7 s
 *   off the 15 s sample grid so that no sample lies on a window's edge, where Prometheus 2.42 ([t-d, t])
 *   and VictoriaMetrics ((t-d, t]) differ. `rate` is timed too, but its formula differs between the two
 *   engines, so its answers are compared with the reference Prometheus only.
 * Prints the median of RUNS timed runs of each, the ratio, and where the time goes for the largest query.
 * A time runs from the request to the answer's last byte (read with node:http); decoding the answer's JSON
 * is the client's cost, the same for every side, printed beside it but not in the ratio.
 * `SERIES`, `HOURS` and `RUNS` environment variables shrink it for a quick look.
 */
const SERIES = Number(process.env.SERIES ?? 1000);
const HOURS = Number(process.env.HOURS ?? 24);
const RUNS = Number(process.env.RUNS ?? 3);

const log = (s: string) => process.stdout.write(`${s}\n`);

interface Series {
  metric: Record<string, string>;
  values: [number, string][];
}

/**
 * POSTs `body` and reads the answer to its last byte with node:http, untouched: the time is the server's
 * (and loopback's), not a client's. (undici's fetch + arrayBuffer() took 700 ms to take in 62 MiB here,
 * against 85-270 ms for node:http.)
 */
function post(
  url: string,
  body: Uint8Array,
  contentType: string,
): Promise<{ ms: number; status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': contentType, 'content-length': body.length } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0, body: Buffer.concat(parts) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * One range query: `ms` to the answer's last byte, `decodeMs` what decoding its JSON then took in the bench
 * (a client's cost, the same for every side: printed apart, not in the ratio).
 */
async function queryRange(base: string, query: string, startS: number, endS: number, step: number) {
  const form = new URLSearchParams({ query, start: String(startS), end: String(endS), step: String(step) });
  const res = await post(
    `${base}/api/v1/query_range`,
    Buffer.from(form.toString()),
    'application/x-www-form-urlencoded',
  );
  const t0 = performance.now();
  const body = JSON.parse(res.body.toString('utf8')) as {
    status: string;
    error?: string;
    data: { result: Series[] };
  };
  const decodeMs = performance.now() - t0;
  if (body.status !== 'success') throw new Error(`${base}: ${query}: ${body.error}`);
  const points = body.data.result.reduce((n, s) => n + s.values.length, 0);
  return { ms: res.ms, decodeMs, series: body.data.result.length, points, result: body.data.result };
}

/**
 * Differences between two answers, series by series (labels but `__name__`, which engines keep or drop
 * differently after a function) and point by point (timestamp, float value exactly); [] when equal.
 */
function compareAnswers(a: Series[], b: Series[]): string[] {
  const key = (s: Series) =>
    JSON.stringify(
      Object.entries(s.metric)
        .filter(([k]) => k !== '__name__')
        .sort(),
    );
  const bByKey = new Map(b.map((s) => [key(s), s]));
  const out: string[] = [];
  if (a.length !== b.length) out.push(`${a.length} series against ${b.length}`);
  for (const sa of a) {
    const sb = bByKey.get(key(sa));
    if (!sb) {
      out.push(`series ${key(sa)} missing`);
      continue;
    }
    if (sa.values.length !== sb.values.length)
      out.push(`${key(sa)}: ${sa.values.length} points against ${sb.values.length}`);
    for (let i = 0; i < Math.min(sa.values.length, sb.values.length); i++) {
      const [ta, va] = sa.values[i]!;
      const [tb, vb] = sb.values[i]!;
      if (ta !== tb || Number(va) !== Number(vb)) {
        out.push(`${key(sa)} point ${i}: ${ta}=${va} against ${tb}=${vb}`);
        break;
      }
    }
    if (out.length > 5) break;
  }
  return out;
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
    log(
      `bench/read: ${SERIES} series × ${HOURS} h at 15 s; ${RUNS} timed runs per query after one untimed run; ` +
        'both stores merged (ClickHouse OPTIMIZE FINAL, VictoriaMetrics force_merge); VictoriaMetrics ' +
        `-search.disableCache; answers compared with a Prometheus holding the same data; ${load()}`,
    );
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
    const vm = await startVictoriaMetrics({ dir: join(dir, 'vm'), extraArgs: ['-search.disableCache'] });
    stops.push(() => vm.stop());
    const prom = await startPrometheus({
      dir: join(dir, 'prometheus-b'),
      logDir: dir,
      jobs: [],
      remoteRead: [{ url: `${adapterUrl}/read`, readRecent: true }],
      extraArgs: ['--query.timeout=2m'],
    });
    stops.push(() => prom.stop());
    // Reference: the same data in a Prometheus of its own (remote-write receiver): every answer is
    // compared with its answer, and it shows what Prometheus' engine costs on local data.
    const local = await startPrometheus({
      dir: join(dir, 'prometheus-local'),
      name: 'prometheus-local',
      logDir: dir,
      jobs: [],
      extraArgs: ['--query.timeout=2m', '--web.enable-remote-write-receiver'],
    });
    stops.push(() => local.stop());

    const endMs = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const localWrite = `${local.url}/api/v1/write`;
    await loadAll([`${adapterUrl}/write`, vm.writeUrl, localWrite], SERIES, HOURS, endMs, (url) =>
      url === localWrite ? 1 : 4,
    );
    // VictoriaMetrics makes fresh data searchable after its in-memory buffers flush (about a second).
    await sleep(3_000);
    await ch.query('OPTIMIZE TABLE rtcmon.samples FINAL');
    await forceMergeVm(vm.url, Date.now() - 86_400_000 * Math.ceil(HOURS / 24 + 1));
    const sent = SERIES * Math.floor((HOURS * 3600_000) / STEP_MS);
    const [rows, fps] = (await ch.query('SELECT count(), uniqExact(fingerprint) FROM rtcmon.samples'))
      .trim()
      .split('\t')
      .map(Number);
    const countQuery = `sum(count_over_time(${METRIC}[${HOURS * 3600 + 60}s]))`;
    const inVm = await instant(vm.url, countQuery, endMs / 1000);
    const inLocal = await instant(local.url, countQuery, endMs / 1000);
    log(
      `stored: sent ${sent} samples of ${SERIES} series; ClickHouse ${rows} rows of ${fps} series, ` +
        `VictoriaMetrics ${inVm}, reference Prometheus ${inLocal}`,
    );
    if (rows !== sent || fps !== SERIES || inVm !== sent || inLocal !== sent)
      throw new Error('a store does not hold exactly the samples sent');
    // 7 s off the sample grid: no sample on a window's edge (see the header).
    const endS = endMs / 1000 - 7;
    const startS = endS - HOURS * 3600;
    const queries = [
      {
        name: `max_over_time over all ${SERIES} series, ${HOURS} h, step 60 s`,
        q: `max_over_time(${METRIC}[5m])`,
        largest: true,
        vmComparable: true,
      },
      {
        name: `one series, ${HOURS} h, step 60 s`,
        q: `${METRIC}{instance="host-0042:9100"}`,
        largest: false,
        vmComparable: true,
      },
      {
        name: `sum by over ${SERIES / 10} series, ${HOURS} h, step 60 s`,
        q: `sum by (instance) (max_over_time(${METRIC}{group="g3"}[5m]))`,
        largest: false,
        vmComparable: true,
      },
      {
        name: `rate over all ${SERIES} series, ${HOURS} h, step 60 s`,
        q: `rate(${METRIC}[5m])`,
        largest: false,
        vmComparable: false,
      },
    ];
    const results: string[] = [];
    for (const { name, q, largest, vmComparable } of queries) {
      // One untimed run on every side (the same state for all); those answers are the ones compared.
      const ref = await queryRange(local.url, q, startS, endS, 60);
      const check = await queryRange(prom.url, q, startS, endS, 60);
      const viaVm = await queryRange(vm.url, q, startS, endS, 60);
      const diffs = compareAnswers(check.result, ref.result);
      if (diffs.length)
        throw new Error(`${name}: prometheus-b+adapter differs from the reference:\n  ${diffs.join('\n  ')}`);
      if (vmComparable) {
        const vdiffs = compareAnswers(viaVm.result, ref.result);
        if (vdiffs.length)
          throw new Error(`${name}: VictoriaMetrics differs from the reference:\n  ${vdiffs.join('\n  ')}`);
      }
      if (ref.series === 0 || ref.points === 0) throw new Error(`${name}: the reference answer is empty`);
      const pTimes: number[] = [];
      const vTimes: number[] = [];
      const pDecode: number[] = [];
      const vDecode: number[] = [];
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
        const viaB = await queryRange(prom.url, q, startS, endS, 60);
        sampling = false;
        await sampler;
        const viaV = await queryRange(vm.url, q, startS, endS, 60);
        pTimes.push(viaB.ms);
        pDecode.push(viaB.decodeMs);
        vTimes.push(viaV.ms);
        vDecode.push(viaV.decodeMs);
      }
      const p = median(pTimes);
      const v = median(vTimes);
      const lTimes: number[] = [];
      for (let r = 0; r < RUNS; r++) lTimes.push((await queryRange(local.url, q, startS, endS, 60)).ms);
      const l = median(lTimes);
      const localNote = `   [same query on a Prometheus with the data in its own TSDB: ${l.toFixed(0)} ms]`;
      const same = vmComparable
        ? 'answers equal on all three'
        : 'answer equal to the reference; VictoriaMetrics computes rate its own way, not compared';
      const pd = median(pDecode);
      const vd = median(vDecode);
      const line =
        `${name.padEnd(44)} prometheus-b+adapter ${p.toFixed(0).padStart(6)} ms   victoria-metrics ${v.toFixed(0).padStart(6)} ms` +
        `   ratio ${(p / v).toFixed(2)}   (to the last byte; with the bench's JSON decode of the answer ` +
        `${(p + pd).toFixed(0)} against ${(v + vd).toFixed(0)} ms, ratio ${((p + pd) / (v + vd)).toFixed(2)}; ` +
        `${check.series} series, ${check.points} points, ${same}; ${load()})${localNote}`;
      log(line);
      results.push(line);
      if (largest) {
        log(
          `  adapter RSS before this query ${(rssBefore / 1024 ** 2).toFixed(0)} MiB, peak during it ${(peak / 1024 ** 2).toFixed(0)} MiB`,
        );
        // Where the time goes: Prometheus B fetching and decoding the same samples with almost no PromQL work.
        const fetchOnly: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          const form = new URLSearchParams({
            query: `count(count_over_time(${METRIC}[${HOURS}h5m]))`,
            time: String(endS),
          });
          const res = await post(
            `${prom.url}/api/v1/query`,
            Buffer.from(form.toString()),
            'application/x-www-form-urlencoded',
          );
          const got = Number(
            (JSON.parse(res.body.toString('utf8')) as { data: { result: { value: [number, string] }[] } })
              .data.result[0]?.value[1],
          );
          if (got !== SERIES) throw new Error(`remote read + decode: ${got} series counted, not ${SERIES}`);
          fetchOnly.push(res.ms);
        }
        const f = median(fetchOnly);
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
        const sizes = new Set<number>();
        for (let r = 0; r < RUNS; r++) {
          const res = await post(`${adapterUrl}/read`, req, 'application/x-protobuf');
          if (res.status !== 200) throw new Error(`adapter alone: ${res.status} ${res.body.toString()}`);
          sizes.add(res.body.length);
          times.push(res.ms);
        }
        if (sizes.size !== 1) throw new Error(`adapter alone: answers of different sizes ${[...sizes]}`);
        const a = median(times);
        log(`  where the time goes (medians; the last two lines are differences of them):`);
        log(`    Prometheus over its own TSDB, the same query: ${l.toFixed(0)} ms`);
        log(
          `    prometheus-b remote read + decode only (count(count_over_time(…[${HOURS}h5m]))): ${f.toFixed(0)} ms`,
        );
        log(
          `    adapter alone (the same remote read, SAMPLES, to the last byte): ${a.toFixed(0)} ms, ` +
            `${([...sizes][0]! / 1024 ** 2).toFixed(0)} MiB snappy answer`,
        );
        log(
          `    Prometheus B reading, decompressing and decoding the answer (and counting): ${(f - a).toFixed(0)} ms`,
        );
        log(`    PromQL over the fetched series in Prometheus B: ${(p - f).toFixed(0)} ms`);
      }
    }
    log(`adapter RSS now ${(rssOf(adapter.pid) / 1024 ** 2).toFixed(0)} MiB; ${load()}`);
  } finally {
    for (const s of stops.reverse()) await s().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
