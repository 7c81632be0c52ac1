/**
 * Reads a Prometheus XOR chunk back into samples. Used by the tests as an independent check of the
 * encoder: written separately, with BigInt arithmetic, following Prometheus' xorIterator line by line.
 */
export interface DecodedSample {
  t: number;
  /** The value's 64 bits, exactly. */
  bits: bigint;
}

export function decodeXorChunk(chunk: Uint8Array): DecodedSample[] {
  if (chunk.length < 2) throw new Error('chunk shorter than its 2-byte header');
  const n = (chunk[0]! << 8) | chunk[1]!;
  let bitPos = 16;
  const readBit = (): bigint => {
    const byte = chunk[bitPos >> 3];
    if (byte === undefined) throw new Error(`chunk ends at bit ${bitPos}`);
    const b = (byte >> (7 - (bitPos & 7))) & 1;
    bitPos++;
    return BigInt(b);
  };
  const readBits = (k: number): bigint => {
    let v = 0n;
    for (let i = 0; i < k; i++) v = (v << 1n) | readBit();
    return v;
  };
  const readUvarint = (): bigint => {
    let x = 0n;
    let s = 0n;
    for (let i = 0; i < 10; i++) {
      const b = readBits(8);
      if (b < 0x80n) return x | (b << s);
      x |= (b & 0x7fn) << s;
      s += 7n;
    }
    throw new Error('varint overflow');
  };
  const out: DecodedSample[] = [];
  let t = 0n;
  let tDelta = 0n;
  let v = 0n;
  let leading = 0n;
  let trailing = 0n;
  const readValue = () => {
    if (readBit() === 0n) return;
    if (readBit() === 1n) {
      leading = readBits(5);
      let sig = readBits(6);
      if (sig === 0n) sig = 64n;
      trailing = 64n - leading - sig;
    }
    const sig = 64n - leading - trailing;
    v ^= readBits(Number(sig)) << trailing;
  };
  for (let i = 0; i < n; i++) {
    if (i === 0) {
      const u = readUvarint();
      t = u & 1n ? -(u >> 1n) - 1n : u >> 1n;
      v = readBits(64);
    } else if (i === 1) {
      tDelta = readUvarint();
      t += tDelta;
      readValue();
    } else {
      let d = 0;
      while (d < 4 && readBit() === 1n) d++;
      const size = [0, 14, 17, 20, 64][d]!;
      let dod = 0n;
      if (size > 0) {
        dod = readBits(size);
        if (size === 64) dod = BigInt.asIntN(64, dod);
        else if (dod > 1n << BigInt(size - 1)) dod -= 1n << BigInt(size);
      }
      tDelta += dod;
      t += tDelta;
      readValue();
    }
    out.push({ t: Number(t), bits: v });
  }
  return out;
}
