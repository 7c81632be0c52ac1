/**
 * bench/dispatch part 2: HTTP allocations per second and latency against a 10,000-server snapshot, and
 * the time of a full 10,000-server snapshot refresh.
 * - Refresh, in-process: JSON parse of the 15 query answers + join + scoring + heaps (buildSnapshot +
 *   Chooser.setSnapshot), and in the real process: rtcmon_dispatcher_snapshot_refresh_duration_seconds
 *   (HTTP to the stand-in Prometheus included).
 * - HTTP: `rtcmon dispatcher` as its own process, loaded by wrk (Debian) with bench/dispatch/allocate.lua.
 * - Peers in the same run, taking turns with allocate: GET /-/healthy on the same process and a trivial
 *   JSON POST route on the shared HTTP layer (bench/dispatch/noop-server.ts).
 * Run: node --import tsx bench/dispatch/http.ts [--servers=10000] [--duration=8s (per wrk run)]
 *      [--rounds=3] [--connections=32] [--threads=1] [--interval=15s (the dispatcher's snapshot.interval)]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Chooser } from '../../src/dispatcher/chooser.ts';
import { defaultPolicy } from '../../src/dispatcher/config.ts';
import { buildSnapshot, type QueryResults } from '../../src/dispatcher/snapshot.ts';
import { freePort, startProcess } from '../../src/stack/servers/process.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { startFakePrometheus } from './fake-prometheus.ts';

const execFileAsync = promisify(execFile);

const arg = (name: string, def: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def;
const N = Number(arg('servers', '10000'));
const duration = arg('duration', '8s');
const wrkRounds = Number(arg('rounds', '3'));
const connections = arg('connections', '32');
const threads = arg('threads', '1');
const interval = arg('interval', '15s');
const here = dirname(fileURLToPath(import.meta.url));
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** The refreshes' event-loop blocks as the dispatcher's /metrics report them. */
const blocks = (m: string): string => {
  const max = Number(/^rtcmon_dispatcher_snapshot_refresh_loop_block_max_seconds (\S+)$/m.exec(m)?.[1]);
  const le = (b: string) =>
    Number(
      new RegExp(
        `^rtcmon_dispatcher_snapshot_refresh_loop_block_seconds_bucket\\{le="${b}"\\} (\\S+)$`,
        'm',
      ).exec(m)?.[1],
    );
  return `longest event-loop block during a refresh: max ${(max * 1000).toFixed(1)} ms; refreshes whose longest block was ≤ 5 ms: ${le('0.005')}/${Number(/^rtcmon_dispatcher_snapshot_refresh_loop_block_seconds_count (\S+)$/m.exec(m)?.[1])}, ≤ 20 ms: ${le('0.02')}`;
};

const prom = await startFakePrometheus(N);
const dir = mkdtempSync(join(tmpdir(), 'rtcmon-bench-dispatch-'));
try {
  // In-process refresh: parse + join + rebuild, 5 rounds after one warm-up.
  const chooser = new Chooser(defaultPolicy);
  const texts = Object.entries(prom.results()).map(
    ([k, v]) =>
      [k, JSON.stringify({ status: 'success', data: { resultType: 'vector', result: v } })] as const,
  );
  const rounds: { parse: number; build: number; rebuild: number }[] = [];
  for (let r = 0; r < 6; r++) {
    const t0 = performance.now();
    const results: QueryResults = {};
    for (const [k, text] of texts)
      (results as Record<string, unknown>)[k] = (
        JSON.parse(text) as { data: { result: unknown } }
      ).data.result;
    const t1 = performance.now();
    const snap = buildSnapshot(results, Date.now(), chooser.current);
    const t2 = performance.now();
    chooser.setSnapshot(snap, Date.now());
    const t3 = performance.now();
    if (r > 0) rounds.push({ parse: t1 - t0, build: t2 - t1, rebuild: t3 - t2 });
  }
  const med = (f: (x: (typeof rounds)[number]) => number) => rounds.map(f).sort((a, b) => a - b)[2]!;
  const bytes = texts.reduce((s, [, t]) => s + t.length, 0);
  console.log(`bench/dispatch http: ${N} servers; load average ${load()}`);
  console.log(
    `snapshot refresh in-process, median of 5: total ${med((x) => x.parse + x.build + x.rebuild).toFixed(1)} ms = JSON parse of ${(bytes / 1e6).toFixed(1)} MB ${med((x) => x.parse).toFixed(1)} ms + join ${med((x) => x.build).toFixed(1)} ms + score/heaps ${med((x) => x.rebuild).toFixed(1)} ms (max total ${Math.max(...rounds.map((x) => x.parse + x.build + x.rebuild)).toFixed(1)} ms)`,
  );

  // The real process, idle, refreshing every 2 s: the refresh time as its own metric reports it.
  {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = await startRole({
      role: 'dispatcher',
      name: 'dispatcher-idle',
      url,
      logDir: dir,
      args: [
        `--web.listen-address=127.0.0.1:${port}`,
        `--prometheus.url=${prom.url}`,
        '--snapshot.interval=2s',
        '--log.level=warn',
      ],
    });
    try {
      await new Promise((r) => setTimeout(r, 9000));
      const m = await (await fetch(`${url}/metrics`)).text();
      const sum = Number(/^rtcmon_dispatcher_snapshot_refresh_duration_seconds_sum (\S+)$/m.exec(m)?.[1]);
      const count = Number(/^rtcmon_dispatcher_snapshot_refresh_duration_seconds_count (\S+)$/m.exec(m)?.[1]);
      console.log(
        `snapshot refresh in an idle dispatcher process (17 instant queries over HTTP + parse + join + rebuild): mean ${((sum / count) * 1000).toFixed(1)} ms over ${count} refreshes (the first one cold); load average ${load()}`,
      );
      console.log(`  ${blocks(m)}`);
    } finally {
      await proc.stop();
    }
  }

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await startRole({
    role: 'dispatcher',
    url,
    logDir: dir,
    args: [
      `--web.listen-address=127.0.0.1:${port}`,
      `--prometheus.url=${prom.url}`,
      `--snapshot.interval=${interval}`,
      '--log.level=warn',
    ],
  });
  // Reference in the same run: the shared HTTP layer with a trivial JSON POST route, its own process.
  const noopPort = await freePort();
  const noop = await startProcess({
    name: 'noop',
    command: process.execPath,
    args: ['--import', 'tsx', join(here, 'noop-server.ts'), `--port=${noopPort}`],
    logDir: dir,
    ready: async () => {
      const r = await fetch(`http://127.0.0.1:${noopPort}/noop`, { method: 'POST', body: '{}' }).catch(
        () => undefined,
      );
      return r?.ok === true;
    },
  });
  try {
    const check = await fetch(`${url}/api/v1/allocate`, { method: 'POST', body: '{"room":"check"}' });
    const a = (await check.json()) as { ok: boolean; candidates: unknown[] };
    if (!a.ok) throw new Error('the dispatcher answered no server');
    // wrk runs asynchronously: the stand-in Prometheus lives in this process and must keep answering the
    // dispatcher's refreshes during the load, as a real Prometheus would.
    const wrk = async (target: string, lua: boolean) => {
      const { stdout: out } = await execFileAsync(
        '/usr/bin/wrk',
        [
          `-t${threads}`,
          `-c${connections}`,
          `-d${duration}`,
          '--latency',
          ...(lua ? ['-s', join(here, 'allocate.lua')] : []),
          target,
        ],
        { encoding: 'utf8' },
      );
      if (process.argv.includes('--verbose')) console.log(out);
      return {
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
        p50: /50%\s+([\d.]+\w+)/.exec(out)?.[1] ?? '?',
        p99: /99%\s+([\d.]+\w+)/.exec(out)?.[1] ?? '?',
        non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? '0'),
        load: load(),
      };
    };
    // The machine is shared: the three targets take turns, `rounds` times, so each ratio compares runs
    // made under the same load. Peers: GET /-/healthy on the dispatcher process itself (the shared HTTP
    // layer, no decision) and POST /noop on its own process (HTTP layer + JSON body parse + tiny answer).
    const targets = [
      { name: 'POST /api/v1/allocate', url: `${url}/api/v1/allocate`, lua: true },
      { name: 'POST /noop (peer)', url: `http://127.0.0.1:${noopPort}/noop`, lua: true },
      { name: 'GET /-/healthy (peer)', url: `${url}/-/healthy`, lua: false },
    ];
    const rates: number[][] = targets.map(() => []);
    console.log(
      `wrk -t${threads} -c${connections} -d${duration}, ${wrkRounds} rounds (allocate: 200,000 room names):`,
    );
    for (let r = 0; r < wrkRounds; r++)
      for (const [k, t] of targets.entries()) {
        const x = await wrk(t.url, t.lua);
        rates[k]!.push(x.rps);
        console.log(
          `  round ${r + 1} ${t.name.padEnd(24)} ${x.rps.toFixed(0).padStart(6)} requests/s, p50 ${x.p50}, p99 ${x.p99}, non-2xx ${x.non2xx}; load average ${x.load}`,
        );
      }
    const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
    const [alloc, noopRates, healthy] = rates as [number[], number[], number[]];
    const ratio = (xs: number[], ys: number[]) => median(xs.map((x, i) => x / ys[i]!));
    console.log(
      `  median allocate ${median(alloc).toFixed(0)}/s; per round, allocate reaches ${(ratio(alloc, noopRates) * 100).toFixed(0)}% of POST /noop and ${(ratio(alloc, healthy) * 100).toFixed(0)}% of GET /-/healthy (medians)`,
    );
    const m = await (await fetch(`${url}/metrics`)).text();
    const sum = Number(/^rtcmon_dispatcher_snapshot_refresh_duration_seconds_sum (\S+)$/m.exec(m)?.[1]);
    const count = Number(/^rtcmon_dispatcher_snapshot_refresh_duration_seconds_count (\S+)$/m.exec(m)?.[1]);
    const dsum = Number(/^rtcmon_dispatcher_decision_duration_seconds_sum (\S+)$/m.exec(m)?.[1]);
    const dcount = Number(/^rtcmon_dispatcher_decision_duration_seconds_count (\S+)$/m.exec(m)?.[1]);
    const servers = (await (await fetch(`${url}/api/v1/servers`)).json()) as {
      ledgerEntries: number;
      rooms: number;
    };
    console.log(
      `  in-memory decision time (dispatcher /metrics): mean ${((dsum / dcount) * 1e6).toFixed(1)} µs over ${dcount} decisions; ledger ${servers.ledgerEntries}, rooms ${servers.rooms}`,
    );
    console.log(
      `  snapshot refreshes during the load (wall time; the event loop is shared with the requests): mean ${((sum / count) * 1000).toFixed(1)} ms over ${count}`,
    );
    console.log(`  ${blocks(m)}`);
  } finally {
    await noop.stop();
    await proc.stop();
  }
} finally {
  await prom.close();
  rmSync(dir, { recursive: true, force: true });
}
