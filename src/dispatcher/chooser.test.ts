import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Chooser } from './chooser.ts';
import { defaultPolicy, ledgerBoundMs, type Policy } from './config.ts';
import { server, snapshotOf } from './fixtures.ts';

const T = 1_000_000;
const policy = (over: Partial<Policy> = {}): Policy => ({ ...defaultPolicy, ...over });

function fleet(n: number, over: Parameters<typeof server>[1] = {}) {
  return Array.from({ length: n }, (_, i) => server(`s${i}`, { sampleTimeMs: T, ...over }));
}

describe('Chooser', () => {
  it('spreads a burst of new rooms thanks to the ledger', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const c = new Chooser(policy(), { random });
    c.setSnapshot(snapshotOf(fleet(10), T), T);
    const counts = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const a = c.allocate({ room: `r${i}` }, T + i);
      assert.ok(a.ok, a.message);
      counts.set(a.server!.id, (counts.get(a.server!.id) ?? 0) + 1);
    }
    assert.equal(counts.size, 10);
    // Near-equal means within spread.epsilon of the best: 0.05 of the score is 4.5 participants here.
    assert.ok(Math.max(...counts.values()) - Math.min(...counts.values()) <= 6, JSON.stringify([...counts]));
    assert.equal(c.ledger.size, 200);
  });

  it('keeps a room on its server, then spills at the high mark, never past it', () => {
    const c = new Chooser(policy());
    c.setSnapshot(snapshotOf(fleet(3, { capacity: 10 }), T), T);
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const a = c.allocate({ room: 'big' }, T + i);
      assert.ok(a.ok, a.message);
      seen.push(a.server!.id);
    }
    const first = seen[0]!;
    assert.deepEqual(seen.slice(0, 9), Array(9).fill(first));
    assert.notEqual(seen[9], first);
    const per = new Map<string, number>();
    for (const s of seen) per.set(s, (per.get(s) ?? 0) + 1);
    for (const v of per.values()) assert.ok(v <= 9);
  });

  it('answers no server (with reasons) rather than overloading one', () => {
    const c = new Chooser(policy());
    c.setSnapshot(snapshotOf(fleet(2, { capacity: 10, participants: 9 }), T), T);
    const a = c.allocate({ room: 'x' }, T);
    assert.equal(a.ok, false);
    assert.match(a.message, /no server can take/);
    assert.equal(a.excludedCounts.full, 2);
  });

  it('has hysteresis: a full server admits again only below the low mark', () => {
    const c = new Chooser(policy({ highMark: 0.9, lowMark: 0.5 }));
    const s = (p: number) => snapshotOf([server('a', { capacity: 10, participants: p, sampleTimeMs: T })], T);
    c.setSnapshot(s(9), T);
    assert.equal(c.allocate({ room: 'r' }, T).ok, false);
    c.setSnapshot(s(6), T + 1);
    assert.equal(c.allocate({ room: 'r' }, T + 1).ok, false, 'between marks: still full');
    c.setSnapshot(s(4), T + 2);
    assert.equal(c.allocate({ room: 'r2' }, T + 2).ok, true);
  });

  it('drained server: no new rooms, keeps its rooms', () => {
    const c = new Chooser(policy());
    c.setSnapshot(snapshotOf(fleet(2), T), T);
    const a = c.allocate({ room: 'keep' }, T);
    const id = a.server!.id;
    c.setDrained(id, true, T);
    for (let i = 0; i < 20; i++) assert.notEqual(c.allocate({ room: `n${i}` }, T).server!.id, id);
    assert.equal(c.allocate({ room: 'keep' }, T).server!.id, id);
    c.setDrained(id, false, T);
    assert.ok(c.rows(T).every((r) => !r.drained));
  });

  it('excludes down, shutting-down, stale and over-limit servers with reasons', () => {
    const c = new Chooser(policy({ excludeAfterMs: 60_000 }));
    c.setSnapshot(
      snapshotOf(
        [
          server('down', { sampleTimeMs: T, targetUp: false }),
          server('rtc0', { sampleTimeMs: T, rtcUp: false }),
          server('bye', { sampleTimeMs: T, state: 'shutting_down' }),
          server('old', { sampleTimeMs: T - 61_000 }),
          server('hot', { sampleTimeMs: T, cpu: 0.95 }),
          server('lossy', { sampleTimeMs: T, loss: 0.5 }),
          server('ok', { sampleTimeMs: T }),
        ],
        T,
      ),
      T,
    );
    const a = c.allocate({ room: 'r' }, T);
    assert.equal(a.server!.id, 'ok');
    const byId = Object.fromEntries(a.excluded.map((e) => [e.id, e.reason]));
    assert.deepEqual(byId, {
      down: 'target_down',
      rtc0: 'rtc_down',
      bye: 'shutting_down',
      old: 'stale',
      hot: 'cpu',
      lossy: 'loss',
    });
  });

  it('prefers the server with more headroom across signals', () => {
    const c = new Chooser(policy({ spreadEpsilon: 0 }));
    c.setSnapshot(
      snapshotOf(
        [server('busycpu', { sampleTimeMs: T, cpu: 0.8 }), server('idle', { sampleTimeMs: T, cpu: 0.1 })],
        T,
      ),
      T,
    );
    assert.equal(c.allocate({ room: 'r' }, T).server!.id, 'idle');
  });

  it('ledger entries retire when the metrics show them', () => {
    const c = new Chooser(policy());
    c.setSnapshot(snapshotOf(fleet(1), T), T);
    for (let i = 0; i < 5; i++) c.allocate({ room: `r${i}` }, T + 10);
    assert.equal(c.ledger.size, 5);
    c.setSnapshot(snapshotOf(fleet(1, { sampleTimeMs: T + 500, participants: 0 }), T + 500), T + 500);
    assert.equal(c.ledger.size, 5, 'newer data, but the joins are not in it yet');
    c.setSnapshot(snapshotOf(fleet(1, { sampleTimeMs: T + 1010, participants: 5 }), T + 1010), T + 1010);
    assert.equal(c.ledger.size, 0);
  });

  it('blind mode: keeps answering from the last snapshot, flagged, up to the limit', () => {
    const c = new Chooser(policy({ blindMaxAgeMs: 60_000, excludeAfterMs: 10_000, penaltyAfterMs: 5000 }));
    c.setSnapshot(snapshotOf(fleet(3), T), T);
    c.setBlind(T + 1000, T + 30_000);
    const a = c.allocate({ room: 'r' }, T + 30_000);
    assert.ok(a.ok, 'not declared dead although the data is older than the staleness limit');
    assert.equal(a.blind, true);
    assert.equal(a.blindForMs, 29_000);
    c.rebuild(T + 70_000);
    const b = c.allocate({ room: 'r2' }, T + 70_000);
    assert.equal(b.ok, false);
    assert.match(b.message, /blind\.max-age/);
    c.setSnapshot(snapshotOf(fleet(3, { sampleTimeMs: T + 71_000 }), T + 71_000), T + 71_000);
    const d = c.allocate({ room: 'r3' }, T + 71_000);
    assert.ok(d.ok);
    assert.equal(d.blind, false);
  });

  it('a room whose server vanished moves to another', () => {
    const c = new Chooser(policy());
    c.setSnapshot(snapshotOf(fleet(2), T), T);
    const first = c.allocate({ room: 'r' }, T).server!.id;
    const rest = fleet(2).map((s) => (s.id === first ? { ...s, present: false } : s));
    c.setSnapshot(snapshotOf(rest, T + 1), T + 1);
    const a = c.allocate({ room: 'r' }, T + 1);
    assert.ok(a.ok);
    assert.notEqual(a.server!.id, first);
  });

  it('region: prefers the region, falls back when configured', () => {
    const c = new Chooser(policy());
    c.setSnapshot(
      snapshotOf([server('eu1', { sampleTimeMs: T }), server('us1', { sampleTimeMs: T, region: 'us' })], T),
      T,
    );
    assert.equal(c.allocate({ room: 'a', region: 'us' }, T).server!.id, 'us1');
    const b = c.allocate({ room: 'b', region: 'ap' }, T);
    assert.ok(b.ok);
    assert.match(b.reasons.join(' '), /all regions/);
    const strict = new Chooser(policy({ regionFallback: false }));
    strict.setSnapshot(snapshotOf([server('eu1', { sampleTimeMs: T })], T), T);
    assert.equal(strict.allocate({ room: 'c', region: 'ap' }, T).ok, false);
  });

  it('explains: candidates with scores and reasons', () => {
    const c = new Chooser(policy());
    c.setSnapshot(snapshotOf(fleet(5), T), T);
    const a = c.allocate({ room: 'r' }, T);
    assert.equal(a.candidates.length, 3);
    assert.ok(a.server!.reasons.some((r) => r.startsWith('participants')));
    assert.ok(!a.candidates.some((x) => x.id === a.server!.id));
  });
});

describe('Chooser young rooms', () => {
  it('counts the joins a new room is still expected to get against its server, and learns the room size', () => {
    const c = new Chooser(policy({ roomExpectedSize: 4, roomReserveWindowMs: 1000, spreadEpsilon: 0 }));
    c.setSnapshot(snapshotOf(fleet(2), T), T);
    const first = c.allocate({ room: 'r1' }, T).server!.id;
    const other = c.rows(T).find((r) => r.id !== first)!;
    const mine = c.rows(T).find((r) => r.id === first)!;
    assert.ok(mine.score < other.score - 0.02, 'the reservation (3 more expected) lowers the score');
    // A second room goes to the other server although both have one participant pending.
    assert.notEqual(c.allocate({ room: 'r2' }, T).server!.id, first);
    assert.equal(c.expectedRoomSize(), 4);
    // Rooms of 1 teach a smaller size once their window has passed.
    for (let i = 0; i < 40; i++) c.allocate({ room: `single-${i}` }, T + 10 + i);
    c.allocate({ room: 'later' }, T + 5000);
    assert.ok(c.expectedRoomSize() < 2, `learned ${c.expectedRoomSize()}`);
  });

  it('grades a snapshot in slices (assessInSlices) exactly as setSnapshot alone does, drains made meanwhile included', async () => {
    const servers = Array.from({ length: 1200 }, (_, i) =>
      server(`s${i}`, {
        sampleTimeMs: T - (i % 90) * 1000,
        participants: i % 95,
        cpu: i % 3 ? (i % 100) / 100 : undefined,
        loss: (i % 20) / 100,
        state: i % 50 ? 'serving' : 'shutting_down',
        targetUp: i % 70 !== 0,
        region: `r${i % 3}`,
      }),
    );
    const snap = snapshotOf(servers, T);
    const plain = new Chooser(policy(), { random: () => 0.5 });
    const sliced = new Chooser(policy(), { random: () => 0.5 });
    const prepared = await sliced.assessInSlices(snap, T, 0);
    assert.equal(prepared.length, servers.length);
    // Drained after the grading, before the swap: setSnapshot must grade it again.
    plain.setDrained('s1', true, T);
    sliced.setDrained('s1', true, T);
    plain.setSnapshot(snap, T);
    sliced.setSnapshot(snap, T, prepared);
    assert.deepEqual(sliced.rows(T), plain.rows(T));
    assert.equal(sliced.rows(T).find((r) => r.id === 's1')?.drained, true);
    for (let i = 0; i < 50; i++)
      assert.deepEqual(sliced.allocate({ room: `r${i}` }, T + i), plain.allocate({ room: `r${i}` }, T + i));
  });

  it('expires idle rooms in slices after a prepared swap', async () => {
    const c = new Chooser(policy({ roomTtlMs: 1000 }));
    const snap = snapshotOf(fleet(3), T);
    c.setSnapshot(snap, T);
    for (let i = 0; i < 10_000; i++) c.affinity.assign(`r${i}`, 's0', T + (i < 9000 ? 0 : 5000));
    c.setSnapshot(snap, T + 5500, await c.assessInSlices(snap, T + 5500));
    assert.equal(c.affinity.size, 10_000, 'a prepared swap leaves room expiry to expireRoomsInSlices');
    await c.expireRoomsInSlices(T + 5500, 0);
    assert.equal(c.affinity.size, 1000);
  });
});

/**
 * A fleet whose reported load follows the allocations late, as in production: a client joins its server
 * `lag` ms after its allocation, the server pushes its stats every `pushMs`, the dispatcher takes a
 * snapshot every `refreshMs` (Prometheus' scrape folded in).
 */
function laggingFleet(
  c: Chooser,
  servers: readonly ReturnType<typeof server>[],
  o: { lag: (k: number) => number; pushMs: number; refreshMs: number },
) {
  const joins = new Map<string, number[]>(servers.map((s) => [s.id, []])); // server → join times
  let nextRefresh = T;
  let k = 0;
  const refresh = (now: number) => {
    const pushed = now - (now % o.pushMs);
    c.setSnapshot(
      snapshotOf(
        servers.map((s) => {
          const seen = joins.get(s.id)!.filter((t) => t <= pushed).length;
          return { ...s, participants: s.participants + seen, sampleTimeMs: now, statsUpdatedMs: pushed };
        }),
        now,
      ),
      now,
    );
  };
  return {
    /** Allocates one join at `now` (taking the snapshots due before it); returns the server or undefined. */
    allocate(room: string, now: number): string | undefined {
      while (nextRefresh <= now) {
        refresh(nextRefresh);
        nextRefresh += o.refreshMs;
      }
      const a = c.allocate({ room }, now);
      if (!a.ok) return undefined;
      joins.get(a.server!.id)!.push(now + o.lag(k++));
      return a.server!.id;
    },
    /** Every allocation counted: what each server ends up with. */
    totals: () =>
      new Map([...joins].map(([id, t]) => [id, servers.find((s) => s.id === id)!.participants + t.length])),
  };
}

describe('Chooser keeps its promise when metrics lag', () => {
  const rand = (seed: number) => () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };

  it('a burst never sends a server past its high mark when load shows up 5-15 s late', () => {
    for (const seed of [1, 2, 3]) {
      const r = rand(seed);
      const c = new Chooser(
        policy({
          refreshIntervalMs: 5000,
          scrapeIntervalMs: 5000,
          reportIntervalMs: 2000,
        }),
        {
          random: r,
        },
      );
      const servers = fleet(10, { capacity: 100 }).map((s, i) => ({ ...s, participants: 10 + i * 3 }));
      const f = laggingFleet(c, servers, { lag: () => 5000 + r() * 10_000, pushMs: 2000, refreshMs: 5000 });
      let placed = 0;
      // 1,000 joins in 40 s: rooms of 1-6 and one room of 150.
      for (let i = 0; i < 1000; i++) {
        const room = i % 7 === 0 ? 'large' : `r${Math.floor(i / 4)}`;
        if (f.allocate(room, T + i * 40)) placed++;
      }
      for (const [id, n] of f.totals())
        assert.ok(n <= 90, `seed ${seed}: ${id} ends with ${n} participants (high mark 90)`);
      assert.ok(placed > 500, `seed ${seed}: only ${placed} joins placed`);
    }
  });

  it('counts a join once: a room does not spill early when the metrics already show its members', () => {
    const c = new Chooser(policy({ roomReserveWindowMs: 0 }));
    c.setSnapshot(snapshotOf(fleet(2, { capacity: 10 }), T), T);
    const first = c.allocate({ room: 'split' }, T).server!.id;
    for (let i = 1; i < 5; i++) assert.equal(c.allocate({ room: 'split' }, T + i).server!.id, first);
    // The five joined at once; the next snapshot, 1.5 s later, shows them.
    const shown = fleet(2, { capacity: 10 }).map((s) =>
      s.id === first
        ? { ...s, participants: 5, sampleTimeMs: T + 1500, statsUpdatedMs: T + 1200 }
        : { ...s, sampleTimeMs: T + 1500 },
    );
    c.setSnapshot(snapshotOf(shown, T + 1500), T + 1500);
    assert.equal(c.ledger.pending(first), 0, 'the five are in the metrics: none still pending');
    const next: string[] = [];
    for (let i = 0; i < 5; i++) next.push(c.allocate({ room: 'split' }, T + 1600 + i).server!.id);
    assert.deepEqual(next.slice(0, 4), Array(4).fill(first), 'four more fit under the high mark of 9');
    assert.notEqual(next[4], first, 'the tenth spills');
  });

  it('an entry the data never confirms counts until the bound derived from the intervals, not longer', () => {
    const p = policy({
      joinDelayMs: 10_000,
      reportIntervalMs: 5000,
      scrapeIntervalMs: 15_000,
      refreshIntervalMs: 15_000,
    });
    assert.equal(ledgerBoundMs(p), 60_000);
    assert.equal(ledgerBoundMs({ ...p, ledgerMaxAgeMs: 20_000 }), 20_000, 'ledger.max-age overrides it');
    const c = new Chooser(p);
    c.setSnapshot(snapshotOf(fleet(1), T), T);
    c.allocate({ room: 'never-joins' }, T);
    for (const at of [15_000, 30_000, 45_000, 59_999]) {
      c.setSnapshot(snapshotOf(fleet(1, { sampleTimeMs: T + at, statsUpdatedMs: T + at }), T + at), T + at);
      assert.equal(
        c.ledger.size,
        1,
        `still pending ${at} ms later: fresh data without a rise confirms nothing`,
      );
    }
    c.setSnapshot(snapshotOf(fleet(1, { sampleTimeMs: T + 60_000 }), T + 60_000), T + 60_000);
    assert.equal(c.ledger.size, 0);
  });

  it('never offers or allocates a server without a public address', () => {
    const c = new Chooser(policy());
    c.setSnapshot(
      snapshotOf(
        [
          server('no-eip', { sampleTimeMs: T, eip: '', port: 0 }),
          server('no-port', { sampleTimeMs: T, port: 0 }),
          server('ok', { sampleTimeMs: T, participants: 60 }),
        ],
        T,
      ),
      T,
    );
    for (let i = 0; i < 20; i++) assert.equal(c.allocate({ room: `r${i}` }, T + i).server?.id, 'ok');
    assert.deepEqual(
      c.admissible().map((s) => s.id),
      ['ok'],
    );
    const a = c.allocate({ room: 'x' }, T + 30);
    assert.deepEqual(
      a.excluded.filter((e) => e.reason === 'no_address').map((e) => e.id),
      ['no-eip', 'no-port'],
    );
  });

  it('a room larger than the room limit spills at the limit, and never past the high mark, with lagging metrics', () => {
    for (const [max, capacity, limit] of [
      [10, 100, 10],
      [30, 20, 18],
    ] as const) {
      const c = new Chooser(policy({ roomMaxPerServer: max, roomMaxServers: 10 }), { random: rand(5) });
      const f = laggingFleet(c, fleet(4, { capacity }), { lag: () => 8000, pushMs: 2000, refreshMs: 5000 });
      const seen: string[] = [];
      for (let i = 0; i < 3 * limit; i++) seen.push(f.allocate('big', T + i * 500)!);
      const per = new Map<string, number>();
      for (const id of seen) per.set(id, (per.get(id) ?? 0) + 1);
      assert.deepEqual(
        [...per.values()],
        [limit, limit, limit],
        `room.max-per-server ${max}, capacity ${capacity}`,
      );
      assert.deepEqual(
        seen.slice(0, limit),
        Array(limit).fill(seen[0]),
        'spills only once the limit is reached',
      );
    }
  });
});
