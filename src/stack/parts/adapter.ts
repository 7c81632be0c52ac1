import { join } from 'node:path';
import type { StackPart } from '../part.ts';
import { startClickHouse } from '../servers/clickhouse.ts';
import { startRole } from '../servers/role.ts';

/** A single-node ClickHouse and `rtcmon adapter` in front of it: Prometheus' remote storage. */
export const adapterPart: StackPart = {
  name: 'adapter',
  phase: 'storage',
  async start(ctx) {
    const ch = await startClickHouse({
      dir: join(ctx.runDir, 'clickhouse'),
      httpPort: await ctx.port(8123),
      tcpPort: await ctx.port(9000),
      logDir: ctx.logDir,
    });
    const port = await ctx.port(9201);
    const url = `http://127.0.0.1:${port}`;
    let adapter: Awaited<ReturnType<typeof startRole>>;
    try {
      adapter = await startRole({
        role: 'adapter',
        args: [`--web.listen-address=127.0.0.1:${port}`, `--clickhouse.url=${ch.url}`],
        url,
        logDir: ctx.logDir,
      });
    } catch (err) {
      await ch.stop();
      throw err;
    }
    return {
      endpoints: { clickhouse: `${ch.url} (clickhouse-client --port ${ch.tcpPort})`, adapter: url },
      scrapeJobs: [{ job: 'rtcmon-adapter', targets: [`127.0.0.1:${port}`] }],
      remoteWrite: [{ url: `${url}/write` }],
      remoteRead: [{ url: `${url}/read`, readRecent: false }],
      hints: [
        `clickhouse-client --port ${ch.tcpPort} -q "SELECT metric_name, uniqExact(fingerprint) AS series FROM rtcmon.series GROUP BY metric_name ORDER BY series DESC LIMIT 10"`,
        `curl -s ${url}/metrics | grep -E '^rtcmon_adapter_(samples_stored|requests_rejected)'`,
      ],
      stop: async () => {
        await adapter.stop();
        await ch.stop();
      },
    };
  },
};
