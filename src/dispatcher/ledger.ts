/** What a server's metrics showed at one refresh, as far as the ledger cares. */
export interface Observation {
  /** `rtc_participants`. */
  readonly participants: number;
  /** `rtc_join_attempts_total` (a counter; undefined when the server does not report it). */
  readonly joinAttempts: number | undefined;
  /**
   * When the server's stats were last updated (`rtc_stats_updated_timestamp_seconds`, else the sample's
   * time), in ms: a join made after this time cannot be in them.
   */
  readonly updatedMs: number;
}

/**
 * Assignments the metrics do not show yet. A server's pending count is added to its scraped participants.
 * Entries are retired by what the data shows, not by time: when a server's stats are newer than the last
 * ones seen, the rise of its join attempts (or of its participants, whichever is larger) confirms as many
 * entries, oldest first, among those made before the stats were updated. An entry the data never confirms
 * (the client never joined, or departures hid the rise) expires after a maximum age derived from the
 * configured delays (see ledgerBoundMs in config.ts).
 */
export class Ledger {
  private readonly q = new Map<string, { times: number[]; head: number }>();
  /** Per server, the last observation reconciled against. */
  private readonly seen = new Map<string, Observation>();
  private total = 0;

  add(server: string, atMs: number): void {
    let e = this.q.get(server);
    if (!e) {
      e = { times: [], head: 0 };
      this.q.set(server, e);
    }
    // Entries from other replicas may arrive slightly out of order; keep the queue sorted.
    const t = e.times;
    let i = t.length;
    t.push(atMs);
    while (i > e.head && t[i - 1]! > atMs) {
      t[i] = t[i - 1]!;
      i--;
    }
    t[i] = atMs;
    this.total++;
  }

  /** Removes one entry of `server` made at `atMs` (a decision taken back). */
  remove(server: string, atMs: number): boolean {
    const e = this.q.get(server);
    if (!e) return false;
    const i = e.times.lastIndexOf(atMs);
    if (i < e.head) return false;
    e.times.splice(i, 1);
    this.total--;
    if (e.times.length === e.head) this.q.delete(server);
    return true;
  }

  pending(server: string): number {
    const e = this.q.get(server);
    return e ? e.times.length - e.head : 0;
  }

  /**
   * Reconciles `server`'s entries with a new observation of it; returns how many were confirmed. Stats no
   * newer than the last ones seen confirm nothing (the same data, scraped again). The first observation
   * of a server only sets the baseline.
   */
  reconcile(server: string, o: Observation): number {
    const last = this.seen.get(server);
    if (last && o.updatedMs <= last.updatedMs) return 0;
    this.seen.set(server, o);
    if (!last) return 0;
    const e = this.q.get(server);
    if (!e) return 0;
    const joined =
      o.joinAttempts !== undefined && last.joinAttempts !== undefined && o.joinAttempts >= last.joinAttempts
        ? o.joinAttempts - last.joinAttempts
        : 0;
    let rise = Math.floor(Math.max(joined, o.participants - last.participants));
    const t = e.times;
    let h = e.head;
    while (rise > 0 && h < t.length && t[h]! <= o.updatedMs) {
      h++;
      rise--;
    }
    return this.dropHead(server, e, h);
  }

  /** Drops the entries of `server` made `maxAgeMs` or longer before `nowMs`; returns how many. */
  expire(server: string, nowMs: number, maxAgeMs: number): number {
    const e = this.q.get(server);
    if (!e) return 0;
    const t = e.times;
    let h = e.head;
    while (h < t.length && t[h]! + maxAgeMs <= nowMs) h++;
    return this.dropHead(server, e, h);
  }

  private dropHead(server: string, e: { times: number[]; head: number }, h: number): number {
    const t = e.times;
    const dropped = h - e.head;
    this.total -= dropped;
    if (h === t.length) this.q.delete(server);
    else if (h > 64 && h * 2 > t.length) {
      e.times = t.slice(h);
      e.head = 0;
    } else e.head = h;
    return dropped;
  }

  /** Drops every entry and observation of servers not in `keep`. */
  retain(keep: (server: string) => boolean): void {
    for (const [s, e] of this.q)
      if (!keep(s)) {
        this.total -= e.times.length - e.head;
        this.q.delete(s);
      }
    for (const s of this.seen.keys()) if (!keep(s)) this.seen.delete(s);
  }

  get size(): number {
    return this.total;
  }

  servers(): IterableIterator<string> {
    return this.q.keys();
  }
}
