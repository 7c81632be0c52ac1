import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import snappy from 'snappy';
import { ReadResponse, TO_OBJECT } from '../../test/support/prompb.ts';
import { encodeLabels } from './read-proto.ts';
import type { SelectedSeries } from './read-series.ts';
import { SamplesResultSink, snappyBlock } from './read-sinks.ts';
import { createWorkerCompressor, inlineCompressor } from './snappy.ts';

const sel = (i: number): SelectedSeries => {
  const labels = [{ name: Buffer.from('__name__'), value: Buffer.from(`m${i}`) }];
  return { fingerprint: BigInt(i), labels, encoded: encodeLabels(labels) };
};

describe('SamplesResultSink', () => {
  it('compresses piece by piece into one snappy block that decodes to the whole answer', async (t) => {
    const worker = createWorkerCompressor();
    t.after(() => worker.close());
    for (const [compressor, pieceBytes] of [
      [inlineCompressor, 64],
      [inlineCompressor, 1000],
      [inlineCompressor, 1 << 20],
      [worker, 64],
      [worker, 1000],
      [worker, 1 << 20],
    ] as const) {
      const elements: Buffer[] = [];
      let bytes = 0;
      const want: { name: string; samples: [number, number][] }[][] = [];
      for (let q = 0; q < 3; q++) {
        const sink = new SamplesResultSink(compressor, pieceBytes);
        const expect: { name: string; samples: [number, number][] }[] = [];
        for (let i = 0; i < 20 * q; i++) {
          const n = 1 + ((i * 7) % 13);
          const ts = new Float64Array(n);
          const vals = new Uint32Array(2 * n);
          const b = Buffer.alloc(8);
          const samples: [number, number][] = [];
          for (let k = 0; k < n; k++) {
            ts[k] = 1_700_000_000_000 + k * 15_000;
            b.writeDoubleLE(i * 100 + k + 0.5);
            vals[2 * k] = b.readUInt32LE(0);
            vals[2 * k + 1] = b.readUInt32LE(4);
            samples.push([ts[k]!, i * 100 + k + 0.5]);
          }
          await sink.series(sel(i), ts, vals, 0, n);
          expect.push({ name: `m${i}`, samples });
        }
        const done = await sink.finish();
        elements.push(...done.elements);
        bytes += done.bytes;
        want.push(expect);
      }
      const raw = (await snappy.uncompress(Buffer.concat(snappyBlock(elements, bytes)))) as Buffer;
      assert.equal(raw.length, bytes);
      const got = ReadResponse.toObject(ReadResponse.decode(raw), TO_OBJECT) as {
        results: {
          timeseries: { labels: { value: string }[]; samples: { value: number; timestamp: number }[] }[];
        }[];
      };
      assert.deepEqual(
        got.results.map((r) =>
          r.timeseries.map((t) => ({
            name: t.labels[0]!.value,
            samples: t.samples.map((s) => [s.timestamp, s.value]),
          })),
        ),
        want,
        `pieces of ${pieceBytes} bytes, ${compressor === worker ? 'worker' : 'inline'}`,
      );
    }
  });
});
