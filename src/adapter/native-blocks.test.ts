import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNativeReader } from './native-blocks.ts';

/** One Native block of (a UInt16, b Float64), written from the format's description. */
function block(rows: [number, number][], types = ['UInt16', 'Float64']): Buffer {
  const a = Buffer.alloc(2 * rows.length);
  const b = Buffer.alloc(8 * rows.length);
  rows.forEach(([x, y], k) => {
    a.writeUInt16LE(x, 2 * k);
    b.writeDoubleLE(y, 8 * k);
  });
  const str = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);
  // 200 rows need a two-byte varint.
  const n =
    rows.length < 128
      ? Buffer.from([rows.length])
      : Buffer.from([(rows.length & 0x7f) | 0x80, rows.length >> 7]);
  return Buffer.concat([Buffer.from([2]), n, str('a'), str(types[0]!), a, str('b'), str(types[1]!), b]);
}

const read = (body: Buffer, step: number, types = ['UInt16', 'Float64']) => {
  const got: [number, number][] = [];
  const r = createNativeReader(types, (dv, n, [oa, ob]) => {
    for (let i = 0; i < n; i++) got.push([dv.getUint16(oa! + 2 * i, true), dv.getFloat64(ob! + 8 * i, true)]);
  });
  for (let at = 0; at < body.length; at += step) r.push(body.subarray(at, at + step));
  r.end();
  return got;
};

describe('createNativeReader', () => {
  it('reads every block however the answer is split, empty blocks included', () => {
    const rows = Array.from({ length: 200 }, (_, i): [number, number] => [i * 31, i / 7]);
    const body = Buffer.concat([
      block(rows.slice(0, 3)),
      block([]),
      block(rows.slice(3, 200)),
      block(rows.slice(0, 1)),
    ]);
    const want = [...rows, rows[0]!];
    for (let step = 1; step <= 64; step++)
      assert.deepEqual(read(body, step), want, `pieces of ${step} bytes`);
    assert.deepEqual(read(body, body.length), want);
    assert.deepEqual(read(Buffer.alloc(0), 1), []);
  });

  it('refuses another type, another column count, and an answer that ends inside a block', () => {
    assert.throws(() => read(block([[1, 2]], ['UInt32', 'Float64']), 5), /column 0 is UInt32, not UInt16/);
    assert.throws(() => read(block([[1, 2]]), 3, ['UInt16', 'Float64', 'UInt16']), /2 columns where 3/);
    const whole = block([
      [1, 2],
      [3, 4],
    ]);
    assert.throws(() => read(whole.subarray(0, whole.length - 1), 4), /ends inside a block/);
    assert.throws(() => createNativeReader(['String'], () => {}), /no fixed width for String/);
  });
});
