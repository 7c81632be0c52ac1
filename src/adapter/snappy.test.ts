import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import snappy from 'snappy';
import { HttpError } from '../lib/errors.ts';
import { snappyHeader, uncompressToScratch } from './snappy.ts';

const native = (b: Buffer): Buffer | undefined => {
  try {
    return snappy.uncompressSync(b) as Buffer;
  } catch {
    return undefined;
  }
};

describe('uncompressToScratch', () => {
  it('inverts the native compressor on random and repetitive data', () => {
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 5000 }),
      fc
        .tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 3000 }))
        .map(([chunk, n]) => new Uint8Array(Array.from({ length: n }, (_, i) => chunk[i % chunk.length]!))),
    );
    fc.assert(
      fc.property(data, (d) => {
        const c = snappy.compressSync(Buffer.from(d));
        assert.deepEqual(Buffer.from(uncompressToScratch(c)), Buffer.from(d));
      }),
      { numRuns: 500 },
    );
  });

  it('handles a large body (4-byte offsets, long literals)', () => {
    const d = Buffer.alloc(3 << 20);
    for (let i = 0; i < d.length; i++) d[i] = ((i * 7919) % 251) ^ (i >> 12);
    assert.ok(Buffer.from(uncompressToScratch(snappy.compressSync(d))).equals(d));
  });

  it('rejects what the native decoder rejects, with a 400 and a message', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (b) => {
        const buf = Buffer.from(b);
        let declared = 0;
        try {
          declared = snappyHeader(buf).length;
        } catch {
          assert.equal(native(buf), undefined);
          return;
        }
        if (declared > 1 << 24) return;
        const ref = native(buf);
        let mine: Buffer | undefined;
        try {
          mine = Buffer.from(uncompressToScratch(buf));
        } catch (err) {
          assert.ok(err instanceof HttpError && err.status === 400 && /snappy/.test(err.message));
        }
        if (ref === undefined) assert.equal(mine, undefined);
        else assert.deepEqual(mine, ref);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('snappyHeader', () => {
  it('reads the declared length and rejects a header that never ends', () => {
    assert.equal(snappyHeader(Buffer.from([0x80, 0x01, 0xff])).length, 128);
    assert.equal(snappyHeader(Buffer.from([0x05])).length, 5);
    assert.throws(
      () => snappyHeader(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])),
      (e: HttpError) => e.status === 400,
    );
    assert.throws(
      () => snappyHeader(Buffer.alloc(0)),
      (e: HttpError) => e.status === 400,
    );
  });
});
