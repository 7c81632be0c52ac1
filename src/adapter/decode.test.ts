import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TO_OBJECT, WriteRequest } from '../../test/support/prompb.ts';
import { HttpError } from '../lib/errors.ts';
import { decodeWriteRequest, SeriesCache, type SeriesEntry } from './decode.ts';
import { fingerprint } from './fingerprint.ts';

const opts = () => ({
  cache: new SeriesCache(10_000),
  now: 1_000,
  refreshMs: 3_600_000,
  maxRowBytes: 1 << 26,
});

const bitsToDouble = (bits: bigint): number => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(bits);
  return b.readDoubleLE(0);
};

interface Row {
  fp: bigint;
  ts: bigint;
  bits: bigint;
}
const rowsOf = (buf: Buffer): Row[] => {
  const out: Row[] = [];
  for (let p = 0; p < buf.length; p += 24)
    out.push({
      fp: buf.readBigUInt64LE(p),
      ts: buf.readBigInt64LE(p + 8),
      bits: buf.readBigUInt64LE(p + 16),
    });
  return out;
};

/** The `series` row a new series carries, read back (RowBinary, as ClickHouse reads it). */
const seriesRowOf = (e: SeriesEntry): { fp: bigint; metric: string; names: string[]; values: string[] } => {
  const b = e.row!;
  let p = 8;
  const varUInt = () => {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      const x = b[p++]!;
      n += (x & 0x7f) * 2 ** shift;
      if (x < 0x80) return n;
    }
  };
  const string = () => {
    const len = varUInt();
    p += len;
    return b.toString('utf8', p - len, p);
  };
  const strings = () => Array.from({ length: varUInt() }, string);
  const row = { fp: b.readBigUInt64LE(0), metric: string(), names: strings(), values: strings() };
  assert.equal(p, b.length, 'the row ends after label_values');
  return row;
};

const encode = (msg: object): Buffer =>
  Buffer.from(WriteRequest.encode(WriteRequest.fromObject(msg)).finish());

const s_name = (labels: { name: string; value: string }[]) =>
  labels.find((l) => l.name === '__name__')!.value;

describe('decodeWriteRequest', () => {
  it('keeps every value bit, the stale marker NaN included, and int64 timestamps', () => {
    const values = [0x7ff0000000000002n, 0x7ff8000000000001n, 0xfff0000000000000n, 0x8000000000000000n, 1n];
    const msg = {
      timeseries: [
        {
          labels: [
            { name: '__name__', value: 'up' },
            { name: 'job', value: 'a' },
          ],
          samples: values.map((v, i) => ({
            value: bitsToDouble(v),
            timestamp: String(-5n + BigInt(i) * 2n ** 40n),
          })),
        },
      ],
    };
    const d = decodeWriteRequest(encode(msg), opts());
    const rows = rowsOf(d.rows);
    assert.equal(d.samples, values.length);
    assert.deepEqual(
      rows.map((r) => r.bits),
      values,
    );
    assert.deepEqual(
      rows.map((r) => r.ts),
      values.map((_, i) => -5n + BigInt(i) * 2n ** 40n),
    );
    assert.ok(rows.every((r) => r.fp === fingerprint(['__name__', 'job'], ['up', 'a'])));
    assert.equal(d.seriesToStore.length, 1);
    assert.deepEqual(seriesRowOf(d.seriesToStore[0]!), {
      fp: fingerprint(['__name__', 'job'], ['up', 'a']),
      metric: 'up',
      names: ['__name__', 'job'],
      values: ['up', 'a'],
    });
  });

  it('agrees with protobufjs on random well-formed requests', () => {
    const label = fc.record({
      name: fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,12}$/),
      value: fc.string({ minLength: 1, maxLength: 20, unit: 'binary' }),
    });
    const series = fc.record({
      labels: fc.uniqueArray(label, { selector: (l) => l.name, maxLength: 8 }),
      samples: fc.array(
        fc.record({
          bits: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          ts: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        }),
        { minLength: 1, maxLength: 5 },
      ),
      name: fc.string({ minLength: 1, maxLength: 10 }),
    });
    fc.assert(
      fc.property(fc.array(series, { maxLength: 10 }), (list) => {
        const msg = {
          timeseries: list.map((s) => ({
            labels: [{ name: '__name__', value: s.name }, ...s.labels.filter((l) => l.name !== '__name__')],
            samples: s.samples.map((x) => ({ value: bitsToDouble(x.bits), timestamp: String(x.ts) })),
          })),
        };
        const buf = encode(msg);
        const d = decodeWriteRequest(buf, opts());
        const ref = WriteRequest.toObject(WriteRequest.decode(buf), { ...TO_OBJECT, longs: String }) as {
          timeseries: { labels: { name: string; value: string }[]; samples: { timestamp: string }[] }[];
        };
        const expected: Row[] = [];
        const seriesRows = new Map(d.seriesToStore.map((e) => [e.lo + e.hi * 2 ** 32, seriesRowOf(e)]));
        ref.timeseries.forEach((ts, i) => {
          const labels = [...ts.labels].sort((a, b) =>
            Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
          );
          const fp = fingerprint(
            labels.map((l) => l.name),
            labels.map((l) => l.value),
          );
          // Its series row: the same fingerprint, the labels sorted by name bytes, the metric name.
          assert.deepEqual(seriesRows.get(Number(fp)), {
            fp,
            metric: s_name(labels),
            names: labels.map((l) => l.name),
            values: labels.map((l) => l.value),
          });
          ts.samples.forEach((s, j) => {
            const b = Buffer.alloc(8);
            b.writeBigUInt64LE(list[i]!.samples[j]!.bits);
            expected.push({ fp, ts: BigInt(s.timestamp), bits: b.readBigUInt64LE(0) });
          });
        });
        assert.deepEqual(rowsOf(d.rows), expected);
      }),
      { numRuns: 300 },
    );
  });

  it('caches a series: the second request has nothing to store and the same fingerprint', () => {
    const o = opts();
    const msg = {
      timeseries: [{ labels: [{ name: '__name__', value: 'x' }], samples: [{ value: 1, timestamp: 1 }] }],
    };
    const a = decodeWriteRequest(encode(msg), o);
    a.seriesToStore[0]!.storedAt = 1_000;
    const b = decodeWriteRequest(encode(msg), o);
    assert.equal(b.seriesToStore.length, 0);
    assert.deepEqual(rowsOf(a.rows)[0]!.fp, rowsOf(b.rows)[0]!.fp);
    // Past the refresh interval the row is written again, with its labels decoded again.
    const c = decodeWriteRequest(encode(msg), { ...o, now: 1_000 + 3_600_000 });
    assert.deepEqual(seriesRowOf(c.seriesToStore[0]!).names, ['__name__']);
    assert.equal(c.seriesToStore[0]!.firstSeen, 1_000);
  });

  it('keeps metadata-only requests and drops empty-valued labels', () => {
    const d = decodeWriteRequest(
      encode({
        timeseries: [
          {
            labels: [
              { name: '__name__', value: 'x' },
              { name: 'empty', value: '' },
            ],
            samples: [{ value: 2, timestamp: 3 }],
          },
        ],
        metadata: [{ type: 2, metric_family_name: 'x', help: 'Help.', unit: 'seconds' }],
      }),
      opts(),
    );
    assert.deepEqual(d.metadata, [{ family: 'x', type: 'gauge', help: 'Help.', unit: 'seconds' }]);
    assert.deepEqual(seriesRowOf(d.seriesToStore[0]!).names, ['__name__']);
    assert.equal(rowsOf(d.rows)[0]!.fp, fingerprint(['__name__'], ['x']));
  });

  it('keeps long labels whole and finds invalid UTF-8 behind a length of two bytes', () => {
    // A length of 128 bytes or more has a byte >= 0x80: the label set as a whole is not UTF-8, each
    // label is checked on its own.
    const long = 'é'.repeat(150);
    const d = decodeWriteRequest(
      encode({
        timeseries: [
          {
            labels: [
              { name: 'url', value: long },
              { name: '__name__', value: 'x' },
            ],
            samples: [{ value: 1, timestamp: 1 }],
          },
        ],
      }),
      opts(),
    );
    assert.deepEqual(seriesRowOf(d.seriesToStore[0]!), {
      fp: fingerprint(['__name__', 'url'], ['x', long]),
      metric: 'x',
      names: ['__name__', 'url'],
      values: ['x', long],
    });
    // timeseries { labels { name: "__name__" value: "x" } labels { name: "u" value: 200 bytes, one bad } }
    const bad = Buffer.alloc(200, 0x61);
    bad[150] = 0xc3; // a lead byte followed by 'a': invalid
    const field = (tag: number, body: Buffer) =>
      Buffer.concat([
        Buffer.from([tag]),
        body.length < 128
          ? Buffer.from([body.length])
          : Buffer.from([(body.length & 0x7f) | 0x80, body.length >> 7]),
        body,
      ]);
    const l1 = Buffer.concat([field(0x0a, Buffer.from('__name__')), field(0x12, Buffer.from('x'))]);
    const l2 = Buffer.concat([field(0x0a, Buffer.from('u')), field(0x12, bad)]);
    const ts = Buffer.concat([field(0x0a, l1), field(0x0a, l2), field(0x12, Buffer.alloc(0))]);
    // An unknown field 16 after a value that ends with a lead byte: its tag's first byte (0x80) would
    // complete the sequence if only the whole label set were checked.
    const l3 = Buffer.concat([
      field(0x0a, Buffer.from('v')),
      field(0x12, Buffer.from([0x61, 0xc3])),
      Buffer.from([0x80, 0x01, 0x00]),
    ]);
    const ts3 = Buffer.concat([field(0x0a, l1), field(0x0a, l3), field(0x12, Buffer.alloc(0))]);
    rejects(field(0x0a, ts3), 'invalid_utf8', /value of label "v" is not valid UTF-8/);
    rejects(field(0x0a, ts), 'invalid_utf8', /value of label "u" is not valid UTF-8/);
  });

  const rejects = (msg: object | Buffer, code: string, re: RegExp) => {
    const buf = Buffer.isBuffer(msg) ? msg : encode(msg);
    assert.throws(
      () => decodeWriteRequest(buf, opts()),
      (e: unknown) => e instanceof HttpError && e.status === 400 && e.code === code && re.test(e.message),
    );
  };

  it('rejects bad label sets with a message', () => {
    const s = (labels: object[]) => ({ timeseries: [{ labels, samples: [{ value: 1, timestamp: 1 }] }] });
    rejects(s([{ name: 'job', value: 'a' }]), 'invalid_labels', /no metric name/);
    rejects(
      s([
        { name: '', value: 'a' },
        { name: '__name__', value: 'x' },
      ]),
      'invalid_labels',
      /empty name/,
    );
    rejects(
      s([
        { name: '__name__', value: 'x' },
        { name: 'a', value: '1' },
        { name: 'a', value: '2' },
      ]),
      'invalid_labels',
      /label "a" twice/,
    );
  });

  it('rejects invalid UTF-8 and broken wire format', () => {
    // timeseries { labels { name: "__name__" value: 0xff 0xfe } samples {} }
    const label = Buffer.concat([
      Buffer.from([0x0a, 8]),
      Buffer.from('__name__'),
      Buffer.from([0x12, 2, 0xff, 0xfe]),
    ]);
    const ts = Buffer.concat([Buffer.from([0x0a, label.length]), label, Buffer.from([0x12, 0])]);
    rejects(Buffer.concat([Buffer.from([0x0a, ts.length]), ts]), 'invalid_utf8', /not valid UTF-8/);
    rejects(Buffer.from([0x0a, 0x05, 0x0a]), 'malformed_protobuf', /runs past the end/);
    rejects(Buffer.from([0x0b]), 'malformed_protobuf', /wire type/);
    rejects(Buffer.from([0x28, 0xff]), 'malformed_protobuf', /truncated varint/);
    rejects(Buffer.from([0x00]), 'malformed_protobuf', /field number 0/);
    // An unknown varint field is skipped whatever its size (a future int64 field), up to 10 bytes.
    assert.equal(decodeWriteRequest(Buffer.from([0x28, 0xff, 0xff, 0xff, 0xff, 0x7f]), opts()).samples, 0);
    rejects(Buffer.from([0x28, ...Array(10).fill(0xff), 0x01]), 'malformed_protobuf', /longer than 10 bytes/);
    rejects(Buffer.from([0x0a, 0x02, 0x12, 0xff]), 'malformed_protobuf', /truncated varint|runs past/);
  });

  it('refuses more rows than the limit with a 413', () => {
    const msg = {
      timeseries: [
        {
          labels: [{ name: '__name__', value: 'x' }],
          samples: Array.from({ length: 100 }, (_, i) => ({ value: i, timestamp: i })),
        },
      ],
    };
    assert.throws(
      () => decodeWriteRequest(encode(msg), { ...opts(), maxRowBytes: 24 * 50 }),
      (e: unknown) => e instanceof HttpError && e.status === 413,
    );
  });
});

describe('SeriesCache', () => {
  it('stays within its size and keeps fingerprints right across clears and order guesses', () => {
    const cache = new SeriesCache(1000);
    const req = (from: number, n: number) =>
      encode({
        timeseries: Array.from({ length: n }, (_, i) => ({
          labels: [
            { name: '__name__', value: 'm' },
            { name: 'i', value: String(from + i) },
          ],
          samples: [{ value: i, timestamp: i }],
        })),
      });
    for (let round = 0; round < 3; round++)
      for (let from = 0; from < 5000; from += 700) {
        const d = decodeWriteRequest(req(from, 700), { ...opts(), cache });
        for (const [i, r] of rowsOf(d.rows).entries())
          assert.equal(r.fp, fingerprint(['__name__', 'i'], ['m', String(from + i)]));
        assert.ok(cache.size <= 1000);
      }
  });
});
