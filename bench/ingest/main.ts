import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { freePort, httpOk, startProcess } from '../../src/stack/servers/process.ts';
import { startVictoriaMetrics } from '../../src/stack/servers/victoria-metrics.ts';
import { buildPayloads, type Payloads } from './fleet.ts';

/**
 * `npm run bench:ingest` (node --import tsx bench/ingest/main.ts [--servers=N] [--rounds=N] [--senders=N]
 * [--profile]): the same pre-encoded remote-write requests, shaped like an RTC fleet, sent by several
 * concurrent senders to rtcmon adapter + ClickHouse and to VictoriaMetrics, one after the other in the same
 * run. Prints samples/s stored end to end (acknowledged) and CPU seconds per million samples of the
 * servers (adapter + ClickHouse; VictoriaMetrics), read from /proc/<pid>/stat, and their ratio.
 */
const arg = (name: string, def: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : def;
};
const servers = arg('servers', 1000);
const rounds = arg('rounds', 60);
// Prometheus adds shards until it keeps up (max_shards 200): at this rate it would run about this many.
const senders = arg('senders', 64);
const profile = process.argv.includes('--profile');
const settleMs = 2_000;
/** Extra adapter flags, e.g. --adapter=--batch.max-delay=200ms (repeatable). */
const extraAdapterArgs = process.argv.filter((x) => x.startsWith('--adapter=')).map((x) => x.slice(10));
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli.ts');

const CLK_TCK = 100;
const cpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat (index 11, 12 after the state field).
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
};

interface Result {
  name: string;
  samples: number;
  seconds: number;
  cpu: number;
  /** CPU seconds per process, in the order of the pids given. */
  cpuEach: number[];
  failed: number;
}

async function send(url: string, p: Payloads, pids: number[], name: string): Promise<Result> {
  const u = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: senders });
  let next = 0;
  let failed = 0;
  let acked = 0;
  const post = (body: Buffer): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent,
          headers: {
            'content-encoding': 'snappy',
            'content-type': 'application/x-protobuf',
            'x-prometheus-remote-write-version': '0.1.0',
            'content-length': body.length,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const cpu0 = pids.map(cpuSeconds);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: senders }, async () => {
      for (;;) {
        const i = next++;
        if (i >= p.bodies.length) return;
        // Like Prometheus: a 5xx is retried (with a short backoff), a 2xx counts.
        for (let attempt = 0; ; attempt++) {
          const status = await post(p.bodies[i]!);
          if (status >= 200 && status < 300) break;
          failed++;
          if (status < 500 || attempt > 50) throw new Error(`${name}: status ${status}`);
          await sleep(50 * Math.min(attempt + 1, 10));
        }
        acked += p.samples[i]!;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  // Background work caused by the load (merges, flushes) counts too, for both.
  await sleep(settleMs);
  const cpuEach = pids.map((pid, i) => cpuSeconds(pid) - cpu0[i]!);
  agent.destroy();
  return { name, samples: acked, seconds, cpu: cpuEach.reduce((a, b) => a + b, 0), cpuEach, failed };
}

const fmt = (r: Result) =>
  `${r.name.padEnd(24)} ${(r.samples / r.seconds).toFixed(0).padStart(10)} samples/s   ${((r.cpu / r.samples) * 1e6).toFixed(2).padStart(6)} CPU-s per million samples (${((r.cpu / r.samples) * 1e6).toFixed(2)} µs/sample)   ${r.samples} samples in ${r.seconds.toFixed(2)} s, CPU ${r.cpu.toFixed(2)} s, retried ${r.failed}`;

const dir = mkdtempSync(join(tmpdir(), 'rtcmon-bench-ingest-'));
const stops: (() => Promise<void>)[] = [];
try {
  const t = performance.now();
  const p = buildPayloads({ servers, rounds, shards: senders });
  process.stdout.write(
    `payloads: ${p.bodies.length} requests, ${p.totalSamples} samples, ${p.series} series (${servers} RTC servers), ` +
      `${(p.totalSamples / p.bodies.length).toFixed(0)} samples/request, ${(p.compressedBytes / p.totalSamples).toFixed(1)} B/sample compressed; built in ${((performance.now() - t) / 1000).toFixed(1)} s\n`,
  );
  process.stdout.write(
    `senders: ${senders} concurrent; load average before: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );

  const ch = await startClickHouse({ dir: join(dir, 'clickhouse'), logDir: join(dir, 'logs') });
  stops.push(() => ch.stop());
  const port = await freePort();
  const adapterUrl = `http://127.0.0.1:${port}`;
  const adapterArgs = [
    'adapter',
    `--web.listen-address=127.0.0.1:${port}`,
    `--clickhouse.url=${ch.url}`,
    '--clickhouse.database=bench',
    '--log.level=warn',
    ...extraAdapterArgs,
  ];
  // --cpu-prof is not allowed in NODE_OPTIONS: run the CLI through node directly when profiling.
  const adapter = await startProcess({
    name: 'adapter',
    command: process.execPath,
    args: [
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${join(process.cwd(), '.bench-out')}`] : []),
      '--import',
      'tsx',
      CLI,
      ...adapterArgs,
    ],
    logDir: join(dir, 'logs'),
    ready: () => httpOk(`${adapterUrl}/-/ready`),
  });
  stops.push(() => adapter.stop());
  const a = await send(`${adapterUrl}/write`, p, [adapter.pid, ch.process.pid], 'rtcmon adapter+ClickHouse');
  const stored = Number(await ch.query('SELECT count() FROM bench.samples'));
  const metrics = await (await fetch(`${adapterUrl}/metrics`)).text();
  const metric = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
  const inserts = metric('rtcmon_adapter_batch_samples_count');
  process.stdout.write(
    `  ${inserts} sample inserts into ClickHouse, ${(metric('rtcmon_adapter_batch_samples_sum') / inserts).toFixed(0)} samples and ${(metric('rtcmon_adapter_batch_requests_sum') / inserts).toFixed(1)} requests per insert on average\n`,
  );
  process.stdout.write(
    `${fmt(a)}\n  adapter ${((a.cpuEach[0]! / a.samples) * 1e6).toFixed(2)} µs/sample, ClickHouse ${((a.cpuEach[1]! / a.samples) * 1e6).toFixed(2)} µs/sample; ClickHouse holds ${stored} sample rows (sent ${p.totalSamples}); load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );
  await adapter.stop();
  await ch.stop();
  stops.length = 0;

  const vm = await startVictoriaMetrics({ dir: join(dir, 'vm'), logDir: join(dir, 'logs') });
  stops.push(() => vm.stop());
  const v = await send(vm.writeUrl, p, [vm.process.pid], 'VictoriaMetrics');
  process.stdout.write(
    `${fmt(v)}\n  load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );

  const cpuA = a.cpu / a.samples;
  const cpuV = v.cpu / v.samples;
  process.stdout.write(
    `ratio adapter+ClickHouse / VictoriaMetrics: CPU per sample ${(cpuA / cpuV).toFixed(2)}x (target <= 1.5), throughput ${(a.samples / a.seconds / (v.samples / v.seconds)).toFixed(2)}x; adapter+ClickHouse ${(a.samples / a.seconds).toFixed(0)} samples/s (target >= 750000)\n`,
  );
  if (profile) process.stdout.write('adapter CPU profile written to .bench-out/*.cpuprofile\n');
} finally {
  for (const s of stops.reverse()) await s().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
