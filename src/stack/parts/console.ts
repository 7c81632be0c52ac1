import type { StackPart } from '../part.ts';
import { startRole } from '../servers/role.ts';

/** `rtcmon console` over the stack's Prometheus and dispatcher, rendering the shipped dashboards. */
export const consolePart: StackPart = {
  name: 'console',
  phase: 'consumers',
  async start(ctx) {
    if (!ctx.prometheusUrl) throw new Error('console: Prometheus is not up');
    if (!ctx.dispatcherUrl) throw new Error('console: the dispatcher is not up (start it first)');
    const port = await ctx.port(3000);
    const url = `http://127.0.0.1:${port}`;
    const proc = await startRole({
      role: 'console',
      url,
      logDir: ctx.logDir,
      args: [
        `--web.listen-address=127.0.0.1:${port}`,
        `--prometheus.url=${ctx.prometheusUrl}`,
        `--prometheus.scrape-interval=${ctx.scrapeInterval}`,
        `--dispatcher.url=${ctx.dispatcherUrl}`,
      ],
    });
    return {
      endpoints: { console: `${url}/` },
      scrapeJobs: [{ job: 'rtcmon-console', targets: [`127.0.0.1:${port}`] }],
      hints: [`open ${url}/ (dashboards, #/fleet, #/why)`],
      stop: () => proc.stop(),
    };
  },
};
