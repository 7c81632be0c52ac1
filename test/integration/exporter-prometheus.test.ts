/**
 * Real Prometheus scrapes a real `rtcmon exporter` (SDK demo fleet + JSON push): the metrics are
 * queryable with the expected labels, `promtool check metrics` passes on both exposition formats, a
 * server that stops pushing turns rtc_up 0 and its other series go away, and SIGTERM stops it cleanly.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRtcMetrics, type PushClient, startPushing } from '../../src/sdk/index.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { type Prometheus, startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { startRole } from '../../src/stack/servers/role.ts';

const TOKEN = 'push-secret';
let dir = '';
let exporter: ManagedProcess | undefined;
let prom: Prometheus | undefined;
let url = '';
let pusher: PushClient | undefined;

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}
async function query(q: string): Promise<Vector[]> {
  const r = await fetch(`${prom!.url}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await r.json()) as { status: string; data: { result: Vector[] } };
  assert.equal(body.status, 'success', q);
  return body.data.result;
}
async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
const push = (body: unknown, token = TOKEN) =>
  fetch(`${url}/api/v1/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
const goBody = (participants: number, bytes: number) => ({
  server: 'go-1',
  info: {
    version: '2.3.0',
    eip: '203.0.113.9',
    port: 7443,
    region: 'eu-west',
    zone: 'eu-west-1a',
    host: 'media-go-1',
  },
  state: 'draining',
  metrics: {
    rtc_participants: participants,
    rtc_rooms: 3,
    rtc_capacity_participants: 100,
    rtc_rtp_bytes_total: [{ labels: { direction: 'out', kind: 'video' }, value: bytes }],
    rtc_join_failures_total: [{ labels: { reason: 'room_full' }, value: 4 }],
  },
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rtcmon-exporter-prom-'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  exporter = await startRole({
    role: 'exporter',
    url,
    logDir: dir,
    args: [
      `--web.listen-address=127.0.0.1:${port}`,
      '--sim.servers=2',
      '--sim.capacity=40',
      '--sim.churn-period=20s',
      '--sim.regions=eu-west,us-east',
      '--push.stale-after=3s',
      '--log.level=warn',
    ],
    env: { RTCMON_PUSH_TOKEN: TOKEN },
  });
  prom = await startPrometheus({
    dir: join(dir, 'prometheus'),
    logDir: dir,
    scrapeInterval: '1s',
    jobs: [{ job: 'rtc', targets: [`127.0.0.1:${port}`], labels: { cluster: 'test' } }],
  });
});
after(async () => {
  pusher?.stop();
  await prom?.stop();
  await exporter?.stop();
});

test('Prometheus scrapes SDK and push servers with the expected labels', async () => {
  assert.equal((await push(goBody(7, 1000), 'wrong')).status, 401);
  assert.equal((await push(goBody(7, 1000))).status, 200);
  // A Node RTC server in another process feeds the exporter through the SDK's push client.
  const node = createRtcMetrics({
    server: 'node-1',
    capacity: 50,
    info: { eip: '198.51.100.20', port: '443' },
  });
  for (let i = 0; i < 6; i++) node.participantJoined(`room-${i % 2}`);
  node.rtcp({ kind: 'audio', rttSeconds: 0.05, jitterSeconds: 0.002, lossRatio: 0.01 });
  pusher = startPushing(node, { url, token: TOKEN, intervalMs: 500 });
  await pusher.pushNow();
  const participants = await until('rtc_participants of 4 servers', async () => {
    await push(goBody(7, 1000));
    const r = await query('rtc_participants');
    return r.length === 4 ? r : undefined;
  });
  assert.deepEqual(participants.map((v) => v.metric.server).sort(), ['go-1', 'node-1', 'sim-0', 'sim-1']);
  assert.equal(participants.find((v) => v.metric.server === 'node-1')?.value[1], '6');
  assert.equal((await query('rtc_quality_score_count{server="node-1",kind="audio"}'))[0]?.value[1], '1');
  for (const v of participants) {
    assert.equal(v.metric.job, 'rtc');
    assert.equal(v.metric.cluster, 'test');
    assert.deepEqual(Object.keys(v.metric).sort(), ['__name__', 'cluster', 'instance', 'job', 'server']);
  }
  assert.equal(participants.find((v) => v.metric.server === 'go-1')?.value[1], '7');

  const info = await query('rtc_server_info');
  const go = info.find((v) => v.metric.server === 'go-1')?.metric;
  assert.equal(go?.eip, '203.0.113.9');
  assert.equal(go?.port, '7443');
  assert.equal(go?.host, 'media-go-1');
  assert.equal(go?.zone, 'eu-west-1a');
  const sim1 = info.find((v) => v.metric.server === 'sim-1')?.metric;
  assert.equal(sim1?.region, 'us-east');
  assert.match(sim1?.port ?? '', /^\d+$/);

  assert.equal((await query('rtc_server_state{server="go-1",state="draining"} == 1')).length, 1);
  assert.equal((await query('rtc_up == 1')).length, 4);
  assert.equal((await query('rtc_load_ratio{server="go-1"}'))[0]?.value[1], '0.07');
  assert.equal((await query('rtc_join_failures_total{server="go-1",reason="room_full"}'))[0]?.value[1], '4');

  // The simulated fleet's media and quality histograms are there and move.
  await until('sim RTP bytes growing', async () => {
    const r = await query('increase(rtc_rtp_bytes_total{server="sim-0",direction="in",kind="video"}[5s])');
    return Number(r[0]?.value[1]) > 0 ? true : undefined;
  });
  const q = await until('MOS observations', async () => {
    const r = await query('sum by (server) (rtc_quality_score_count{kind="audio"})');
    return r.length >= 2 && r.every((v) => Number(v.value[1]) > 0) ? r : undefined;
  });
  assert.ok(q.length >= 2);
  const mos = await query('histogram_quantile(0.5, sum by (le) (rtc_quality_score_bucket))');
  const median = Number(mos[0]?.value[1]);
  assert.ok(median >= 1 && median <= 4.5, `median MOS ${median}`);
  assert.equal((await query('count(rtc_stats_updated_timestamp_seconds > time() - 60)'))[0]?.value[1], '4');
});

test('promtool accepts the exposition; OpenMetrics is served on request; no sample has a timestamp', async () => {
  const text = await (await fetch(`${url}/metrics`)).text();
  execFileSync('/usr/bin/promtool', ['check', 'metrics'], { input: text });
  for (const line of text.split('\n'))
    if (line && !line.startsWith('#'))
      assert.match(line, /^\S+(?:\{.*\})? \S+$/, `one value, no timestamp: ${line}`);

  const res = await fetch(`${url}/metrics`, {
    headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' },
  });
  assert.match(res.headers.get('content-type') ?? '', /^application\/openmetrics-text; version=1\.0\.0/);
  const om = await res.text();
  assert.ok(om.endsWith('# EOF\n'));
  assert.match(om, /^# TYPE rtc_rtp_bytes counter$/m);
  const plain = await fetch(`${url}/metrics`);
  assert.match(plain.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  // Prometheus itself negotiated OpenMetrics and ingested it: the target is up.
  assert.equal((await query('up{job="rtc"}'))[0]?.value[1], '1');
});

test('a server that stops pushing turns rtc_up 0 and nothing else pretends', async () => {
  assert.equal((await push(goBody(9, 2000))).status, 200);
  await until('go-1 down in Prometheus', async () => {
    const r = await query('rtc_up{server="go-1"}');
    return r[0]?.value[1] === '0' ? true : undefined;
  });
  await until('go-1 participants gone (stale)', async () => {
    const r = await query('rtc_participants{server="go-1"}');
    return r.length === 0 ? true : undefined;
  });
  assert.equal((await query('rtc_server_info{server="go-1"}')).length, 1, 'identity stays');
  assert.equal((await query('rtc_up{server=~"sim-.*"} == 1')).length, 2);
  // It comes back with its next push.
  assert.equal((await push(goBody(9, 2500))).status, 200);
  await until('go-1 up again', async () => {
    const r = await query('rtc_up{server="go-1"}');
    return r[0]?.value[1] === '1' ? true : undefined;
  });
});

test('SIGTERM: the exporter stops accepting and exits cleanly', async () => {
  const p = exporter!;
  await p.stop('SIGTERM');
  assert.equal(p.child.exitCode, 0);
  await assert.rejects(fetch(`${url}/-/healthy`));
  exporter = undefined;
});
