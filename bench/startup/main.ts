/**
 * Start-up time of rtcmon compiled (dist/, what bin/rtcmon and the package run) against the TypeScript
 * loader the seed used (`node --import tsx src/cli.ts`): `rtcmon --help`, and `rtcmon adapter` from spawn
 * until /-/ready answers 200 on a real ClickHouse (schema already created by a warm-up run, so both sides
 * start from the same state). Run: npm run build && node --import tsx bench/startup/main.ts [--rounds=5]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { freePort, httpOk, startProcess } from '../../src/stack/servers/process.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 5);
const sides = {
  compiled: ['--enable-source-maps', join(repo, 'dist', 'cli.js')],
  'tsx loader': ['--import', 'tsx', join(repo, 'src', 'cli.ts')],
};
const add = (to: Record<string, number[]>, side: string, ms: number) => {
  to[side] = [...(to[side] ?? []), ms];
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(
  `settings: rounds=${rounds}, node ${process.version}, loadavg ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}\n`,
);

const help: Record<string, number[]> = {};
for (let i = 0; i < rounds; i++)
  for (const [side, args] of Object.entries(sides)) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [...args, '--help'], { cwd: repo, encoding: 'utf8' });
    if (r.status !== 0 || !r.stdout.startsWith('usage: rtcmon')) throw new Error(`${side}: ${r.stderr}`);
    add(help, side, performance.now() - t);
  }

const dir = mkdtempSync(join(tmpdir(), 'rtcmon-bench-startup-'));
const ch = await startClickHouse({ dir: join(dir, 'ch'), logDir: join(dir, 'logs') });
const ready: Record<string, number[]> = {};
try {
  for (let i = -1; i < rounds; i++)
    for (const [side, args] of Object.entries(sides)) {
      const port = await freePort();
      const t = performance.now();
      const p = await startProcess({
        name: 'adapter',
        command: process.execPath,
        args: [
          ...args,
          'adapter',
          `--web.listen-address=127.0.0.1:${port}`,
          `--clickhouse.url=${ch.url}`,
          '--log.level=warn',
        ],
        cwd: repo,
        logDir: join(dir, 'logs'),
        ready: () => httpOk(`http://127.0.0.1:${port}/-/ready`),
      });
      const ms = performance.now() - t;
      await p.stop();
      if (i >= 0) add(ready, side, ms); // round -1 creates the schema for both
    }
} finally {
  await ch.stop();
  rmSync(dir, { recursive: true, force: true });
}
for (const side of Object.keys(sides))
  process.stdout.write(
    `${side.padEnd(10)}  rtcmon --help median ${median(help[side]!).toFixed(0)} ms (${help[side]!.map((x) => x.toFixed(0)).join(' ')})` +
      `   adapter until /-/ready median ${median(ready[side]!).toFixed(0)} ms (${ready[side]!.map((x) => x.toFixed(0)).join(' ')})\n`,
  );
process.stdout.write(
  `loadavg after: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}\n`,
);
