import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JoinRequest, Placer, View } from './model.ts';
import { type Member, type Settings, settings, type Workload } from './workload.ts';
import { simulate } from './world.ts';

/** A placer that sends every join to `pick(req)` and keeps every view it is given. */
function recorder(pick: (req: JoinRequest) => number): Placer & { views: View[]; asked: JoinRequest[] } {
  const views: View[] = [];
  const asked: JoinRequest[] = [];
  return {
    name: 'recorder',
    views,
    asked,
    refresh: (v) => void views.push(v),
    choose: (req) => {
      asked.push(req);
      return pick(req);
    },
  };
}

const quiet: Settings = { ...settings, durationMs: 120_000, failAtMs: 1e12, drainAtMs: 1e12 };

function world(members: Member[], capacity = 10, residents: Workload['residents'] = []): Workload {
  return {
    scenario: 'test',
    servers: [
      { id: 's0', region: 'eu', capacity },
      { id: 's1', region: 'eu', capacity },
    ],
    residents,
    members,
    roomSizes: new Map(),
    failServer: 0,
    drainServer: 1,
  };
}

const join = (room: string, arriveMs: number, over: Partial<Member> = {}): Member => ({
  room,
  region: 'eu',
  path: 0,
  arriveMs,
  joinDelayMs: 500,
  leaveMs: 100_000,
  ...over,
});

test('a join shows in the metrics only after the client connected, the server pushed, Prometheus scraped and the dispatcher refreshed', () => {
  const p = recorder(() => 0);
  simulate(
    world([join('a', 1000)]),
    quiet,
    (_t, replica) => (replica ? recorder(() => 1) : p),
    () => recorder(() => 1),
    1,
  );
  const seen = p.views.find((v) => v.servers[0]!.participants === 1);
  assert.ok(seen, 'the join is seen at some refresh');
  const o = seen.servers[0]!;
  // The push that carried it came after the client connected (1,000 + 500 ms), the scrape after the
  // push, the refresh after the scrape; every earlier refresh still showed 0.
  assert.ok(o.statsUpdatedMs >= 1500, `pushed at ${o.statsUpdatedMs}`);
  assert.ok(o.sampleTimeMs >= o.statsUpdatedMs && seen.atMs >= o.sampleTimeMs);
  assert.ok(seen.atMs - 1000 > quiet.pushMs, `seen ${seen.atMs - 1000} ms after the allocation`);
  for (const v of p.views) if (v.atMs < seen.atMs) assert.equal(v.servers[0]!.participants, 0);
});

test('a join past a server’s true capacity is an overload event; a refused join is a rejected join', () => {
  const members = [join('a', 1000), join('b', 2000), join('c', 3000), join('d', 4000)];
  let k = 0;
  const r = simulate(
    world(members, 2),
    quiet,
    (_t, replica) => recorder(() => (replica ? 1 : k++ < 3 ? 0 : -1)),
    () => recorder(() => 1),
    1,
  );
  assert.equal(r.joins, 4);
  assert.equal(r.overloads, 1, 'the third join on a server of capacity 2');
  assert.equal(r.ownOverloads, 1);
  assert.equal(r.rejected, 1);
  assert.equal(r.connected, 3);
});

test('legacy joins count as overloads of the fleet but not as the chooser’s own or its rejections', () => {
  const members = [join('a', 1000, { path: 2 }), join('b', 2000, { path: 2 }), join('c', 3000, { path: 2 })];
  const r = simulate(
    world(members, 2),
    quiet,
    () => recorder(() => -1),
    () => recorder(() => 0),
    1,
  );
  assert.equal(r.overloads, 1);
  assert.equal(r.ownOverloads, 0);
  assert.equal(r.rejected, 0);
});

test('clients of a failed server join again; joins sent to it before the metrics show the failure time out and ask again', () => {
  const s: Settings = { ...quiet, failAtMs: 30_000 };
  const members = [join('a', 1000), join('a', 40_000)];
  const p = recorder(() => 0);
  const r = simulate(
    world(members),
    s,
    (_t, replica) => (replica ? recorder(() => 1) : p),
    () => recorder(() => 1),
    1,
  );
  // Member 1 at 30 s (on the failed server), member 2 at 40 s sent there again, and both keep being sent
  // there until a refresh shows the failed scrape.
  assert.ok(r.moved >= 2, `moved ${r.moved}`);
  assert.ok(r.sentToFailed >= 1);
  const down = p.views.find((v) => !v.servers[0]!.up);
  assert.ok(down && down.atMs > 30_000, 'the failure reaches the chooser through a failed scrape');
  assert.equal(r.connected, 1, 'nobody ever connects to a dead server');
});

test('a drained server reports draining from its next push on; its clients stay', () => {
  const s: Settings = { ...quiet, drainAtMs: 20_000 };
  const p = recorder(() => 1);
  const r = simulate(
    world([join('a', 1000)]),
    s,
    (_t, replica) => (replica ? recorder(() => 0) : p),
    () => recorder(() => 0),
    1,
  );
  const first = p.views.find((v) => v.servers[1]!.state === 'draining');
  assert.ok(first && first.atMs > 20_000 && first.servers[1]!.statsUpdatedMs >= 20_000);
  assert.ok(p.views.at(-1)!.servers[1]!.participants === 1);
  assert.equal(r.overloads, 0);
});

test('the same workload and seed give the same result', () => {
  const members = Array.from({ length: 200 }, (_, i) =>
    join(`r${i % 50}`, 500 * i, { leaveMs: 500 * i + 20_000 }),
  );
  const run = () =>
    simulate(
      world(members, 60),
      quiet,
      () => recorder((req) => Number(req.room.slice(1)) % 2),
      () => recorder(() => 0),
      7,
    );
  assert.deepEqual(run(), run());
});
