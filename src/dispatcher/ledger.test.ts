import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Affinity } from './affinity.ts';
import { Ledger } from './ledger.ts';

describe('Ledger', () => {
  it('counts pending assignments and expires them by sample time or age', () => {
    const l = new Ledger();
    for (const t of [100, 200, 300, 150]) l.add('a', t);
    l.add('b', 100);
    assert.equal(l.pending('a'), 4);
    assert.equal(l.size, 5);
    assert.equal(
      l.expire('a', 1120, 1000, 0, 1e9),
      1,
      'only the entry at 100 is covered by a sample at 1120',
    );
    assert.equal(l.expire('a', 1120, 1000, 1250, 1000), 2, 'entries at 150 and 200 are too old');
    assert.equal(l.pending('a'), 1);
    assert.equal(l.remove('a', 300), true);
    assert.equal(l.pending('a'), 0);
    l.retain((s) => s !== 'b');
    assert.equal(l.size, 0);
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
