import { Affinity, type RoomPlacement } from './affinity.ts';
import { ledgerBoundMs, type Policy } from './config.ts';
import { IndexedMaxHeap } from './heap.ts';
import { Ledger } from './ledger.ts';
import { type Assessment, assess, type ExclusionCode, fitsOneMore, SOFT, scoreWith } from './score.ts';
import { emptySnapshot, nextTurn, type ServerView, type Snapshot } from './snapshot.ts';
import {
  type Answer,
  AnswerViews,
  type CandidateView,
  type ExcludedView,
  fullDetail,
  round,
  type ServerFigures,
  type ServerRow,
} from './views.ts';

export type { Answer, CandidateView, ExcludedView, ServerRow } from './views.ts';

export interface AllocateRequest {
  readonly room: string;
  readonly region?: string | undefined;
  readonly client?: string | undefined;
}

/** Where an assignment came from: made here, or replicated from another dispatcher replica. */
export type Origin = 'local' | 'remote';

/**
 * The decision core: snapshot + ledger + room affinity + drains + hysteresis → one server per join.
 * Everything is in memory; allocate() does no I/O. Scores live in an indexed heap (one global, one per
 * region) so a decision costs O(log n), whatever the fleet size.
 */
export class Chooser {
  readonly ledger = new Ledger();
  readonly affinity: Affinity;
  private snapshot: Snapshot = emptySnapshot;
  private assessments: Assessment[] = [];
  private readonly idx = new Map<string, number>();
  private key = new Float64Array(0);
  private full = new Uint8Array(0);
  private readonly fullSet = new Set<string>();
  private readonly drained = new Set<string>();
  private global = new IndexedMaxHeap(this.key, 0);
  private regions = new Map<string, IndexedMaxHeap>();
  private excludedList: ExcludedView[] = [];
  private excludedCounts: Record<string, number> = {};
  /** The views of answers and their JSON (views.ts): the core only hands them its figures. */
  readonly views: AnswerViews;
  private blindSince: number | undefined;
  /** Set by a new snapshot: the next rebuild reconciles the ledger with it. */
  private unreconciled = false;
  private readonly scratch: number[] = [];
  private readonly random: () => number;
  /** Expected joins still to come for rooms placed recently, per server (counts against the score only). */
  private readonly reserved = new Map<string, number>();
  private young: { place: RoomPlacement; server: string; atMs: number }[] = [];
  private youngHead = 0;
  /** Decayed totals for the learned mean room size. */
  private sizeJoins = 0;
  private sizeRooms = 0;

  constructor(
    readonly policy: Policy,
    opts: { random?: () => number } = {},
  ) {
    this.affinity = new Affinity(policy.roomTtlMs);
    this.views = new AnswerViews(policy);
    this.random = opts.random ?? Math.random;
  }

  /**
   * A new snapshot from Prometheus: leaves blind mode and rebuilds the index. `prepared`, from
   * assessInSlices(s, nowMs), saves the grading of every server here (half of the rebuild).
   */
  setSnapshot(s: Snapshot, nowMs: number, prepared?: readonly (Assessment | undefined)[]): void {
    this.snapshot = s;
    this.blindSince = undefined;
    this.unreconciled = true;
    this.rebuild(nowMs, prepared?.length === s.servers.length ? prepared : undefined);
  }

  /**
   * The grading of a new snapshot's servers at `nowMs` out of blind mode, as setSnapshot(s, nowMs) would
   * compute it, in slices of about `sliceMs` so that requests are served meanwhile. Servers drained
   * meanwhile are graded again by setSnapshot.
   */
  async assessInSlices(s: Snapshot, nowMs: number, sliceMs = 2): Promise<(Assessment | undefined)[]> {
    const out: (Assessment | undefined)[] = new Array(s.servers.length);
    let sliceStart = performance.now();
    for (let i = 0; i < s.servers.length; i++) {
      const v = s.servers[i]!;
      if (!this.drained.has(v.id))
        out[i] = assess(v, this.policy, nowMs, { blind: false, drained: false, takenAtMs: s.takenAtMs });
      if (i % 256 === 255 && performance.now() - sliceStart >= sliceMs) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
    return out;
  }

  /** Prometheus unreachable since `sinceMs`: keep the last snapshot, flagged. */
  setBlind(sinceMs: number, nowMs: number): void {
    if (this.blindSince === undefined) this.blindSince = sinceMs;
    this.rebuild(nowMs);
  }

  get blind(): boolean {
    return this.blindSince !== undefined;
  }

  blindForMs(nowMs: number): number | null {
    return this.blindSince === undefined ? null : nowMs - this.blindSince;
  }

  get current(): Snapshot {
    return this.snapshot;
  }

  setDrained(id: string, drained: boolean, nowMs: number): void {
    if (drained === this.drained.has(id)) return;
    if (drained) this.drained.add(id);
    else this.drained.delete(id);
    this.rebuild(nowMs);
  }

  drainedServers(): string[] {
    return [...this.drained];
  }

  /** Re-grades every server (staleness moves with the clock), expires the ledger, rebuilds the heaps. */
  rebuild(nowMs: number, prepared?: readonly (Assessment | undefined)[]): void {
    const p = this.policy;
    const blind = this.blindSince !== undefined;
    const servers = this.snapshot.servers;
    const n = servers.length;
    this.idx.clear();
    this.assessments = new Array(n);
    this.key = new Float64Array(n);
    this.full = new Uint8Array(n);
    this.global = new IndexedMaxHeap(this.key, n);
    this.regions = new Map();
    this.excludedList = [];
    this.excludedCounts = {};
    // While blind no data can confirm an entry: keep them as long as the last snapshot is used.
    const maxAge = blind ? Math.max(p.blindMaxAgeMs, ledgerBoundMs(p)) : ledgerBoundMs(p);
    const reconcile = this.unreconciled;
    this.unreconciled = false;
    this.releaseYoung(nowMs);
    this.sizeJoins *= 0.98;
    this.sizeRooms *= 0.98;
    for (let i = 0; i < n; i++) {
      const s = servers[i]!;
      this.idx.set(s.id, i);
      const drained = this.drained.has(s.id);
      const a =
        (!blind && !drained ? prepared?.[i] : undefined) ??
        assess(s, p, nowMs, { blind, drained, takenAtMs: this.snapshot.takenAtMs });
      this.assessments[i] = a;
      if (reconcile && s.present)
        this.ledger.reconcile(s.id, {
          participants: s.participants,
          joinAttempts: s.joinAttempts,
          updatedMs: s.statsUpdatedMs ?? s.sampleTimeMs,
        });
      this.ledger.expire(s.id, nowMs, maxAge);
      const eff = s.participants + this.ledger.pending(s.id);
      const wasFull = this.fullSet.has(s.id);
      const load = s.capacity > 0 ? eff / s.capacity : 1;
      const isFull = wasFull ? load >= p.lowMark : !fitsOneMore(s.capacity, eff, p.highMark);
      if (isFull) this.fullSet.add(s.id);
      else this.fullSet.delete(s.id);
      this.full[i] = isFull ? 1 : 0;
      this.key[i] = scoreWith(a, p, eff + (this.reserved.get(s.id) ?? 0));
      if (a.exclusion) this.noteExcluded(s.id, a.exclusion.code, a.exclusion.detail);
      else if (isFull) this.noteExcluded(s.id, 'full', this.fullDetail(s, eff));
      else {
        this.global.pushRaw(i);
        let h = this.regions.get(s.region);
        if (!h) {
          h = new IndexedMaxHeap(this.key, n);
          this.regions.set(s.region, h);
        }
        h.pushRaw(i);
      }
    }
    this.global.heapify();
    for (const h of this.regions.values()) h.heapify();
    this.ledger.retain((id) => this.idx.has(id));
    for (const id of this.fullSet) if (!this.idx.has(id)) this.fullSet.delete(id);
    // With a prepared grading (the refresher), the caller expires rooms in slices: expireRoomsInSlices.
    if (!prepared) this.affinity.expire(nowMs);
  }

  /** Forgets rooms idle past room.ttl, in slices of about `sliceMs` (a run can leave 100,000s of rooms). */
  async expireRoomsInSlices(nowMs: number, sliceMs = 2): Promise<void> {
    const steps = this.affinity.expireSteps(nowMs);
    let sliceStart = performance.now();
    while (!steps.next().done)
      if (performance.now() - sliceStart >= sliceMs) {
        await nextTurn();
        sliceStart = performance.now();
      }
  }

  /** Learned mean room size, pulled toward the configured prior while few rooms were seen. */
  expectedRoomSize(): number {
    const k = 5;
    return Math.max(1, (this.sizeJoins + k * this.policy.roomExpectedSize) / (this.sizeRooms + k));
  }

  private releaseYoung(nowMs: number): void {
    const w = this.policy.roomReserveWindowMs;
    const q = this.young;
    let h = this.youngHead;
    while (h < q.length && nowMs - q[h]!.atMs > w) {
      this.endYoung(q[h]!.place, q[h]!.server, true);
      h++;
    }
    if (h > 1024 && h * 2 > q.length) {
      this.young = q.slice(h);
      h = 0;
    }
    this.youngHead = h;
  }

  /** Ends a room's young period on a server: drops what is still reserved, learns the room's size. */
  private endYoung(place: RoomPlacement, server: string, learn: boolean): void {
    const slot = place.servers.indexOf(server);
    if (slot < 0 || place.young[slot] === 0) return;
    const left = place.left[slot] ?? 0;
    if (left > 0) this.addReserved(server, -left);
    // A room's size at the end of its window teaches the expected size of the next rooms.
    if (learn) {
      this.sizeJoins += place.young[slot]!;
      this.sizeRooms += 1;
    }
    place.left[slot] = 0;
    place.young[slot] = 0;
  }

  private addReserved(server: string, d: number): void {
    const v = (this.reserved.get(server) ?? 0) + d;
    if (v > 1e-9) this.reserved.set(server, v);
    else this.reserved.delete(server);
  }

  private fullDetail(s: ServerView, eff: number): string {
    return fullDetail(s, eff, this.policy);
  }

  private noteExcluded(id: string, code: ExclusionCode, detail: string): void {
    this.excludedList.push({ id, reason: code, detail });
    this.excludedCounts[code] = (this.excludedCounts[code] ?? 0) + 1;
  }

  /** Records one join of `room` on `server` (made here or replicated from another replica). */
  record(server: string, room: string, atMs: number): void {
    this.ledger.add(server, atMs);
    const slot = this.affinity.assign(room, server, atMs);
    const place = this.affinity.last!;
    if (this.policy.roomReserveWindowMs > 0) {
      if (place.counts[slot] === 1) {
        const left = Math.max(0, this.expectedRoomSize() - 1);
        place.left[slot] = left;
        place.young[slot] = 1;
        this.young.push({ place, server, atMs });
        if (left > 0) this.addReserved(server, left);
      } else if (place.young[slot]! > 0) {
        place.young[slot]!++;
        const l = place.left[slot]!;
        if (l > 0) {
          const d = Math.min(1, l);
          place.left[slot] = l - d;
          this.addReserved(server, -d);
        }
      }
    }
    const i = this.idx.get(server);
    if (i === undefined) return;
    const a = this.assessments[i]!;
    const s = a.server;
    const eff = s.participants + this.ledger.pending(server);
    this.key[i] = scoreWith(a, this.policy, eff + (this.reserved.get(server) ?? 0));
    if (!this.full[i] && !fitsOneMore(s.capacity, eff, this.policy.highMark)) {
      this.full[i] = 1;
      this.fullSet.add(server);
      this.global.remove(i);
      this.regions.get(s.region)?.remove(i);
      if (!a.exclusion) this.noteExcluded(server, 'full', this.fullDetail(s, eff));
    } else {
      this.global.update(i);
      this.regions.get(s.region)?.update(i);
    }
  }

  /**
   * Takes back a join recorded at `atMs` (another replica had already placed the room elsewhere) and
   * places the room's slot on `owner` instead.
   */
  yieldSlot(room: string, mine: string, owner: string, atMs: number): void {
    this.ledger.remove(mine, atMs);
    const place = this.affinity.get(room, atMs);
    if (place) this.endYoung(place, mine, false);
    this.affinity.drop(room, mine);
    this.affinity.place(room, owner, atMs);
    const i = this.idx.get(mine);
    if (i === undefined) return;
    const a = this.assessments[i]!;
    this.key[i] = scoreWith(
      a,
      this.policy,
      a.server.participants + this.ledger.pending(mine) + (this.reserved.get(mine) ?? 0),
    );
    this.global.update(i);
    this.regions.get(a.server.region)?.update(i);
  }

  /** True when server `i` could take one more member of an existing room. */
  private roomAdmits(i: number, roomCount: number, why: string[]): boolean {
    const a = this.assessments[i]!;
    const s = a.server;
    if (a.exclusion && !SOFT.has(a.exclusion.code)) {
      why.push(`${s.id}: ${a.exclusion.detail}`);
      return false;
    }
    const eff = s.participants + this.ledger.pending(s.id);
    if (this.full[i] || !fitsOneMore(s.capacity, eff, this.policy.highMark)) {
      why.push(`${s.id}: ${this.fullDetail(s, eff)}`);
      return false;
    }
    const max = this.policy.roomMaxPerServer;
    if (max > 0 && roomCount >= max) {
      why.push(`${s.id}: the room has ${roomCount} participants there (room.max-per-server ${max})`);
      return false;
    }
    return true;
  }

  /** The best ids of `h` into `top`: the near-equal ones and enough for the explanation. */
  private pull(h: IndexedMaxHeap | undefined, skip: number[] | undefined, top: number[]): void {
    top.length = 0;
    const t = h?.top();
    if (h === undefined || t === undefined) return;
    const p = this.policy;
    const want = Math.max(p.spreadMax, p.explainCandidates + 1);
    h.best(p.explainCandidates + 1, this.key[t]! - p.spreadEpsilon, want, skip, top);
  }

  /** Chooses the server for one join, records it, and explains the choice. */
  allocate(req: AllocateRequest, nowMs: number): Answer {
    const p = this.policy;
    this.views.beginAnswer();
    const reasons: string[] = [];
    const blindFor = this.blindForMs(nowMs);
    if (blindFor !== null && nowMs - this.snapshot.takenAtMs > p.blindMaxAgeMs)
      return this.none(
        req,
        nowMs,
        `monitoring has been unreachable for ${(blindFor / 1000).toFixed(0)}s and the last good snapshot is older than blind.max-age (${p.blindMaxAgeMs / 1000}s): no data to choose from`,
        reasons,
        [],
      );
    this.releaseYoung(nowMs);
    const place = this.affinity.get(req.room, nowMs);
    let chosen = -1;
    let spilled = false;
    if (place) {
      const why: string[] = [];
      let live = 0;
      for (let j = 0; j < place.servers.length; j++) {
        const id = place.servers[j]!;
        const i = this.idx.get(id);
        if (i === undefined) {
          why.push(`${id}: no longer known`);
          continue;
        }
        const ex = this.assessments[i]!.exclusion;
        if (!ex || SOFT.has(ex.code)) live++;
        if (this.roomAdmits(i, place.counts[j] ?? 0, why)) {
          chosen = i;
          reasons.push(
            j === 0
              ? `room affinity: room ${req.room} is on ${id}`
              : `room affinity: room ${req.room} spilled to ${id}`,
          );
          break;
        }
      }
      if (chosen < 0) {
        if (live > 0 && !p.roomSpill)
          return this.none(
            req,
            nowMs,
            `the room's server cannot take more participants and room.spill is off`,
            why,
            place.servers,
          );
        if (live >= p.roomMaxServers)
          return this.none(
            req,
            nowMs,
            `the room already spans ${live} servers (room.max-servers ${p.roomMaxServers}) and none can take more`,
            why,
            place.servers,
          );
        spilled = live > 0;
        reasons.push(
          spilled
            ? `room ${req.room} spills to another server`
            : `room ${req.room} moves: its servers are gone`,
          ...why,
        );
      }
    }
    const top = this.scratch;
    let heap = req.region ? this.regions.get(req.region) : this.global;
    let skip: number[] | undefined;
    if (place && place.servers.length > 0) {
      skip = [];
      for (const id of place.servers) {
        const i = this.idx.get(id);
        if (i !== undefined) skip.push(i);
      }
    }
    if (chosen < 0) {
      this.pull(heap, skip, top);
      if (top.length === 0 && req.region && p.regionFallback && this.global.size > 0) {
        reasons.push(`no server of region ${req.region} can take the client: chose among all regions`);
        heap = this.global;
        this.pull(heap, skip, top);
      }
      if (top.length === 0)
        return this.none(
          req,
          nowMs,
          req.region && !p.regionFallback
            ? `no server of region ${req.region} can take a client`
            : 'no server can take a client',
          reasons,
          place?.servers ?? [],
        );
      const best = this.key[top[0]!]!;
      let near = 1;
      while (near < top.length && near < p.spreadMax && this.key[top[near]!]! >= best - p.spreadEpsilon)
        near++;
      const k = near > 1 ? Math.floor(this.random() * near) : 0;
      chosen = top[k]!;
      if (k !== 0) {
        top[k] = top[0]!;
        top[0] = chosen;
      }
      reasons.push(
        near > 1
          ? `random pick among ${near} near-equal servers (score within ${p.spreadEpsilon} of the best, ${round(best)})`
          : `best score (${round(best)})`,
      );
    } else {
      this.pull(heap, skip, top);
    }
    const id = this.assessments[chosen]!.server.id;
    const before = place?.servers.length ?? 0;
    const slot = place ? place.servers.indexOf(id) : -1;
    this.record(id, req.room, nowMs);
    const newSlot = slot >= 0 ? -1 : before;
    const candidates: CandidateView[] = [];
    for (const i of top) {
      if (candidates.length >= p.explainCandidates) break;
      if (i !== chosen) candidates.push(this.candidate(i, false));
    }
    const dataAgeMs = nowMs - this.snapshot.takenAtMs;
    return {
      ok: true,
      room: req.room,
      server: this.candidate(chosen),
      message: `${req.room} → ${id}`,
      reasons,
      candidates,
      excluded: this.shownExcluded(),
      excludedCounts: this.excludedCounts,
      roomServers: this.affinity.last?.servers ?? [id],
      spilled,
      newSlot,
      dataAgeMs,
      blind: blindFor !== null,
      blindForMs: blindFor,
    };
  }

  /** The first explain.excluded excluded servers; the same array until the list changes. */
  private shownExcluded(): ExcludedView[] {
    return this.views.shownExcluded(this.excludedList, this.excludedCounts);
  }

  /** The answer as JSON, exactly as JSON.stringify(a) writes it (views.ts). */
  answerJson(a: Answer): string {
    return this.views.answerJson(a);
  }

  private none(
    req: AllocateRequest,
    nowMs: number,
    message: string,
    reasons: string[],
    room: readonly string[],
  ): Answer {
    const blindFor = this.blindForMs(nowMs);
    const counts = Object.entries(this.excludedCounts)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    return {
      ok: false,
      room: req.room,
      server: null,
      message: `${message}${this.snapshot.servers.length ? ` (${this.snapshot.servers.length} servers known; excluded: ${counts || 'none'})` : ' (no server known yet)'}`,
      reasons,
      candidates: [],
      excluded: this.shownExcluded(),
      excludedCounts: this.excludedCounts,
      roomServers: [...room],
      spilled: false,
      newSlot: -1,
      dataAgeMs: nowMs - this.snapshot.takenAtMs,
      blind: blindFor !== null,
      blindForMs: blindFor,
    };
  }

  /** What the core knows of server `i` now: the input of its views. */
  private figures(i: number): ServerFigures {
    const a = this.assessments[i]!;
    const id = a.server.id;
    return {
      a,
      pending: this.ledger.pending(id),
      score: this.key[i]!,
      full: this.full[i] === 1,
      drained: this.drained.has(id),
      reserved: this.reserved.get(id) ?? 0,
    };
  }

  /** The view of server `i` in an answer: every signal for the chosen one, the limiting one for others. */
  private candidate(i: number, full = true): CandidateView {
    return this.views.candidate(this.figures(i), this.expectedRoomSize(), full);
  }

  /** Servers able to take a new room, best first (the legacy GetRtcServer list), with their figures. */
  admissibleFigures(region?: string): ServerFigures[] {
    return this.admissibleIndexes(region).map((i) => this.figures(i));
  }

  /** Servers able to take a new room, best first. */
  admissible(region?: string): ServerView[] {
    return this.admissibleIndexes(region).map((i) => this.assessments[i]!.server);
  }

  private admissibleIndexes(region?: string): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.assessments.length; i++) {
      const a = this.assessments[i]!;
      if (a.exclusion || this.full[i]) continue;
      if (region && a.server.region !== region) continue;
      out.push(i);
    }
    out.sort((x, y) => this.key[y]! - this.key[x]!);
    return out;
  }

  /** The fleet as GET /api/v1/servers lists it. */
  rows(nowMs: number): ServerRow[] {
    const rows: ServerRow[] = [];
    for (let i = 0; i < this.assessments.length; i++) rows.push(this.views.row(this.figures(i), nowMs));
    return rows;
  }

  /** Counts for /metrics. */
  stats(): {
    servers: number;
    admissible: number;
    excluded: Readonly<Record<string, number>>;
    ledger: number;
    rooms: number;
  } {
    return {
      servers: this.assessments.length,
      admissible: this.global.size,
      excluded: this.excludedCounts,
      ledger: this.ledger.size,
      rooms: this.affinity.size,
    };
  }
}
