import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Affinity } from './affinity.ts';
import { Ledger } from './ledger.ts';

describe('Ledger', () => {
  const seen = (participants: number, updatedMs: number, joinAttempts?: number) => ({
    participants,
    updatedMs,
    joinAttempts,
  });

  it('retires entries by the rise the data shows, oldest first, only those made before the stats', () => {
    const l = new Ledger();
    assert.equal(l.reconcile('a', seen(10, 50)), 0, 'the first observation only sets the baseline');
    for (const t of [100, 200, 300, 150]) l.add('a', t);
    l.add('b', 100);
    assert.equal(l.pending('a'), 4);
    assert.equal(l.size, 5);
    assert.equal(l.reconcile('a', seen(10, 5000)), 0, 'much newer stats, but no rise: nothing confirmed');
    assert.equal(l.reconcile('a', seen(12, 5000)), 0, 'stats no newer than the last: the same data again');
    assert.equal(l.reconcile('a', seen(12, 180)), 0, 'older stats are ignored');
    assert.equal(l.reconcile('a', seen(12, 6000)), 2, 'a rise of 2 confirms two entries');
    assert.equal(l.pending('a'), 2);
    assert.equal(l.reconcile('a', seen(20, 250)), 0, 'stats older than the last seen');
    assert.equal(l.reconcile('a', seen(20, 7000)), 2, 'a rise of 8 confirms only the two left');
    assert.equal(l.pending('a'), 0);
    l.retain((s) => s !== 'b');
    assert.equal(l.size, 0);
  });

  it('does not confirm an entry with stats updated before it was made', () => {
    const l = new Ledger();
    l.reconcile('a', seen(0, 0));
    l.add('a', 1000);
    l.add('a', 3000);
    assert.equal(l.reconcile('a', seen(2, 2000)), 1, 'only the entry at 1000 can be in stats of 2000');
    assert.equal(l.pending('a'), 1);
  });

  it('counts join attempts, which departures do not hide', () => {
    const l = new Ledger();
    l.reconcile('a', seen(5, 0, 100));
    for (const t of [10, 20, 30]) l.add('a', t);
    // Three joined and three others left: participants flat, attempts +3.
    assert.equal(l.reconcile('a', seen(5, 1000, 103)), 3);
    assert.equal(l.pending('a'), 0);
    l.add('a', 1500);
    // A counter reset (the server restarted) is no rise.
    assert.equal(l.reconcile('a', seen(5, 2000, 2)), 0);
    assert.equal(l.pending('a'), 1);
  });

  it('expires an unconfirmed entry at its maximum age, not before', () => {
    const l = new Ledger();
    l.add('a', 100);
    l.add('a', 200);
    assert.equal(l.expire('a', 1099, 1000), 0);
    assert.equal(l.expire('a', 1100, 1000), 1);
    assert.equal(l.remove('a', 200), true);
    assert.equal(l.pending('a'), 0);
  });
});

describe('Affinity', () => {
  it('tracks servers and counts per room, forgets idle rooms', () => {
    const a = new Affinity(1000);
    assert.equal(a.assign('r', 's1', 0), 0);
    assert.equal(a.assign('r', 's1', 10), 0);
    assert.equal(a.assign('r', 's2', 20), 1);
    assert.deepEqual(a.get('r', 30)?.counts, [2, 1]);
    a.drop('r', 's1');
    assert.deepEqual(a.get('r', 30)?.servers, ['s2']);
    a.place('r', 's3', 40);
    assert.deepEqual(a.get('r', 40)?.counts, [1, 0]);
    assert.equal(a.get('r', 2000), undefined);
    a.assign('q', 's1', 0);
    assert.equal(a.expire(5000), 1);
    assert.equal(a.size, 0);
  });
});
