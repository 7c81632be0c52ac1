import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import snappy from 'snappy';
import { TO_OBJECT, WriteRequest } from '../../test/support/prompb.ts';
import { createApp, type Reply } from '../lib/http.ts';
import { silentLogger } from '../lib/logger.ts';
import type { Batcher } from './batcher.ts';
import { createBudget } from './budget.ts';
import { SeriesCache } from './decode.ts';
import { ClickHouseError } from './errors.ts';
import { createAdapterMetrics } from './metrics.ts';
import { featuresFor } from './schema.ts';
import { snappyHeader } from './snappy.ts';
import type { WriteChunk } from './store.ts';
import { createWriteHandler } from './write.ts';

const body = (n = 3) =>
  snappy.compressSync(
    Buffer.from(
      WriteRequest.encode(
        WriteRequest.fromObject({
          timeseries: [
            {
              labels: [{ name: '__name__', value: 'up' }],
              samples: Array.from({ length: n }, (_, i) => ({ value: i, timestamp: i })),
            },
          ],
        }),
      ).finish(),
    ),
  );

function setup(o: { submit?: (c: WriteChunk) => Promise<void>; limit?: number; maxDecoded?: number } = {}) {
  const got: WriteChunk[] = [];
  const batcher: Batcher<WriteChunk> = {
    submit: o.submit ?? (async (c) => void got.push(c)),
    pending: 0,
    close: async () => {},
  };
  const budget = createBudget(o.limit ?? 1 << 20);
  const handler = createWriteHandler({
    batcher,
    budget,
    cache: new SeriesCache(1000),
    metrics: createAdapterMetrics(new Registry()),
    logger: silentLogger,
    maxDecodedBytes: o.maxDecoded ?? 1 << 20,
    retryAfterMs: 2000,
    seriesRefreshMs: 3_600_000,
    isMigrated: () => true,
  });
  const app = createApp([{ method: 'POST', path: '/write', handler }], silentLogger);
  const post = (
    b: Buffer,
    headers: Record<string, string> = { 'content-encoding': 'snappy' },
  ): Promise<Reply> =>
    app.handle({ method: 'POST', path: '/write', query: new URLSearchParams(), headers, body: b });
  return { got, budget, post };
}

describe('POST /write', () => {
  it('answers 204 once the batch is stored, and releases its memory', async () => {
    const s = setup();
    const r = await s.post(body());
    assert.equal(r.status, 204);
    assert.equal(s.got.length, 1);
    assert.equal(s.got[0]!.rows, 3);
    assert.equal(s.budget.used, 0);
  });

  it('answers 503 with Retry-After when ClickHouse fails, never 4xx', async () => {
    for (const err of [
      new ClickHouseError(252, 500, 'Too many parts'),
      new ClickHouseError(164, 500, 'readonly'),
      new ClickHouseError(62, 400, 'Syntax error'),
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    ]) {
      const s = setup({ submit: () => Promise.reject(err) });
      const r = await s.post(body());
      assert.equal(r.status, 503);
      assert.equal(r.headers?.['retry-after'], '2');
      assert.equal(s.budget.used, 0);
    }
  });

  it('answers 503 when the memory bound is reached', async () => {
    const s = setup({ limit: 10 });
    assert.ok(s.budget.tryAcquire(5));
    const r = await s.post(body());
    assert.equal(r.status, 503);
    assert.match(String(r.body), /memory_bound/);
  });

  it('answers 413 when the snappy header declares too much, before decompressing', async () => {
    const s = setup({ maxDecoded: 10 });
    const r = await s.post(body(100));
    assert.equal(r.status, 413);
    assert.equal(snappyHeader(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x08])).length, 2 ** 31);
  });

  it('answers 400 with a message for malformed bodies and 415 for other encodings', async () => {
    const s = setup();
    const bad = await s.post(Buffer.from('not snappy at all'));
    assert.equal(bad.status, 400);
    assert.match(String(bad.body), /snappy/);
    assert.equal((await s.post(body(), { 'content-encoding': 'gzip' })).status, 415);
    assert.equal((await s.post(Buffer.alloc(0))).status, 400);
  });

  it('decodes what protobufjs encodes (sanity of the fixture)', () => {
    const o = WriteRequest.toObject(WriteRequest.decode(snappy.uncompressSync(body(2)) as Buffer), TO_OBJECT);
    assert.equal((o as { timeseries: unknown[] }).timeseries.length, 1);
  });
});

describe('featuresFor', () => {
  it('uses LowCardinality through the experimental setting on 18.x only when the setting exists', () => {
    const s = new Set(['allow_experimental_low_cardinality_type']);
    assert.deepEqual(featuresFor('18.16.1', s), {
      version: '18.16.1',
      lowCardinality: true,
      lowCardinalitySetting: true,
      codecs: false,
    });
    assert.equal(featuresFor('18.10.3', new Set()).lowCardinality, false);
    assert.deepEqual(featuresFor('19.14.3.3', s), {
      version: '19.14.3.3',
      lowCardinality: true,
      lowCardinalitySetting: false,
      codecs: true,
    });
  });
});
