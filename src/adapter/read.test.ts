import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HttpError } from '../lib/errors.ts';
import { negotiateResponseType, planQuery, type ReadOptions } from './read.ts';

const opts: ReadOptions = {
  maxSeries: 10,
  maxSamples: 100,
  maxRangeMs: 3_600_000,
  maxConcurrent: 1,
  queueTimeoutMs: 50,
  stripLabels: ['replica'],
  maxFrameBytes: 1 << 20,
};

describe('negotiateResponseType', () => {
  it('takes the first type we serve in the client order; none listed means SAMPLES', () => {
    assert.equal(negotiateResponseType([]), 0);
    assert.equal(negotiateResponseType([1, 0]), 1);
    assert.equal(negotiateResponseType([7, 0]), 0);
    assert.throws(
      () => negotiateResponseType([7]),
      (e: HttpError) => e.status === 400,
    );
  });
});

describe('planQuery', () => {
  const q = (start: number, end: number, hints: { start_ms: number; end_ms: number } | null = null) => ({
    start_timestamp_ms: start,
    end_timestamp_ms: end,
    matchers: [
      { type: 0, name: '__name__', value: 'up' },
      { type: 0, name: 'replica', value: 'b' },
    ],
    hints: hints && { ...hints, func: '', step_ms: 0, range_ms: 0 },
  });
  it('narrows the range to the hints and drops matchers on stripped labels', () => {
    const p = planQuery(q(0, 1000, { start_ms: 100, end_ms: 900 }), 0, opts);
    assert.deepEqual([p.start, p.end], [100, 900]);
    assert.deepEqual(p.matchers, [{ type: 0, name: '__name__', value: 'up' }]);
    const wide = planQuery(q(100, 900, { start_ms: 0, end_ms: 5000 }), 0, opts);
    assert.deepEqual([wide.start, wide.end], [100, 900]);
    const none = planQuery(q(100, 900, { start_ms: 0, end_ms: 0 }), 0, opts);
    assert.deepEqual([none.start, none.end], [100, 900]);
    assert.equal(none.labelsOnly, false);
    const series = planQuery(
      { ...q(100, 900), hints: { start_ms: 100, end_ms: 900, func: 'series', step_ms: 0, range_ms: 0 } },
      0,
      opts,
    );
    assert.equal(series.labelsOnly, true);
  });
  it('names read.max-range when the query spans too long', () => {
    assert.throws(
      () => planQuery(q(0, 3_600_001), 2, opts),
      (e: HttpError) => e.status === 400 && /read\.max-range/.test(e.message) && /query 2/.test(e.message),
    );
  });
});
