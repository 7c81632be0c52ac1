import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ReadResponse, TO_OBJECT } from '../../test/support/prompb.ts';
import { encodeLabels, PbWriter, timestampSize, writeTimeSeries } from './read-proto.ts';

describe('writeTimeSeries', () => {
  it('encodes what protobufjs decodes back: labels, timestamps of every size, exact value bits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 4 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer(), fc.integer()), {
          maxLength: 50,
        }),
        fc.integer({ min: -(2 ** 45), max: 2 ** 45 }),
        (labels, steps, start) => {
          let t = start;
          const samples = steps.map(([d, lo, hi]) => {
            t += d;
            return { t, lo: lo >>> 0, hi: hi >>> 0 };
          });
          const ts = new Float64Array(samples.length + 2);
          const vals = new Uint32Array(2 * ts.length);
          samples.forEach((s, i) => {
            ts[i + 1] = s.t;
            vals[2 * (i + 1)] = s.lo;
            vals[2 * (i + 1) + 1] = s.hi;
          });
          const w = new PbWriter(16, 16);
          const enc = encodeLabels(labels.map(([n, v]) => ({ name: Buffer.from(n), value: Buffer.from(v) })));
          writeTimeSeries(w, enc, ts, vals, 1, samples.length + 1);
          const wrapped = w.bytes(w.prefix(16, 1)); // ReadResponse { results: [QueryResult { timeseries: [this] }] }
          const got = ReadResponse.toObject(ReadResponse.decode(wrapped), TO_OBJECT) as {
            results: {
              timeseries: {
                labels: { name: string; value: string }[];
                samples: { value: number; timestamp: number }[];
              }[];
            }[];
          };
          const series = got.results[0]!.timeseries[0]!;
          assert.deepEqual(
            series.labels.map((l) => [l.name, l.value]),
            labels,
          );
          const b = Buffer.alloc(8);
          assert.deepEqual(
            series.samples.map((s) => {
              b.writeDoubleLE(s.value);
              return { t: s.timestamp, lo: b.readUInt32LE(0), hi: b.readUInt32LE(4) };
            }),
            // protobufjs reads doubles through a Float64Array: compare non-NaN values by bits.
            samples.map((s) => {
              b.writeUInt32LE(s.lo, 0);
              b.writeUInt32LE(s.hi, 4);
              const v = b.readDoubleLE(0);
              if (Number.isNaN(v)) b.writeDoubleLE(v);
              return { t: s.t, lo: b.readUInt32LE(0), hi: b.readUInt32LE(4) };
            }),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('sizes timestamps as varints', () => {
    for (const [t, n] of [
      [0, 1],
      [127, 1],
      [128, 2],
      [2 ** 28 - 1, 4],
      [2 ** 28, 5],
      [1_700_000_000_000, 6],
      [2 ** 49, 8],
      [-1, 10],
    ] as const)
      assert.equal(timestampSize(t), n, String(t));
  });
});
