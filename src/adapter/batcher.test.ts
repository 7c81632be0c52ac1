import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBatcher } from './batcher.ts';

interface Item {
  rows: number;
  id: number;
}

describe('createBatcher', () => {
  it('sends at once when idle; items arriving meanwhile share the next flush', async () => {
    const flushed: number[][] = [];
    const b = createBatcher<Item>({
      flush: async (items) => {
        flushed.push(items.map((i) => i.id));
      },
      maxRows: 1000,
      maxDelayMs: 20,
      maxConcurrent: 1,
    });
    await Promise.all([1, 2, 3].map((id) => b.submit({ rows: 10, id })));
    assert.deepEqual(flushed, [[1], [2, 3]]);
  });

  it('sends a full batch at once and splits at maxRows', async () => {
    const flushed: number[][] = [];
    const b = createBatcher<Item>({
      flush: async (items) => {
        flushed.push(items.map((i) => i.id));
      },
      maxRows: 20,
      // Item 4 waits this long for the three other writers the batcher has seen (they never come back).
      maxDelayMs: 50,
      maxConcurrent: 4,
    });
    await Promise.all([1, 2, 3, 4].map((id) => b.submit({ rows: 10, id })));
    assert.deepEqual(flushed, [[1], [2, 3], [4]]);
  });

  it('rejects every item of a failed batch and only those', async () => {
    let n = 0;
    const b = createBatcher<Item>({
      flush: async () => {
        n++;
        if (n === 1) throw new Error('boom');
      },
      maxRows: 10,
      maxDelayMs: 1,
      maxConcurrent: 1,
    });
    const r = await Promise.allSettled([b.submit({ rows: 10, id: 1 }), b.submit({ rows: 10, id: 2 })]);
    assert.deepEqual(
      r.map((x) => x.status),
      ['rejected', 'fulfilled'],
    );
  });

  it('keeps at most maxConcurrent flushes in flight; waiting items join the next batch', async () => {
    let active = 0;
    let peak = 0;
    const sizes: number[] = [];
    const b = createBatcher<Item>({
      flush: async (items) => {
        active++;
        peak = Math.max(peak, active);
        sizes.push(items.length);
        await sleep(30);
        active--;
      },
      maxRows: 1_000_000,
      maxDelayMs: 0,
      maxConcurrent: 1,
    });
    const all: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      all.push(b.submit({ rows: 1, id: i }));
      await sleep(5);
    }
    await Promise.all(all);
    assert.equal(peak, 1);
    assert.ok(sizes.length < 20, `expected grouping, got ${sizes.join(',')}`);
  });

  it('with steady writers, one insert takes every writer; a writer that leaves costs maxDelay, then is forgotten', async () => {
    const sizes: number[] = [];
    let clock = 0;
    const b = createBatcher<Item>({
      flush: async (items) => {
        sizes.push(items.length);
        await sleep(3);
      },
      maxRows: 1_000_000,
      maxDelayMs: 40,
      maxConcurrent: 2,
      now: () => clock + performance.now(),
    });
    // Like Prometheus' shards: each writer sends its next request once the previous one is answered, after a
    // different think time.
    const writer = async (id: number, requests: number) => {
      for (let i = 0; i < requests; i++) {
        await sleep(id % 3);
        await b.submit({ rows: 2000, id });
      }
    };
    await Promise.all([0, 1, 2, 3, 4, 5].map((id) => writer(id, 30)));
    // The first batch learns how many writers there are; then every insert holds all six (the last one
    // lacks the writer whose first request went alone).
    assert.deepEqual(sizes.slice(-20, -1), Array(19).fill(6), sizes.join(','));

    // Two writers stop: the next batches wait maxDelay for them, then the count forgets them.
    sizes.length = 0;
    const t0 = performance.now();
    await Promise.all([0, 1, 2, 3].map((id) => writer(id, 3)));
    assert.ok(performance.now() - t0 >= 40, 'the first batch waited for the missing writers');
    clock += 2_500;
    const t1 = performance.now();
    await Promise.all([0, 1, 2, 3].map((id) => writer(id, 10)));
    // (The first request after the pause finds no count and goes alone, as a lone writer's would.)
    assert.deepEqual(sizes.slice(-6, -1), Array(5).fill(4), sizes.join(','));
    assert.ok(performance.now() - t1 < 10 * 40, 'no batch waited maxDelay once the count had forgotten them');
  });

  it('with many writers, a batch of minRows leaves without waiting for all, beside a running insert', async () => {
    const sizes: number[] = [];
    let active = 0;
    let overlapped = false;
    const b = createBatcher<Item>({
      flush: async (items) => {
        sizes.push(items.length);
        active++;
        if (active > 1) overlapped = true;
        await sleep(5);
        active--;
      },
      maxRows: 1_000_000,
      minRows: 8_000,
      maxDelayMs: 200,
      maxConcurrent: 2,
    });
    const writer = async (id: number) => {
      for (let i = 0; i < 10; i++) {
        await sleep(id % 4);
        await b.submit({ rows: 2000, id });
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, id) => writer(id)));
    // Batches left at 4 requests (8,000 rows), more when both slots were busy, never waiting for all 16
    // (the last may be a remainder that waited maxDelay).
    assert.ok(
      sizes.slice(1, -1).every((n) => n >= 4 && n < 16),
      sizes.join(','),
    );
    assert.ok(overlapped, 'a full batch went beside a running insert');
  });

  it('a lone writer is never held', async () => {
    const b = createBatcher<Item>({
      flush: async () => {},
      maxRows: 1_000_000,
      maxDelayMs: 60_000,
      maxConcurrent: 1,
    });
    for (let i = 0; i < 5; i++) await b.submit({ rows: 1, id: i });
  });

  it('close flushes what waits and refuses new items with 503', async () => {
    const flushed: number[] = [];
    const b = createBatcher<Item>({
      flush: async (items) => {
        flushed.push(...items.map((i) => i.id));
      },
      maxRows: 1000,
      maxDelayMs: 60_000,
      maxConcurrent: 1,
    });
    const p = b.submit({ rows: 1, id: 7 });
    await b.close();
    await p;
    assert.deepEqual(flushed, [7]);
    await assert.rejects(b.submit({ rows: 1, id: 8 }), (e: Error & { status?: number }) => e.status === 503);
  });
});
