import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import snappy from 'snappy';
import { HttpError } from '../lib/errors.ts';
import { createWorkerCompressor, snappyHeader, uncompressToScratch } from './snappy.ts';

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

describe('createWorkerCompressor', () => {
  it('compresses large pieces on the worker (the whole buffer comes back), small ones and all once the worker is gone in place', async () => {
    const c = createWorkerCompressor();
    const buf = Buffer.allocUnsafe(256 * 1024);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 7) % 251;
    const small = Buffer.from(buf.subarray(0, 100_000));
    const inPlace = await c.compress(buf.subarray(0, 100_000));
    assert.deepEqual(await snappy.uncompress(inPlace.block), small);
    assert.equal(buf.length, 256 * 1024, 'a small piece is compressed in place');
    const big = Buffer.allocUnsafe(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
    const want = Buffer.from(big.subarray(0, 600_000));
    const { block, raw } = await c.compress(big.subarray(0, 600_000));
    assert.equal(big.length, 0, 'the buffer moved to the worker');
    assert.equal(raw.length, 1024 * 1024, 'the whole buffer comes back');
    assert.deepEqual(await snappy.uncompress(block), want);
    await c.close();
    const after = await c.compress(raw.subarray(0, 600_000));
    assert.deepEqual(await snappy.uncompress(after.block), want);
    assert.equal(raw.length, 1024 * 1024, 'compressed in place: nothing moved');
  });
});
