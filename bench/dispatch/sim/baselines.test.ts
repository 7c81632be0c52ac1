import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clairvoyant, jicofo, leastLoaded, legacyPath, livekit } from './baselines.ts';
import type { Observed, Truth, View } from './model.ts';
import { rng } from './rng.ts';

const marks = { high: 0.9 };
const obs = (id: string, participants: number, over: Partial<Observed> = {}): Observed => ({
  id,
  region: 'eu',
  capacity: 100,
  participants,
  joinAttempts: 0,
  state: 'serving',
  up: true,
  sampleTimeMs: 0,
  statsUpdatedMs: 0,
  ...over,
});
const view = (...servers: Observed[]): View => ({ atMs: 0, servers });
const req = (room: string, nowMs = 1000, region = 'eu') => ({ room, region, nowMs });

test('Jicofo: least stressed bridge; its own recent placements count against a bridge until the ramp-up interval ends', () => {
  const j = jicofo(marks);
  j.refresh(view(obs('a', 10), obs('b', 12)));
  assert.deepEqual(
    [j.choose(req('r1')), j.choose(req('r2')), j.choose(req('r3')), j.choose(req('r4')), j.choose(req('r5'))],
    [0, 0, 0, 1, 0],
  );
  // 20 s later the placements no longer correct the stress: back to the reported 10 vs 12.
  assert.equal(j.choose(req('r6', 22_000)), 0);
  assert.equal(j.choose(req('r7', 22_000)), 0);
  assert.equal(j.choose(req('r8', 22_000)), 0);
});

test('Jicofo: a conference stays on its bridge while it is not overloaded, region first, and never refuses', () => {
  const j = jicofo(marks);
  j.refresh(view(obs('a', 10), obs('b', 50), obs('c', 5, { region: 'us' })));
  assert.equal(j.choose(req('r1')), 0);
  j.refresh(view(obs('a', 88), obs('b', 50), obs('c', 5, { region: 'us' })));
  assert.equal(j.choose(req('r1')), 0, 'stress 0.88 + 0.01 for its recent placement: under the threshold');
  assert.equal(j.choose(req('r1')), 1, 'now 0.88 + 0.02: overloaded, the region’s next bridge');
  j.refresh(view(obs('a', 95), obs('b', 95), obs('c', 95, { region: 'us' })));
  assert.ok(j.choose(req('r2')) >= 0, 'all overloaded: the least loaded one anyway');
  j.refresh(view(obs('a', 10, { state: 'draining' }), obs('b', 50)));
  assert.equal(j.choose(req('r3')), 1, 'a draining bridge is left out');
});

test('LiveKit: a room stays on its node and is denied once the node reached its limit; a new room takes the lower of two random nodes', () => {
  const l = livekit(marks, rng(3));
  l.refresh(view(obs('a', 10), obs('b', 60)));
  const first = l.choose(req('r1'));
  assert.equal(first, 0, 'two nodes: the lower');
  l.refresh(view(obs('a', 90), obs('b', 60)));
  assert.equal(l.choose(req('r1')), -1, 'the room’s node is at its limit: denied, no spill');
  assert.equal(l.choose(req('r2')), 1, 'a node over the sysload limit is filtered out');
  const many = view(...Array.from({ length: 10 }, (_, i) => obs(`n${i}`, i * 5)));
  const counts = new Array(10).fill(0);
  for (let k = 0; k < 2000; k++) {
    const x = livekit(marks, rng(k + 1));
    x.refresh(many);
    counts[x.choose(req('r'))]++;
  }
  // Two random choices, not the lowest: the least loaded node gets about 2/10 - 1/100 of new rooms.
  assert.ok(counts[0] > 250 && counts[0] < 500, `least loaded node chosen ${counts[0]} of 2000`);
  assert.equal(counts[9], 0, 'the most loaded node loses every draw');
});

test('least-loaded with local accounting: its own placements count until the next refresh; refuses past the high mark', () => {
  const x = leastLoaded(marks);
  x.refresh(view(obs('a', 10, { capacity: 20 }), obs('b', 10, { capacity: 20 })));
  const picks = [x.choose(req('r1')), x.choose(req('r2')), x.choose(req('r3')), x.choose(req('r4'))];
  assert.deepEqual(picks.sort(), [0, 0, 1, 1]);
  for (let k = 0; k < 12; k++) assert.ok(x.choose(req(`q${k}`)) >= 0);
  assert.equal(x.choose(req('last')), -1, 'both at 18 of 20 (high mark 0.9)');
});

test('clairvoyant: reads the live truth and a room’s final size; a room of 8 goes where it fits whole', () => {
  const assigned = [0, 5];
  const truth: Truth = {
    assigned: (i) => assigned[i]!,
    alive: () => true,
    draining: () => false,
    roomSize: (room) => (room === 'big' ? 8 : 1),
  };
  const c = clairvoyant(marks, truth, [
    { capacity: 10, region: 'eu' },
    { capacity: 100, region: 'eu' },
  ]);
  assert.equal(c.choose(req('big')), 1, 'projected 8/10 vs 12/100');
  assigned[1]!++;
  assert.equal(c.choose(req('small')), 0);
});

test('legacy path: a random serving server per room, the same for its later members', () => {
  const g = legacyPath(rng(1));
  g.refresh(view(obs('a', 0), obs('b', 0, { state: 'draining' }), obs('c', 0, { up: false })));
  for (let k = 0; k < 20; k++) assert.equal(g.choose(req(`r${k}`)), 0);
});
