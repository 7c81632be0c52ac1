import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildPayloads } from './fleet.ts';
import { sendAll } from './senders.ts';
import { type IngestTarget, rtcmonCluster, rtcmonSingleNode, victoriaMetrics } from './targets.ts';

/**
 * `npm run bench:ingest` (node --import tsx bench/ingest/main.ts [--servers=N] [--rounds=N] [--profile]
 * [--only=8|64] [--tls] [--adapter=--flag=value …]): two request shapes, fixed here before any run, each sent to rtcmon adapter +
 * ClickHouse and to VictoriaMetrics, every target started empty:
 * - Prometheus' queue shape: 8 senders (shards), 2,000 samples per request (max_samples_per_send);
 * - high concurrency: 64 senders, 2,000 samples per request.
 * The data: `servers` RTC servers × 100 series scraped every 15 s for `rounds` scrapes ending now. Scored:
 * samples/s stored end to end (the time until the last acknowledgement) and CPU-µs per sample of the
 * target's processes (from /proc/<pid>/stat, with 2 s after the load for merges and flushes). Then each
 * store is asked how many samples it holds in the window: anything but exactly what was sent fails the run.
 * --tls adds a third target: the same adapter behind --web.config.file (TLS + basic auth), same data.
 */
const arg = (name: string, def: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : def;
};
const servers = arg('servers', 2000);
const rounds = arg('rounds', 20);
const profile = process.argv.includes('--profile');
/** --cluster: the same payloads into rtcmon on a ClickHouse 3×2 cluster as a third target. */
const cluster = process.argv.includes('--cluster');
/** Extra adapter flags, e.g. --adapter=--batch.max-delay=200ms (repeatable). */
const adapterArgs = process.argv.filter((x) => x.startsWith('--adapter=')).map((x) => x.slice(10));
const SHAPES = [
  { name: 'Prometheus queue shape', senders: 8, samplesPerRequest: 2_000 },
  { name: 'high concurrency', senders: 64, samplesPerRequest: 2_000 },
].filter((s) => !process.argv.some((a) => a.startsWith('--only=')) || arg('only', 0) === s.senders);
const SETTLE_MS = 2_000;

const CLK_TCK = 100;
const cpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat (index 11, 12 after the state field).
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
};
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const out = (line: string) => process.stdout.write(`${line}\n`);

const profileDir = join(process.cwd(), '.bench-out');
if (profile) mkdirSync(profileDir, { recursive: true });
const targets: IngestTarget[] = [
  rtcmonSingleNode({ adapterArgs, ...(profile ? { profileDir } : {}) }),
  victoriaMetrics(),
  // The cost of --web.config.file: the same adapter behind TLS and basic auth (issue 13).
  ...(process.argv.includes('--tls') ? [rtcmonSingleNode({ adapterArgs, tls: true })] : []),
  ...(cluster ? [rtcmonCluster({ adapterArgs })] : []),
];

out(
  `settings: ${servers} servers x 100 series, ${rounds} scrapes 15 s apart ending now; shapes: ${SHAPES.map((s) => `${s.name} (${s.senders} senders, ${s.samplesPerRequest} samples/request)`).join(', ')}`,
);
for (const t of targets) out(`  ${t.name}: ${t.settings}`);
out(`load average before: ${load()} (2 cores shared)`);

const dir = mkdtempSync(join(tmpdir(), 'rtcmon-bench-ingest-'));
const failures: string[] = [];
try {
  for (const shape of SHAPES) {
    const endMs = Date.now() - 1_000;
    const t = performance.now();
    const p = buildPayloads({
      servers,
      rounds,
      shards: shape.senders,
      samplesPerRequest: shape.samplesPerRequest,
      endMs,
    });
    const fromMs = endMs - rounds * 15_000;
    out(
      `\n== ${shape.name}: ${shape.senders} senders; ${p.bodies.length} requests, ${p.totalSamples} samples, ${p.series} series, ` +
        `${(p.compressedBytes / p.totalSamples).toFixed(1)} B/sample compressed (built in ${((performance.now() - t) / 1000).toFixed(1)} s)`,
    );
    const perSample: Record<string, number> = {};
    const rate: Record<string, number> = {};
    for (const target of targets) {
      const tdir = join(dir, `${shape.senders}-${target.name.replace(/\W+/g, '-')}`);
      const running = await target.start(tdir);
      try {
        const cpu0 = running.processes.map((x) => cpuSeconds(x.pid));
        const self0 = process.cpuUsage();
        const r = await sendAll(running.writeUrl, p, shape.senders, running.secure);
        const selfCpu = process.cpuUsage(self0);
        await sleep(SETTLE_MS);
        const cpu = running.processes.map((x, i) => cpuSeconds(x.pid) - cpu0[i]!);
        const total = cpu.reduce((a, b) => a + b, 0);
        const stored = await running.storedSamples(fromMs, endMs);
        perSample[target.name] = (total / p.totalSamples) * 1e6;
        rate[target.name] = r.acked / r.seconds;
        out(
          `${target.name.padEnd(26)} ${rate[target.name]!.toFixed(0).padStart(8)} samples/s  ${perSample[target.name]!.toFixed(2)} CPU-µs/sample ` +
            `(${running.processes.map((x, i) => `${x.name} ${((cpu[i]! / p.totalSamples) * 1e6).toFixed(2)}`).join(', ')})  ` +
            `${r.acked} acked in ${r.seconds.toFixed(2)} s, ${r.retried} 5xx resent; stored ${stored} of ${p.totalSamples}; ` +
            `load generator ${((selfCpu.user + selfCpu.system) / p.totalSamples).toFixed(2)} CPU-µs/sample; load ${load()}`,
        );
        const notes = await running.notes();
        if (notes) out(`  ${notes}`);
        if (stored !== p.totalSamples || r.acked !== p.totalSamples)
          failures.push(
            `${shape.name}, ${target.name}: stored ${stored}, acknowledged ${r.acked}, sent ${p.totalSamples}`,
          );
      } finally {
        await running.stop();
      }
    }
    const [a, v] = targets.map((x) => x.name) as [string, string];
    out(
      `ratio ${a} / ${v}: CPU per sample ${(perSample[a]! / perSample[v]!).toFixed(2)}x (target <= 1.2), throughput ${(rate[a]! / rate[v]!).toFixed(2)}x` +
        (shape.senders === 8 ? `; ${a} ${rate[a]!.toFixed(0)} samples/s (target >= 750000)` : ''),
    );
    const secured = targets.find((x, i) => i >= 2 && !x.name.includes('3x2'))?.name;
    if (secured)
      out(
        `ratio ${secured} / ${a}: CPU per sample ${(perSample[secured]! / perSample[a]!).toFixed(2)}x, throughput ${(rate[secured]! / rate[a]!).toFixed(2)}x`,
      );
    const c = targets.find((x) => x.name.includes('3x2'))?.name;
    if (c)
      out(
        `cluster: ${rate[c]!.toFixed(0)} samples/s stored on both replicas (target >= 400000); CPU per sample ${perSample[c]!.toFixed(2)} µs vs ${perSample[a]!.toFixed(2)} µs on one node: replication and sharding cost ${(perSample[c]! - perSample[a]!).toFixed(2)} CPU-µs per sample`,
      );
  }
  if (profile) out(`adapter CPU profiles written to ${profileDir}/*.cpuprofile`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (failures.length) {
  out(`\nFAILED: a store does not hold exactly what was sent:\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
}
