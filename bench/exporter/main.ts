/**
 * bench/exporter: an SDK-instrumented RTC server with 1,000 rooms and 10,000 participants, recording a
 * stream of packet-level events (RTP, RTCP reports, joins/leaves), side by side with the same metrics
 * kept in plain prom-client (labels passed per call; pre-bound children; and its cheapest idiom for
 * counters and gauges: plain numbers exposed through `collect()` at scrape time, histograms bound), in
 * the same run. After the run, every figure of every prom-client registry must equal the SDK's.
 * Prints ns per recorded event per kind of event, and the time of one /metrics scrape (in process and
 * over HTTP). Usage: node --import tsx bench/exporter/main.ts [--events=1000000] [--rounds=5]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { createExporter } from '../../src/exporter/app.ts';
import { sdkSource } from '../../src/exporter/source.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import {
  createRtcMetrics,
  type Direction,
  estimateMos,
  FAMILIES,
  type Family,
  type MediaKind,
  renderExposition,
  type StreamReport,
  serveMetrics,
} from '../../src/sdk/index.ts';

const arg = (name: string, def: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
};
const N = arg('events', 1_000_000);
const ROUNDS = arg('rounds', 5);
const ROOMS = 1000;
const PER_ROOM = 10;
const SERVER = 'bench-sfu';

// Deterministic event stream, generated once and replayed to every recorder.
let seed = 42;
const rnd = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const DIRS: Direction[] = ['in', 'out'];
const KINDS: MediaKind[] = ['audio', 'video'];
const rtpDir = Array.from({ length: N }, () => DIRS[rnd() < 0.3 ? 0 : 1]!);
const rtpKind = Array.from({ length: N }, () => KINDS[rnd() < 0.4 ? 0 : 1]!);
const rtpBytes = Float64Array.from({ length: N }, () => 100 + Math.floor(rnd() * 1100));
const reports: StreamReport[] = Array.from({ length: N }, () => ({
  kind: KINDS[rnd() < 0.5 ? 0 : 1]!,
  direction: DIRS[rnd() < 0.5 ? 0 : 1]!,
  rttSeconds: 0.01 + rnd() * 0.2,
  jitterSeconds: rnd() * 0.03,
  lossRatio: rnd() < 0.8 ? 0 : rnd() * 0.1,
  packetsLost: rnd() < 0.8 ? 0 : Math.floor(rnd() * 5),
  nacks: rnd() < 0.9 ? 0 : 1,
  plis: rnd() < 0.98 ? 0 : 1,
}));
const churnRoom = Array.from({ length: N }, () => `room-${Math.floor(rnd() * ROOMS)}`);
const churnSecs = Float64Array.from({ length: N }, () => rnd() * 3600);

interface Recorder {
  name: string;
  rtp(i: number): void;
  rtcp(i: number): void;
  /** One participant leaves a room, another joins it (a successful join). */
  churn(i: number): void;
  scrape(): Promise<string>;
}

function sdkRecorder(): Recorder & { m: ReturnType<typeof createRtcMetrics> } {
  const m = createRtcMetrics({ server: SERVER, capacity: 20_000 });
  for (let r = 0; r < ROOMS; r++) for (let p = 0; p < PER_ROOM; p++) m.participantJoined(`room-${r}`);
  return {
    name: 'rtcmon SDK',
    m,
    rtp: (i) => m.rtp(rtpDir[i]!, rtpKind[i]!, rtpBytes[i]!),
    rtcp: (i) => m.rtcp(reports[i]!),
    churn: (i) => {
      const room = churnRoom[i]!;
      m.participantLeft(room, churnSecs[i]);
      m.participantJoined(room);
      m.joinSucceeded(churnSecs[i]! / 3600);
    },
    scrape: async () => renderExposition([m.snapshot()]),
  };
}

/** The same metrics in plain prom-client; `bound` uses pre-bound label children (its fastest idiom). */
function promRecorder(bound: boolean): Recorder & { reg: Registry } {
  const reg = new Registry();
  const h = (name: keyof typeof FAMILIES, labelNames: string[]) =>
    new Histogram({
      name,
      help: name,
      labelNames,
      buckets: [...((FAMILIES[name] as Family).buckets ?? [])],
      registers: [reg],
    });
  const c = (name: string, labelNames: string[]) =>
    new Counter({ name, help: name, labelNames, registers: [reg] });
  const g = (name: string) => new Gauge({ name, help: name, labelNames: ['server'], registers: [reg] });
  const bytes = c('rtc_rtp_bytes_total', ['server', 'direction', 'kind']);
  const packets = c('rtc_rtp_packets_total', ['server', 'direction', 'kind']);
  const lost = c('rtc_rtp_packets_lost_total', ['server', 'direction']);
  const nacks = c('rtc_nacks_total', ['server']);
  const plis = c('rtc_plis_total', ['server']);
  const attempts = c('rtc_join_attempts_total', ['server']);
  const rtt = h('rtc_rtt_seconds', ['server']);
  const jitter = h('rtc_jitter_seconds', ['server', 'kind']);
  const loss = h('rtc_packet_loss_ratio', ['server', 'kind']);
  const quality = h('rtc_quality_score', ['server', 'kind']);
  const joinDuration = h('rtc_join_duration_seconds', ['server']);
  const session = h('rtc_session_duration_seconds', ['server']);
  const rooms = g('rtc_rooms');
  const participants = g('rtc_participants');
  const largest = g('rtc_largest_room_participants');
  // prom-client has no room-level state: the server keeps its own room map, as it would.
  const roomMap = new Map<string, number>();
  for (let r = 0; r < ROOMS; r++) roomMap.set(`room-${r}`, PER_ROOM);
  participants.set({ server: SERVER }, ROOMS * PER_ROOM);
  rooms.set({ server: SERVER }, ROOMS);
  const s = { server: SERVER };
  const dk = (d: Direction, k: MediaKind) => ({ server: SERVER, direction: d, kind: k });
  const boundBytes = new Map<string, Counter.Internal>();
  const boundPackets = new Map<string, Counter.Internal>();
  for (const d of DIRS)
    for (const k of KINDS) {
      boundBytes.set(d + k, bytes.labels(dk(d, k)));
      boundPackets.set(d + k, packets.labels(dk(d, k)));
    }
  const bk = (k: MediaKind) => ({
    jitter: jitter.labels({ server: SERVER, kind: k }),
    loss: loss.labels({ server: SERVER, kind: k }),
    quality: quality.labels({ server: SERVER, kind: k }),
  });
  const byKind = { audio: bk('audio'), video: bk('video') };
  const rttB = rtt.labels(s);
  const boundLost = {
    in: lost.labels({ server: SERVER, direction: 'in' }),
    out: lost.labels({ server: SERVER, direction: 'out' }),
  };
  const nacksB = nacks.labels(s);
  const plisB = plis.labels(s);
  const partB = participants.labels(s);
  const roomsB = rooms.labels(s);
  const sessionB = session.labels(s);
  const attemptsB = attempts.labels(s);
  const joinB = joinDuration.labels(s);

  return {
    name: bound ? 'prom-client (bound children)' : 'prom-client (labels per call)',
    reg,
    rtp: bound
      ? (i) => {
          const key = rtpDir[i]! + rtpKind[i]!;
          boundBytes.get(key)!.inc(rtpBytes[i]!);
          boundPackets.get(key)!.inc(1);
        }
      : (i) => {
          const l = dk(rtpDir[i]!, rtpKind[i]!);
          bytes.inc(l, rtpBytes[i]!);
          packets.inc(l, 1);
        },
    rtcp: bound
      ? (i) => {
          const r = reports[i]!;
          const b = byKind[r.kind];
          rttB.observe(r.rttSeconds!);
          b.jitter.observe(r.jitterSeconds!);
          b.loss.observe(r.lossRatio!);
          b.quality.observe(estimateMos(r.rttSeconds!, r.jitterSeconds!, r.lossRatio!));
          if (r.packetsLost) boundLost[r.direction ?? 'in'].inc(r.packetsLost);
          if (r.nacks) nacksB.inc(r.nacks);
          if (r.plis) plisB.inc(r.plis);
        }
      : (i) => {
          const r = reports[i]!;
          const k = { server: SERVER, kind: r.kind };
          rtt.observe(s, r.rttSeconds!);
          jitter.observe(k, r.jitterSeconds!);
          loss.observe(k, r.lossRatio!);
          quality.observe(k, estimateMos(r.rttSeconds!, r.jitterSeconds!, r.lossRatio!));
          if (r.packetsLost) lost.inc({ server: SERVER, direction: r.direction ?? 'in' }, r.packetsLost);
          if (r.nacks) nacks.inc(s, r.nacks);
          if (r.plis) plis.inc(s, r.plis);
        },
    churn: (i) => {
      const room = churnRoom[i]!;
      const n = roomMap.get(room) ?? 0;
      if (n > 0) {
        if (n === 1) roomMap.delete(room);
        else roomMap.set(room, n - 1);
        if (bound) {
          partB.dec();
          sessionB.observe(churnSecs[i]!);
        } else {
          participants.dec(s);
          session.observe(s, churnSecs[i]!);
        }
      }
      roomMap.set(room, (roomMap.get(room) ?? 0) + 1);
      if (bound) {
        partB.inc();
        roomsB.set(roomMap.size);
        attemptsB.inc();
        joinB.observe(churnSecs[i]! / 3600);
      } else {
        participants.inc(s);
        rooms.set(s, roomMap.size);
        attempts.inc(s);
        joinDuration.observe(s, churnSecs[i]! / 3600);
      }
    },
    scrape: async () => {
      let max = 0;
      for (const v of roomMap.values()) if (v > max) max = v;
      largest.set(s, max);
      return reg.metrics();
    },
  };
}

/**
 * prom-client's cheapest idiom: counters and gauges are plain numbers the server keeps itself, copied into
 * the registry by `collect()` at scrape time; histograms are pre-bound children (no cheaper way).
 */
function promCollectRecorder(): Recorder & { reg: Registry } {
  const reg = new Registry();
  const dkIndex = (d: Direction, k: MediaKind) => (d === 'in' ? 0 : 2) + (k === 'audio' ? 0 : 1);
  const bytesN = new Float64Array(4);
  const packetsN = new Float64Array(4);
  const lostN = { in: 0, out: 0 };
  let nacksN = 0;
  let plisN = 0;
  let attemptsN = 0;
  let participantsN = ROOMS * PER_ROOM;
  const roomMap = new Map<string, number>();
  for (let r = 0; r < ROOMS; r++) roomMap.set(`room-${r}`, PER_ROOM);
  const dkLabels = DIRS.flatMap((d) => KINDS.map((k) => ({ server: SERVER, direction: d, kind: k })));
  const counter = (name: string, labelNames: string[], values: () => [Record<string, string>, number][]) =>
    new Counter({
      name,
      help: name,
      labelNames,
      registers: [reg],
      collect() {
        this.reset();
        for (const [l, v] of values()) this.inc(l, v);
      },
    });
  const gauge = (name: string, value: () => number) =>
    new Gauge({
      name,
      help: name,
      labelNames: ['server'],
      registers: [reg],
      collect() {
        this.set({ server: SERVER }, value());
      },
    });
  counter('rtc_rtp_bytes_total', ['server', 'direction', 'kind'], () =>
    dkLabels.map((l, i) => [l, bytesN[i]!]),
  );
  counter('rtc_rtp_packets_total', ['server', 'direction', 'kind'], () =>
    dkLabels.map((l, i) => [l, packetsN[i]!]),
  );
  counter('rtc_rtp_packets_lost_total', ['server', 'direction'], () => [
    [{ server: SERVER, direction: 'in' }, lostN.in],
    [{ server: SERVER, direction: 'out' }, lostN.out],
  ]);
  counter('rtc_nacks_total', ['server'], () => [[{ server: SERVER }, nacksN]]);
  counter('rtc_plis_total', ['server'], () => [[{ server: SERVER }, plisN]]);
  counter('rtc_join_attempts_total', ['server'], () => [[{ server: SERVER }, attemptsN]]);
  gauge('rtc_participants', () => participantsN);
  gauge('rtc_rooms', () => roomMap.size);
  gauge('rtc_largest_room_participants', () => {
    let max = 0;
    for (const v of roomMap.values()) if (v > max) max = v;
    return max;
  });
  const family = (name: keyof typeof FAMILIES, labelNames: string[]) =>
    new Histogram({
      name,
      help: name,
      labelNames,
      buckets: [...((FAMILIES[name] as Family).buckets ?? [])],
      registers: [reg],
    });
  const h = (name: keyof typeof FAMILIES, labels: Record<string, string>) =>
    family(name, Object.keys(labels)).labels(labels);
  const rtt = h('rtc_rtt_seconds', { server: SERVER });
  const jitterH = family('rtc_jitter_seconds', ['server', 'kind']);
  const lossH = family('rtc_packet_loss_ratio', ['server', 'kind']);
  const qualityH = family('rtc_quality_score', ['server', 'kind']);
  const byKind = Object.fromEntries(
    KINDS.map((k) => [
      k,
      {
        jitter: jitterH.labels({ server: SERVER, kind: k }),
        loss: lossH.labels({ server: SERVER, kind: k }),
        quality: qualityH.labels({ server: SERVER, kind: k }),
      },
    ]),
  ) as Record<MediaKind, Record<'jitter' | 'loss' | 'quality', Histogram.Internal<string>>>;
  const joinDuration = h('rtc_join_duration_seconds', { server: SERVER });
  const session = h('rtc_session_duration_seconds', { server: SERVER });
  return {
    name: 'prom-client (collect at scrape)',
    reg,
    rtp: (i) => {
      const k = dkIndex(rtpDir[i]!, rtpKind[i]!);
      bytesN[k]! += rtpBytes[i]!;
      packetsN[k]! += 1;
    },
    rtcp: (i) => {
      const r = reports[i]!;
      const b = byKind[r.kind];
      rtt.observe(r.rttSeconds!);
      b.jitter.observe(r.jitterSeconds!);
      b.loss.observe(r.lossRatio!);
      b.quality.observe(estimateMos(r.rttSeconds!, r.jitterSeconds!, r.lossRatio!));
      if (r.packetsLost) lostN[r.direction ?? 'in'] += r.packetsLost;
      if (r.nacks) nacksN += r.nacks;
      if (r.plis) plisN += r.plis;
    },
    churn: (i) => {
      const room = churnRoom[i]!;
      const n = roomMap.get(room) ?? 0;
      if (n > 0) {
        if (n === 1) roomMap.delete(room);
        else roomMap.set(room, n - 1);
        participantsN--;
        session.observe(churnSecs[i]!);
      }
      roomMap.set(room, (roomMap.get(room) ?? 0) + 1);
      participantsN++;
      attemptsN++;
      joinDuration.observe(churnSecs[i]! / 3600);
    },
    scrape: () => reg.metrics(),
  };
}

/** Families both sides expose; every series of each is compared. */
const COMPARED = [
  'rtc_rtp_bytes_total',
  'rtc_rtp_packets_total',
  'rtc_rtp_packets_lost_total',
  'rtc_nacks_total',
  'rtc_plis_total',
  'rtc_join_attempts_total',
  'rtc_participants',
  'rtc_rooms',
  'rtc_largest_room_participants',
  'rtc_rtt_seconds',
  'rtc_jitter_seconds',
  'rtc_packet_loss_ratio',
  'rtc_quality_score',
  'rtc_join_duration_seconds',
  'rtc_session_duration_seconds',
];

/** Exposition text → `name{sorted labels}` → value, for the compared families only. */
function figures(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!COMPARED.includes(family) && !COMPARED.includes(m[1]!)) continue;
    const labels = (m[2] ?? '').match(/\w+="(?:[^"\\]|\\.)*"/g) ?? [];
    out.set(`${m[1]}{${labels.sort().join(',')}}`, Number(m[3]));
  }
  return out;
}

/** Differences between the SDK's figures and one prom-client registry's (empty when equal). */
function compareFigures(sdk: Map<string, number>, prom: Map<string, number>): string[] {
  const bad: string[] = [];
  for (const [k, v] of prom) if (sdk.get(k) !== v) bad.push(`${k}: SDK ${sdk.get(k)}, prom-client ${v}`);
  // prom-client leaves out series never touched; the SDK prints them as 0.
  for (const [k, v] of sdk) if (!prom.has(k) && v !== 0) bad.push(`${k}: SDK ${v}, prom-client missing`);
  return bad;
}

function timeNs(f: (i: number) => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(i);
  return Number(process.hrtime.bigint() - t0) / N;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median ms of `n` calls of each function, interleaved so that both see the same machine load. */
async function scrapeMs(fs: readonly (() => Promise<unknown>)[], n = 100): Promise<number[]> {
  for (let i = 0; i < 10; i++) for (const f of fs) await f();
  const times: number[][] = fs.map(() => []);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < fs.length; k++) {
      const t0 = process.hrtime.bigint();
      await fs[k]!();
      times[k]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  return times.map(median);
}

async function main(): Promise<void> {
  const recorders = [sdkRecorder(), promRecorder(false), promRecorder(true), promCollectRecorder()];
  const kinds = ['rtp', 'rtcp', 'churn'] as const;
  const results = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++)
    for (const kind of kinds)
      for (const r of recorders) {
        const key = `${r.name}|${kind}`;
        const list = results.get(key) ?? [];
        list.push(timeNs(r[kind]));
        results.set(key, list);
      }

  const sdk = recorders[0] as ReturnType<typeof sdkRecorder>;
  const prom = recorders[1] as ReturnType<typeof promRecorder>;
  // Every registry must hold the same figures as the SDK after the same events, series by series.
  const sdkFigures = figures(await sdk.scrape());
  const mismatches: string[] = [];
  let compared = 0;
  for (const r of recorders.slice(1)) {
    const f = figures(await r.scrape());
    compared += f.size;
    for (const d of compareFigures(sdkFigures, f)) mismatches.push(`${r.name}: ${d}`);
  }
  if (sdkFigures.get('rtc_participants{server="bench-sfu"}') !== ROOMS * PER_ROOM)
    mismatches.push('SDK participants are not the starting count after churn');
  const consistent = mismatches.length === 0;

  const httpSdk = await serveMetrics(sdk.m);
  const promServer = createServer((_req, res) => {
    void prom.scrape().then((t) => res.writeHead(200, { 'content-type': prom.reg.contentType }).end(t));
  });
  await new Promise<void>((r) => promServer.listen(0, '127.0.0.1', () => r()));
  const promUrl = `http://127.0.0.1:${(promServer.address() as AddressInfo).port}`;
  const fetchText = (u: string) => () => fetch(`${u}/metrics`).then((r) => r.text());
  const [sdkInProcess, promInProcess, collectInProcess] = await scrapeMs([
    sdk.scrape,
    prom.scrape,
    recorders[3]!.scrape,
  ]);
  const [sdkHttp, promHttp] = await scrapeMs([fetchText(httpSdk.url), fetchText(promUrl)]);
  const scrape = {
    sdkInProcess: sdkInProcess!,
    promInProcess: promInProcess!,
    collectInProcess: collectInProcess!,
    sdkHttp: sdkHttp!,
    promHttp: promHttp!,
  };
  const sdkLines = (await sdk.scrape()).split('\n').length;
  // The exporter's /metrics over a fleet: 100 SDK servers of 10 rooms × 10 participants each.
  const fleet = Array.from({ length: 100 }, (_, i) => {
    const m = createRtcMetrics({ server: `sfu-${i}`, capacity: 200 });
    for (let r = 0; r < 10; r++)
      for (let p = 0; p < PER_ROOM; p++) {
        m.participantJoined(`room-${r}`);
        m.rtcp(reports[r * PER_ROOM + p]!);
        m.joinFailed(`reason-${p}`);
      }
    return m;
  });
  const exporter = createExporter({ sources: [sdkSource(fleet)], logger: silentLogger });
  const fleetLines = String((await exporter.scrape()).body).split('\n').length;
  const [fleetMs] = await scrapeMs([() => exporter.scrape()], 50);
  await httpSdk.close();
  promServer.close();

  const pad = (s: string, n: number) => s.padEnd(n);
  const out: string[] = [];
  out.push(
    `bench/exporter: ${ROOMS} rooms, ${ROOMS * PER_ROOM} participants, ${N} events per kind per round, ${ROUNDS} rounds (median)`,
    `node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
    '',
    `${pad('event', 8)}${recorders.map((r) => pad(r.name, 32)).join('')}SDK vs best prom-client`,
  );
  for (const kind of kinds) {
    const ns = recorders.map((r) => median(results.get(`${r.name}|${kind}`)!));
    const best = Math.min(ns[1]!, ns[2]!, ns[3]!);
    out.push(
      `${pad(kind, 8)}${ns.map((x) => pad(`${x.toFixed(1)} ns/event`, 32)).join('')}${(best / ns[0]!).toFixed(1)}x faster`,
    );
  }
  out.push(
    '',
    `scrape (one server, ${sdkLines} lines)   rtcmon SDK       prom-client`,
    `  in process                       ${scrape.sdkInProcess.toFixed(3)} ms        ${scrape.promInProcess.toFixed(3)} ms (collect at scrape: ${scrape.collectInProcess.toFixed(3)} ms)`,
    `  HTTP GET /metrics                ${scrape.sdkHttp.toFixed(3)} ms        ${scrape.promHttp.toFixed(3)} ms`,
    `  exporter, 100 servers (${fleetLines} lines): ${fleetMs!.toFixed(2)} ms in process`,
    '',
    `same figures in the SDK and all ${recorders.length - 1} prom-client registries after the run (${compared} series compared): ${consistent ? 'yes' : `NO\n  ${mismatches.slice(0, 20).join('\n  ')}`}`,
    'targets: scrape < 20 ms, < 200 ns/event, no slower than prom-client',
  );
  process.stdout.write(`${out.join('\n')}\n`);
  if (!consistent) process.exitCode = 1;
}

await main();
