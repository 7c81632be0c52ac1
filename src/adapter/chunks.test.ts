import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ChunkedReadResponse, TO_OBJECT } from '../../test/support/prompb.ts';
import { decodeXorChunk } from '../../test/support/xor-decode.ts';
import { ChunkedSeriesWriter } from './chunks.ts';
import { encodeLabels } from './read-proto.ts';

/** Bit-by-bit CRC-32C, independent of the table/SSE implementation under test. */
function slowCrc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

interface Frame {
  query_index: number;
  chunked_series: {
    labels: { name: string; value: string }[];
    chunks: { min_time_ms: number; max_time_ms: number; type: number; data: Uint8Array }[];
  }[];
}

/** Splits a byte stream into frames (uvarint length, CRC-32C big-endian, message) and decodes each. */
function readFrames(stream: Buffer): Frame[] {
  const out: Frame[] = [];
  let pos = 0;
  while (pos < stream.length) {
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = stream[pos++]!;
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    const crc = stream.readUInt32BE(pos);
    pos += 4;
    const msg = stream.subarray(pos, pos + len);
    assert.equal(msg.length, len, 'truncated frame');
    assert.equal(slowCrc32c(msg), crc, 'frame checksum');
    pos += len;
    out.push(ChunkedReadResponse.toObject(ChunkedReadResponse.decode(msg), TO_OBJECT) as Frame);
  }
  return out;
}

const bitsOf = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

describe('ChunkedSeriesWriter', () => {
  it('streams series as framed XOR chunks of at most 120 samples that decode to the input', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            value: fc.string(),
            samples: fc.array(fc.tuple(fc.integer({ min: 1, max: 100_000 }), fc.integer(), fc.integer()), {
              maxLength: 700,
            }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 100, max: 20_000 }),
        (series, queryIndex, maxFrameBytes) => {
          const frames: Buffer[] = [];
          const w = new ChunkedSeriesWriter((f) => frames.push(f), maxFrameBytes);
          const expected: { value: string; samples: { t: number; bits: bigint }[] }[] = [];
          for (const s of series) {
            if (s.samples.length === 0) continue;
            w.begin(
              encodeLabels([{ name: Buffer.from('__name__'), value: Buffer.from(s.value) }]),
              queryIndex,
            );
            let t = -5_000;
            const samples = s.samples.map(([d, lo, hi]) => {
              t += d;
              w.append(t, lo, hi);
              return { t, bits: bitsOf(lo, hi) };
            });
            w.end();
            expected.push({ value: s.value, samples });
          }
          const got: typeof expected = [];
          for (const f of readFrames(Buffer.concat(frames))) {
            assert.equal(f.query_index, queryIndex);
            assert.equal(f.chunked_series.length, 1, 'one series per frame');
            const cs = f.chunked_series[0]!;
            assert.deepEqual(cs.labels, [{ name: '__name__', value: cs.labels[0]!.value }]);
            const samples = cs.chunks.flatMap((c) => {
              assert.equal(c.type, 1, 'XOR');
              const d = decodeXorChunk(c.data);
              assert.ok(d.length >= 1 && d.length <= 120, `chunk of ${d.length} samples`);
              assert.equal(c.min_time_ms, d[0]!.t);
              assert.equal(c.max_time_ms, d.at(-1)!.t);
              return d;
            });
            const last = got.at(-1);
            // A series split over frames repeats its labels; consecutive frames of one series join up.
            if (
              last &&
              last.value === cs.labels[0]!.value &&
              expected[got.length - 1]!.samples.length > last.samples.length
            )
              last.samples.push(...samples);
            else got.push({ value: cs.labels[0]!.value, samples });
          }
          assert.deepEqual(got, expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('splits a long series into frames near the byte limit', () => {
    const frames: Buffer[] = [];
    const w = new ChunkedSeriesWriter((f) => frames.push(f), 4096);
    w.begin(encodeLabels([{ name: Buffer.from('job'), value: Buffer.from('x') }]), 0);
    for (let i = 0; i < 12_000; i++) w.append(i * 15_000, Math.trunc(Math.random() * 2 ** 32), 0x40000000);
    w.end();
    assert.ok(frames.length > 10, `${frames.length} frames`);
    for (const f of frames.slice(0, -1)) assert.ok(f.length < 4096 + 2500, `frame of ${f.length} bytes`);
    const n = readFrames(Buffer.concat(frames)).reduce(
      (acc, f) => acc + f.chunked_series[0]!.chunks.reduce((a, c) => a + decodeXorChunk(c.data).length, 0),
      0,
    );
    assert.equal(n, 12_000);
  });
});
