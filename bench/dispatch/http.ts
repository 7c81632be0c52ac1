/**
 * bench/dispatch part 2: HTTP allocations per second and latency against a 10,000-server snapshot, and
 * the time of a full 10,000-server snapshot refresh.
 * - Refresh, in-process: JSON parse of the 15 query answers + join + scoring + heaps (buildSnapshot +
 *   Chooser.setSnapshot), and in the real process: rtcmon_dispatcher_snapshot_refresh_duration_seconds
 *   (HTTP to the stand-in Prometheus included).
 * - HTTP: `rtcmon dispatcher` as its own process, loaded by wrk (Debian) with bench/dispatch/allocate.lua.
 * Run: node --import tsx bench/dispatch/http.ts [--servers=10000] [--duration=20s] [--connections=32]
 *      [--threads=1] [--interval=15s (the dispatcher's snapshot.interval)]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Chooser } from '../../src/dispatcher/chooser.ts';
import { defaultPolicy } from '../../src/dispatcher/config.ts';
import { buildSnapshot, type QueryResults } from '../../src/dispatcher/snapshot.ts';
import { freePort, startProcess } from '../../src/stack/servers/process.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { startFakePrometheus } from './fake-prometheus.ts';

const arg = (name: string, def: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def;
const N = Number(arg('servers', '10000'));
const duration = arg('duration', '20s');
const connections = arg('connections', '32');
const threads = arg('threads', '1');
const interval = arg('interval', '15s');
const here = dirname(fileURLToPath(import.meta.url));
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

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
        `snapshot refresh in an idle dispatcher process (15 instant queries over HTTP + parse + join + rebuild): mean ${((sum / count) * 1000).toFixed(1)} ms over ${count} refreshes (the first one cold); load average ${load()}`,
      );
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
  try {
    const check = await fetch(`${url}/api/v1/allocate`, { method: 'POST', body: '{"room":"check"}' });
    const a = (await check.json()) as { ok: boolean; candidates: unknown[] };
    if (!a.ok) throw new Error('the dispatcher answered no server');
    const wrk = spawnSync(
      '/usr/bin/wrk',
      [
        `-t${threads}`,
        `-c${connections}`,
        `-d${duration}`,
        '--latency',
        '-s',
        join(here, 'allocate.lua'),
        `${url}/api/v1/allocate`,
      ],
      {
        encoding: 'utf8',
      },
    );
    const out = wrk.stdout;
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
    const p99 = /99%\s+([\d.]+\w+)/.exec(out)?.[1];
    const p50 = /50%\s+([\d.]+\w+)/.exec(out)?.[1];
    const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? '0';
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
      `wrk -t${threads} -c${connections} -d${duration} POST /api/v1/allocate (200,000 room names): ${rps} allocations/s, p50 ${p50}, p99 ${p99}, non-2xx ${non2xx}; load average ${load()}`,
    );
    console.log(
      `  in-memory decision time (dispatcher /metrics): mean ${((dsum / dcount) * 1e6).toFixed(1)} µs over ${dcount} decisions; ledger ${servers.ledgerEntries}, rooms ${servers.rooms}`,
    );
    console.log(
      `  snapshot refreshes during the load (wall time; the event loop is shared with the requests): mean ${((sum / count) * 1000).toFixed(1)} ms over ${count}`,
    );
    // Peers in the same run: the same process answering GET /-/healthy (the shared HTTP layer, no
    // decision), and a separate process with the shared HTTP layer and a trivial JSON POST route.
    const peer = (target: string, lua: boolean) => {
      const o = spawnSync(
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
      ).stdout;
      return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(o)?.[1]), p99: /99%\s+([\d.]+\w+)/.exec(o)?.[1] };
    };
    const healthy = peer(`${url}/-/healthy`, false);
    console.log(
      `  peer: GET /-/healthy on the same process ${healthy.rps.toFixed(0)} requests/s, p99 ${healthy.p99}; allocate reaches ${((Number(rps) / healthy.rps) * 100).toFixed(0)}% of it; load average ${load()}`,
    );
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
      const p = peer(`http://127.0.0.1:${noopPort}/noop`, true);
      console.log(
        `  peer: POST /noop (shared HTTP layer, JSON body parsed, small JSON answer; own process) ${p.rps.toFixed(0)} requests/s, p99 ${p.p99}; allocate reaches ${((Number(rps) / p.rps) * 100).toFixed(0)}% of it; load average ${load()}`,
      );
    } finally {
      await noop.stop();
    }
    if (process.argv.includes('--verbose')) console.log(out);
  } finally {
    await proc.stop();
  }
} finally {
  await prom.close();
  rmSync(dir, { recursive: true, force: true });
}
