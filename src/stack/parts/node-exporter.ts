import { hostname } from 'node:os';
import type { StackPart } from '../part.ts';
import { startNodeExporter } from '../servers/node-exporter.ts';

/** The real node_exporter: CPU, memory and network of this host. */
export const nodeExporterPart: StackPart = {
  name: 'node_exporter',
  phase: 'sources',
  async start(ctx) {
    const ne = await startNodeExporter({ logDir: ctx.logDir, port: await ctx.port(9100) });
    return {
      endpoints: { node_exporter: `${ne.url}/metrics` },
      // `host` joins this machine's CPU, memory and network to the RTC servers' rtc_server_info{host}.
      scrapeJobs: [{ job: 'node', targets: [ne.address], labels: { host: hostname() } }],
      stop: () => ne.stop(),
    };
  },
};
