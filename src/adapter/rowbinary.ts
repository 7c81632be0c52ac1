/** A growing RowBinary encoder for the few column types the adapter writes. */
export class RowBinaryWriter {
  #buf: Buffer;
  #pos = 0;
  constructor(initial = 4096) {
    this.#buf = Buffer.allocUnsafe(initial);
  }
  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.#pos + n, this.#buf.length * 2));
    this.#buf.copy(b, 0, 0, this.#pos);
    this.#buf = b;
  }
  varUInt(n: number): this {
    this.#room(10);
    while (n >= 0x80) {
      this.#buf[this.#pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.#buf[this.#pos++] = n;
    return this;
  }
  /** UInt64 from two little-endian 32-bit halves. */
  uint64(lo: number, hi: number): this {
    this.#room(8);
    this.#buf.writeUInt32LE(lo >>> 0, this.#pos);
    this.#buf.writeUInt32LE(hi >>> 0, this.#pos + 4);
    this.#pos += 8;
    return this;
  }
  /** DateTime: UInt32 seconds. */
  dateTime(ms: number): this {
    this.#room(4);
    this.#buf.writeUInt32LE(Math.max(0, Math.min(0xffffffff, Math.floor(ms / 1000))), this.#pos);
    this.#pos += 4;
    return this;
  }
  string(s: string): this {
    const len = Buffer.byteLength(s, 'utf8');
    this.varUInt(len);
    this.#room(len);
    this.#pos += this.#buf.write(s, this.#pos, 'utf8');
    return this;
  }
  strings(list: readonly string[]): this {
    this.varUInt(list.length);
    for (const s of list) this.string(s);
    return this;
  }
  /** Bytes already in RowBinary. */
  raw(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }
  get length(): number {
    return this.#pos;
  }
  /** The bytes written so far (a view; copy it before writing more). */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
}
