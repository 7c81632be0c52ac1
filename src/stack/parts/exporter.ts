import { join } from 'node:path';
import type { StackPart } from '../part.ts';
import { startJanusForExporter } from '../servers/janus.ts';
import { startRole } from '../servers/role.ts';

/** Simulated RTC servers in the demo fleet (SDK-built, load moving on a 60 s wave). */
const SIM_SERVERS = 4;

/**
 * `rtcmon exporter` with a demo fleet of simulated RTC servers (each with POST /demo/join on its own
 * port, address in rtc_server_info) and the JSON push endpoint.
 */
export const exporterPart: StackPart = {
  name: 'exporter',
  phase: 'sources',
  async start(ctx) {
    const port = await ctx.port(9464);
    const url = `http://127.0.0.1:${port}`;

    // --- Janus (helper C2): where Debian's janus is installed, a real Janus in a private network
    // namespace (nothing leaves the machine), polled and fed by this exporter as server "janus-local".
    const janus = await startJanusForExporter({
      dir: join(ctx.runDir, 'janus'),
      logDir: ctx.logDir,
      exporterUrl: url,
    }).catch((err: unknown) => {
      ctx.logger.warn({ err }, 'janus not started (needs root for ip netns); the exporter runs without it');
      return undefined;
    });
    const stopJanus = async () => {
      await janus?.janus.stop();
    };
    // --- end Janus ---

    const exporter = await startRole({
      role: 'exporter',
      url,
      logDir: ctx.logDir,
      ...(janus ? { env: janus.env } : {}),
      args: [
        ...(janus?.args ?? []), // Janus (helper C2)
        `--web.listen-address=127.0.0.1:${port}`,
        `--sim.servers=${SIM_SERVERS}`,
        '--sim.capacity=200',
        '--sim.churn-period=60s',
        '--sim.regions=eu-west,us-east',
        '--sim.zones=a,b',
      ],
    }).catch(async (err: unknown) => {
      await stopJanus(); // Janus (helper C2)
      throw err;
    });
    return {
      endpoints: {
        exporter: `${url}/metrics (push: POST ${url}/api/v1/push)`,
        // Janus (helper C2)
        ...(janus ? { janus: `admin API ${janus.janus.adminUrl}, netns ${janus.janus.netns}` } : {}),
      },
      scrapeJobs: [{ job: 'rtcmon-exporter', targets: [`127.0.0.1:${port}`] }],
      hints: [
        `curl -s ${url}/metrics | grep '^rtc_participants'`,
        `curl -s -XPOST ${url}/api/v1/push -d '{"server":"my-sfu","metrics":{"rtc_participants":3,"rtc_capacity_participants":100}}'`,
      ],
      stop: async () => {
        await exporter.stop();
        await stopJanus(); // Janus (helper C2)
      },
    };
  },
};
