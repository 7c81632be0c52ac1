import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { dropDuplicates, mergeRuns } from './read-place.ts';
import {
  batchesByRows,
  type CountedSeries,
  countRows,
  type ReadClickHouse,
  streamSamples,
} from './read-samples.ts';
import type { SelectedSeries } from './read-series.ts';

const uvarint = (n: number): Buffer => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
};

const series = (i: number): SelectedSeries => ({
  fingerprint: BigInt(i),
  labels: [],
  encoded: Buffer.alloc(0),
});

describe('mergeRuns + dropDuplicates', () => {
  it('sort any concatenation of ascending runs and keep one sample per timestamp', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 30 }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.integer({ min: 0, max: 3 }),
        (runs, pad) => {
          const sorted = runs.map((r) => [...r].sort((a, b) => a - b));
          const flat = sorted.flat();
          const ts = new Float64Array(pad + flat.length);
          const vals = new Uint32Array(2 * ts.length);
          flat.forEach((t, i) => {
            ts[pad + i] = t;
            vals[2 * (pad + i)] = t + 1000; // value follows the timestamp, so pairs stay together
            vals[2 * (pad + i) + 1] = 7;
          });
          const tmpT = new Float64Array(flat.length);
          const tmpV = new Uint32Array(2 * flat.length);
          mergeRuns(ts, vals, pad, pad + flat.length, tmpT, tmpV);
          const end = dropDuplicates(ts, vals, pad, pad + flat.length);
          const want = [...new Set(flat)].sort((a, b) => a - b);
          assert.deepEqual([...ts.subarray(pad, end)], want);
          for (let i = pad; i < end; i++)
            assert.deepEqual([vals[2 * i], vals[2 * i + 1]], [ts[i]! + 1000, 7]);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('countRows', () => {
  it('maps the counts back to the series by fingerprint, drops series without rows, stops past stopAt', async () => {
    const sel = Array.from({ length: 5000 }, (_, i) => ({
      ...series(0),
      fingerprint: (1n << 63n) + BigInt(i) * 7919n,
    }));
    const statements: string[] = [];
    const ch: ReadClickHouse = {
      async queryBytes(sql) {
        statements.push(sql);
        const fps = /IN \(([^)]*)\)/.exec(sql)![1]!.split(', ').map(BigInt);
        // Every third series has no rows; the answer comes in ClickHouse's own order (reversed here).
        const rows = fps.filter((_, k) => k % 3 !== 0).reverse();
        const out = Buffer.alloc(16 * rows.length);
        rows.forEach((fp, k) => {
          out.writeBigUInt64LE(fp, 16 * k);
          out.writeBigUInt64LE((fp % 100n) + 1n, 16 * k + 8);
        });
        return out;
      },
      queryStream: async function* () {},
    };
    const all = await countRows({ ch, series: sel, start: 0, end: 1, stopAt: Number.POSITIVE_INFINITY });
    assert.equal(statements.length, 3);
    assert.deepEqual(
      all.counted.map((c) => [c.series.fingerprint, c.rows]),
      sel
        .filter((_, i) => (i % 2000) % 3 !== 0)
        .map((s) => [s.fingerprint, Number((s.fingerprint % 100n) + 1n)]),
    );
    assert.equal(
      all.total,
      all.counted.reduce((n, c) => n + c.rows, 0),
    );
    statements.length = 0;
    const early = await countRows({ ch, series: sel, start: 0, end: 1, stopAt: 10 });
    assert.equal(statements.length, 1);
    assert.ok(early.total > 10);
  });
});

describe('batchesByRows', () => {
  it('keeps order and the row budget (a big series alone)', () => {
    const counted = [5, 5, 20, 1, 1, 1].map((rows, i) => ({ series: series(i), rows }));
    const out = [...batchesByRows(counted, 10)].map((b) => b.map((c) => c.rows));
    assert.deepEqual(out, [[5, 5], [20], [1, 1, 1]]);
  });
});

describe('streamSamples', () => {
  it('puts rows that arrive in any order and any split back into series, sorted, without duplicates', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 40 }), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 60 }),
        fc.boolean(),
        fc.infiniteStream(fc.nat()),
        fc.constantFrom(
          { start: 0, end: 1e9, shift: 0 },
          { start: 1_700_000_000_000, end: 1_700_086_400_000, shift: 1_700_000_000_000 },
          { start: -5e9, end: 1e10, shift: -20_000 },
        ),
        fc.integer({ min: 1, max: 50 }),
        async (perSeries, splits, batchRows, withExtra, noise, range, blockRows) => {
          const sel = perSeries.map((_, i) => series(i));
          const counted: CountedSeries[] = perSeries.map((ts, i) => ({ series: sel[i]!, rows: ts.length }));
          const rows: [number, number][] = perSeries.flatMap((ts, i) =>
            ts.map((t) => [i, t] as [number, number]),
          );
          // A duplicate of every fifth row (counted: ClickHouse counts it), and with `withExtra` one row
          // that arrives without being counted (a write between count and read).
          for (let k = 0; k < rows.length; k += 5) rows.push(rows[k]!);
          for (const [i] of rows.slice(perSeries.flat().length)) (counted[i] as { rows: number }).rows++;
          if (withExtra) rows.push([0, 20_000]);
          const it = noise[Symbol.iterator]();
          rows.sort(() => ((it.next().value as number) % 3) - 1);
          const ch: ReadClickHouse = {
            queryBytes: async () => Buffer.alloc(0),
            async *queryStream(sql) {
              const fps = /IN \(([^)]*)\)/.exec(sql)![1]!.split(', ').map(Number);
              // The row layout the statement asks for: (UInt16, UInt32 offset, Float64) or (UInt16, Int64, Float64).
              const narrow = /toUInt32\(timestamp_ms - \((-?\d+)\)\) AS t/.exec(sql);
              if (!narrow) assert.match(sql, /, timestamp_ms AS t, value FROM/);
              assert.match(sql, /FORMAT Native$/);
              // Native blocks of (UInt16, UInt32 offset or Int64, Float64), as ClickHouse sends them.
              const mine = rows.filter(([i]) => fps.includes(i));
              const blocks: Buffer[] = [];
              for (let b0 = 0; b0 < mine.length; b0 += blockRows) {
                const part = mine.slice(b0, b0 + blockRows);
                const col = (
                  name: string,
                  type: string,
                  width: number,
                  put: (b: Buffer, k: number) => void,
                ) => {
                  const data = Buffer.alloc(width * part.length);
                  for (let k = 0; k < part.length; k++) put(data, k);
                  return [
                    Buffer.from([name.length]),
                    Buffer.from(name),
                    Buffer.from([type.length]),
                    Buffer.from(type),
                    data,
                  ];
                };
                const tOf = (k: number) => part[k]![1] + range.shift;
                blocks.push(
                  Buffer.from([3]),
                  uvarint(part.length),
                  ...col('r', 'UInt16', 2, (b, k) => b.writeUInt16LE(fps.indexOf(part[k]![0]), 2 * k)),
                  ...(narrow
                    ? col('t', 'UInt32', 4, (b, k) => b.writeUInt32LE(tOf(k) - Number(narrow[1]), 4 * k))
                    : col('t', 'Int64', 8, (b, k) => b.writeBigInt64LE(BigInt(tOf(k)), 8 * k))),
                  ...col('value', 'Float64', 8, (b, k) => b.writeDoubleLE(tOf(k) / 2, 8 * k)),
                );
              }
              const body = Buffer.concat(blocks);
              let at = 0;
              for (let k = 0; at < body.length; k++) {
                const n = splits[k % splits.length]!;
                yield body.subarray(at, at + n);
                at += n;
              }
            },
          };
          const got: [number, number[]][] = [];
          const sink = {
            series(s: SelectedSeries, ts: Float64Array, vals: Uint32Array, from: number, to: number) {
              const v = Buffer.alloc(8);
              for (let i = from; i < to; i++) {
                v.writeUInt32LE(vals[2 * i]!, 0);
                v.writeUInt32LE(vals[2 * i + 1]!, 4);
                assert.equal(v.readDoubleLE(0), ts[i]! / 2);
              }
              got.push([Number(s.fingerprint), [...ts.subarray(from, to)]]);
            },
          };
          const { start, end } = range;
          for await (const _ of streamSamples({ ch, counted, start, end, sink, batchRows }));
          const want = perSeries.map((ts, i) => [
            i,
            [...ts, ...(withExtra && i === 0 ? [20_000] : [])]
              .sort((a, b) => a - b)
              .map((t) => t + range.shift),
          ]);
          assert.deepEqual(got, want);
        },
      ),
      { numRuns: 300 },
    );
  });
});
