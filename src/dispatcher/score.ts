import type { Policy } from './config.ts';
import type { ServerView } from './snapshot.ts';

/** Why a server takes no client; `soft` ones (drains) still take members of their existing rooms. */
export type ExclusionCode =
  | 'gone'
  | 'target_down'
  | 'rtc_down'
  | 'shutting_down'
  | 'draining'
  | 'drained'
  | 'stale'
  | 'no_capacity'
  | 'no_address'
  | 'cpu'
  | 'memory'
  | 'egress'
  | 'loss'
  | 'join_failures'
  | 'full';

export interface Exclusion {
  readonly code: ExclusionCode;
  readonly detail: string;
}

/** Soft exclusions: no new room, but the server keeps (and serves) the rooms it has. */
export const SOFT: ReadonlySet<ExclusionCode> = new Set(['draining', 'drained']);

export type Grade = 'fresh' | 'aging' | 'stale';

/** Everything about one server that does not depend on the ledger, computed once per refresh. */
export interface Assessment {
  readonly server: ServerView;
  readonly exclusion: Exclusion | undefined;
  readonly grade: Grade;
  readonly ageMs: number;
  /** Staleness factor in (0, 1] applied to the score. */
  readonly factor: number;
  /** Σ weight × headroom over the signals other than participants. */
  readonly other: number;
  readonly weightSum: number;
  /** Whether the assessment was made in blind mode (for the notes). */
  readonly blind: boolean;
  /** The signal other than participants with the least headroom (undefined: none known). */
  readonly limiting: 'cpu' | 'egress' | 'loss' | 'join_failures' | undefined;
}

const notesCache = new WeakMap<Assessment, readonly string[]>();

const limitingCache = new WeakMap<Assessment, string | undefined>();

/** One line on the signal that limits a server most (for the next candidates of an answer); cached. */
export function limitingNote(a: Assessment, policy: Policy): string | undefined {
  if (limitingCache.has(a)) return limitingCache.get(a);
  const n = limitingLine(a, policy);
  limitingCache.set(a, n);
  return n;
}

function limitingLine(a: Assessment, policy: Policy): string | undefined {
  const s = a.server;
  const l = policy.limits;
  switch (a.limiting) {
    case 'cpu':
      return `cpu ${pct(s.cpu!)} (limit ${pct(l.cpu)})`;
    case 'egress': {
      const r = s.egressBps! / (s.nicBps ?? policy.nicBitsPerSecond);
      return `egress ${pct(r)} of the NIC (limit ${pct(l.egress)})`;
    }
    case 'loss':
      return `packet loss ${pct(s.loss!)} (limit ${pct(l.loss)})`;
    case 'join_failures':
      return `join failures ${pct(s.joinFailureRatio!)} (limit ${pct(l.joinFailures)})`;
    default:
      return undefined;
  }
}

/** Human-readable lines for the signals other than participants; built on first use, then cached. */
export function notesOf(a: Assessment, policy: Policy): readonly string[] {
  let n = notesCache.get(a);
  if (n) return n;
  const s = a.server;
  const l = policy.limits;
  const out: string[] = [];
  out.push(
    s.cpu !== undefined
      ? `cpu ${pct(s.cpu)} (limit ${pct(l.cpu)})`
      : 'cpu unknown (no node_exporter data for this host)',
  );
  if (s.memory !== undefined) out.push(`memory ${pct(s.memory)} (limit ${pct(l.memory)})`);
  if (s.egressBps !== undefined) {
    const nic = s.nicBps ?? policy.nicBitsPerSecond;
    out.push(
      `egress ${gbit(s.egressBps)} of ${gbit(nic)} NIC (${pct(s.egressBps / nic)}, limit ${pct(l.egress)})`,
    );
  }
  if (s.loss !== undefined) out.push(`packet loss ${pct(s.loss)} (limit ${pct(l.loss)})`);
  if (s.joinFailureRatio !== undefined)
    out.push(`join failures ${pct(s.joinFailureRatio)} (limit ${pct(l.joinFailures)})`);
  out.push(`data age ${(a.ageMs / 1000).toFixed(1)}s (${a.grade}${a.blind ? ', monitoring blind' : ''})`);
  n = out;
  notesCache.set(a, n);
  return n;
}

const pct = (x: number): string => `${(x * 100).toFixed(x < 0.01 ? 2 : 1)}%`;
const clamp01 = (x: number): number => Math.max(0, Math.min(x, 1));
const gbit = (bps: number): string =>
  bps >= 1e9 ? `${(bps / 1e9).toFixed(2)} Gbit/s` : `${(bps / 1e6).toFixed(1)} Mbit/s`;

/**
 * Grades a server: hard and soft exclusions, staleness, and the headroom of CPU, egress vs NIC
 * capacity, loss and join failures. In blind mode the data age is measured at the snapshot's time:
 * the data was as fresh then as it is flagged now, and monitoring being down says nothing about servers.
 */
export function assess(
  s: ServerView,
  policy: Policy,
  nowMs: number,
  opts: { blind?: boolean; drained?: boolean; takenAtMs?: number } = {},
): Assessment {
  const ref = opts.blind ? (opts.takenAtMs ?? nowMs) : nowMs;
  const ageMs = Math.max(0, ref - s.sampleTimeMs);
  const { penaltyAfterMs: pa, excludeAfterMs: ea } = policy;
  const grade: Grade = ageMs <= pa ? 'fresh' : ageMs <= ea ? 'aging' : 'stale';
  const factor =
    grade === 'fresh' ? 1 : grade === 'aging' ? 1 - (0.5 * (ageMs - pa)) / Math.max(1, ea - pa) : 0;
  const { weights: w, limits: l } = policy;
  let other = 0;
  let weightSum = w.participants;
  let worst = 2;
  let limiting: Assessment['limiting'];
  let exclusion: Exclusion | undefined;
  const exclude = (code: ExclusionCode, detail: string) => {
    exclusion ??= { code, detail };
  };

  if (!s.present) exclude('gone', 'no series in Prometheus any more (target down or stopped)');
  else if (s.targetUp === false) exclude('target_down', `scrape target ${s.instance} is down (up=0)`);
  else if (!s.rtcUp) exclude('rtc_down', 'rtc_up is 0');
  else if (s.state === 'shutting_down') exclude('shutting_down', 'server state is shutting_down');
  if (grade === 'stale')
    exclude('stale', `newest sample is ${(ageMs / 1000).toFixed(1)}s old (limit ${ea / 1000}s)`);
  if (s.capacity <= 0) exclude('no_capacity', 'rtc_capacity_participants is 0 or missing');
  // Clients connect to eip:port: without them a server cannot be offered, whatever its load.
  if (!s.eip || !(s.port > 0 && s.port < 65536))
    exclude('no_address', `rtc_server_info has no public address (eip "${s.eip}", port ${s.port})`);

  if (s.cpu !== undefined) {
    const h = clamp01(1 - s.cpu / l.cpu);
    if (h < worst) [worst, limiting] = [h, 'cpu'];
    other += w.cpu * h;
    weightSum += w.cpu;
    if (s.cpu > l.cpu) exclude('cpu', `cpu ${pct(s.cpu)} > limit ${pct(l.cpu)}`);
  }
  if (s.memory !== undefined) {
    if (s.memory > l.memory) exclude('memory', `memory ${pct(s.memory)} > limit ${pct(l.memory)}`);
  }
  if (s.egressBps !== undefined) {
    const nic = s.nicBps ?? policy.nicBitsPerSecond;
    const r = s.egressBps / nic;
    if (1 - r / l.egress < worst) [worst, limiting] = [1 - r / l.egress, 'egress'];
    other += w.egress * clamp01(1 - r / l.egress);
    weightSum += w.egress;
    if (r > l.egress) exclude('egress', `egress ${pct(r)} of the NIC > limit ${pct(l.egress)}`);
  }
  if (s.loss !== undefined) {
    if (1 - s.loss / l.loss < worst) [worst, limiting] = [1 - s.loss / l.loss, 'loss'];
    other += w.loss * clamp01(1 - s.loss / l.loss);
    weightSum += w.loss;
    if (s.loss > l.loss) exclude('loss', `packet loss ${pct(s.loss)} > limit ${pct(l.loss)}`);
  }
  if (s.joinFailureRatio !== undefined) {
    const j = s.joinFailureRatio;
    if (1 - j / l.joinFailures < worst) [worst, limiting] = [1 - j / l.joinFailures, 'join_failures'];
    other += w.joinFailures * clamp01(1 - j / l.joinFailures);
    weightSum += w.joinFailures;
    if (j > l.joinFailures)
      exclude('join_failures', `join failures ${pct(j)} > limit ${pct(l.joinFailures)}`);
  }
  if (!exclusion && s.state === 'draining') exclude('draining', 'server state is draining');
  if (!exclusion && opts.drained) exclude('drained', 'drained by an operator');
  return {
    server: s,
    exclusion,
    grade,
    ageMs,
    factor,
    other,
    weightSum,
    blind: opts.blind === true,
    limiting,
  };
}

/** The headroom score in [0, 1] with `effective` participants (scraped + pending in the ledger). */
export function scoreWith(a: Assessment, policy: Policy, effective: number): number {
  const cap = a.server.capacity;
  const load = cap > 0 ? effective / cap : 1;
  const hp = clamp01(1 - load / policy.highMark);
  if (a.weightSum <= 0) return a.factor;
  return (a.factor * (policy.weights.participants * hp + a.other)) / a.weightSum;
}

/** True when one more participant keeps the server at or below its high mark. */
export function fitsOneMore(capacity: number, effective: number, highMark: number): boolean {
  return effective + 1 <= highMark * capacity + 1e-9;
}
