/**
 * The Janus source's memory: turns admin API polls and event handler posts into one SDK recorder's
 * figures. Janus reports cumulative per-handle, per-medium counters that vanish with the handle; the
 * exporter's counters must not go backwards when someone leaves, so every (handle, medium) keeps the
 * last value seen and only increases are added. Polls and media events read the same Janus counters,
 * so either may advance them.
 */
import {
  createRtcMetrics,
  type Direction,
  FAMILIES,
  type MediaKind,
  type RtcMetrics,
  type ServerInfo,
  type ServerSnapshot,
} from '../../sdk/index.ts';
import type { JanusHandleInfo, JanusMedium, VideoRoomInfo } from './admin.ts';
import type { JanusEvent, MediaStats } from './events.ts';

/** Cumulative figures of one medium, as handle_info or a media event gives them. */
export interface StreamFigures {
  readonly kind: MediaKind;
  readonly inBytes?: number;
  readonly inPackets?: number;
  readonly outBytes?: number;
  readonly outPackets?: number;
  readonly lost?: number;
  readonly lostByRemote?: number;
  readonly nacksIn?: number;
  readonly nacksOut?: number;
  readonly rttMs?: number;
  readonly jitterLocalMs?: number;
  readonly jitterRemoteMs?: number;
  /** Janus' link quality 0-100 for what it receives / sends; 0 means no RTCP figures yet. */
  readonly inQuality?: number;
  readonly outQuality?: number;
}

interface Stream {
  inBytes: number;
  inPackets: number;
  outBytes: number;
  outPackets: number;
  lost: number;
  lostByRemote: number;
  nacksIn: number;
  nacksOut: number;
  /** Cumulative values at the last quality report (loss ratio over the report's interval). */
  repInPackets: number;
  repLost: number;
  repOutPackets: number;
  repLostByRemote: number;
  seenMs: number;
  lastEventMs: number;
}

interface HandleState {
  attachedUs?: number;
  /** ICE started: from here on, not reaching webrtcup is a failed join. */
  started: boolean;
  up: boolean;
  failed: boolean;
  seenMs: number;
}

export interface JanusStateOptions {
  server: string;
  capacity?: number;
  info?: Partial<ServerInfo>;
  /** @default Date.now */
  now?: () => number;
  /** Stream figures from events win over polled ones for this long after the last event. @default 30s */
  eventFreshMs?: number;
  /** Per-handle state unseen for this long is forgotten. @default 10 min */
  forgetAfterMs?: number;
  /** Bound on remembered handles, streams and participants each. @default 100000 */
  maxEntries?: number;
}

export interface JanusState {
  readonly recorder: RtcMetrics;
  /** Applies one successful poll: every handle's info and the VideoRoom room list. */
  applyPoll(handles: readonly JanusHandleInfo[], rooms: readonly VideoRoomInfo[]): void;
  /** Applies event handler events. */
  applyEvents(events: readonly JanusEvent[]): void;
  setVersion(version: string): void;
  /** Janus accepts new sessions (serving) or not (draining). */
  setAccepting(accepting: boolean): void;
  snapshot(up: boolean): ServerSnapshot;
  /** Remembered entries (for bounds checks in tests). */
  sizes(): { streams: number; handles: number; participants: number };
}

const SESSION_BOUNDS = FAMILIES.rtc_session_duration_seconds.buckets;

/** Maps Janus' hangup reasons onto a few stable tokens (the `reason` label stays bounded). */
export function hangupReason(reason: string): string {
  const r = reason.toLowerCase();
  if (r.includes('ice')) return 'ice_failed';
  if (r.includes('dtls')) return 'dtls_failed';
  if (r.includes('close pc') || r.includes('closed')) return 'closed_before_media';
  return 'hangup_before_media';
}

const kindOf = (t: unknown): MediaKind | undefined =>
  t === 'audio' ? 'audio' : t === 'video' ? 'video' : undefined;

/** A handle_info medium as StreamFigures. */
export function figuresFromInfo(m: JanusMedium): StreamFigures | undefined {
  const kind = kindOf(m.type);
  if (!kind) return undefined;
  const r = m.rtcp?.main ?? {};
  return {
    kind,
    ...pick('inBytes', m.stats?.in?.bytes),
    ...pick('inPackets', m.stats?.in?.packets),
    ...pick('outBytes', m.stats?.out?.bytes),
    ...pick('outPackets', m.stats?.out?.packets),
    ...pick('nacksIn', m.stats?.in?.nacks),
    ...pick('nacksOut', m.stats?.out?.nacks),
    ...pick('lost', r.lost),
    ...pick('lostByRemote', r['lost-by-remote']),
    ...pick('rttMs', r.rtt),
    ...pick('jitterLocalMs', r['jitter-local']),
    ...pick('jitterRemoteMs', r['jitter-remote']),
    ...pick('inQuality', r['in-link-quality']),
    ...pick('outQuality', r['out-link-quality']),
  };
}

/** A media stats event's medium as StreamFigures. */
export function figuresFromEvent(s: MediaStats): StreamFigures {
  return {
    kind: s.kind,
    ...pick('inBytes', s.bytesReceived),
    ...pick('inPackets', s.packetsReceived),
    ...pick('outBytes', s.bytesSent),
    ...pick('outPackets', s.packetsSent),
    ...pick('nacksIn', s.nacksReceived),
    ...pick('nacksOut', s.nacksSent),
    ...pick('lost', s.lost),
    ...pick('lostByRemote', s.lostByRemote),
    ...pick('rttMs', s.rttMs),
    ...pick('jitterLocalMs', s.jitterLocalMs),
    ...pick('jitterRemoteMs', s.jitterRemoteMs),
    ...pick('inQuality', s.inQuality),
    ...pick('outQuality', s.outQuality),
  };
}

function pick<K extends string>(k: K, v: unknown): { [P in K]?: number } {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? ({ [k]: v } as { [P in K]?: number }) : {};
}

export function createJanusState(opts: JanusStateOptions): JanusState {
  const now = opts.now ?? Date.now;
  const eventFreshMs = opts.eventFreshMs ?? 30_000;
  const forgetAfterMs = opts.forgetAfterMs ?? 600_000;
  const maxEntries = opts.maxEntries ?? 100_000;
  const recorder = createRtcMetrics({
    server: opts.server,
    capacity: opts.capacity ?? 0,
    info: opts.info ?? {},
    now,
  });
  const streams = new Map<string, Stream>();
  const handles = new Map<number, HandleState>();
  /** VideoRoom participant id -> joined time (µs, Janus clock). */
  const participants = new Map<string, { tsUs: number; handle: number }>();
  const sessionCounts = new Float64Array(SESSION_BOUNDS.length + 1);
  let sessionSum = 0;
  let lastRooms = '';
  let lastTracks = '';
  let serverState: 'serving' | 'draining' = 'serving';

  const bounded = <K, V>(m: Map<K, V>) => {
    // Maps keep insertion order: the oldest entries go first.
    while (m.size > maxEntries) {
      const first = m.keys().next();
      if (first.done) break;
      m.delete(first.value);
    }
  };

  const observeSession = (seconds: number) => {
    if (!(seconds >= 0)) return;
    let i = 0;
    while (i < SESSION_BOUNDS.length && seconds > SESSION_BOUNDS[i]!) i++;
    sessionCounts[i]!++;
    sessionSum += seconds;
  };

  function advance(key: string, f: StreamFigures, fromEvent: boolean): void {
    const t = now();
    let s = streams.get(key);
    if (!s) {
      s = {
        inBytes: 0,
        inPackets: 0,
        outBytes: 0,
        outPackets: 0,
        lost: 0,
        lostByRemote: 0,
        nacksIn: 0,
        nacksOut: 0,
        repInPackets: 0,
        repLost: 0,
        repOutPackets: 0,
        repLostByRemote: 0,
        seenMs: t,
        lastEventMs: Number.NEGATIVE_INFINITY,
      };
      streams.set(key, s);
      bounded(streams);
    }
    s.seenMs = t;
    const st = s;
    type Cumulative =
      | 'inBytes'
      | 'inPackets'
      | 'outBytes'
      | 'outPackets'
      | 'lost'
      | 'lostByRemote'
      | 'nacksIn'
      | 'nacksOut';
    const d = (field: Cumulative, v: number | undefined): number => {
      if (v === undefined || v <= st[field]) return 0;
      const delta = v - st[field];
      st[field] = v;
      return delta;
    };
    const dInBytes = d('inBytes', f.inBytes);
    const dInPackets = d('inPackets', f.inPackets);
    const dOutBytes = d('outBytes', f.outBytes);
    const dOutPackets = d('outPackets', f.outPackets);
    const dLost = d('lost', f.lost);
    const dLostRemote = d('lostByRemote', f.lostByRemote);
    const dNacks = d('nacksIn', f.nacksIn) + d('nacksOut', f.nacksOut);
    if (dInBytes || dInPackets) recorder.rtp('in', f.kind, dInBytes, dInPackets);
    if (dOutBytes || dOutPackets) recorder.rtp('out', f.kind, dOutBytes, dOutPackets);
    if (dLost) recorder.rtcp({ kind: f.kind, direction: 'in', packetsLost: dLost });
    if (dLostRemote) recorder.rtcp({ kind: f.kind, direction: 'out', packetsLost: dLostRemote });
    if (dNacks > 0) recorder.rtcp({ kind: f.kind, nacks: dNacks });

    // One quality report per active direction: media events are Janus' per-period reports; polls stand
    // in for them only when no event arrived lately for this stream. A report covers everything since
    // the previous report (not since the previous poll), so no loss slips between the two sources.
    if (fromEvent) s.lastEventMs = t;
    if (!fromEvent && t - s.lastEventMs <= eventFreshMs) return;
    const report = (
      direction: Direction,
      packets: number,
      lost: number,
      jitterMs: number | undefined,
      quality: number | undefined,
    ) => {
      if (!(packets > 0)) return;
      recorder.rtcp({
        kind: f.kind,
        direction,
        lossRatio: lost > 0 ? lost / (packets + lost) : 0,
        ...(jitterMs !== undefined ? { jitterSeconds: jitterMs / 1000 } : {}),
        // Janus reports rtt 0 until RTCP gave one; its link quality is 0 until then too.
        ...(f.rttMs !== undefined && (quality ?? 0) > 0 ? { rttSeconds: f.rttMs / 1000 } : {}),
      });
    };
    report('in', s.inPackets - s.repInPackets, s.lost - s.repLost, f.jitterLocalMs, f.inQuality);
    report(
      'out',
      s.outPackets - s.repOutPackets,
      s.lostByRemote - s.repLostByRemote,
      f.jitterRemoteMs,
      f.outQuality,
    );
    s.repInPackets = s.inPackets;
    s.repLost = s.lost;
    s.repOutPackets = s.outPackets;
    s.repLostByRemote = s.lostByRemote;
  }

  const handleState = (handle: number): HandleState => {
    let h = handles.get(handle);
    if (!h) {
      h = { started: false, up: false, failed: false, seenMs: now() };
      handles.set(handle, h);
      bounded(handles);
    }
    h.seenMs = now();
    return h;
  };

  const fail = (h: HandleState, reason: string) => {
    if (h.up || h.failed || !h.started) return;
    h.failed = true;
    recorder.joinFailed(reason);
  };

  const forget = () => {
    const cutoff = now() - forgetAfterMs;
    for (const [k, s] of streams) if (s.seenMs < cutoff) streams.delete(k);
    for (const [k, h] of handles) if (h.seenMs < cutoff) handles.delete(k);
  };

  return {
    recorder,
    applyPoll(infos, rooms) {
      const roomSessions = new Map<string, Set<number>>();
      const tracks = new Float64Array(4);
      for (const h of infos) {
        const ps = h.plugin_specific;
        if (
          h.plugin === 'janus.plugin.videoroom' &&
          ps &&
          ps.room !== undefined &&
          !ps.hangingup &&
          !ps.destroyed
        ) {
          const room = String(ps.room);
          const set = roomSessions.get(room) ?? new Set<number>();
          roomSessions.set(room, set);
          set.add(h.session_id ?? h.handle_id ?? 0);
        }
        const media = h.webrtc?.media ?? {};
        for (const [index, m] of Object.entries(media)) {
          const f = figuresFromInfo(m);
          if (!f) continue;
          if (h.flags?.ready) {
            const k = f.kind === 'video' ? 1 : 0;
            if (m.direction?.recv) tracks[k]!++;
            if (m.direction?.send) tracks[2 + k]!++;
          }
          // Keyed by mid like media events (handle_info's map is keyed by m-line index).
          advance(`${h.handle_id ?? 0}/${m.mid ?? index}`, f, false);
        }
      }
      // VideoRoom's own count includes participants whose handles were not (yet) listed.
      const roomCounts = new Map<string, number>();
      for (const [room, set] of roomSessions) roomCounts.set(room, set.size);
      for (const r of rooms) {
        const n = r.num_participants ?? 0;
        const key = String(r.room);
        if (n > (roomCounts.get(key) ?? 0)) roomCounts.set(key, n);
      }
      const roomKey = [...roomCounts].sort().join(';');
      if (roomKey !== lastRooms) {
        lastRooms = roomKey;
        recorder.clearRooms();
        for (const [room, n] of roomCounts) recorder.setRoomParticipants(room, n);
      }
      const trackKey = tracks.join(',');
      if (trackKey !== lastTracks) {
        lastTracks = trackKey;
        recorder.setTracks('in', 'audio', tracks[0]!);
        recorder.setTracks('in', 'video', tracks[1]!);
        recorder.setTracks('out', 'audio', tracks[2]!);
        recorder.setTracks('out', 'video', tracks[3]!);
      }
      forget();
    },
    applyEvents(events) {
      for (const e of events) {
        switch (e.kind) {
          case 'attached':
            handleState(e.handle).attachedUs = e.tsUs;
            break;
          case 'ice': {
            const h = handleState(e.handle);
            if (e.state === 'gathering' || e.state === 'connecting') {
              if (h.up && e.state === 'gathering') recorder.iceRestart();
              h.started = true;
            } else if (e.state === 'failed') fail(h, 'ice_failed');
            break;
          }
          case 'dtls': {
            const h = handleState(e.handle);
            if (e.state === 'failed' || e.state === 'alert') fail(h, 'dtls_failed');
            break;
          }
          case 'webrtcup': {
            const h = handleState(e.handle);
            if (h.up || h.failed) break;
            h.up = true;
            h.started = true;
            if (h.attachedUs !== undefined && e.tsUs >= h.attachedUs)
              recorder.joinSucceeded((e.tsUs - h.attachedUs) / 1e6);
            else recorder.joinSucceeded();
            break;
          }
          case 'hangup':
            fail(handleState(e.handle), hangupReason(e.reason));
            break;
          case 'detached': {
            const h = handles.get(e.handle);
            if (h) fail(h, 'abandoned');
            handles.delete(e.handle);
            for (const [id, p] of participants)
              if (p.handle === e.handle) {
                observeSession((e.tsUs - p.tsUs) / 1e6);
                participants.delete(id);
              }
            break;
          }
          case 'joined':
            participants.set(e.participant, { tsUs: e.tsUs, handle: e.handle });
            bounded(participants);
            break;
          case 'leaving': {
            const p = participants.get(e.participant);
            if (p) {
              observeSession((e.tsUs - p.tsUs) / 1e6);
              participants.delete(e.participant);
            }
            break;
          }
          case 'media':
            advance(`${e.handle}/${e.stats.mid}`, figuresFromEvent(e.stats), true);
            break;
        }
      }
    },
    setVersion(version) {
      recorder.setInfo({ version });
    },
    setAccepting(accepting) {
      const next = accepting ? 'serving' : 'draining';
      if (next !== serverState) {
        serverState = next;
        recorder.setState(next);
      }
    },
    snapshot(up) {
      const snap = recorder.snapshot({ up });
      if (!snap.histograms) return snap;
      return {
        ...snap,
        histograms: {
          ...snap.histograms,
          rtc_session_duration_seconds: [{ counts: sessionCounts.slice(), sum: sessionSum }],
        },
      };
    },
    sizes: () => ({ streams: streams.size, handles: handles.size, participants: participants.size }),
  };
}
