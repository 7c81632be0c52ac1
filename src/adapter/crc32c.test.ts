import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c } from './crc32c.ts';

describe('crc32c', () => {
  it('matches the published check values (RFC 3720 appendix B.4, the CRC catalogue)', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    assert.equal(crc32c(Buffer.alloc(32, 0x00)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  });

  it('reads a view at an offset, not the whole underlying buffer', () => {
    const big = Buffer.from('xx123456789yy');
    assert.equal(crc32c(new Uint8Array(big.buffer, big.byteOffset + 2, 9)), 0xe3069283);
  });
});
