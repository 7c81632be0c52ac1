/**
 * The dispatcher's promise on the real pipeline, with load that shows up late: simulated RTC servers (SDK
 * recorders in this process) push their stats to a real `rtcmon exporter` every 2 s, a real Prometheus
 * scrapes it every 5 s, the dispatcher refreshes every 5 s. A client joins its server 5-15 s after its
 * allocation, so each join reaches the dispatcher's data 5-27 s late: far longer than a scrape interval.
 * A burst of joins (rooms of 2-3 and one room larger than any server) must not push any server past its
 * high mark; a server without a public address gets nobody.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRtcMetrics, type RtcMetrics } from '../../src/sdk/index.ts';
import { type PushClient, startPushing } from '../../src/sdk/push-client.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { type Prometheus, startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { allocate, servers, until } from './dispatcher-helpers.ts';

const SERVERS = 8;
const CAPACITY = 100;
const HIGH_MARK = 0.9;
const PUSH_MS = 2000;
const SCRAPE = '5s';
const TOKEN = 'lag-token';
/** Seeded, so that a failure can be replayed. */
let seed = 12;
const random = () => {
  seed = (seed * 16807) % 2147483647;
  return seed / 2147483647;
};

interface Sim {
  id: string;
  metrics: RtcMetrics;
  pusher: PushClient;
  now: number;
  peak: number;
}

let dir: string;
let exporter: ManagedProcess | undefined;
let prom: Prometheus | undefined;
let dispatcher: ManagedProcess | undefined;
let url: string;
const fleet: Sim[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rtcmon-dispatcher-lag-'));
  const exporterPort = await freePort();
  const exporterUrl = `http://127.0.0.1:${exporterPort}`;
  exporter = await startRole({
    role: 'exporter',
    url: exporterUrl,
    logDir: dir,
    args: [`--web.listen-address=127.0.0.1:${exporterPort}`, '--log.level=warn'],
    env: { RTCMON_PUSH_TOKEN: TOKEN },
  });
  // Initial loads 0-35; the last server has no public address (no eip/port in rtc_server_info).
  for (let i = 0; i <= SERVERS; i++) {
    const id = i < SERVERS ? `lag-${i}` : 'no-address';
    const metrics = createRtcMetrics({
      server: id,
      capacity: CAPACITY,
      info:
        i < SERVERS
          ? { eip: '127.0.0.1', port: String(7000 + i), region: 'eu', zone: 'eu-1', host: `h${i}` }
          : { region: 'eu', zone: 'eu-1', host: 'h-none' },
    });
    const initial = i < SERVERS ? i * 5 : 0;
    for (let k = 0; k < initial; k++) {
      metrics.participantJoined(`initial-${k % 3}`);
      metrics.joinSucceeded(0.3);
    }
    const pusher = startPushing(metrics, { url: exporterUrl, token: TOKEN, intervalMs: PUSH_MS });
    fleet.push({ id, metrics, pusher, now: initial, peak: initial });
  }
  prom = await startPrometheus({
    dir: join(dir, 'prometheus'),
    logDir: dir,
    scrapeInterval: SCRAPE,
    jobs: [{ job: 'rtc', targets: [`127.0.0.1:${exporterPort}`] }],
  });
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  dispatcher = await startRole({
    role: 'dispatcher',
    url,
    logDir: dir,
    args: [
      `--web.listen-address=127.0.0.1:${port}`,
      `--prometheus.url=${prom.url}`,
      `--snapshot.interval=${SCRAPE}`,
      // The pipeline's delays, as an operator would configure them: the ledger's bound comes from them.
      `--ledger.scrape-interval=${SCRAPE}`,
      `--ledger.report-interval=${PUSH_MS}ms`,
      '--ledger.join-delay=15s',
      `--admission.high-mark=${HIGH_MARK}`,
      '--log.level=warn',
    ],
  });
  await until(
    'every server with its initial load in the snapshot',
    async () => {
      const s = (await servers(url)).servers;
      const ok = fleet.every((f) => s.find((x) => x.id === f.id)?.participants === f.now);
      return ok ? true : undefined;
    },
    30_000,
    250,
  );
});

after(async () => {
  for (const f of fleet) f.pusher.stop();
  await dispatcher?.stop();
  await prom?.stop();
  await exporter?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a burst with load reported 5-15 s late never pushes a server past its high mark', async () => {
  const byId = new Map(fleet.map((f) => [f.id, f]));
  const landing: Promise<void>[] = [];
  const started = Date.now();
  let placed = 0;
  let refused = 0;
  let large = 0;
  const largeOn = new Map<string, number>();
  // 760 joins in 19 s (40/s): every 5th one joins the room "large" (152 members, more than any server
  // takes), the others rooms of 2-3. The fleet's room below the high mark: 8 × 90 - 140 = 580 places.
  const one = async (i: number): Promise<void> => {
    const room = i % 5 === 0 ? 'large' : `r${Math.floor(i / 3)}`;
    const { status, body } = await allocate(url, room);
    if (status === 200 && body.server) {
      placed++;
      const sim = byId.get(body.server.id);
      assert.ok(sim, `unknown server ${body.server.id}`);
      if (room === 'large') {
        large++;
        largeOn.set(sim.id, (largeOn.get(sim.id) ?? 0) + 1);
      }
      // The client joins 5-15 s later; only then does its server count it (and push it).
      const lag = 5000 + random() * 10_000;
      await sleep(lag);
      sim.metrics.participantJoined(room);
      sim.metrics.joinSucceeded(lag / 1000);
      sim.now++;
      sim.peak = Math.max(sim.peak, sim.now);
    } else {
      assert.equal(status, 503, JSON.stringify(body));
      refused++;
    }
  };
  // Requests go out on schedule, not one after the other's answer.
  for (let i = 0; i < 760; i++) {
    landing.push(one(i));
    const next = started + (i + 1) * 25;
    if (next > Date.now()) await sleep(next - Date.now());
  }
  const burstMs = Date.now() - started;
  await Promise.all(landing);
  const limit = HIGH_MARK * CAPACITY;
  process.stdout.write(
    `# ${placed} joins placed, ${refused} refused (503) in ${(burstMs / 1000).toFixed(1)} s; room "large": ${large} members on ${[...largeOn].map(([s, n]) => `${s} ${n}`).join(', ')}\n`,
  );
  process.stdout.write(
    `# per-server peak load (participants of ${CAPACITY}, high mark ${limit}): ${fleet.map((f) => `${f.id} ${f.peak}`).join(', ')}\n`,
  );
  for (const f of fleet)
    assert.ok(f.peak <= limit, `${f.id} reached ${f.peak} participants (high mark ${limit})`);
  assert.equal(byId.get('no-address')!.peak, 0, 'the server without a public address got clients');
  assert.ok(largeOn.size >= 2, 'the large room spilled');
  assert.ok(placed >= 500, `only ${placed} of the 580 places below the high marks were used`);
  // Once the metrics show every join, the ledger holds nothing twice: pending + participants = real load.
  const listed = await until(
    'the metrics to show every join',
    async () => {
      const s = (await servers(url)).servers;
      return fleet.every((f) => s.find((x) => x.id === f.id)?.participants === f.now) ? s : undefined;
    },
    30_000,
    500,
  );
  for (const s of listed) assert.equal(s.pending, 0, `${s.id} still has ${s.pending} pending`);
});
