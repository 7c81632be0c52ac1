/**
 * Prometheus' XOR chunk encoding (tsdb/chunkenc/xor.go, the Gorilla scheme): a 2-byte big-endian sample
 * count, then a bit stream. Sample 1: timestamp as a signed varint, value as 64 raw bits. Sample 2:
 * timestamp delta as an unsigned varint, value XOR-encoded. Later samples: delta-of-delta of the
 * timestamp in 1/2+14/3+17/4+20/4+64 bits, value XOR-encoded against the previous one with reused or
 * new leading/trailing zero counts. Values are taken as raw bits (lo, hi 32-bit halves), so every NaN
 * payload (the stale marker 0x7ff0000000000002) survives.
 */

/** Prometheus cuts a chunk at 120 samples; so do we. */
export const MAX_SAMPLES_PER_CHUNK = 120;

/** Appends samples (ascending timestamps) to one XOR chunk; `bytes()` returns the encoded chunk. */
export class XorEncoder {
  private buf: Uint8Array;
  /** Bit position of the next write. */
  private pos = 16;
  private n = 0;
  private t = 0;
  private tDelta = 0;
  private vLo = 0;
  private vHi = 0;
  private leading = 0xff;
  private trailing = 0;

  constructor(capacity = 4096) {
    this.buf = new Uint8Array(capacity);
  }

  /** Number of samples appended so far. */
  get count(): number {
    return this.n;
  }

  /** Starts a new, empty chunk (the buffer is reused). */
  reset(): void {
    this.buf.fill(0, 0, (this.pos + 7) >>> 3);
    this.pos = 16;
    this.n = 0;
    this.t = 0;
    this.tDelta = 0;
    this.vLo = 0;
    this.vHi = 0;
    this.leading = 0xff;
    this.trailing = 0;
  }

  /** The encoded chunk so far (a view into the encoder's buffer: copy it before appending more). */
  bytes(): Uint8Array {
    this.buf[0] = (this.n >>> 8) & 0xff;
    this.buf[1] = this.n & 0xff;
    return this.buf.subarray(0, (this.pos + 7) >>> 3);
  }

  /** Appends a sample; `lo`/`hi` are the low and high 32 bits of the float64 value. */
  append(t: number, lo: number, hi: number): void {
    this.ensure(24);
    if (this.n === 0) {
      this.writeVarint(t);
      this.writeBits(hi >>> 0, 32);
      this.writeBits(lo >>> 0, 32);
    } else if (this.n === 1) {
      const d = t - this.t;
      this.writeUvarint(d);
      this.tDelta = d;
      this.writeValue(lo, hi);
    } else {
      const d = t - this.t;
      const dod = d - this.tDelta;
      if (dod === 0) this.writeBits(0, 1);
      else if (dod >= -8191 && dod <= 8192) {
        this.writeBits(0b10, 2);
        this.writeBits(dod & 0x3fff, 14);
      } else if (dod >= -65535 && dod <= 65536) {
        this.writeBits(0b110, 3);
        this.writeBits(dod & 0x1ffff, 17);
      } else if (dod >= -524287 && dod <= 524288) {
        this.writeBits(0b1110, 4);
        this.writeBits(dod & 0xfffff, 20);
      } else {
        this.writeBits(0b1111, 4);
        const b = BigInt.asUintN(64, BigInt(dod));
        this.writeBits(Number(b >> 32n), 32);
        this.writeBits(Number(b & 0xffffffffn), 32);
      }
      this.tDelta = d;
      this.writeValue(lo, hi);
    }
    this.t = t;
    this.vLo = lo;
    this.vHi = hi;
    this.n++;
  }

  private writeValue(lo: number, hi: number): void {
    const dLo = (lo ^ this.vLo) >>> 0;
    const dHi = (hi ^ this.vHi) >>> 0;
    if (dLo === 0 && dHi === 0) {
      this.writeBits(0, 1);
      return;
    }
    this.writeBits(1, 1);
    let leading = dHi !== 0 ? Math.clz32(dHi) : 32 + Math.clz32(dLo);
    const trailing = dLo !== 0 ? ctz32(dLo) : 32 + ctz32(dHi);
    // Clamped so that it fits in 5 bits, as Prometheus does.
    if (leading >= 32) leading = 31;
    if (this.leading !== 0xff && leading >= this.leading && trailing >= this.trailing) {
      this.writeBits(0, 1);
      this.writeShifted(dLo, dHi, this.trailing, 64 - this.leading - this.trailing);
      return;
    }
    this.leading = leading;
    this.trailing = trailing;
    this.writeBits(1, 1);
    this.writeBits(leading, 5);
    const sig = 64 - leading - trailing;
    // 64 significant bits do not fit in 6 bits; they are written as 0 and read back as 64.
    this.writeBits(sig & 63, 6);
    this.writeShifted(dLo, dHi, trailing, sig);
  }

  /** Writes the low `n` bits of (hi:lo >> shift). */
  private writeShifted(lo: number, hi: number, shift: number, n: number): void {
    let sLo: number;
    let sHi: number;
    if (shift === 0) {
      sLo = lo;
      sHi = hi;
    } else if (shift < 32) {
      sLo = ((lo >>> shift) | (hi << (32 - shift))) >>> 0;
      sHi = hi >>> shift;
    } else {
      sLo = hi >>> (shift - 32);
      sHi = 0;
    }
    if (n > 32) {
      this.writeBits(low(sHi, n - 32), n - 32);
      this.writeBits(sLo, 32);
    } else this.writeBits(low(sLo, n), n);
  }

  /** Writes the low `n` (≤ 32) bits of `v`, most significant first. */
  private writeBits(v: number, n: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (n > 0) {
      const free = 8 - (pos & 7);
      const take = Math.min(n, free);
      // The next `take` bits of v, from the top of the n remaining.
      const bits = Math.floor(v / 2 ** (n - take)) & ((1 << take) - 1);
      buf[pos >>> 3]! |= bits << (free - take);
      pos += take;
      n -= take;
    }
    this.pos = pos;
  }

  private writeByte(b: number): void {
    this.writeBits(b & 0xff, 8);
  }

  private writeUvarint(x: number): void {
    while (x >= 0x80) {
      this.writeByte((x % 0x80) | 0x80);
      x = Math.floor(x / 0x80);
    }
    this.writeByte(x);
  }

  /** Go's binary.PutVarint: zig-zag, then unsigned varint. */
  private writeVarint(x: number): void {
    this.writeUvarint(x >= 0 ? x * 2 : -x * 2 - 1);
  }

  private ensure(bytes: number): void {
    const need = (this.pos >>> 3) + bytes + 1;
    if (need <= this.buf.length) return;
    const next = new Uint8Array(Math.max(need, this.buf.length * 2));
    next.set(this.buf);
    this.buf = next;
  }
}

/** The low `n` (≤ 32) bits of `v`, as an unsigned number. */
function low(v: number, n: number): number {
  return n >= 32 ? v >>> 0 : (v & ((1 << n) - 1)) >>> 0;
}

function ctz32(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}
