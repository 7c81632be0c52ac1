/**
 * The balance simulator: one run of one chooser over one workload. Servers count a participant from the
 * moment its client connects (allocation + join delay) until it leaves; every server pushes its stats
 * every few seconds, Prometheus scrapes each at its own offset with jitter, and the dispatcher refreshes
 * at its own phase, so what a chooser sees lags the truth by up to push + scrape + refresh + join delay.
 * Each room comes through one path: the chooser under test, a second instance of it that shares nothing
 * (a replica without replication), or a legacy path that picks a random serving server; the chooser sees
 * the others' joins only through metrics. One server fails and one is drained mid-run.
 */
import type { Observed, Placer, Truth, View } from './model.ts';
import { rng } from './rng.ts';
import type { Member, Settings, Workload } from './workload.ts';

export interface RunResult {
  readonly chooser: string;
  /** Time average (sampled every second) of max / mean load over the serving servers. */
  readonly maxOverMean: number;
  /** Highest load (participants / true capacity) any serving server reached. */
  readonly peakLoad: number;
  /** Joins that took a server past its true capacity (counted when the client connects). */
  readonly overloads: number;
  /** Of `overloads`: joins sent by the chooser under test (this dispatcher and its replica). */
  readonly ownOverloads: number;
  /** Joins refused by the chooser under test (this dispatcher and its replica). */
  readonly rejected: number;
  /** Clients of the failed server that had to join again, and joins sent to it after it failed. */
  readonly moved: number;
  /** Of `moved`: joins sent to the failed server after it failed (before the metrics showed it). */
  readonly sentToFailed: number;
  /** Joins attempted (first attempts, all paths) and joins that ended connected at least once. */
  readonly joins: number;
  readonly connected: number;
  /** Mean load of the serving servers over the run. */
  readonly meanLoad: number;
}

enum Kind {
  Arrive,
  Connect,
  Leave,
  Push,
  Scrape,
  Refresh,
  Fail,
  Drain,
  Sample,
}

/** A binary min-heap of events by (time, insertion order): the same order for every chooser. */
class Events {
  private t: number[] = [];
  private seq: number[] = [];
  private kind: Kind[] = [];
  private arg: number[] = [];
  private gen: number[] = [];
  private n = 0;
  private next = 0;

  get size(): number {
    return this.n;
  }

  push(t: number, kind: Kind, arg = 0, gen = 0): void {
    let i = this.n++;
    const s = this.next++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.t[p]! < t || (this.t[p] === t && this.seq[p]! < s)) break;
      this.move(p, i);
      i = p;
    }
    this.set(i, t, s, kind, arg, gen);
  }

  /** Pops the earliest event into `out`. */
  pop(out: { t: number; kind: Kind; arg: number; gen: number }): void {
    out.t = this.t[0]!;
    out.kind = this.kind[0]!;
    out.arg = this.arg[0]!;
    out.gen = this.gen[0]!;
    const last = --this.n;
    const t = this.t[last]!;
    const s = this.seq[last]!;
    const kind = this.kind[last]!;
    const arg = this.arg[last]!;
    const gen = this.gen[last]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= last) break;
      if (c + 1 < last && this.before(c + 1, c)) c++;
      if (this.t[c]! > t || (this.t[c] === t && this.seq[c]! > s)) break;
      this.move(c, i);
      i = c;
    }
    if (last > 0) this.set(i, t, s, kind, arg, gen);
  }

  private before(a: number, b: number): boolean {
    return this.t[a]! < this.t[b]! || (this.t[a] === this.t[b] && this.seq[a]! < this.seq[b]!);
  }

  private move(from: number, to: number): void {
    this.set(to, this.t[from]!, this.seq[from]!, this.kind[from]!, this.arg[from]!, this.gen[from]!);
  }

  private set(i: number, t: number, s: number, kind: Kind, arg: number, gen: number): void {
    this.t[i] = t;
    this.seq[i] = s;
    this.kind[i] = kind;
    this.arg[i] = arg;
    this.gen[i] = gen;
  }
}

/** Builds the chooser under test; called twice (this dispatcher, its replica) per run. */
export type MakePlacer = (truth: Truth, replica: boolean) => Placer;

export function simulate(
  w: Workload,
  s: Settings,
  make: MakePlacer,
  legacy: (truth: Truth) => Placer,
  seed: number,
): RunResult {
  const n = w.servers.length;
  const cap = w.servers.map((v) => v.capacity);
  const participants = new Int32Array(n);
  const assigned = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  const draining = new Uint8Array(n);
  // What each server last pushed, and what Prometheus last scraped of it.
  const pushedP = new Int32Array(n);
  const joinCounter = new Int32Array(n);
  const pushedJoins = new Int32Array(n);
  const pushedAt = new Float64Array(n);
  const pushedDraining = new Uint8Array(n);
  const scraped: Observed[] = new Array(n);

  // Members: residents first (connected at t = 0), then the workload's joins.
  const R = w.residents.length;
  const M = R + w.members.length;
  const server = new Int32Array(M).fill(-1);
  const connected = new Uint8Array(M);
  const gone = new Uint8Array(M);
  const gen = new Uint32Array(M);
  const attempts = new Uint8Array(M);
  const once = new Uint8Array(M);
  const leaveAt = (m: number) => (m < R ? w.residents[m]!.leaveMs : w.members[m - R]!.leaveMs);
  /** A resident whose server fails joins again through this dispatcher, like any client of its room. */
  const memberOf = (m: number): Pick<Member, 'room' | 'region' | 'path' | 'joinDelayMs'> => {
    if (m >= R) return w.members[m - R]!;
    const r = w.residents[m]!;
    return { room: r.room, region: w.servers[r.server]!.region, path: 0, joinDelayMs: s.joinDelayMedianMs };
  };

  const truth: Truth = {
    assigned: (i) => assigned[i]!,
    alive: (i) => alive[i] === 1,
    draining: (i) => draining[i] === 1,
    roomSize: (room) => w.roomSizes.get(room) ?? 1,
  };
  const placers = [make(truth, false), make(truth, true), legacy(truth)];
  // Pipeline timing and reconnect delays: their own streams, the same for every chooser.
  const pipe = rng(seed * 31 + 7);
  const retry = rng(seed * 131 + 3);
  const ev = new Events();

  for (let m = 0; m < R; m++) {
    const r = w.residents[m]!;
    server[m] = r.server;
    connected[m] = 1;
    once[m] = 1;
    participants[r.server]!++;
    assigned[r.server]!++;
    ev.push(r.leaveMs, Kind.Leave, m, 0);
  }
  for (let i = 0; i < n; i++) {
    pushedP[i] = participants[i]!;
    pushedAt[i] = -pipe() * s.pushMs;
    const scrapeOffset = pipe() * s.scrapeMs;
    scraped[i] = observe(i, scrapeOffset - s.scrapeMs);
    ev.push(pushedAt[i]! + s.pushMs, Kind.Push, i);
    ev.push(scrapeOffset + pipe() * s.scrapeJitterMs, Kind.Scrape, i, scrapeOffset);
  }
  for (let k = 0; k < w.members.length; k++)
    if (w.members[k]!.arriveMs < s.durationMs) ev.push(w.members[k]!.arriveMs, Kind.Arrive, R + k);
  ev.push(0, Kind.Refresh);
  ev.push(s.failAtMs, Kind.Fail, w.failServer);
  ev.push(s.drainAtMs, Kind.Drain, w.drainServer);
  ev.push(1000, Kind.Sample);

  function observe(i: number, at: number): Observed {
    const v = w.servers[i]!;
    return {
      id: v.id,
      region: v.region,
      capacity: v.capacity,
      participants: pushedP[i]!,
      joinAttempts: pushedJoins[i]!,
      state: pushedDraining[i] ? 'draining' : 'serving',
      up: true,
      sampleTimeMs: at,
      statsUpdatedMs: pushedAt[i]!,
    };
  }

  let overloads = 0;
  let ownOverloads = 0;
  let rejected = 0;
  let moved = 0;
  let sentToFailed = 0;
  let joins = 0;
  let everConnected = 0;
  let ratioSum = 0;
  let loadSum = 0;
  let samples = 0;
  let peak = 0;
  const e = { t: 0, kind: Kind.Sample, arg: 0, gen: 0 };

  const askAgain = (m: number, at: number) => {
    if (attempts[m]! >= 8 || at >= leaveAt(m)) {
      gone[m] = 1;
      return;
    }
    ev.push(at, Kind.Arrive, m);
  };

  while (ev.size > 0) {
    ev.pop(e);
    if (e.t >= s.durationMs) break;
    const now = e.t;
    switch (e.kind) {
      case Kind.Arrive: {
        const m = e.arg;
        if (gone[m]) break;
        const mem = memberOf(m);
        if (attempts[m] === 0) joins++;
        attempts[m]!++;
        const i = placers[mem.path]!.choose({ room: mem.room, region: mem.region, nowMs: now });
        if (i < 0) {
          if (mem.path !== 2) rejected++;
          gone[m] = 1;
          break;
        }
        if (!alive[i]) {
          moved++;
          sentToFailed++;
          askAgain(m, now + s.connectTimeoutMs);
          break;
        }
        server[m] = i;
        assigned[i]!++;
        ev.push(now + mem.joinDelayMs, Kind.Connect, m, ++gen[m]!);
        break;
      }
      case Kind.Connect: {
        const m = e.arg;
        if (gone[m] || e.gen !== gen[m] || server[m]! < 0) break;
        const i = server[m]!;
        connected[m] = 1;
        joinCounter[i]!++;
        if (participants[i]! >= assigned[i]!) throw new Error(`server ${i}: more connected than allocated`);
        if (!once[m]) everConnected++;
        once[m] = 1;
        if (++participants[i]! > cap[i]!) {
          overloads++;
          if (memberOf(m).path !== 2) ownOverloads++;
        }
        const leave = leaveAt(m);
        ev.push(Math.max(leave, now), Kind.Leave, m, gen[m]!);
        break;
      }
      case Kind.Leave: {
        const m = e.arg;
        if (gone[m] || e.gen !== gen[m]) break;
        gone[m] = 1;
        const i = server[m]!;
        if (i >= 0) {
          assigned[i]!--;
          if (connected[m]) participants[i]!--;
        }
        break;
      }
      case Kind.Push: {
        const i = e.arg;
        if (!alive[i]) break;
        pushedP[i] = participants[i]!;
        pushedJoins[i] = joinCounter[i]!;
        pushedDraining[i] = draining[i]!;
        pushedAt[i] = now;
        ev.push(now + s.pushMs + (pipe() - 0.5) * s.pushJitterMs, Kind.Push, i);
        break;
      }
      case Kind.Scrape: {
        const i = e.arg;
        // The sample carries the scrape's start time; the next scrape keeps the target's offset.
        scraped[i] = alive[i] ? observe(i, now) : { ...scraped[i]!, up: false };
        const next = e.gen + s.scrapeMs;
        ev.push(next + pipe() * s.scrapeJitterMs, Kind.Scrape, i, next);
        break;
      }
      case Kind.Refresh: {
        const view: View = { atMs: now, servers: scraped.slice() };
        placers[0]!.refresh(view);
        placers[1]!.refresh(view);
        placers[2]!.refresh(view);
        ev.push(now + s.refreshMs, Kind.Refresh);
        break;
      }
      case Kind.Fail: {
        const f = e.arg;
        alive[f] = 0;
        for (let m = 0; m < M; m++) {
          if (gone[m] || server[m] !== f) continue;
          moved++;
          server[m] = -1;
          connected[m] = 0;
          gen[m]!++;
          askAgain(m, now + s.reconnectMs[0] + retry() * (s.reconnectMs[1] - s.reconnectMs[0]));
        }
        participants[f] = 0;
        assigned[f] = 0;
        break;
      }
      case Kind.Drain:
        draining[e.arg] = 1;
        break;
      case Kind.Sample: {
        let sp = 0;
        let sc = 0;
        let max = 0;
        for (let i = 0; i < n; i++) {
          if (!alive[i] || draining[i]) continue;
          sp += participants[i]!;
          sc += cap[i]!;
          const u = participants[i]! / cap[i]!;
          if (u > max) max = u;
        }
        if (sp > 0) {
          ratioSum += max / (sp / sc);
          loadSum += sp / sc;
          samples++;
        }
        if (max > peak) peak = max;
        ev.push(now + 1000, Kind.Sample);
        break;
      }
    }
  }

  // What the run scored must match the members' own state.
  const recount = new Int32Array(n);
  for (let m = 0; m < M; m++) if (!gone[m] && connected[m] && server[m]! >= 0) recount[server[m]!]!++;
  for (let i = 0; i < n; i++)
    if (recount[i] !== participants[i])
      throw new Error(
        `${placers[0]!.name}: server ${i} counts ${participants[i]} participants, members say ${recount[i]}`,
      );

  return {
    chooser: placers[0]!.name,
    maxOverMean: ratioSum / Math.max(1, samples),
    peakLoad: peak,
    overloads,
    ownOverloads,
    rejected,
    moved,
    sentToFailed,
    joins,
    connected: everConnected,
    meanLoad: loadSum / Math.max(1, samples),
  };
}
