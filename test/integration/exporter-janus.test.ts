/**
 * The Janus source against a real Janus 1.1 (in a private network namespace, see PLATFORM.md) and a
 * real WebRTC client (headless Chromium running janus.js): a publisher in VideoRoom 1234 and a second
 * client subscribing to it. The exporter runs as `rtcmon exporter` and is read through its /metrics.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createJanusAdmin } from '../../src/exporter/janus/admin.ts';
import { type Janus, startJanus } from '../../src/stack/servers/janus.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { type Prometheus, startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { type JanusClient, startJanusBrowser } from './exporter-janus-client.ts';

const SERVER = 'janus-it';
const ROOM = 1234;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

let janus: Janus | undefined;
let exporter: ManagedProcess | undefined;
let exporterUrl = '';
let runDir = '';
let prometheus: Prometheus | undefined;
let browser: Awaited<ReturnType<typeof startJanusBrowser>> | undefined;
let capture: { stop(): string[] } | undefined;

async function scrape(): Promise<Sample[]> {
  const res = await fetch(`${exporterUrl}/metrics`);
  assert.equal(res.status, 200);
  return parseExposition(await res.text()).filter(
    (s) => s.labels.server === SERVER || !s.name.startsWith('rtc_'),
  );
}
const value = (samples: Sample[], name: string, labels: Record<string, string> = {}): number => {
  const hit = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return hit.length ? hit.reduce((a, s) => a + s.value, 0) : Number.NaN;
};

/** Scrapes until `pred` holds; the last scrape is returned, or the failure names what was seen. */
async function until(what: string, pred: (s: Sample[]) => boolean, timeoutMs = 30_000): Promise<Sample[]> {
  const deadline = Date.now() + timeoutMs;
  let last: Sample[] = [];
  while (Date.now() < deadline) {
    last = await scrape();
    if (pred(last)) return last;
    await sleep(250);
  }
  const seen = last
    .filter((s) => s.name.startsWith('rtc_') && !s.name.includes('_bucket'))
    .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`)
    .join('\n');
  assert.fail(`timed out waiting for ${what}; last scrape:\n${seen}`);
}

/** tcpdump on the host's default-route interface: UDP other than DNS would be WebRTC leaving the host. */
function startCapture(dir: string): { stop(): string[] } | undefined {
  // scripts/setup.sh installs tcpdump for the tests: its absence is a broken setup, not a reason to skip.
  assert.ok(existsSync('/usr/bin/tcpdump') || existsSync('/usr/sbin/tcpdump'), 'tcpdump is not installed');
  const route = execFileSync('ip', ['-o', 'route', 'show', 'default'], { encoding: 'utf8' });
  const dev = /\bdev (\S+)/.exec(route)?.[1];
  if (!dev) return undefined;
  const file = join(dir, 'host.pcap');
  const p = spawn('tcpdump', ['-i', dev, '-n', '-U', '-w', file, 'udp and not port 53'], { stdio: 'ignore' });
  // tcpdump creates the file once it listens: wait for it, so that nothing is sent before the capture.
  for (let i = 0; i < 50 && !existsSync(file); i++) execFileSync('sleep', ['0.1']);
  return {
    stop() {
      p.kill('SIGTERM');
      execFileSync('sleep', ['0.5']);
      if (!existsSync(file)) return [`no capture file (tcpdump on ${dev} failed?)`];
      const text = execFileSync('tcpdump', ['-n', '-r', file], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      return text.split('\n').filter(Boolean);
    },
  };
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-exporter-janus-'));
  runDir = dir;
  capture = startCapture(dir);
  const port = await freePort();
  exporterUrl = `http://127.0.0.1:${port}`;
  janus = await startJanus({
    dir: join(dir, 'janus'),
    logDir: dir,
    eventsUrl: `${exporterUrl}/janus/events`,
    eventsAuth: { user: 'janus', password: 'events-secret' },
    statsPeriod: 1,
  });
  exporter = await startRole({
    role: 'exporter',
    url: exporterUrl,
    logDir: dir,
    args: [
      `--web.listen-address=127.0.0.1:${port}`,
      `--janus.admin-url=${janus.adminUrl}`,
      `--janus.server-id=${SERVER}`,
      '--janus.poll-interval=1s',
      '--janus.capacity=10',
      '--janus.events-user=janus',
      '--log.level=warn',
    ],
    env: { RTCMON_JANUS_ADMIN_SECRET: janus.adminSecret, RTCMON_JANUS_EVENTS_PASSWORD: 'events-secret' },
  });
  prometheus = await startPrometheus({
    dir: join(dir, 'prometheus'),
    logDir: dir,
    scrapeInterval: '1s',
    jobs: [{ job: 'rtc', targets: [`127.0.0.1:${port}`] }],
  });
  browser = await startJanusBrowser({ dir, apiUrlInNs: janus.apiUrlInNs, nsCommand: janus.nsCommand });
});

after(async () => {
  await browser?.close().catch(() => {});
  await prometheus?.stop();
  await exporter?.stop();
  await janus?.stop();
  capture?.stop();
});

test('Janus with a real publisher and subscriber: load, media and quality show; leaving and stopping fall back', async (t) => {
  // Idle Janus: up, known version, nothing in it.
  let s = await until('rtc_up 1', (x) => value(x, 'rtc_up') === 1);
  assert.equal(value(s, 'rtc_participants'), 0);
  assert.equal(value(s, 'rtc_rooms'), 0);
  assert.equal(value(s, 'rtc_capacity_participants'), 10);
  const info = s.find((x) => x.name === 'rtc_server_info');
  assert.equal(info?.labels.version, '1.1.2');

  const pub: JanusClient = await browser!.client();
  const feed = await pub.publish(ROOM, 'publisher');
  const sub: JanusClient = await browser!.client();
  await sub.subscribe(ROOM, feed);

  s = await until(
    'one room, two participants, 2 tracks in and 2 out',
    (x) =>
      value(x, 'rtc_rooms') === 1 &&
      value(x, 'rtc_participants') === 2 &&
      value(x, 'rtc_tracks', { direction: 'in', kind: 'audio' }) === 1 &&
      value(x, 'rtc_tracks', { direction: 'in', kind: 'video' }) === 1 &&
      value(x, 'rtc_tracks', { direction: 'out', kind: 'audio' }) === 1 &&
      value(x, 'rtc_tracks', { direction: 'out', kind: 'video' }) === 1,
  );
  assert.equal(value(s, 'rtc_largest_room_participants'), 2);
  assert.equal(value(s, 'rtc_load_ratio'), 0.2);

  // Prometheus scrapes it: the same figures, queryable by the server label.
  const promQuery = async (q: string): Promise<number> => {
    const res = await fetch(`${prometheus!.url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
    return Number(body.data.result[0]?.value[1] ?? Number.NaN);
  };
  // Wait for a scrape taken after the tracks came up: participants join before their tracks do, so a scrape
  // can hold 2 participants and fewer tracks.
  const deadline = Date.now() + 20_000;
  while (
    Date.now() < deadline &&
    ((await promQuery(`rtc_participants{job="rtc",server="${SERVER}"}`)) !== 2 ||
      (await promQuery(`sum(rtc_tracks{job="rtc",server="${SERVER}"})`)) !== 4)
  )
    await sleep(250);
  assert.equal(await promQuery(`rtc_participants{job="rtc",server="${SERVER}"}`), 2);
  assert.equal(await promQuery(`sum(rtc_tracks{job="rtc",server="${SERVER}"})`), 4);

  // Media flows: every RTP counter grows, in and out, audio and video.
  const first = await scrape();
  const later = await until('RTP counters growing', (x) =>
    (['in', 'out'] as const).every((direction) =>
      (['audio', 'video'] as const).every(
        (kind) =>
          value(x, 'rtc_rtp_bytes_total', { direction, kind }) >
            value(first, 'rtc_rtp_bytes_total', { direction, kind }) &&
          value(x, 'rtc_rtp_packets_total', { direction, kind }) >
            value(first, 'rtc_rtp_packets_total', { direction, kind }),
      ),
    ),
  );
  assert.ok(value(later, 'rtc_rtp_bytes_total', { direction: 'in', kind: 'video' }) > 10_000);

  // Janus' only ICE candidates are the namespace's 127.0.0.1 (its jv0): nothing else to send to.
  const admin = createJanusAdmin({ url: janus!.adminUrl, secret: janus!.adminSecret });
  const candidates: string[] = [];
  for (const session of await admin.listSessions())
    for (const handle of await admin.listHandles(session)) {
      const info = (await admin.handleInfo(session, handle)) as {
        webrtc?: { ice?: { 'local-candidates'?: string[] } };
      };
      candidates.push(...(info.webrtc?.ice?.['local-candidates'] ?? []));
    }
  assert.ok(candidates.length >= 2, `candidates: ${candidates.join(' | ')}`);
  for (const c of candidates) assert.match(c, / udp \d+ 127\.0\.0\.1 \d+ typ host/);

  // Quality: RTT, jitter, loss and MOS histograms have observations; joins were counted and succeeded.
  s = await until(
    'RTT, jitter, loss and quality observations',
    (x) =>
      value(x, 'rtc_rtt_seconds_count') > 0 &&
      value(x, 'rtc_jitter_seconds_count', { kind: 'video' }) > 0 &&
      value(x, 'rtc_jitter_seconds_count', { kind: 'audio' }) > 0 &&
      value(x, 'rtc_packet_loss_ratio_count', { kind: 'video' }) > 0 &&
      value(x, 'rtc_quality_score_count', { kind: 'audio' }) > 0,
  );
  assert.ok(value(s, 'rtc_join_attempts_total') >= 2, 'publisher and subscriber PeerConnections');
  assert.ok(Number.isNaN(value(s, 'rtc_join_failures_total')), 'no failed join');
  assert.ok(value(s, 'rtc_join_duration_seconds_count') >= 2);
  if (process.env.RTCMON_DEBUG)
    t.diagnostic(
      s
        .filter((x) => x.name.startsWith('rtc_') && !x.name.endsWith('_bucket'))
        .map((x) => `${x.name}${JSON.stringify(x.labels)} ${x.value}`)
        .join('\n'),
    );
  const mos = value(s, 'rtc_quality_score_sum') / value(s, 'rtc_quality_score_count');
  assert.ok(mos > 4 && mos <= 4.5, `loopback MOS ${mos}`);
  t.diagnostic(
    `joins ${value(s, 'rtc_join_duration_seconds_count')} (mean ${(value(s, 'rtc_join_duration_seconds_sum') / value(s, 'rtc_join_duration_seconds_count')).toFixed(3)} s to media), ` +
      `admin polls ${value(s, 'rtcmon_janus_poll_duration_seconds_count')} (mean ${((1000 * value(s, 'rtcmon_janus_poll_duration_seconds_sum')) / value(s, 'rtcmon_janus_poll_duration_seconds_count')).toFixed(1)} ms), ` +
      `events used ${value(s, 'rtcmon_janus_events_total', { result: 'used' })}, ignored ${value(s, 'rtcmon_janus_events_total', { result: 'ignored' })}, MOS ${mos.toFixed(3)}`,
  );
  // The exposition passes Prometheus' own linter.
  const text = await (await fetch(`${exporterUrl}/metrics`)).text();
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(lint.status, 0, `promtool check metrics:\n${lint.stdout}${lint.stderr}`);
  // Bounded labels: no series carries a room, participant, SSRC or address.
  for (const x of s.filter((y) => y.name.startsWith('rtc_')))
    for (const k of Object.keys(x.labels))
      assert.ok(
        [
          'server',
          'direction',
          'kind',
          'reason',
          'le',
          'state',
          'version',
          'eip',
          'port',
          'region',
          'zone',
          'host',
        ].includes(k),
        `${x.name} has label ${k}`,
      );

  // 10% of the UDP packets inside the namespace dropped (iptables, where installed): Janus sees the
  // publisher's losses, the subscriber reports its own, video asks for retransmissions.
  if (existsSync('/usr/sbin/iptables')) {
    const rule = [
      'INPUT',
      '-p',
      'udp',
      '-m',
      'statistic',
      '--mode',
      'random',
      '--probability',
      '0.1',
      '-j',
      'DROP',
    ];
    execFileSync(
      janus!.nsCommand(['iptables', '-A', ...rule])[0]!,
      janus!.nsCommand(['iptables', '-A', ...rule]).slice(1),
    );
    const lossy = await until(
      'losses counted in both directions, NACKs, loss ratio observations > 0',
      (x) =>
        value(x, 'rtc_rtp_packets_lost_total', { direction: 'in' }) > 0 &&
        value(x, 'rtc_rtp_packets_lost_total', { direction: 'out' }) > 0 &&
        value(x, 'rtc_nacks_total') > 0 &&
        value(x, 'rtc_packet_loss_ratio_sum', { kind: 'video' }) > 0,
    );
    execFileSync(
      janus!.nsCommand(['iptables', '-D', ...rule])[0]!,
      janus!.nsCommand(['iptables', '-D', ...rule]).slice(1),
    );
    const mosLossy = value(lossy, 'rtc_quality_score_sum') / value(lossy, 'rtc_quality_score_count');
    assert.ok(mosLossy < mos, `MOS with loss ${mosLossy} below the clean ${mos}`);
    t.diagnostic(
      `10% loss: lost in ${value(lossy, 'rtc_rtp_packets_lost_total', { direction: 'in' })}, out ${value(lossy, 'rtc_rtp_packets_lost_total', { direction: 'out' })}, nacks ${value(lossy, 'rtc_nacks_total')}, MOS ${mos.toFixed(3)} -> ${mosLossy.toFixed(3)}`,
    );
  } else assert.fail('iptables is not installed (scripts/setup.sh test installs it): no loss injected');

  // Both clients leave: load falls back to zero, counters keep their totals.
  const before = await scrape();
  await sub.leave();
  await pub.leave();
  s = await until(
    'rooms, participants and tracks back to 0',
    (x) =>
      value(x, 'rtc_rooms') === 0 &&
      value(x, 'rtc_participants') === 0 &&
      value(x, 'rtc_tracks') === 0 &&
      value(x, 'rtc_session_duration_seconds_count') >= 1,
  );
  for (const direction of ['in', 'out'])
    for (const kind of ['audio', 'video'])
      assert.ok(
        value(s, 'rtc_rtp_bytes_total', { direction, kind }) >=
          value(before, 'rtc_rtp_bytes_total', { direction, kind }),
        `rtc_rtp_bytes_total{${direction},${kind}} never goes back`,
      );

  // Janus stops: rtc_up 0 and nothing else pretends.
  await janus!.stop();
  s = await until('rtc_up 0', (x) => value(x, 'rtc_up') === 0);
  const left = s.filter((x) => x.name.startsWith('rtc_')).map((x) => x.name);
  assert.deepEqual([...new Set(left)].sort(), ['rtc_server_info', 'rtc_up']);

  // Janus comes back (same admin address): up again, empty, and the counters did not restart.
  janus = await startJanus({
    dir: join(runDir, 'janus-2'),
    logDir: runDir,
    adminPort: Number(new URL(janus!.adminUrl).port),
    adminSecret: janus!.adminSecret,
  });
  s = await until('rtc_up 1 after the restart', (x) => value(x, 'rtc_up') === 1);
  assert.equal(value(s, 'rtc_participants'), 0);
  assert.ok(
    value(s, 'rtc_rtp_bytes_total', { direction: 'in', kind: 'video' }) >=
      value(before, 'rtc_rtp_bytes_total', { direction: 'in', kind: 'video' }),
  );

  // And no WebRTC packet left this machine.
  if (capture) {
    const packets = capture.stop();
    capture = undefined;
    assert.deepEqual(packets, [], 'UDP packets seen on the host interface');
  } else t.diagnostic('no default route: nothing could leave the host, no capture taken');
});
