import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StackPart } from '../part.ts';
import { startRole } from '../servers/role.ts';

/** Demo clients: one join about every second, participants leave after a while. */
const DEMO_ROOMS = 40;
const DEMO_JOIN_EVERY_MS = 1000;
const DEMO_PARTICIPANTS = 120;

interface Joined {
  readonly url: string;
  readonly room: string;
}

/**
 * `rtcmon dispatcher` over the demo fleet, plus demo traffic: each demo client asks the dispatcher for a
 * server (POST /api/v1/allocate) and joins the chosen simulated server at its public address
 * (POST /demo/join), so the fleet's load follows the dispatcher's allocations; older participants leave.
 */
export const dispatcherPart: StackPart = {
  name: 'dispatcher',
  phase: 'consumers',
  async start(ctx) {
    if (!ctx.prometheusUrl) throw new Error('dispatcher: Prometheus is not up');
    const port = await ctx.port(8080);
    const url = `http://127.0.0.1:${port}`;
    const token = randomBytes(12).toString('hex');
    const tokenFile = join(ctx.runDir, 'dispatcher.token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const proc = await startRole({
      role: 'dispatcher',
      url,
      logDir: ctx.logDir,
      args: [
        `--web.listen-address=127.0.0.1:${port}`,
        `--prometheus.url=${ctx.prometheusUrl}`,
        // Refreshing more often than Prometheus scrapes buys nothing.
        `--snapshot.interval=${ctx.scrapeInterval}`,
        `--ledger.scrape-interval=${ctx.scrapeInterval}`,
        '--prometheus.rate-window=1m',
        `--api.token-file=${tokenFile}`,
        // Every simulated server shares this one machine: its CPU and memory are scored, but a busy
        // laptop must not exclude the whole demo fleet.
        '--score.limit.cpu=1',
        '--score.limit.memory=1',
      ],
      // /-/ready: the first snapshot is in (demo clients then get answers, once the fleet is scraped).
    });

    ctx.dispatcherUrl = url;
    const log = ctx.logger.child({ part: 'dispatcher-demo' });
    const joined: Joined[] = [];
    let seq = 0;
    let busy = false;
    const post = async (u: string, body: unknown) => {
      const r = await fetch(u, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(2000),
      });
      return { ok: r.ok, body: (await r.json().catch(() => ({}))) as Record<string, unknown> };
    };
    const step = async () => {
      const room = `demo-${Math.floor(Math.random() * DEMO_ROOMS)}`;
      const a = await post(`${url}/api/v1/allocate`, { room, client: `demo-client-${seq++}` });
      const server = a.body.server as { eip?: string; port?: number } | null | undefined;
      if (a.ok && server?.eip && server.port) {
        const target = `http://${server.eip}:${server.port}`;
        const j = await post(`${target}/demo/join`, { room });
        if (j.ok) joined.push({ url: target, room });
      }
      while (joined.length > DEMO_PARTICIPANTS) {
        const k = Math.floor(Math.random() * joined.length);
        const [gone] = joined.splice(k, 1);
        if (gone) await post(`${gone.url}/demo/leave`, { room: gone.room });
      }
    };
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      step()
        .catch((err: unknown) => log.debug({ err: (err as Error).message }, 'demo step failed'))
        .finally(() => {
          busy = false;
        });
    }, DEMO_JOIN_EVERY_MS);

    return {
      endpoints: { dispatcher: `${url}/api/v1/servers (drain token ${token})` },
      // Its decisions, ledger, snapshot age and blind mode (the dispatcher dashboard).
      scrapeJobs: [{ job: 'rtcmon-dispatcher', targets: [`127.0.0.1:${port}`] }],
      hints: [
        `curl -s -XPOST ${url}/api/v1/allocate -d '{"room":"my-room","region":"eu-west"}'`,
        `curl -s ${url}/api/v1/servers`,
        `curl -s -XPOST -H 'Authorization: Bearer ${token}' ${url}/api/v1/servers/<id>/drain`,
        `curl -s '${url}/?Action=GetRtcServer'`,
      ],
      stop: async () => {
        clearInterval(timer);
        await proc.stop();
      },
    };
  },
};
