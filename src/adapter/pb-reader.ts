import { malformed } from './errors.ts';

/**
 * Protobuf wire-format reading shared by the adapter's hand-written request decoders (remote write's
 * WriteRequest, remote read's ReadRequest). Every read is bounds-checked; malformed input is a 400 that
 * names the message and the byte offset, never a crash. protobufjs is the oracle these are tested against.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
export const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];

/** Reads protobuf wire format from one buffer. */
export class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    /** The message type, for error messages. */
    readonly what: string,
  ) {}

  fail(msg: string): never {
    throw malformed('malformed_protobuf', `invalid protobuf ${this.what}: ${msg} at byte ${this.pos}`);
  }

  /** A varint that must fit in 32 bits unsigned (tags, lengths, enums). */
  uint32(): number {
    const b = this.buf;
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= b.length) this.fail('truncated varint');
      const byte = b[this.pos++]!;
      if (shift < 28) result |= (byte & 0x7f) << shift;
      else if (shift === 28) {
        if (byte & 0x70) this.fail('varint does not fit in 32 bits');
        result = (result >>> 0) + (byte & 0x0f) * 0x10000000;
      } else if (byte & 0x7f) this.fail('varint does not fit in 32 bits');
      // Zero continuation bytes (an over-long encoding) are accepted, as Go's decoder does.
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /**
   * An int64 varint as a number (as protobufjs with `longs: Number`): exact within ±2^53, rounded beyond
   * (Prometheus sends millisecond timestamps, far inside that; its "no start" is clamped, not exact).
   */
  int64(): number {
    const b = this.buf;
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= b.length) this.fail('truncated varint');
      const byte = b[this.pos++]!;
      v |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if ((byte & 0x80) === 0) return Number(BigInt.asIntN(64, v));
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** Skips one field's value of the given wire type. */
  skip(wire: number, end: number): void {
    switch (wire) {
      case 0:
        this.int64();
        break;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const len = this.uint32();
        this.pos += len;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        this.fail(`unsupported wire type ${wire} (${WIRE_NAMES[wire] ?? 'unknown'})`);
    }
    if (this.pos > end) this.fail('field runs past the end of its message');
  }

  /** Reads a length prefix and returns the end offset of the embedded message, bounds-checked. */
  sub(end: number): number {
    const len = this.uint32();
    const e = this.pos + len;
    if (e > end) this.fail('length-delimited field runs past the end of its message');
    return e;
  }

  /**
   * Calls `field(number, wire)` for every field up to `end`; the callback reads the value (or calls skip).
   * Field number 0 is an error; the fields must end exactly at `end`.
   */
  fields(end: number, what: string, field: (number: number, wire: number) => void): void {
    while (this.pos < end) {
      const tag = this.uint32();
      if (tag >>> 3 === 0) this.fail('field number 0');
      field(tag >>> 3, tag & 7);
    }
    if (this.pos !== end) this.fail(`${what} runs past its length`);
  }

  /** Fails unless a known field has the wire type its type needs. */
  expect(wire: number, want: number, field: string): void {
    if (wire !== want) this.fail(`${field} has wire type ${WIRE_NAMES[wire] ?? wire}`);
  }

  /** A length-delimited UTF-8 string field; invalid UTF-8 is a 400 naming `what`. */
  string(end: number, what: string): string {
    const e = this.sub(end);
    const s = str(this.buf, this.pos, e, what);
    this.pos = e;
    return s;
  }
}

/** `buf[start, end)` as UTF-8; invalid UTF-8 is a 400 naming `what`. */
export function str(buf: Buffer, start: number, end: number, what: string): string {
  try {
    return utf8.decode(buf.subarray(start, end));
  } catch {
    throw malformed('invalid_utf8', `${what} is not valid UTF-8`);
  }
}
