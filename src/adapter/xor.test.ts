import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeXorChunk } from '../../test/support/xor-decode.ts';
import { MAX_SAMPLES_PER_CHUNK, XorEncoder } from './xor.ts';

const halves = (bits: bigint): [number, number] => [Number(bits & 0xffffffffn), Number(bits >> 32n)];
const f64bits = (v: number): bigint => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return b.readBigUInt64LE();
};
const STALE_NAN = 0x7ff0000000000002n;

const encode = (samples: readonly { t: number; bits: bigint }[]): Uint8Array => {
  const enc = new XorEncoder(8);
  for (const s of samples) enc.append(s.t, ...halves(s.bits));
  return Uint8Array.from(enc.bytes());
};

describe('XorEncoder', () => {
  it('encodes one sample as header, zig-zag varint timestamp and raw value bits', () => {
    assert.deepEqual(
      Buffer.from(encode([{ t: 1000, bits: f64bits(1) }])).toString('hex'),
      '0001d00f3ff0000000000000',
    );
    assert.deepEqual(Buffer.from(encode([{ t: -1, bits: 0n }])).toString('hex'), '0001010000000000000000');
  });

  it('writes a repeated value and a regular interval as one bit each (Gorilla)', () => {
    const samples = Array.from({ length: 120 }, (_, i) => ({
      t: 1_700_000_000_000 + i * 15_000,
      bits: f64bits(42),
    }));
    const bytes = encode(samples);
    // header 2 + varint 6 + value 8 + delta varint 3 + 1 bit, then 2 bits per sample.
    assert.ok(bytes.length <= 2 + 6 + 8 + 3 + Math.ceil((1 + 118 * 2) / 8), `size ${bytes.length}`);
    assert.deepEqual(decodeXorChunk(bytes), samples);
  });

  it('round-trips any timestamps and value bits through an independent reader', () => {
    const bits = fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.constantFrom(
        STALE_NAN,
        f64bits(Number.NaN),
        f64bits(-0),
        f64bits(Infinity),
        f64bits(-Infinity),
        0n,
        1n,
      ),
      fc.double().map(f64bits),
      fc.integer({ min: -1000, max: 1000 }).map(f64bits),
    );
    const delta = fc.oneof(
      fc.constant(15_000),
      fc.integer({ min: 0, max: 20_000 }),
      fc.integer({ min: 0, max: 2 ** 40 }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 45), max: 2 ** 45 }),
        fc.array(fc.tuple(delta, bits), { minLength: 1, maxLength: MAX_SAMPLES_PER_CHUNK }),
        (start, steps) => {
          let t = start;
          const samples = steps.map(([d, b]) => {
            t += d;
            return { t, bits: b };
          });
          assert.deepEqual(decodeXorChunk(encode(samples)), samples);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('starts over cleanly after reset()', () => {
    const enc = new XorEncoder();
    enc.append(5, ...halves(f64bits(3.5)));
    enc.append(9, ...halves(STALE_NAN));
    enc.reset();
    enc.append(100, ...halves(f64bits(1)));
    assert.equal(enc.count, 1);
    assert.deepEqual(decodeXorChunk(enc.bytes()), [{ t: 100, bits: f64bits(1) }]);
  });
});
