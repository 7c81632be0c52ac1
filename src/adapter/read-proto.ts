/**
 * Hand-written protobuf encoding of the remote-read answers (prompb ReadResponse, ChunkedReadResponse).
 * protobufjs would build an object per sample; a large answer holds millions, so the bytes are written
 * directly, values copied as their raw 8 little-endian bytes (exact bits, NaN payloads included).
 */

/** Bytes of `n` (≥ 0, < 2^53) as a varint. */
export function uvarintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** Bytes of an int64 varint: negative numbers take 10. */
export const int64Size = (n: number): number => (n < 0 ? 10 : uvarintSize(n));

/** A growable byte buffer with the few protobuf primitives the answers need. */
export class PbWriter {
  buf: Buffer;
  pos: number;

  /** `headroom` bytes are left free at the start, for a length prefix written afterwards. */
  constructor(capacity = 64 * 1024, headroom = 0) {
    this.buf = Buffer.allocUnsafe(Math.max(capacity, headroom + 16));
    this.pos = headroom;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  uvarint(n: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (n >= 0x80) {
      buf[pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  int64(n: number): void {
    if (n >= 0) {
      this.uvarint(n);
      return;
    }
    this.ensure(10);
    let b = BigInt.asUintN(64, BigInt(n));
    for (let i = 0; i < 9; i++) {
      this.buf[this.pos++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    this.buf[this.pos++] = Number(b);
  }

  /** A field key: (field << 3) | wire type. */
  tag(field: number, wire: number): void {
    this.uvarint((field << 3) | wire);
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** A length-delimited field. */
  bytesField(field: number, bytes: Uint8Array): void {
    this.tag(field, 2);
    this.uvarint(bytes.length);
    this.raw(bytes);
  }

  /** Writes the tag and length of a message field in front of the body that starts at `start`. */
  prefix(start: number, field: number): number {
    const len = this.pos - start;
    const head = uvarintSize((field << 3) | 2) + uvarintSize(len);
    if (start < head) throw new Error('not enough headroom for the length prefix');
    const at = start - head;
    const save = this.pos;
    this.pos = at;
    this.tag(field, 2);
    this.uvarint(len);
    this.pos = save;
    return at;
  }

  bytes(from = 0): Buffer {
    return this.buf.subarray(from, this.pos);
  }
}

/** `repeated Label labels = 1` (TimeSeries and ChunkedSeries both use field 1), pre-encoded once per series. */
export function encodeLabels(labels: readonly { name: Uint8Array; value: Uint8Array }[]): Buffer {
  const w = new PbWriter(256);
  for (const { name, value } of labels) {
    const size = 1 + uvarintSize(name.length) + name.length + 1 + uvarintSize(value.length) + value.length;
    w.tag(1, 2);
    w.uvarint(size);
    w.bytesField(1, name);
    w.bytesField(2, value);
  }
  return Buffer.from(w.bytes());
}

/** Bytes of a timestamp as an int64 varint (fast path for 0 ≤ t < 2^53). */
export function timestampSize(t: number): number {
  if (t < 0) return 10;
  if (t < 0x10000000) return t < 0x80 ? 1 : t < 0x4000 ? 2 : t < 0x200000 ? 3 : 4;
  let hi = Math.floor(t / 0x10000000);
  let n = 5;
  while (hi >= 0x80) {
    hi = Math.floor(hi / 0x80);
    n++;
  }
  return n;
}

/** Size of one `Sample { double value = 1; int64 timestamp = 2; }` message. */
const sampleSize = (t: number): number => 9 + 1 + timestampSize(t);

/**
 * Appends `repeated TimeSeries timeseries = 1` (of a QueryResult) for one series: its pre-encoded
 * labels, then the samples `ts[from..to)` with value bits `vals[2i]` (low) and `vals[2i + 1]` (high).
 */
export function writeTimeSeries(
  w: PbWriter,
  labels: Uint8Array,
  ts: Float64Array,
  vals: Uint32Array,
  from: number,
  to: number,
): void {
  // Timestamps ascend, so their varint size changes only at a few thresholds: count by size class.
  let size = labels.length;
  for (let i = from; i < to; ) {
    const sz = sampleSize(ts[i]!);
    const limit = ts[i]! < 0 ? 0 : 2 ** (7 * (sz - 10));
    let j = i + 1;
    if (ts[i]! >= 0) {
      // First index in [i, to) at or past `limit` (binary search), or `to`.
      let lo = i + 1;
      let hi = to;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ts[mid]! < limit) lo = mid + 1;
        else hi = mid;
      }
      j = lo;
    }
    size += (j - i) * (2 + sz);
    i = j;
  }
  w.tag(1, 2);
  w.uvarint(size);
  // Room for everything at once: the loop below writes into `buf` directly and must not see it move.
  w.ensure(size + 16);
  w.raw(labels);
  const buf = w.buf;
  // Values and the low timestamp bytes go in as 32-bit words (unaligned stores are cheap here).
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let pos = w.pos;
  let sz = 0;
  let limit = -1;
  let hiBase = -1;
  let hiLen = 0;
  const hiBytes = new Uint8Array(8);
  for (let i = from; i < to; i++) {
    const t = ts[i]!;
    const lo = vals[2 * i]!;
    const hi = vals[2 * i + 1]!;
    if (t >= limit || t < 0) {
      sz = sampleSize(t);
      limit = t < 0 ? -1 : 2 ** (7 * (sz - 10));
    }
    buf[pos++] = 0x12; // field 2 (samples), length-delimited
    buf[pos++] = sz;
    buf[pos++] = 0x09; // field 1 (value), 64-bit little-endian
    dv.setUint32(pos, lo, true);
    dv.setUint32(pos + 4, hi, true);
    pos += 8;
    buf[pos++] = 0x10; // field 2 (timestamp), varint
    if (t >= 0 && t < 0x10000000) {
      let v = t;
      while (v >= 0x80) {
        buf[pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[pos++] = v;
    } else if (t >= 0) {
      // Bits 28 and up change rarely between neighbouring samples: their varint bytes are cached.
      if (t < hiBase || t >= hiBase + 0x10000000) {
        let high = Math.floor(t / 0x10000000);
        hiBase = high * 0x10000000;
        hiLen = 0;
        while (high >= 0x80) {
          hiBytes[hiLen++] = (high % 0x80) | 0x80;
          high = Math.floor(high / 0x80);
        }
        hiBytes[hiLen++] = high;
      }
      const low = t - hiBase;
      dv.setUint32(
        pos,
        ((low & 0x7f) |
          (((low >>> 7) & 0x7f) << 8) |
          (((low >>> 14) & 0x7f) << 16) |
          (((low >>> 21) & 0x7f) << 24) |
          0x80808080) >>>
          0,
        true,
      );
      pos += 4;
      for (let k = 0; k < hiLen; k++) buf[pos++] = hiBytes[k]!;
    } else {
      w.pos = pos;
      w.int64(t);
      pos = w.pos;
    }
  }
  w.pos = pos;
}

/** One `Chunk { min_time_ms = 1; max_time_ms = 2; type = 3 (XOR = 1); data = 4 }` message, encoded. */
export function chunkSize(minT: number, maxT: number, dataLen: number): number {
  return 1 + int64Size(minT) + 1 + int64Size(maxT) + 2 + 1 + uvarintSize(dataLen) + dataLen;
}

export function writeChunk(w: PbWriter, minT: number, maxT: number, data: Uint8Array): void {
  w.tag(2, 2); // ChunkedSeries.chunks
  w.uvarint(chunkSize(minT, maxT, data.length));
  w.tag(1, 0);
  w.int64(minT);
  w.tag(2, 0);
  w.int64(maxT);
  w.tag(3, 0);
  w.uvarint(1);
  w.bytesField(4, data);
}
