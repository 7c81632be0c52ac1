/** A room's servers in the order it was placed on them, with this dispatcher's join counts on each. */
export interface RoomPlacement {
  readonly servers: string[];
  readonly counts: number[];
  /** Per server: joins still expected while the room is young (the chooser's reservation). */
  readonly left: number[];
  /** Per server: joins since placement while young; 0 once the room is no longer young there. */
  readonly young: number[];
  lastMs: number;
}

/**
 * Room → server(s). Later participants of a room go to its first server that can take them; a room
 * spills to another server when those are full. Forgotten `ttlMs` after the room's last join.
 */
export class Affinity {
  private readonly rooms = new Map<string, RoomPlacement>();
  /** The placement touched by the last assign() or place() (saves a second lookup on the hot path). */
  last: RoomPlacement | undefined;

  constructor(private readonly ttlMs: number) {}

  get(room: string, nowMs: number): RoomPlacement | undefined {
    const p = this.rooms.get(room);
    if (p && nowMs - p.lastMs > this.ttlMs) {
      this.rooms.delete(room);
      return undefined;
    }
    return p;
  }

  /** Records one join of `room` on `server`; returns the server's index in the room's list. */
  assign(room: string, server: string, nowMs: number): number {
    const p = this.placement(room, nowMs);
    let i = p.servers.indexOf(server);
    if (i < 0) {
      i = p.servers.length;
      p.servers.push(server);
      p.counts.push(0);
      p.left.push(0);
      p.young.push(0);
    }
    p.counts[i] = (p.counts[i] ?? 0) + 1;
    if (nowMs > p.lastMs) p.lastMs = nowMs;
    return i;
  }

  /** Puts `server` on the room's list (at the end) without counting a join. */
  place(room: string, server: string, nowMs: number): void {
    const p = this.placement(room, nowMs);
    if (p.servers.includes(server)) return;
    p.servers.push(server);
    p.counts.push(0);
    p.left.push(0);
    p.young.push(0);
  }

  private placement(room: string, nowMs: number): RoomPlacement {
    let p = this.rooms.get(room);
    if (!p) {
      p = { servers: [], counts: [], left: [], young: [], lastMs: nowMs };
      this.rooms.set(room, p);
    }
    this.last = p;
    return p;
  }

  /** Removes a server from a room (it went away); the room moves on the next join. */
  drop(room: string, server: string): void {
    const p = this.rooms.get(room);
    if (!p) return;
    const i = p.servers.indexOf(server);
    if (i < 0) return;
    p.servers.splice(i, 1);
    p.counts.splice(i, 1);
    p.left.splice(i, 1);
    p.young.splice(i, 1);
    if (p.servers.length === 0) this.rooms.delete(room);
  }

  /** Forgets rooms idle past the TTL; returns how many. */
  expire(nowMs: number): number {
    const steps = this.expireSteps(nowMs);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /** expire() in pieces: it pauses every 4,096 rooms (rooms placed or used meanwhile are kept). */
  *expireSteps(nowMs: number): Generator<void, number> {
    let n = 0;
    let i = 0;
    for (const [r, p] of this.rooms) {
      if (nowMs - p.lastMs > this.ttlMs) {
        this.rooms.delete(r);
        n++;
      }
      if (++i % 4096 === 0) yield;
    }
    return n;
  }

  get size(): number {
    return this.rooms.size;
  }
}
