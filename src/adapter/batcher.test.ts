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
      maxDelayMs: 60_000,
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
