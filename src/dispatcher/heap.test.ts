import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IndexedMaxHeap } from './heap.ts';

describe('IndexedMaxHeap', () => {
  it('best() returns the top keys in order after any updates and removals', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.array(fc.tuple(fc.nat(), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()), {
          maxLength: 100,
        }),
        fc.integer({ min: 1, max: 20 }),
        (keys, ops, k) => {
          const n = keys.length;
          const key = new Float64Array(keys);
          const h = new IndexedMaxHeap(key, n);
          for (let i = 0; i < n; i++) h.pushRaw(i);
          h.heapify();
          const alive = new Set(Array.from({ length: n }, (_, i) => i));
          for (const [i0, v, rm] of ops) {
            const i = i0 % n;
            if (rm) {
              h.remove(i);
              alive.delete(i);
            } else {
              key[i] = v;
              h.update(i);
            }
          }
          const want = [...alive]
            .map((i) => key[i]!)
            .sort((a, b) => b - a)
            .slice(0, k);
          const got = h.best(k, Number.POSITIVE_INFINITY, k, undefined, []).map((i) => key[i]!);
          assert.deepEqual(got, want);
          assert.equal(h.size, alive.size);
        },
      ),
      { numRuns: 300 },
    );
  });
});
