/**
 * Janus event handler posts (the sample event handler, `libjanus_sampleevh`): one JSON object per
 * event, or a JSON array of them when `grouping` is on. This module turns a body into the few event
 * shapes the Janus source uses; everything else (transport events, JSEP, candidates, core events) is
 * counted and dropped.
 */

/** Janus event types (janus/events/eventhandler.h). */
export const EventType = {
  session: 1,
  handle: 2,
  external: 4,
  jsep: 8,
  webrtc: 16,
  media: 32,
  plugin: 64,
  transport: 128,
  core: 256,
} as const;

/** Subtypes of webrtc (16) and media (32) events. */
export const WebrtcSubtype = {
  ice: 1,
  localCandidate: 2,
  remoteCandidate: 3,
  selectedPair: 4,
  dtls: 5,
  connection: 6,
};
export const MediaSubtype = { state: 1, slowLink: 2, stats: 3 };

/** Per-medium statistics of a media stats event (type 32, subtype 3). */
export interface MediaStats {
  readonly mid: string;
  readonly kind: 'audio' | 'video';
  readonly rttMs?: number;
  readonly lost?: number;
  readonly lostByRemote?: number;
  readonly jitterLocalMs?: number;
  readonly jitterRemoteMs?: number;
  readonly packetsReceived?: number;
  readonly packetsSent?: number;
  readonly bytesReceived?: number;
  readonly bytesSent?: number;
  readonly nacksReceived?: number;
  readonly nacksSent?: number;
  readonly inQuality?: number;
  readonly outQuality?: number;
}

export type JanusEvent =
  | { kind: 'attached'; handle: number; session: number; tsUs: number; plugin: string }
  | { kind: 'detached'; handle: number; session: number; tsUs: number }
  | { kind: 'ice'; handle: number; tsUs: number; state: string }
  | { kind: 'dtls'; handle: number; tsUs: number; state: string }
  | { kind: 'webrtcup'; handle: number; tsUs: number }
  | { kind: 'hangup'; handle: number; tsUs: number; reason: string }
  | { kind: 'media'; handle: number; tsUs: number; stats: MediaStats }
  /** VideoRoom `joined` (a publisher-type participant entered a room). */
  | { kind: 'joined'; handle: number; tsUs: number; participant: string }
  /** VideoRoom `leaving` / `unpublished` carry the participant id, often without a handle. */
  | { kind: 'leaving'; handle: number; tsUs: number; participant: string };

export interface ParsedEvents {
  readonly events: JanusEvent[];
  /** Events received but not used (transport, JSEP, candidates, …). */
  readonly ignored: number;
  /** Entries that were not event objects at all. */
  readonly invalid: number;
  /** `emitter` of the first event that had one (Janus' server_name). */
  readonly emitter?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function mediaStats(e: Obj): MediaStats | undefined {
  const media = str(e.media);
  // Janus names simulcast layers "video-sim1"…; the base layer is reported as "video".
  if (media !== 'audio' && media !== 'video') return undefined;
  const mid = str(e.mid) ?? (num(e.mindex) !== undefined ? String(e.mindex) : media);
  const out: Record<string, unknown> = { mid, kind: media };
  const pick: [keyof MediaStats, string][] = [
    ['rttMs', 'rtt'],
    ['lost', 'lost'],
    ['lostByRemote', 'lost-by-remote'],
    ['jitterLocalMs', 'jitter-local'],
    ['jitterRemoteMs', 'jitter-remote'],
    ['packetsReceived', 'packets-received'],
    ['packetsSent', 'packets-sent'],
    ['bytesReceived', 'bytes-received'],
    ['bytesSent', 'bytes-sent'],
    ['nacksReceived', 'nacks-received'],
    ['nacksSent', 'nacks-sent'],
    ['inQuality', 'in-link-quality'],
    ['outQuality', 'out-link-quality'],
  ];
  for (const [k, j] of pick) {
    const v = num(e[j]);
    if (v !== undefined && v >= 0) out[k] = v;
  }
  return out as unknown as MediaStats;
}

/** One event object into zero or more JanusEvents (combined media stats carry several media). */
function one(e: Obj, out: JanusEvent[]): boolean {
  const type = num(e.type);
  const handle = num(e.handle_id) ?? 0;
  const session = num(e.session_id) ?? 0;
  const tsUs = num(e.timestamp) ?? 0;
  const ev = isObj(e.event) ? e.event : undefined;
  if (!ev) return false;
  switch (type) {
    case EventType.handle: {
      const name = str(ev.name);
      if (name === 'attached' && handle)
        out.push({ kind: 'attached', handle, session, tsUs, plugin: str(ev.plugin) ?? '' });
      else if (name === 'detached' && handle) out.push({ kind: 'detached', handle, session, tsUs });
      else return false;
      return true;
    }
    case EventType.webrtc: {
      if (!handle) return false;
      const sub = num(e.subtype);
      if (sub === WebrtcSubtype.ice && str(ev.ice))
        out.push({ kind: 'ice', handle, tsUs, state: str(ev.ice)! });
      else if (sub === WebrtcSubtype.dtls && str(ev.dtls))
        out.push({ kind: 'dtls', handle, tsUs, state: str(ev.dtls)! });
      else if (sub === WebrtcSubtype.connection && ev.connection === 'webrtcup')
        out.push({ kind: 'webrtcup', handle, tsUs });
      else if (sub === WebrtcSubtype.connection && ev.connection === 'hangup')
        out.push({ kind: 'hangup', handle, tsUs, reason: str(ev.reason) ?? '' });
      else return false;
      return true;
    }
    case EventType.media: {
      if (!handle || num(e.subtype) !== MediaSubtype.stats) return false;
      // combine_media_stats = true puts every medium in one event, under "media": [...].
      const list = Array.isArray(ev.media) ? ev.media.filter(isObj) : [ev];
      let used = false;
      for (const m of list) {
        const stats = mediaStats(m);
        if (stats) {
          out.push({ kind: 'media', handle, tsUs, stats });
          used = true;
        }
      }
      return used;
    }
    case EventType.plugin: {
      if (ev.plugin !== 'janus.plugin.videoroom' || !isObj(ev.data)) return false;
      const d = ev.data;
      const id = d.id;
      if (typeof id !== 'number' && typeof id !== 'string') return false;
      if (d.event === 'joined') out.push({ kind: 'joined', handle, tsUs, participant: String(id) });
      else if (d.event === 'leaving') out.push({ kind: 'leaving', handle, tsUs, participant: String(id) });
      else return false;
      return true;
    }
    default:
      return false;
  }
}

/** Parses a POST body from the sample event handler. Never throws for well-formed JSON. */
export function parseEvents(body: unknown): ParsedEvents {
  const list = Array.isArray(body) ? body : [body];
  const events: JanusEvent[] = [];
  let ignored = 0;
  let invalid = 0;
  let emitter: string | undefined;
  for (const e of list) {
    if (!isObj(e)) {
      invalid++;
      continue;
    }
    emitter ??= str(e.emitter);
    if (!one(e, events)) ignored++;
  }
  return emitter === undefined ? { events, ignored, invalid } : { events, ignored, invalid, emitter };
}
