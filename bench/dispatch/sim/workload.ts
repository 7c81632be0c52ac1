/**
 * The balance simulator's world, fixed before any chooser runs: the fleet, the metrics pipeline's
 * timing, and per scenario and seed every call (room, members, arrival, join delay, departure).
 */
import { exponential, logNormal, lomax, rng, weighted } from './rng.ts';

export interface ServerSpec {
  readonly id: string;
  readonly region: string;
  readonly capacity: number;
}

/** Which door a room's clients come through: this dispatcher, a second replica of it, or a legacy path. */
export type Path = 0 | 1 | 2;
export const PATHS = ['this dispatcher', 'second replica', 'legacy path'] as const;

export interface Member {
  readonly room: string;
  readonly region: string;
  readonly path: Path;
  readonly arriveMs: number;
  /** Time from allocation until the client is connected and counted by the server. */
  readonly joinDelayMs: number;
  readonly leaveMs: number;
}

/** A participant already connected at t = 0 (placed before the run, known to every chooser by metrics). */
export interface Resident {
  readonly server: number;
  readonly room: string;
  readonly leaveMs: number;
}

export interface Workload {
  readonly scenario: string;
  readonly servers: readonly ServerSpec[];
  readonly residents: readonly Resident[];
  /** Sorted by arrival. */
  readonly members: readonly Member[];
  readonly roomSizes: ReadonlyMap<string, number>;
  readonly failServer: number;
  readonly drainServer: number;
}

export const settings = Object.freeze({
  /** [capacity, number of servers]: 100 servers of three sizes. */
  fleet: [
    [50, 30],
    [100, 50],
    [200, 20],
  ] as const,
  regions: [
    ['eu', 0.6],
    ['us', 0.4],
  ] as const,
  durationMs: 20 * 60_000,
  /** RTC server → exporter push (rtc_stats_updated_timestamp_seconds), each server at its own phase. */
  pushMs: 2000,
  pushJitterMs: 300,
  /** Prometheus scrape interval; each target at a fixed offset (as Prometheus spreads them), plus jitter. */
  scrapeMs: 15_000,
  scrapeJitterMs: 1000,
  /** Dispatcher refresh (instant queries), at its own phase. */
  refreshMs: 15_000,
  /** Allocation → client connected: log-normal. */
  joinDelayMedianMs: 1500,
  joinDelaySigma: 0.7,
  /** A client sent to a failed server gives up after this and asks again. */
  connectTimeoutMs: 5000,
  /** Clients of a failed server reconnect after a uniform delay in this range. */
  reconnectMs: [2000, 10_000] as const,
  /** Call length: Lomax (Pareto II), infinite variance; capped. Each member stays 60-100% of it. */
  callAlpha: 1.8,
  callMeanMs: 8 * 60_000,
  callCapMs: 4 * 3_600_000,
  stayFraction: [0.6, 1] as const,
  /** Room sizes and their weights; members after the first arrive exponentially spread. */
  roomSizes: [1, 2, 3, 4, 5, 6, 8, 12, 20, 40] as const,
  roomWeights: [0.08, 0.5, 0.14, 0.1, 0.06, 0.04, 0.03, 0.02, 0.02, 0.01] as const,
  memberSpreadMeanMs: 5000,
  /** Share of rooms per path (this dispatcher, second replica, legacy). */
  pathWeights: [0.7, 0.2, 0.1] as const,
  /** One eu server of capacity 200 fails; one us server of capacity 100 is drained. */
  failAtMs: 8 * 60_000,
  drainAtMs: 12 * 60_000,
  /** Admission limit told to every chooser, as a fraction of each server's true capacity. */
  highMark: 0.9,
  seeds: [1, 2, 3, 4, 5] as const,
});
export type Settings = typeof settings;

export interface Scenario {
  readonly name: string;
  /** Mean fleet load the steady arrivals aim at (fraction of total capacity); also the initial load. */
  readonly load: number;
  /** A flash crowd: `joins` joins in rooms of 1-6 whose first members arrive within `windowMs` from `atMs`. */
  readonly burst?: { readonly atMs: number; readonly windowMs: number; readonly joins: number };
  /** Large rooms of `size` joins spread over `spanMs`, one starting at each of `atMs`. */
  readonly bigRooms?: { readonly size: number; readonly spanMs: number; readonly atMs: readonly number[] };
}

export const scenarios: readonly Scenario[] = [
  { name: 'steady, 60% of capacity', load: 0.6 },
  {
    name: 'flash crowd: 45% + 3,000 joins in 20 s at 5 min',
    load: 0.45,
    burst: { atMs: 5 * 60_000, windowMs: 20_000, joins: 3000 },
  },
  {
    name: 'large rooms: 50% + six rooms of 92 joins in 31 s',
    load: 0.5,
    bigRooms: { size: 92, spanMs: 31_000, atMs: [60_000, 180_000, 300_000, 450_000, 600_000, 840_000] },
  },
  { name: 'busy, 80% of capacity', load: 0.8 },
];

export function fleet(s: Settings = settings): ServerSpec[] {
  const out: ServerSpec[] = [];
  const caps: number[] = [];
  for (const [cap, n] of s.fleet) for (let k = 0; k < n; k++) caps.push(cap);
  // Interleave sizes over regions so that each region has every size.
  const eu = Math.round(caps.length * s.regions[0][1]);
  const order = caps.map((c, i) => ({ c, k: (i * 7919) % caps.length })).sort((a, b) => a.k - b.k);
  order.forEach(({ c }, i) => {
    out.push({ id: `s${i}`, region: i < eu ? s.regions[0][0] : s.regions[1][0], capacity: c });
  });
  return out;
}

/** Mean call length after the cap: E[min(D, cap)] of the Lomax. */
export function cappedCallMeanMs(s: Settings = settings): number {
  const a = s.callAlpha;
  const scale = s.callMeanMs * (a - 1);
  return (scale / (a - 1)) * (1 - (1 + s.callCapMs / scale) ** (1 - a));
}

export function meanRoomSize(s: Settings = settings): number {
  let sum = 0;
  let w = 0;
  s.roomSizes.forEach((k, i) => {
    sum += k * s.roomWeights[i]!;
    w += s.roomWeights[i]!;
  });
  return sum / w;
}

/** Every call of one scenario and seed; the same for every chooser. */
export function workload(sc: Scenario, seed: number, s: Settings = settings): Workload {
  const random = rng(seed * 7919 + sc.name.length);
  const servers = fleet(s);
  const total = servers.reduce((a, b) => a + b.capacity, 0);
  const scale = s.callMeanMs * (s.callAlpha - 1);
  const call = () => Math.min(s.callCapMs, lomax(random, s.callAlpha, scale));
  const stay = (d: number) => d * (s.stayFraction[0] + random() * (s.stayFraction[1] - s.stayFraction[0]));
  const region = () =>
    s.regions[
      weighted(
        random,
        s.regions.map((r) => r[1]),
      )
    ]![0];
  const path = () => weighted(random, s.pathWeights) as Path;
  const joinDelay = () => Math.min(20_000, logNormal(random, s.joinDelayMedianMs, s.joinDelaySigma));
  const roomSizes = new Map<string, number>();
  const members: Member[] = [];
  let rooms = 0;
  const room = (start: number, size: number, spread: (k: number) => number, prefix = 'r') => {
    const id = `${prefix}${rooms++}`;
    const d = call();
    const reg = region();
    const p = path();
    roomSizes.set(id, size);
    for (let k = 0; k < size; k++) {
      const at = start + spread(k);
      members.push({
        room: id,
        region: reg,
        path: p,
        arriveMs: at,
        joinDelayMs: joinDelay(),
        leaveMs: at + stay(d),
      });
    }
  };
  const spread = (k: number) => (k === 0 ? 0 : exponential(random, s.memberSpreadMeanMs));

  // Residents: each server filled to about the scenario's load with rooms already under way.
  const residents: Resident[] = [];
  servers.forEach((sv, i) => {
    let left = Math.round(sv.capacity * sc.load * (0.7 + 0.6 * random()));
    while (left > 0) {
      const size = Math.min(left, s.roomSizes[weighted(random, s.roomWeights)]!);
      const id = `init${i}-${left}`;
      // What is left of calls under way: the equilibrium residual of the Lomax, itself a Lomax of
      // α - 1 (length-biased: long calls are more likely to be under way), so the load stays level.
      const d = Math.min(s.callCapMs, lomax(random, s.callAlpha - 1, scale));
      for (let k = 0; k < size; k++) residents.push({ server: i, room: id, leaveMs: stay(d) });
      left -= size;
    }
  });

  // Steady arrivals (Poisson rooms) at the rate that keeps the fleet at `load` (Little's law).
  const meanStay = cappedCallMeanMs(s) * ((s.stayFraction[0] + s.stayFraction[1]) / 2);
  const roomsPerMs = (sc.load * total) / (meanRoomSize(s) * meanStay);
  for (
    let t = exponential(random, 1 / roomsPerMs);
    t < s.durationMs;
    t += exponential(random, 1 / roomsPerMs)
  )
    room(t, s.roomSizes[weighted(random, s.roomWeights)]!, spread);

  if (sc.burst) {
    const b = sc.burst;
    let n = 0;
    while (n < b.joins) {
      const size = Math.min(1 + Math.floor(random() * 6), b.joins - n);
      room(b.atMs + random() * b.windowMs, size, (k) => (k === 0 ? 0 : random() * 3000), 'b');
      n += size;
    }
  }
  for (const at of sc.bigRooms?.atMs ?? [])
    room(at, sc.bigRooms!.size, (k) => (k * sc.bigRooms!.spanMs) / (sc.bigRooms!.size - 1), 'big');

  members.sort((a, b) => a.arriveMs - b.arriveMs);
  const failServer = servers.findIndex((v) => v.region === 'eu' && v.capacity === 200);
  const drainServer = servers.findIndex((v) => v.region === 'us' && v.capacity === 100);
  return { scenario: sc.name, servers, residents, members, roomSizes, failServer, drainServer };
}
