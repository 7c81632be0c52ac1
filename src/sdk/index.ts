/**
 * rtcmon SDK: records the state of a Node RTC server (rooms, participants, tracks, joins, RTP and
 * RTCP figures) cheaply enough for every packet-level report, and turns it into `rtc_*` metrics at
 * scrape time. Serve it yourself (`renderExposition`, `serveMetrics`) or hand `snapshot()` to the
 * rtcmon exporter (a Source).
 *
 * ```ts
 * const m = createRtcMetrics({ server: 'sfu-1', capacity: 500, info: { eip: '203.0.113.7', port: '443' } });
 * m.participantJoined('room-42');
 * m.joinSucceeded(0.8);
 * m.rtp('in', 'video', 1200);                       // per packet, or batched: m.rtp('in', 'video', bytes, packets)
 * m.rtcp({ kind: 'audio', direction: 'in', rttSeconds: 0.04, jitterSeconds: 0.003, lossRatio: 0.01 });
 * m.participantLeft('room-42', 312);
 * ```
 */
import { hostname } from 'node:os';
import {
  type Direction,
  FAMILIES,
  type HistogramFamilyName,
  MAX_FAILURE_REASONS,
  type MediaKind,
  type ServerState,
} from './catalogue.ts';
import { estimateMos } from './mos.ts';
import type { HistogramSample, ScalarSample, ServerInfo, ServerSnapshot } from './snapshot.ts';

export * from './catalogue.ts';
export {
  CONTENT_TYPES,
  type ExpositionFormat,
  formatValue,
  negotiateFormat,
  type PromClientMetric,
  renderExposition,
} from './exposition.ts';
export { estimateMos } from './mos.ts';
export { type PushClient, type PushClientOptions, snapshotToPushBody, startPushing } from './push-client.ts';
export { type MetricsServer, serveMetrics } from './serve.ts';
export type * from './snapshot.ts';

export interface RtcMetricsOptions {
  /** Stable server id (`server` label). @default os.hostname() */
  server?: string;
  /** Participants the server is meant to hold (`rtc_capacity_participants`, `rtc_load_ratio`). @default 0 */
  capacity?: number;
  info?: Partial<ServerInfo>;
  /** @default 'serving' */
  state?: ServerState;
  /** Clock in ms (tests). @default Date.now */
  now?: () => number;
}

/** Figures of one RTCP report about one stream. Every field but `kind` is optional. */
export interface StreamReport {
  readonly kind: MediaKind;
  /** in = a stream the server receives, out = a stream it sends. @default 'in' */
  readonly direction?: Direction;
  readonly rttSeconds?: number;
  readonly jitterSeconds?: number;
  /** Fraction lost since the previous report, 0..1 (RTCP fraction lost / 256). */
  readonly lossRatio?: number;
  /** Packets lost since the previous report (a delta, not the cumulative RTCP field). */
  readonly packetsLost?: number;
  /** NACKs since the previous report. */
  readonly nacks?: number;
  /** PLIs since the previous report. */
  readonly plis?: number;
}

export interface RtcMetrics {
  readonly server: string;
  setInfo(info: Partial<ServerInfo>): void;
  setState(state: ServerState): void;
  setCapacity(participants: number): void;

  /** One participant entered `room` (the room exists while it has participants). */
  participantJoined(room: string): void;
  /** One participant left `room`; `sessionSeconds` feeds `rtc_session_duration_seconds`. */
  participantLeft(room: string, sessionSeconds?: number): void;
  /** Sets a room's participant count outright (0 removes the room): for sources that poll. */
  setRoomParticipants(room: string, participants: number): void;
  /** Removes every room (a poller about to set them all again). */
  clearRooms(): void;

  trackAdded(direction: Direction, kind: MediaKind): void;
  trackRemoved(direction: Direction, kind: MediaKind): void;
  setTracks(direction: Direction, kind: MediaKind, tracks: number): void;

  /** A successful join, `seconds` from request to media. Counts an attempt. */
  joinSucceeded(seconds?: number): void;
  /** A failed join; `reason` is a short token (`timeout`, `room_full`, `ice_failed`…). Counts an attempt. */
  joinFailed(reason: string): void;
  iceRestart(): void;

  /** RTP traffic: bytes (and packets, default 1) received (in) or sent (out). */
  rtp(direction: Direction, kind: MediaKind, bytes: number, packets?: number): void;
  /** One RTCP-level report about a stream; also feeds the MOS estimate when RTT or loss is given. */
  rtcp(report: StreamReport): void;

  /** The current state as plain data (built at call time; call it at scrape time). */
  snapshot(opts?: { up?: boolean }): ServerSnapshot;
}

const dkIndex = (direction: Direction, kind: MediaKind): number =>
  (direction === 'out' ? 2 : 0) + (kind === 'video' ? 1 : 0);
const DK_LABELS = [
  { direction: 'in', kind: 'audio' },
  { direction: 'in', kind: 'video' },
  { direction: 'out', kind: 'audio' },
  { direction: 'out', kind: 'video' },
] as const;
const KIND_LABELS = [{ kind: 'audio' }, { kind: 'video' }] as const;
const DIR_LABELS = [{ direction: 'in' }, { direction: 'out' }] as const;

/** A fixed-bucket histogram: one linear scan per observation, no allocation. */
class Hist {
  readonly bounds: Float64Array;
  readonly counts: Float64Array;
  sum = 0;
  constructor(bounds: readonly number[]) {
    this.bounds = Float64Array.from(bounds);
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    const n = b.length;
    let i = 0;
    while (i < n && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
  }
  sample(labels?: Readonly<Record<string, string>>): HistogramSample {
    return labels
      ? { labels, counts: this.counts.slice(), sum: this.sum }
      : { counts: this.counts.slice(), sum: this.sum };
  }
}
const hist = (f: HistogramFamilyName): Hist => new Hist(FAMILIES[f].buckets);

/** Reason tokens become label values: [a-z0-9_], at most 48 characters. */
export function sanitizeReason(reason: string): string {
  const s = String(reason)
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .slice(0, 48);
  return s || 'unknown';
}

const nonNeg = (v: number): boolean => v >= 0 && v !== Number.POSITIVE_INFINITY;

/** Creates the recorder for one RTC server. */
export function createRtcMetrics(opts: RtcMetricsOptions = {}): RtcMetrics {
  const now = opts.now ?? Date.now;
  const server = opts.server ?? hostname();
  let info: Partial<ServerInfo> = { host: hostname(), ...opts.info };
  let state: ServerState = opts.state ?? 'serving';
  let capacity = opts.capacity ?? 0;

  const rooms = new Map<string, number>();
  let participants = 0;
  const tracks = new Float64Array(4);
  const bytes = new Float64Array(4);
  const packets = new Float64Array(4);
  const lost = new Float64Array(2);
  let nacks = 0;
  let plis = 0;
  let joinAttempts = 0;
  let iceRestarts = 0;
  const failures = new Map<string, number>();
  const joinDuration = hist('rtc_join_duration_seconds');
  const sessionDuration = hist('rtc_session_duration_seconds');
  const rtt = hist('rtc_rtt_seconds');
  const jitter = [hist('rtc_jitter_seconds'), hist('rtc_jitter_seconds')] as const;
  const loss = [hist('rtc_packet_loss_ratio'), hist('rtc_packet_loss_ratio')] as const;
  const quality = [hist('rtc_quality_score'), hist('rtc_quality_score')] as const;

  // Recording only flips a flag; the timestamp is taken at the next snapshot (no clock read per event).
  let dirty = false;
  let updatedMs = now();

  const setRoom = (room: string, n: number): void => {
    const before = rooms.get(room) ?? 0;
    if (n > 0) rooms.set(room, n);
    else rooms.delete(room);
    participants += Math.max(n, 0) - before;
    dirty = true;
  };

  return {
    server,
    setInfo(i) {
      info = { ...info, ...i };
      dirty = true;
    },
    setState(s) {
      state = s;
      dirty = true;
    },
    setCapacity(n) {
      capacity = Math.max(n, 0);
      dirty = true;
    },
    participantJoined(room) {
      rooms.set(room, (rooms.get(room) ?? 0) + 1);
      participants++;
      dirty = true;
    },
    participantLeft(room, sessionSeconds) {
      const n = rooms.get(room);
      if (n === undefined) return;
      if (n <= 1) rooms.delete(room);
      else rooms.set(room, n - 1);
      participants--;
      if (sessionSeconds !== undefined && nonNeg(sessionSeconds)) sessionDuration.observe(sessionSeconds);
      dirty = true;
    },
    setRoomParticipants(room, n) {
      setRoom(room, Math.floor(n));
    },
    clearRooms() {
      rooms.clear();
      participants = 0;
      dirty = true;
    },
    trackAdded(direction, kind) {
      tracks[dkIndex(direction, kind)]!++;
      dirty = true;
    },
    trackRemoved(direction, kind) {
      const i = dkIndex(direction, kind);
      if (tracks[i]! > 0) tracks[i]!--;
      dirty = true;
    },
    setTracks(direction, kind, n) {
      tracks[dkIndex(direction, kind)] = Math.max(n, 0);
      dirty = true;
    },
    joinSucceeded(seconds) {
      joinAttempts++;
      if (seconds !== undefined && nonNeg(seconds)) joinDuration.observe(seconds);
      dirty = true;
    },
    joinFailed(reason) {
      joinAttempts++;
      let key = sanitizeReason(reason);
      if (!failures.has(key) && failures.size >= MAX_FAILURE_REASONS) key = 'other';
      failures.set(key, (failures.get(key) ?? 0) + 1);
      dirty = true;
    },
    iceRestart() {
      iceRestarts++;
      dirty = true;
    },
    rtp(direction, kind, b, p = 1) {
      if (!(b >= 0 && p >= 0)) return;
      const i = dkIndex(direction, kind);
      bytes[i]! += b;
      packets[i]! += p;
      dirty = true;
    },
    rtcp(r) {
      const k = r.kind === 'video' ? 1 : 0;
      const rttS = r.rttSeconds;
      const jitterS = r.jitterSeconds;
      const lossR = r.lossRatio;
      // Only figures that change something move the stats timestamp (a report of ignored figures does not).
      let figures = false;
      let changed = false;
      if (rttS !== undefined && nonNeg(rttS)) {
        rtt.observe(rttS);
        figures = true;
      }
      if (jitterS !== undefined && nonNeg(jitterS)) {
        jitter[k].observe(jitterS);
        changed = true;
      }
      if (lossR !== undefined && lossR >= 0 && lossR <= 1) {
        loss[k].observe(lossR);
        figures = true;
      }
      if (figures) quality[k].observe(estimateMos(rttS ?? 0, jitterS ?? 0, lossR ?? 0));
      const count = (n: number | undefined): number =>
        n !== undefined && n > 0 && n !== Number.POSITIVE_INFINITY ? n : 0;
      const lostN = count(r.packetsLost);
      const nacksN = count(r.nacks);
      const plisN = count(r.plis);
      lost[r.direction === 'out' ? 1 : 0]! += lostN;
      nacks += nacksN;
      plis += plisN;
      if (figures || changed || lostN > 0 || nacksN > 0 || plisN > 0) dirty = true;
    },
    snapshot(o = {}) {
      if (dirty) {
        dirty = false;
        updatedMs = now();
      }
      let largest = 0;
      for (const n of rooms.values()) if (n > largest) largest = n;
      const dk = (a: Float64Array): ScalarSample[] =>
        DK_LABELS.map((labels, i) => ({ labels, value: a[i]! }));
      const one = (value: number): ScalarSample[] => [{ value }];
      const failureSamples: ScalarSample[] = [];
      for (const [reason, value] of failures) failureSamples.push({ labels: { reason }, value });
      return {
        server,
        up: o.up ?? true,
        info,
        state,
        updatedSeconds: updatedMs / 1000,
        scalars: {
          rtc_capacity_participants: one(capacity),
          rtc_rooms: one(rooms.size),
          rtc_participants: one(participants),
          rtc_largest_room_participants: one(largest),
          rtc_load_ratio: one(capacity > 0 ? participants / capacity : 0),
          rtc_tracks: dk(tracks),
          rtc_rtp_bytes_total: dk(bytes),
          rtc_rtp_packets_total: dk(packets),
          rtc_rtp_packets_lost_total: DIR_LABELS.map((labels, i) => ({ labels, value: lost[i]! })),
          rtc_nacks_total: one(nacks),
          rtc_plis_total: one(plis),
          rtc_join_attempts_total: one(joinAttempts),
          rtc_join_failures_total: failureSamples,
          rtc_ice_restarts_total: one(iceRestarts),
        },
        histograms: {
          rtc_join_duration_seconds: [joinDuration.sample()],
          rtc_session_duration_seconds: [sessionDuration.sample()],
          rtc_rtt_seconds: [rtt.sample()],
          rtc_jitter_seconds: KIND_LABELS.map((l, i) => jitter[i as 0 | 1].sample(l)),
          rtc_packet_loss_ratio: KIND_LABELS.map((l, i) => loss[i as 0 | 1].sample(l)),
          rtc_quality_score: KIND_LABELS.map((l, i) => quality[i as 0 | 1].sample(l)),
        },
      };
    },
  };
}
