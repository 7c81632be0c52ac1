import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import snappy from 'snappy';
import { createClickHouseClient } from '../../src/adapter/clickhouse.ts';
import { InvalidMatcherError, type Matcher, matchesLabels } from '../../src/adapter/matchers.ts';
import { createReadMetrics } from '../../src/adapter/metrics.ts';
import { createReadHandler, type ReadOptions } from '../../src/adapter/read.ts';
import type { HttpError } from '../../src/lib/errors.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import type { ClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { type AdapterRig, startRig } from '../support/adapter-harness.ts';
import { ReadRequest, ReadResponse, TO_OBJECT } from '../support/prompb.ts';

/**
 * Hostile strings everywhere: label names and values, matcher names and values (quotes, backslashes,
 * newlines, NUL, regex metacharacters, SQL keywords, invalid regexes). The series go straight into the
 * adapter's tables (created by its migrate) in RowBinary, so nothing on the way in depends on the
 * adapter's escaping. The adapter's answer must be exactly what the reference matcher
 * (matchesLabels, Go/RE2 semantics via re2js) selects over the same data, or a 400 for an invalid regex.
 */
describe('adapter read: matchers with arbitrary strings select exactly what the reference selects', () => {
  let rig: AdapterRig;
  let ch: ClickHouse;
  let adapterUrl: string;
  let database: string;

  before(async () => {
    rig = await startRig({ prometheus: false, adapterArgs: ['--log.level=error'] });
    ({ ch, adapterUrl, database } = rig);
  });
  after(() => rig?.stop());

  const hostile = [
    '',
    "'",
    '\\',
    "\\'",
    '"',
    '\n',
    'a\nb',
    '\0',
    'a',
    'b',
    'ab',
    'A',
    'é',
    '日本',
    '😀',
    '.*',
    '.+',
    'a|b',
    '(',
    ')',
    '[',
    'x{1001}',
    '\\d+',
    '(?i)a',
    '(?s)a.b',
    'a.b',
    '\\Qa.b\\E',
    '(?<n>a)',
    "' OR 1=1 --",
    'SELECT * FROM system.tables',
    '); DROP TABLE samples; --',
    '\\x41',
    '$',
    '^a',
    'a)|(b',
    '\\',
  ];
  const str = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...hostile) },
    fc.string({ unit: 'binary', maxLength: 6 }),
  );
  const name = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('__name__', 'job', "it's", 'a\\b', 'le', 'x\ny') },
    fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }),
  );
  const labelSet = fc.dictionary(name, str, { minKeys: 1, maxKeys: 4 });
  const matcher = fc.record({ type: fc.integer({ min: 0, max: 3 }), name, value: str });
  const world = fc.record({
    series: fc.uniqueArray(labelSet, {
      minLength: 1,
      maxLength: 12,
      selector: (l) => JSON.stringify(Object.entries(l).sort()),
    }),
    queries: fc.array(fc.array(matcher, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
  });

  const rbString = (s: string): Buffer => {
    const b = Buffer.from(s);
    return Buffer.concat([uvarint(b.length), b]);
  };
  const rbArray = (xs: readonly string[]): Buffer => Buffer.concat([uvarint(xs.length), ...xs.map(rbString)]);
  const insert = async (sql: string, body: Buffer) => {
    const res = await fetch(`${ch.url}/?${new URLSearchParams({ database, query: sql })}`, {
      method: 'POST',
      body: new Uint8Array(body),
    });
    assert.equal(res.status, 200, await res.text());
  };

  const T0 = 1_700_000_000_000;
  let runs = 0;
  let answered = 0;
  let rejected = 0;
  let nonEmpty = 0;

  it('answers = reference, or 400 exactly when a regex is invalid', async () => {
    await fc.assert(
      fc.asyncProperty(world, async ({ series, queries }) => {
        runs++;
        await ch.query(`TRUNCATE TABLE ${database}.series`);
        await ch.query(`TRUNCATE TABLE ${database}.samples`);
        const stored = series.map((labels, i) => {
          const names = Object.keys(labels).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
          return {
            fp: (BigInt(i + 1) * 0x9e3779b97f4a7c15n) % (1n << 64n),
            names,
            values: names.map((n) => labels[n]!),
            i,
          };
        });
        const seriesRows = stored.map((s) =>
          Buffer.concat([
            u64(s.fp),
            rbString(s.names.includes('__name__') ? s.values[s.names.indexOf('__name__')]! : ''),
            rbArray(s.names),
            rbArray(s.values),
          ]),
        );
        // Every series twice, as ReplacingMergeTree may hold it before merging.
        await insert(
          'INSERT INTO series (fingerprint, metric_name, label_names, label_values) FORMAT RowBinary',
          Buffer.concat([...seriesRows, ...seriesRows]),
        );
        // Series i has i % 3 samples in the queried range (none for some), one before it, and a duplicate row.
        const sampleRows: Buffer[] = [];
        for (const s of stored) {
          sampleRows.push(u64(s.fp), i64(T0 - 60_000), f64bits(1n));
          for (let k = 0; k < s.i % 3; k++)
            sampleRows.push(u64(s.fp), i64(T0 + k * 1000), f64bits(BigInt(s.i * 10 + k)));
          if (s.i % 3 > 0) sampleRows.push(u64(s.fp), i64(T0), f64bits(BigInt(s.i * 10)));
        }
        await insert(
          'INSERT INTO samples (fingerprint, timestamp_ms, value) FORMAT RowBinary',
          Buffer.concat(sampleRows),
        );

        const req = ReadRequest.encode(
          ReadRequest.fromObject({
            queries: queries.map((matchers) => ({
              start_timestamp_ms: T0 - 1,
              end_timestamp_ms: T0 + 5000,
              matchers,
            })),
          }),
        ).finish();
        const res = await fetch(`${adapterUrl}/read`, {
          method: 'POST',
          body: new Uint8Array(snappy.compressSync(Buffer.from(req))),
        });
        const body = Buffer.from(await res.arrayBuffer());

        let invalid: string | undefined;
        const expected = queries.map((matchers) =>
          stored
            .filter((s) => s.i % 3 > 0)
            .filter((s) => {
              try {
                return matchesLabels(
                  matchers as Matcher[],
                  new Map(s.names.map((n, k) => [n, s.values[k]!])),
                );
              } catch (err) {
                if (!(err instanceof InvalidMatcherError)) throw err;
                invalid = err.message;
                return false;
              }
            })
            .map((s) => ({
              labels: s.names.map((n, k) => [n, s.values[k]]),
              samples: Array.from({ length: s.i % 3 }, (_, k) => [T0 + k * 1000, String(s.i * 10 + k)]),
            }))
            .sort((a, b) =>
              compareLabelLists(a.labels as [string, string][], b.labels as [string, string][]),
            ),
        );
        // A matcher list with an invalid regex anywhere in the request: the whole request is a 400.
        const anyInvalid = queries.some((ms) =>
          ms.some((m) => {
            if (m.type < 2) return false;
            try {
              matchesLabels([m as Matcher], new Map());
              return false;
            } catch {
              return true;
            }
          }),
        );
        if (anyInvalid) {
          assert.equal(
            res.status,
            400,
            `expected 400 for an invalid regex (${invalid}), got ${res.status}: ${body}`,
          );
          assert.match(body.toString(), /invalid/);
          rejected++;
          return;
        }
        assert.equal(res.status, 200, `status ${res.status}: ${body}`);
        const decoded = ReadResponse.toObject(
          ReadResponse.decode((await snappy.uncompress(body)) as Buffer),
          TO_OBJECT,
        ) as {
          results: {
            timeseries: {
              labels: { name: string; value: string }[];
              samples: { value: number; timestamp: number }[];
            }[];
          }[];
        };
        assert.equal(decoded.results.length, queries.length);
        const got = decoded.results.map((r) =>
          r.timeseries.map((ts) => ({
            labels: ts.labels.map((l) => [l.name, l.value]),
            samples: ts.samples.map((s) => [s.timestamp, String(s.value)]),
          })),
        );
        assert.deepEqual(got, expected, `queries ${JSON.stringify(queries)}`);
        answered++;
        if (expected.some((e) => e.length > 0)) nonEmpty++;
      }),
      { numRuns: 150 },
    );
    // The generators must exercise all three outcomes, or the property says little.
    assert.ok(
      answered > 30 && rejected > 10 && nonEmpty > 20,
      `runs ${runs}: answered ${answered}, rejected ${rejected}, non-empty ${nonEmpty}`,
    );
  });

  it('names the limit when a query is over read.max-series, read.max-samples or read.max-range', async () => {
    // Same ClickHouse data (the last generated world plus these), the handler in-process with small limits.
    await ch.query(`TRUNCATE TABLE ${database}.series`);
    await ch.query(`TRUNCATE TABLE ${database}.samples`);
    const rows = [1n, 2n, 3n].map((fp) =>
      Buffer.concat([u64(fp), rbString('lim'), rbArray(['__name__', 'i']), rbArray(['lim', String(fp)])]),
    );
    await insert(
      'INSERT INTO series (fingerprint, metric_name, label_names, label_values) FORMAT RowBinary',
      Buffer.concat(rows),
    );
    const samples: Buffer[] = [];
    for (const fp of [1n, 2n, 3n])
      for (let k = 0; k < 4; k++) samples.push(u64(fp), i64(T0 + k * 1000), f64bits(BigInt(k)));
    await insert(
      'INSERT INTO samples (fingerprint, timestamp_ms, value) FORMAT RowBinary',
      Buffer.concat(samples),
    );
    const client = createClickHouseClient({ url: ch.url, database });
    const handler = (o: Partial<ReadOptions>) =>
      createReadHandler({
        ch: client,
        options: {
          maxSeries: 100,
          maxSamples: 100,
          maxRangeMs: 0,
          maxConcurrent: 1,
          queueTimeoutMs: 100,
          stripLabels: [],
          maxFrameBytes: 1 << 20,
          ...o,
        },
        metrics: createReadMetrics(new Registry()),
        logger: silentLogger,
      });
    const ask = async (o: Partial<ReadOptions>, type = 0) => {
      const body = snappy.compressSync(
        Buffer.from(
          ReadRequest.encode(
            ReadRequest.fromObject({
              queries: [
                {
                  start_timestamp_ms: T0,
                  end_timestamp_ms: T0 + 10_000,
                  matchers: [{ type: 0, name: '__name__', value: 'lim' }],
                },
              ],
              accepted_response_types: [type],
            }),
          ).finish(),
        ),
      );
      try {
        const r = await handler(o)({
          method: 'POST',
          path: '/read',
          query: new URLSearchParams(),
          headers: {},
          body,
          params: [],
        });
        return { status: r.status, message: '' };
      } catch (err) {
        return { status: (err as HttpError).status, message: (err as Error).message };
      }
    };
    try {
      assert.deepEqual(await ask({}), { status: 200, message: '' });
      for (const type of [0, 1]) {
        const s = await ask({ maxSeries: 2 }, type);
        assert.equal(s.status, 400);
        assert.match(s.message, /more than 2 series.*read\.max-series/);
        const n = await ask({ maxSamples: 11 }, type);
        assert.equal(n.status, 400);
        assert.match(n.message, /more than 11 samples \(12.*read\.max-samples/);
        assert.equal((await ask({ maxSamples: 12 }, type)).status, 200);
        const r = await ask({ maxRangeMs: 5_000 }, type);
        assert.equal(r.status, 400);
        assert.match(r.message, /read\.max-range/);
      }
    } finally {
      client.close();
    }
  });
});

function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
const u64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};
const i64 = (v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(v));
  return b;
};
/** The float64 `n` (a small integer) as 8 little-endian bytes. */
const f64bits = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(Number(n));
  return b;
};
function compareLabelLists(a: [string, string][], b: [string, string][]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c =
      Buffer.compare(Buffer.from(a[i]![0]), Buffer.from(b[i]![0])) ||
      Buffer.compare(Buffer.from(a[i]![1]), Buffer.from(b[i]![1]));
    if (c !== 0) return c;
  }
  return a.length - b.length;
}
