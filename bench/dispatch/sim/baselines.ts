/**
 * The baselines of the balance simulator, each doing what its real system does (read from their
 * sources, not copied), fed by the same metrics pipeline as rtcmon and told the same high mark:
 * - Jicofo (jitsi/jicofo, BridgeSelector + RegionBasedBridgeSelectionStrategy): bridges sorted by
 *   "corrected stress" = reported stress + its own placements of the last participant-rampup-interval
 *   (20 s) × average participant stress; a conference stays on its bridges while they are not
 *   overloaded, then region first, then any bridge not overloaded, and finally the least loaded one (it
 *   never refuses). Draining bridges are left out when others exist.
 * - LiveKit (livekit/livekit, pkg/routing/selector, kind sysload, sort_by sysload, algorithm twochoice):
 *   a room stays on its node while the node is available and refuses joins once the node's limit is
 *   reached; a new room goes to the node of lower load among two drawn at random from the serving,
 *   available nodes under the sysload limit (all of them if none is), nearest region first.
 * - least-loaded with local accounting: the lowest load of the last refresh plus its own placements
 *   since, admission at the high mark, rooms stay and spill.
 * - the references: no dispatcher can be them; they see true live loads (and each room's final size).
 * - the legacy path (not a baseline: the other writer): a random serving server per room.
 */
import type { JoinRequest, Marks, Observed, Placer, Truth, View } from './model.ts';

/** Sample age past which every chooser stops using a server (rtcmon's staleness.exclude-after). */
export const STALE_MS = 60_000;

const usable = (o: Observed, nowMs: number) => o.up && nowMs - o.sampleTimeMs <= STALE_MS;

export interface JicofoOptions {
  /** participant-rampup-interval (Jicofo's default 20 s). */
  readonly rampupMs: number;
  /** max-bridge-participants: most participants of one conference on one bridge (default 80). */
  readonly maxPerConference: number;
  /** Jicofo's own region (local-region). */
  readonly localRegion: string;
}

export function jicofo(
  marks: Marks,
  opts: JicofoOptions = { rampupMs: 20_000, maxPerConference: 80, localRegion: 'eu' },
): Placer {
  let view: View = { atMs: 0, servers: [] };
  const recent = new Map<number, number[]>();
  const conferences = new Map<string, Map<number, number>>();
  const recentCount = (i: number, now: number) => {
    const q = recent.get(i);
    if (!q) return 0;
    while (q.length > 0 && q[0]! <= now - opts.rampupMs) q.shift();
    return q.length;
  };
  return {
    name: 'Jicofo (stress + recent placements)',
    refresh(v) {
      view = v;
    },
    choose(req: JoinRequest) {
      const now = req.nowMs;
      const all = view.servers;
      // The bridge's stress is its load; it reports its average participant stress (1 / capacity here).
      const stress = (i: number) => (all[i]!.participants + recentCount(i, now)) / all[i]!.capacity;
      let bridges: number[] = [];
      for (let i = 0; i < all.length; i++) if (usable(all[i]!, now)) bridges.push(i);
      if (bridges.length === 0) return -1;
      const active = bridges.filter((i) => all[i]!.state !== 'draining');
      if (active.length > 0) bridges = active;
      const key = new Map(bridges.map((i) => [i, stress(i)]));
      bridges.sort((a, b) => key.get(a)! - key.get(b)!);
      const conf = conferences.get(req.room) ?? new Map<number, number>();
      const overloaded = (i: number) => key.get(i)! >= marks.high;
      const maxed = (i: number) => (conf.get(i) ?? 0) >= opts.maxPerConference;
      const notLoaded = (i: number) => !overloaded(i) && !maxed(i);
      let region = req.region;
      if (!bridges.some((i) => all[i]!.region === region)) region = opts.localRegion;
      const inRegion = (i: number) => all[i]!.region === region;
      const pick =
        bridges.find((i) => notLoaded(i) && conf.has(i) && inRegion(i)) ??
        bridges.find((i) => notLoaded(i) && inRegion(i)) ??
        bridges.find((i) => notLoaded(i) && conf.has(i)) ??
        bridges.find((i) => !overloaded(i)) ??
        bridges.find((i) => conf.has(i) && !maxed(i)) ??
        bridges[0]!;
      const q = recent.get(pick);
      if (q) q.push(now);
      else recent.set(pick, [now]);
      conf.set(pick, (conf.get(pick) ?? 0) + 1);
      conferences.set(req.room, conf);
      return pick;
    },
  };
}

export function livekit(marks: Marks, random: () => number): Placer {
  let view: View = { atMs: 0, servers: [] };
  const rooms = new Map<string, number>();
  const sysload = (o: Observed) => o.participants / o.capacity;
  // LiveKit's AvailableSeconds is 5 s with stats every 2 s; here stats come through the same pipeline as
  // rtcmon's, so a node is available while its data is as fresh as rtcmon requires (and its target is up).
  const available = (o: Observed, now: number) => usable(o, now);
  return {
    name: 'LiveKit (sysload, two choices)',
    refresh(v) {
      view = v;
    },
    choose(req) {
      const all = view.servers;
      const now = req.nowMs;
      const existing = rooms.get(req.room);
      if (existing !== undefined && available(all[existing]!, now)) {
        const o = all[existing]!;
        // LimitsReached: the room's node is full, the join is denied.
        return o.participants >= marks.high * o.capacity ? -1 : existing;
      }
      let nodes: number[] = [];
      for (let i = 0; i < all.length; i++)
        if (available(all[i]!, now) && all[i]!.state === 'serving') nodes.push(i);
      if (nodes.length === 0) return -1;
      const low = nodes.filter((i) => sysload(all[i]!) < marks.high);
      if (low.length > 0) nodes = low;
      const near = nodes.filter((i) => all[i]!.region === req.region);
      if (near.length > 0) nodes = near;
      let pick: number;
      if (nodes.length <= 2) pick = nodes.reduce((a, b) => (sysload(all[b]!) < sysload(all[a]!) ? b : a));
      else {
        const a = nodes[Math.floor(random() * nodes.length)]!;
        let b = nodes[Math.floor(random() * (nodes.length - 1))]!;
        if (b === a) b = nodes[nodes.length - 1]!;
        pick = sysload(all[b]!) < sysload(all[a]!) ? b : a;
      }
      rooms.set(req.room, pick);
      return pick;
    },
  };
}

/** Room placements of a chooser that keeps a room on its servers and spills when they are full. */
class Rooms {
  private readonly m = new Map<string, number[]>();
  get(room: string): readonly number[] {
    return this.m.get(room) ?? [];
  }
  add(room: string, i: number): void {
    const l = this.m.get(room);
    if (!l) this.m.set(room, [i]);
    else if (!l.includes(i)) l.push(i);
  }
}

/** Lowest `load(i)` among `ok` servers, the requested region first; -1 when none. */
function lowest(
  n: number,
  region: (i: number) => string,
  want: string,
  ok: (i: number) => boolean,
  load: (i: number) => number,
): number {
  let best = -1;
  let bestAny = -1;
  for (let i = 0; i < n; i++) {
    if (!ok(i)) continue;
    if (bestAny < 0 || load(i) < load(bestAny)) bestAny = i;
    if (region(i) === want && (best < 0 || load(i) < load(best))) best = i;
  }
  return best >= 0 ? best : bestAny;
}

export function leastLoaded(marks: Marks): Placer {
  let view: View = { atMs: 0, servers: [] };
  let mine = new Int32Array(0);
  const rooms = new Rooms();
  return {
    name: 'least-loaded + local accounting',
    refresh(v) {
      view = v;
      mine = new Int32Array(v.servers.length);
    },
    choose(req) {
      const all = view.servers;
      const est = (i: number) => all[i]!.participants + mine[i]!;
      const fits = (i: number) => usable(all[i]!, req.nowMs) && est(i) + 1 <= marks.high * all[i]!.capacity;
      let pick = rooms.get(req.room).find(fits) ?? -1;
      if (pick < 0)
        pick = lowest(
          all.length,
          (i) => all[i]!.region,
          req.region,
          (i) => fits(i) && all[i]!.state === 'serving',
          (i) => est(i) / all[i]!.capacity,
        );
      if (pick < 0) return -1;
      mine[pick]!++;
      rooms.add(req.room, pick);
      return pick;
    },
  };
}

/**
 * The reference: true live loads of every server (every path's joins, departures, failures, at once) and,
 * with `knowsSizes`, each room's final size at its first join. Without it, it separates what the live
 * truth is worth from what knowing room sizes is worth.
 */
export function clairvoyant(
  marks: Marks,
  truth: Truth,
  servers: readonly { readonly capacity: number; readonly region: string }[],
  knowsSizes = true,
): Placer {
  /** Members still to come of the rooms placed on each server, and per room where they will go. */
  const outstanding = new Float64Array(servers.length);
  const coming = new Map<string, { server: number; left: number }>();
  const rooms = new Rooms();
  const joined = new Map<string, number>();
  const fits = (i: number) => truth.alive(i) && truth.assigned(i) + 1 <= marks.high * servers[i]!.capacity;
  return {
    name: knowsSizes ? 'ref: clairvoyant' : 'ref: live loads, sizes unknown',
    refresh() {},
    choose(req) {
      const n = (joined.get(req.room) ?? 0) + 1;
      joined.set(req.room, n);
      const c = coming.get(req.room);
      const stay = rooms.get(req.room).find(fits);
      if (stay !== undefined) {
        if (c && c.server === stay && c.left > 0) {
          c.left--;
          outstanding[stay]!--;
        }
        return stay;
      }
      const left = knowsSizes ? Math.max(0, truth.roomSize(req.room) - n) : 0;
      // The load each server would have once this room and those placed before have all their members.
      const pick = lowest(
        servers.length,
        (i) => servers[i]!.region,
        req.region,
        (i) => fits(i) && !truth.draining(i),
        (i) => (truth.assigned(i) + outstanding[i]! + 1 + left) / servers[i]!.capacity,
      );
      if (pick < 0) return -1;
      // The room's members still to come move with it.
      if (c) outstanding[c.server]! -= c.left;
      coming.set(req.room, { server: pick, left });
      outstanding[pick]! += left;
      rooms.add(req.room, pick);
      return pick;
    },
  };
}

/** The other writer: clients of an old integration pick a random server the metrics show serving. */
export function legacyPath(random: () => number): Placer {
  let view: View = { atMs: 0, servers: [] };
  const rooms = new Map<string, number>();
  return {
    name: 'legacy path',
    refresh(v) {
      view = v;
    },
    choose(req) {
      const r = rooms.get(req.room);
      if (r !== undefined) return r;
      const ok: number[] = [];
      view.servers.forEach((o, i) => {
        if (usable(o, req.nowMs) && o.state === 'serving') ok.push(i);
      });
      if (ok.length === 0) return -1;
      const pick = ok[Math.floor(random() * ok.length)]!;
      rooms.set(req.room, pick);
      return pick;
    },
  };
}
