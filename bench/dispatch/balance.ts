/**
 * bench/dispatch part 1: balance under delayed metrics, in-process.
 *
 * 100 simulated servers (capacity 50, high mark 90%), metrics scraped every 15 s, so every chooser sees
 * a snapshot up to 15 s old. Scenarios: a burst of 1,000 joins in 10 s over many small rooms; one room
 * of 92 joins in 31 s (Jicofo's incident); both at once. Choosers, in the same run on the same joins:
 * - rtcmon: the dispatcher's Chooser (ledger, room affinity with spill, hysteresis, random spread);
 * - least-loaded: the least loaded server of the stale snapshot, the room stays on its server;
 * - two-choices: LiveKit-style, two random servers, the less loaded of the stale snapshot, room stays.
 * Prints max/mean load, overload events (a join that takes a server past its high mark or capacity),
 * refused joins and p50/p99 decision time. Reference rows (not baselines: they know what no dispatcher
 * knows) bound what is reachable: a greedy chooser on live loads, the same knowing every room's final
 * size at its first join (clairvoyant), and an offline packing of all rooms known in advance.
 * Run: node --import tsx bench/dispatch/balance.ts [--seed=N] [--set=policyField=number …]
 */
import { Chooser } from '../../src/dispatcher/chooser.ts';
import { defaultPolicy } from '../../src/dispatcher/config.ts';
import { server, snapshotOf } from '../../src/dispatcher/fixtures.ts';

const SERVERS = 100;
const CAPACITY = 50;
const HIGH = defaultPolicy.highMark;
const SCRAPE_MS = 15_000;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

interface Join {
  t: number;
  room: string;
}

interface Scenario {
  name: string;
  joins: Join[];
  manyRooms: boolean;
}

function scenarios(random: () => number): Scenario[] {
  /** 1,000 joins in 10 s over rooms of 1..maxSize; a room's members arrive within `arrivalMs` of its first. */
  const burst = (prefix: string, maxSize: number, arrivalMs: number): Join[] => {
    const out: Join[] = [];
    let r = 0;
    while (out.length < 1000) {
      const size = Math.min(1 + Math.floor(random() * maxSize), 1000 - out.length);
      const start = random() * 9000;
      for (let i = 0; i < size; i++)
        out.push({
          t: i === 0 ? start : Math.min(9999, start + random() * arrivalMs),
          room: `${prefix}${r}`,
        });
      r++;
    }
    return out;
  };
  const big = (): Join[] =>
    Array.from({ length: 92 }, (_, i) => ({ t: (i * 31_000) / 91, room: 'big-room' }));
  const sort = (j: Join[]) => j.sort((a, b) => a.t - b.t);
  return [
    {
      name: '1,000 joins in 10 s, 1:1 calls (rooms of 1-2)',
      joins: sort(burst('p', 2, 3000)),
      manyRooms: true,
    },
    {
      name: '1,000 joins in 10 s, rooms of 1-6, members within 3 s',
      joins: sort(burst('b', 6, 3000)),
      manyRooms: true,
    },
    {
      name: '1,000 joins in 10 s, rooms of 1-6, members spread over the burst',
      joins: sort(burst('s', 6, 10_000)),
      manyRooms: true,
    },
    { name: 'one room, 92 joins in 31 s', joins: sort(big()), manyRooms: false },
    {
      name: 'both at once (rooms of 1-6 + the 92-join room)',
      joins: sort([...burst('m', 6, 3000), ...big()]),
      manyRooms: false,
    },
  ];
}

/** A chooser of the bench: the snapshot it may see, and a decision per join. */
interface Policy {
  name: string;
  scrape(loads: readonly number[], atMs: number): void;
  choose(room: string, atMs: number): number; // server index, -1 = refused
}

/** `--set=spreadEpsilon=0.02` etc.: try other policy values (numbers only) without editing the code. */
const overrides: Record<string, number> = Object.fromEntries(
  process.argv
    .filter((a) => a.startsWith('--set='))
    .map((a) => {
      const [k, v] = a.slice(6).split('=');
      return [k!, Number(v)];
    }),
);
const benchPolicy = { ...defaultPolicy, ...overrides };

function rtcmonPolicy(random: () => number, t0: number): Policy {
  const chooser = new Chooser(benchPolicy, { random });
  const ids = Array.from({ length: SERVERS }, (_, i) => `s${i}`);
  const index = new Map(ids.map((id, i) => [id, i]));
  return {
    name: 'rtcmon',
    scrape(loads, at) {
      const servers = loads.map((p, i) =>
        server(ids[i]!, {
          host: `h${i}`,
          eip: `10.0.${i >> 8}.${i & 255}`,
          region: '',
          zone: '',
          version: '',
          instance: `h${i}:9464`,
          capacity: CAPACITY,
          participants: p,
          sampleTimeMs: t0 + at,
          lastSeenMs: t0 + at,
        }),
      );
      const snap = snapshotOf(servers, t0 + at);
      chooser.setSnapshot(snap, t0 + at);
    },
    choose(room, at) {
      const a = chooser.allocate({ room }, t0 + at);
      return a.ok ? index.get(a.server!.id)! : -1;
    },
  };
}

function stalePolicy(name: string, pick: (stale: readonly number[]) => number): Policy {
  let stale: number[] = [];
  const rooms = new Map<string, number>();
  return {
    name,
    scrape(loads) {
      stale = [...loads];
    },
    choose(room) {
      const r = rooms.get(room);
      if (r !== undefined) return r;
      const s = pick(stale);
      rooms.set(room, s);
      return s;
    },
  };
}

const leastLoaded = () =>
  stalePolicy('least-loaded (stale)', (stale) => {
    let best = 0;
    for (let i = 1; i < stale.length; i++) if (stale[i]! < stale[best]!) best = i;
    return best;
  });

const twoChoices = (random: () => number) =>
  stalePolicy('two-choices (LiveKit-style)', (stale) => {
    const a = Math.floor(random() * stale.length);
    let b = Math.floor(random() * (stale.length - 1));
    if (b >= a) b++;
    return stale[b]! < stale[a]! ? b : a;
  });

/**
 * References, not baselines: choosers that know what no dispatcher can know, to bound what is reachable.
 * - fresh greedy: the true current load of every server (no scrape delay), room sizes unknown;
 * - clairvoyant: the true current load and every room's final size when its first member arrives; picks
 *   the server with the least projected load (current + the members still to come of its rooms).
 * Both keep a room on one server while it fits under the high mark, else spill to the next best.
 */
function referencePolicy(name: string, sizes: ReadonlyMap<string, number> | undefined): Policy {
  let live: readonly number[] = [];
  const rooms = new Map<string, number>();
  const joined = new Map<string, number>();
  const outstanding = new Float64Array(SERVERS);
  const fits = (i: number) => live[i]! + 1 <= HIGH * CAPACITY + 1e-9;
  return {
    name,
    scrape(loads) {
      live = loads; // the bench's live array: this reference sees every join at once
    },
    choose(room) {
      const n = (joined.get(room) ?? 0) + 1;
      joined.set(room, n);
      let r = rooms.get(room);
      if (r !== undefined && fits(r)) {
        if (sizes) outstanding[r]!--;
        return r;
      }
      let best = -1;
      for (let i = 0; i < SERVERS; i++)
        if (fits(i) && (best < 0 || live[i]! + outstanding[i]! < live[best]! + outstanding[best]!)) best = i;
      if (best < 0) return -1;
      if (sizes) {
        if (r !== undefined) outstanding[r]! -= (sizes.get(room) ?? n) - n + 1; // spilled: the rest moves
        outstanding[best]! += (sizes.get(room) ?? n) - n;
      }
      r = best;
      rooms.set(room, r);
      return r;
    },
  };
}

/** Offline optimum (near): every room known in advance, largest first onto the least loaded server (LPT). */
function offlinePacking(s: Scenario, initial: readonly number[]): number {
  const sizes = new Map<string, number>();
  for (const j of s.joins) sizes.set(j.room, (sizes.get(j.room) ?? 0) + 1);
  const loads = [...initial];
  const cap = HIGH * CAPACITY;
  for (const size of [...sizes.values()].sort((a, b) => b - a)) {
    let left = size;
    while (left > 0) {
      let best = 0;
      for (let i = 1; i < SERVERS; i++) if (loads[i]! < loads[best]!) best = i;
      const take = Math.min(left, Math.max(1, Math.floor(cap - loads[best]!)));
      loads[best]! += take;
      left -= take;
    }
  }
  const mean = loads.reduce((a, b) => a + b, 0) / SERVERS;
  return Math.max(...loads) / mean;
}

interface Result {
  policy: string;
  maxOverMean: number;
  maxLoad: number;
  overloads: number;
  rejected: number;
  refused: number;
  p50us: number;
  p99us: number;
  serversOfBigRoom: number;
}

function run(
  s: Scenario,
  policy: Policy,
  initial: readonly number[],
  roomsOf: Map<string, Set<number>>,
): Result {
  const loads = [...initial];
  const times: number[] = [];
  let overloads = 0;
  let rejected = 0;
  let refused = 0;
  // First scrape 2 s before the burst starts: the snapshot is 2 to 17 s old during the run.
  let nextScrape = -2000;
  for (const j of s.joins) {
    while (nextScrape <= j.t) {
      policy.scrape(loads, nextScrape);
      nextScrape += SCRAPE_MS;
    }
    const t0 = process.hrtime.bigint();
    const i = policy.choose(j.room, j.t);
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
    if (i < 0) {
      refused++;
      continue;
    }
    if (loads[i]! + 1 > HIGH * CAPACITY + 1e-9) overloads++;
    if (loads[i]! + 1 > CAPACITY) {
      rejected++;
      continue;
    }
    loads[i]!++;
    let set = roomsOf.get(j.room);
    if (!set) {
      set = new Set();
      roomsOf.set(j.room, set);
    }
    set.add(i);
  }
  times.sort((a, b) => a - b);
  const mean = loads.reduce((a, b) => a + b, 0) / loads.length;
  const max = Math.max(...loads);
  return {
    policy: policy.name,
    maxOverMean: max / mean,
    maxLoad: max,
    overloads,
    rejected,
    refused,
    p50us: times[Math.floor(times.length * 0.5)] ?? 0,
    p99us: times[Math.floor(times.length * 0.99)] ?? 0,
    serversOfBigRoom: roomsOf.get('big-room')?.size ?? 0,
  };
}

const seedArg = process.argv.find((a) => a.startsWith('--seed='));
const seed = seedArg ? Number(seedArg.slice(7)) : 42;
const random = rng(seed);
const initial = Array.from({ length: SERVERS }, () => Math.floor(random() * 11));
const initialMean = initial.reduce((a, b) => a + b, 0) / SERVERS;
console.log(
  `bench/dispatch balance: ${SERVERS} servers × capacity ${CAPACITY} (high mark ${HIGH * CAPACITY}), scrape every ${SCRAPE_MS / 1000} s, initial load 0-10 (max/mean ${(Math.max(...initial) / initialMean).toFixed(2)}), seed ${seed}`,
);
for (const s of scenarios(random)) {
  console.log(`\n## ${s.name} (${s.joins.length} joins)`);
  console.log(
    'chooser                        max/mean  max load  overload events  rejected  refused  big room on  p50 decision  p99 decision',
  );
  const results: Result[] = [];
  // Warm-up pass (JIT), not reported.
  for (const make of [
    () => rtcmonPolicy(rng(seed + 1), 1_700_000_000_000),
    leastLoaded,
    () => twoChoices(rng(seed + 2)),
  ])
    run(s, make(), initial, new Map());
  for (const make of [
    () => rtcmonPolicy(rng(seed + 1), 1_700_000_000_000),
    leastLoaded,
    () => twoChoices(rng(seed + 2)),
  ]) {
    results.push(run(s, make(), initial, new Map()));
  }
  for (const r of results)
    console.log(
      `${r.policy.padEnd(30)} ${r.maxOverMean.toFixed(2).padStart(8)}  ${String(r.maxLoad).padStart(8)}  ${String(r.overloads).padStart(15)}  ${String(r.rejected).padStart(8)}  ${String(r.refused).padStart(7)}  ${String(r.serversOfBigRoom || '-').padStart(11)}  ${`${r.p50us.toFixed(1)} µs`.padStart(12)}  ${`${r.p99us.toFixed(1)} µs`.padStart(12)}`,
    );
  const sizes = new Map<string, number>();
  for (const j of s.joins) sizes.set(j.room, (sizes.get(j.room) ?? 0) + 1);
  const refs = [
    run(s, referencePolicy('ref: fresh greedy', undefined), initial, new Map()),
    run(s, referencePolicy('ref: clairvoyant', sizes), initial, new Map()),
  ];
  for (const r of refs)
    console.log(
      `${r.policy.padEnd(30)} ${r.maxOverMean.toFixed(2).padStart(8)}  ${String(r.maxLoad).padStart(8)}  ${String(r.overloads).padStart(15)}  ${String(r.rejected).padStart(8)}  ${String(r.refused).padStart(7)}  ${String(r.serversOfBigRoom || '-').padStart(11)}`,
    );
  console.log(
    `${'ref: offline packing (LPT)'.padEnd(30)} ${offlinePacking(s, initial).toFixed(2).padStart(8)}`,
  );
  const [me, ...peers] = results;
  for (const p of peers)
    console.log(
      `  rtcmon vs ${p.policy}: max/mean ${(me!.maxOverMean / p.maxOverMean).toFixed(2)}×, overload events ${me!.overloads} vs ${p.overloads}`,
    );
}
