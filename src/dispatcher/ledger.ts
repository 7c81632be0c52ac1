/**
 * Assignments made since the metrics were scraped. A server's pending count is added to its scraped
 * participants; an entry expires once a sample newer than the assignment (plus the client's join delay)
 * has been seen, or after a maximum age.
 */
export class Ledger {
  private readonly q = new Map<string, { times: number[]; head: number }>();
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

  /** Drops entries covered by a sample at `sampleTimeMs` or older than `maxAgeMs`; returns how many. */
  expire(server: string, sampleTimeMs: number, joinDelayMs: number, nowMs: number, maxAgeMs: number): number {
    const e = this.q.get(server);
    if (!e) return 0;
    const t = e.times;
    let h = e.head;
    while (h < t.length && (t[h]! + joinDelayMs <= sampleTimeMs || t[h]! + maxAgeMs <= nowMs)) h++;
    const dropped = h - e.head;
    this.total -= dropped;
    if (h === t.length) this.q.delete(server);
    else if (h > 64 && h * 2 > t.length) {
      e.times = t.slice(h);
      e.head = 0;
    } else e.head = h;
    return dropped;
  }

  /** Drops every entry of servers not in `keep`. */
  retain(keep: (server: string) => boolean): void {
    for (const [s, e] of this.q)
      if (!keep(s)) {
        this.total -= e.times.length - e.head;
        this.q.delete(s);
      }
  }

  get size(): number {
    return this.total;
  }

  servers(): IterableIterator<string> {
    return this.q.keys();
  }
}
