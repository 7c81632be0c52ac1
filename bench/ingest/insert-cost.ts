import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClickHouseClient } from '../../src/adapter/clickhouse.ts';
import { RowBinaryWriter } from '../../src/adapter/rowbinary.ts';
import { migrate } from '../../src/adapter/schema.ts';
import { startClickHouse } from '../../src/stack/servers/clickhouse.ts';

/**
 * `node --import tsx bench/ingest/insert-cost.ts`: what one ClickHouse insert into the adapter's `samples`
 * table costs ClickHouse, by rows per insert (the figure behind the adapter's group commit, docs/adapter.md).
 * For each size, INSERTS inserts of RowBinary rows as the adapter sends them (fingerprint, timestamp_ms,
 * value; 200,000 series, timestamps of the last five minutes), one at a time, then 2 s for the merges they
 * cause; printed: wall ms per insert and ClickHouse CPU ms per insert and µs per row (utime + stime of the
 * server process). The table is counted afterwards: it must hold every row sent.
 */
const SIZES = [1, 1_000, 4_000, 8_000, 16_000, 32_000, 64_000];
const INSERTS = 40;
const CLK_TCK = 100;
const out = (s: string) => process.stdout.write(`${s}\n`);

const dir = mkdtempSync(join(tmpdir(), 'rtcmon-bench-insert-'));
const server = await startClickHouse({ dir: join(dir, 'clickhouse'), logDir: join(dir, 'logs') });
const ch = createClickHouseClient({ url: server.url, database: 'bench' });
const cpuMs = (): number => {
  const stat = readFileSync(`/proc/${server.process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
};
try {
  await migrate(ch);
  out(
    `settings: ClickHouse 18.16 defaults, ${INSERTS} inserts per size, one at a time; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const now = Date.now();
  let id = 0;
  let sent = 0;
  for (const rows of SIZES) {
    const bodies: Buffer[] = [];
    for (let b = 0; b < INSERTS; b++) {
      const w = new RowBinaryWriter(rows * 24);
      for (let i = 0; i < rows; i++, id++) {
        const s = id % 200_000;
        const ts = now - 300_000 + Math.floor(id / 200_000) * 15 + (s % 1000);
        w.uint64(Math.imul(s, 2654435761) >>> 0, s)
          .uint64(ts % 2 ** 32, Math.floor(ts / 2 ** 32))
          .uint64(0, 0x40590000 + (id % 7));
      }
      bodies.push(Buffer.from(w.bytes()));
    }
    const c0 = cpuMs();
    const t0 = performance.now();
    for (const body of bodies) await ch.insert('samples', 'RowBinary', body);
    const wall = (performance.now() - t0) / INSERTS;
    await sleep(2_000);
    const cpu = (cpuMs() - c0) / INSERTS;
    sent += rows * INSERTS;
    out(
      `${String(rows).padStart(6)} rows per insert: ${wall.toFixed(2)} ms wall, ClickHouse ${cpu.toFixed(2)} CPU-ms per insert, ${((cpu * 1000) / rows).toFixed(2)} CPU-µs per row (merges included)`,
    );
  }
  const stored = Number(await ch.query('SELECT count() FROM samples'));
  out(`stored ${stored} of ${sent} rows`);
  if (stored !== sent) process.exitCode = 1;
} finally {
  ch.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
