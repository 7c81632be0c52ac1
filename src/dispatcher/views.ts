/**
 * The answer views and their JSON: what an answer says about each server (its view, its reasons), the
 * fleet listing, the legacy GetRtcServer bodies, and the answer's JSON built from cached parts. Nothing
 * here decides: the decision core (chooser.ts) hands over its numbers.
 */
import type { Policy } from './config.ts';
import { type Assessment, type ExclusionCode, limitingNote, notesOf } from './score.ts';
import type { ServerView } from './snapshot.ts';

/** Where a server is: the first fields of every view of it, in this order. */
type Place = Pick<ServerView, 'id' | 'host' | 'eip' | 'port' | 'region' | 'zone'>;
const placeOf = (s: ServerView): Place => ({
  id: s.id,
  host: s.host,
  eip: s.eip,
  port: s.port,
  region: s.region,
  zone: s.zone,
});

export interface CandidateView extends Place, Pick<ServerView, 'participants' | 'capacity'> {
  readonly score: number;
  readonly load: number;
  readonly pending: number;
  readonly reasons: readonly string[];
}

export interface ExcludedView {
  readonly id: string;
  readonly reason: ExclusionCode;
  readonly detail: string;
}

/** One answer of allocate: the chosen server or why there is none, and how the decision was made. */
export interface Answer {
  readonly ok: boolean;
  readonly room: string;
  readonly server: CandidateView | null;
  readonly message: string;
  readonly reasons: readonly string[];
  readonly candidates: readonly CandidateView[];
  readonly excluded: readonly ExcludedView[];
  readonly excludedCounts: Readonly<Record<string, number>>;
  readonly roomServers: readonly string[];
  readonly spilled: boolean;
  /** Index of the room's server list the chosen server was just added at; -1 when it was already there. */
  readonly newSlot: number;
  /** Age of the snapshot the answer came from (ms). */
  readonly dataAgeMs: number;
  readonly blind: boolean;
  readonly blindForMs: number | null;
}

/** The fleet as listed by GET /api/v1/servers. */
export interface ServerRow
  extends Pick<
    ServerView,
    | 'id'
    | 'host'
    | 'eip'
    | 'port'
    | 'region'
    | 'zone'
    | 'version'
    | 'present'
    | 'rtcUp'
    | 'capacity'
    | 'participants'
    | 'rooms'
  > {
  readonly state: string;
  /** null where `up` of the server's target is unknown (JSON has no undefined). */
  readonly targetUp: boolean | null;
  readonly pending: number;
  readonly load: number;
  readonly score: number;
  readonly grade: string;
  readonly dataAgeMs: number;
  readonly drained: boolean;
  readonly full: boolean;
  readonly excluded: { readonly reason: ExclusionCode; readonly detail: string } | null;
  readonly notes: readonly string[];
}

/** What the decision core knows of one server at a moment: the views' input. */
export interface ServerFigures {
  readonly a: Assessment;
  readonly pending: number;
  /** Raw score (rounded in views). */
  readonly score: number;
  readonly full: boolean;
  readonly drained: boolean;
  /** Participants still expected in its young rooms (counts against its score). */
  readonly reserved: number;
}

const num = (x: number): string => (Number.isFinite(x) ? String(x) : 'null');
const NON_ASCII = /[^\u0000-\u007f]/;
const NON_ASCII_ALL = /[^\u0000-\u007f]/g;
/**
 * JSON.stringify of a string with every non-ASCII code unit as a \uXXXX escape: the same string for any
 * JSON reader, and the answer stays a one-byte string (V8 encodes those several times faster).
 */
const ascii = (q: string): string =>
  NON_ASCII.test(q)
    ? q.replace(NON_ASCII_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : q;
const jstr = (x: string): string => ascii(JSON.stringify(x));
const strings = (xs: readonly string[]): string => {
  let r = '[';
  for (let k = 0; k < xs.length; k++) r += (k > 0 ? ',' : '') + jstr(xs[k]!);
  return `${r}]`;
};
export const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

export function fullDetail(s: ServerView, eff: number, policy: Policy): string {
  return `full: ${eff} of ${s.capacity} participants incl. pending (high mark ${policy.highMark}; admits again below ${policy.lowMark})`;
}

/** Per assessment (one server in one snapshot): JSON of its fixed fields, its notes, its last short view. */
interface Parts {
  head?: string;
  notes?: string;
  short?: { pending: number; score: number; json: string; view: CandidateView };
}

/**
 * Builds the views of an answer and its JSON, exactly as JSON.stringify writes it, from parts cached per
 * server and snapshot (each server's fixed fields, its notes, the excluded list): the HTTP hot path.
 */
export class AnswerViews {
  /** Parts per assessment: a new snapshot (or regrading) makes new assessments, so they go stale by themselves. */
  private parts = new WeakMap<Assessment, Parts>();
  /** The JSON of the views built since beginAnswer() (a few), for answerJson() right after. */
  private readonly builtViews: CandidateView[] = [];
  private readonly builtJson: string[] = [];
  /** The excluded list as answers show it, and its JSON with the counts, for one length of the list. */
  private excludedOf: readonly ExcludedView[] | undefined;
  private excludedLength = -1;
  private excludedShown: ExcludedView[] = [];
  private excludedJson: string | undefined;
  private excludedCounts: Readonly<Record<string, number>> | undefined;

  constructor(private readonly policy: Policy) {}

  beginAnswer(): void {
    this.builtViews.length = 0;
    this.builtJson.length = 0;
  }

  /**
   * The first explain.excluded entries of `list` (appended to, never rewritten, while a snapshot lasts);
   * the same array until the list changes.
   */
  shownExcluded(list: readonly ExcludedView[], counts: Readonly<Record<string, number>>): ExcludedView[] {
    if (list !== this.excludedOf || list.length !== this.excludedLength || counts !== this.excludedCounts) {
      this.excludedOf = list;
      this.excludedLength = list.length;
      this.excludedCounts = counts;
      this.excludedShown = list.slice(0, this.policy.explainExcluded);
      this.excludedJson = undefined;
    }
    return this.excludedShown;
  }

  /**
   * The view of one server in an answer. The chosen server (`full`) carries every signal; the next
   * candidates carry their participants and their most limiting signal, which keeps answers small.
   */
  candidate(f: ServerFigures, expectedRoomSize: number, full: boolean): CandidateView {
    const { a, pending } = f;
    const s = a.server;
    const eff = s.participants + pending;
    const load = s.capacity > 0 ? eff / s.capacity : 1;
    const score = round(f.score);
    let parts = this.parts.get(a);
    if (!parts) {
      parts = {};
      this.parts.set(a, parts);
    }
    // A next candidate's short view (and its JSON) is reused as long as its pending count and score
    // have not moved; the rest of it only changes on refresh.
    const last = full ? undefined : parts.short;
    if (last && last.pending === pending && last.score === score) {
      this.builtViews.push(last.view);
      this.builtJson.push(last.json);
      return last.view;
    }
    const view: CandidateView = {
      ...placeOf(s),
      score,
      load: round(load),
      participants: s.participants,
      pending,
      capacity: s.capacity,
      reasons: this.reasonsOf(a, pending, load, full, f.reserved, expectedRoomSize),
    };
    // Its JSON, from parts that only change on refresh: the fixed fields, the notes.
    parts.head ??= `{"id":${jstr(s.id)},"host":${jstr(s.host)},"eip":${jstr(s.eip)},"port":${num(s.port)},"region":${jstr(s.region)},"zone":${jstr(s.zone)}`;
    const r = view.reasons;
    // reasons[0] is built here from numbers only; the other lines are this server's notes or limit.
    let tail = `,"reasons":["${r[0]!}"`;
    if (full) {
      const notes = notesOf(a, this.policy);
      parts.notes ??= notes.map((x) => `,${jstr(x)}`).join('');
      for (let k = 1; k < r.length - notes.length; k++) tail += `,${jstr(r[k]!)}`;
      tail += parts.notes;
    } else for (let k = 1; k < r.length; k++) tail += `,${jstr(r[k]!)}`;
    const json = `${parts.head},"score":${num(score)},"load":${num(view.load)},"participants":${num(s.participants)},"pending":${num(pending)},"capacity":${num(s.capacity)}${tail}]}`;
    if (!full) parts.short = { pending, score, json, view };
    this.builtViews.push(view);
    this.builtJson.push(json);
    return view;
  }

  private reasonsOf(
    a: Assessment,
    pending: number,
    load: number,
    full: boolean,
    reserved: number,
    expectedRoomSize: number,
  ): string[] {
    const s = a.server;
    const out = [
      `participants ${s.participants} + ${pending} pending of ${s.capacity} (load ${round(load, 2)}, high mark ${this.policy.highMark})`,
    ];
    if (full && reserved > 0)
      out.push(
        `${round(reserved, 1)} more expected in its young rooms (mean room size ${round(expectedRoomSize, 1)})`,
      );
    const notes = notesOf(a, this.policy);
    if (full) out.push(...notes);
    else {
      const lim = limitingNote(a, this.policy);
      if (lim) out.push(lim);
    }
    return out;
  }

  /** The answer as JSON, exactly as JSON.stringify(a) writes it (in ASCII). */
  answerJson(a: Answer): string {
    let out = `{"ok":${a.ok},"room":${jstr(a.room)},"server":${a.server ? this.viewJson(a.server) : 'null'},"message":${jstr(a.message)},"reasons":${strings(a.reasons)},"candidates":[`;
    for (let k = 0; k < a.candidates.length; k++) {
      if (k > 0) out += ',';
      out += this.viewJson(a.candidates[k]!);
    }
    out += '],';
    if (a.excluded === this.excludedShown && a.excludedCounts === this.excludedCounts) {
      this.excludedJson ??= `"excluded":${ascii(JSON.stringify(a.excluded))},"excludedCounts":${ascii(JSON.stringify(a.excludedCounts))}`;
      out += this.excludedJson;
    } else
      out += `"excluded":${ascii(JSON.stringify(a.excluded))},"excludedCounts":${ascii(JSON.stringify(a.excludedCounts))}`;
    return `${out},"roomServers":${strings(a.roomServers)},"spilled":${a.spilled},"newSlot":${num(a.newSlot)},"dataAgeMs":${num(a.dataAgeMs)},"blind":${a.blind},"blindForMs":${a.blindForMs === null ? 'null' : num(a.blindForMs)}}`;
  }

  private viewJson(v: CandidateView): string {
    const k = this.builtViews.indexOf(v);
    return k >= 0 ? this.builtJson[k]! : ascii(JSON.stringify(v));
  }

  /** One row of GET /api/v1/servers. */
  row(f: ServerFigures, nowMs: number): ServerRow {
    const { a, pending, full } = f;
    const s = a.server;
    const eff = s.participants + pending;
    return {
      ...placeOf(s),
      version: s.version,
      state: s.state,
      present: s.present,
      targetUp: s.targetUp ?? null,
      rtcUp: s.rtcUp,
      capacity: s.capacity,
      participants: s.participants,
      pending,
      rooms: s.rooms,
      load: round(s.capacity > 0 ? eff / s.capacity : 1),
      score: round(f.score),
      grade: a.grade,
      dataAgeMs: Math.max(0, nowMs - s.sampleTimeMs),
      drained: f.drained,
      full,
      excluded: a.exclusion
        ? { reason: a.exclusion.code, detail: a.exclusion.detail }
        : full
          ? { reason: 'full', detail: fullDetail(s, eff, this.policy) }
          : null,
      notes: notesOf(a, this.policy),
    };
  }
}

/** `host:port`, with IPv6 addresses in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export type LegacyFormat = 'original' | 'extended';

/**
 * The legacy GetRtcServer body. `original` is the seed dispatcher's contract, field for field (Eip with its
 * port, Port a string, State "running": listed servers take clients); `extended` adds, to the same
 * fields, what the dispatcher knows of each server.
 */
export function legacyBody(
  list: readonly ServerFigures[],
  format: LegacyFormat,
  state: { blind: boolean; blindForMs: number | null; dataAgeMs: number | null },
): Record<string, unknown> {
  const original = (s: ServerView) => ({
    Hostname: s.host,
    Eip: hostPort(s.eip, s.port),
    Port: String(s.port),
    State: 'running',
  });
  const body: Record<string, unknown> = {
    RetCode: 0,
    Action: 'GetRtcServerResponse',
    Message: 'GetRtcServer ok',
    TotalCount: list.length,
    DataSet: list.map((f) => original(f.a.server)),
  };
  if (format === 'extended') {
    body.DataSet = list.map((f) => {
      const s = f.a.server;
      const eff = s.participants + f.pending;
      return {
        ...original(s),
        Id: s.id,
        Region: s.region,
        Zone: s.zone,
        ServerState: s.state,
        Score: round(f.score),
        Load: round(s.capacity > 0 ? eff / s.capacity : 1),
        Participants: s.participants,
        Pending: f.pending,
        Capacity: s.capacity,
      };
    });
    body.Blind = state.blind;
    body.BlindForMs = state.blindForMs;
    body.DataAgeMs = state.dataAgeMs;
  }
  return body;
}
