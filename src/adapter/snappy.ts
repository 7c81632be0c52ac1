import snappy from 'snappy';
import { malformed } from './errors.ts';

/**
 * The adapter's one snappy module (block format, as remote write and read use it).
 *
 * Compression (remote-read answers) is the native library's. compressSync, not compress: snappy 7.4.3's
 * async compress never frees its output (measured: RSS grows by every answer's compressed size); the sync
 * one is freed by the GC as usual.
 */
export const compressBlock = (raw: Buffer): Buffer => snappy.compressSync(raw) as Buffer;

/**
 * Snappy block-format decompression into a reused buffer. The native `snappy` package allocates a fresh
 * buffer per request, and those allocations were most of the adapter's garbage collection under load
 * (see bench/ingest); the decoder here writes into one scratch buffer that the (synchronous) protobuf
 * decoder reads right away. Every read and copy is bounds-checked: malformed input is a 400, never a crash.
 */
let scratch = Buffer.allocUnsafe(1 << 20);

const bad = (msg: string): never => {
  throw malformed('malformed_snappy', `invalid snappy block: ${msg}`);
};

/** The uncompressed length the block declares (its varint header), and where the data starts. */
export function snappyHeader(src: Uint8Array): { length: number; offset: number } {
  let length = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= src.length) return bad('truncated length header');
    const b = src[i]!;
    length += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (length > 0xffffffff) bad('declared length over 4 GiB');
      return { length, offset: i + 1 };
    }
  }
  return bad('length header longer than 5 bytes');
}

/**
 * Decompresses `src` and returns a view of the scratch buffer: valid only until the next call, so use it
 * synchronously. The caller checks the declared length against its limit first (snappyHeader).
 */
export function uncompressToScratch(src: Buffer): Buffer {
  const { length, offset } = snappyHeader(src);
  if (scratch.length < length) scratch = Buffer.allocUnsafe(Math.max(length, scratch.length * 2));
  const out = scratch;
  let op = 0;
  let ip = offset;
  const end = src.length;
  while (ip < end) {
    const tag = src[ip++]!;
    const type = tag & 3;
    if (type === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const n = len - 59;
        if (ip + n > end) bad('truncated literal length');
        len = 0;
        for (let k = 0; k < n; k++) len += src[ip + k]! * 2 ** (8 * k);
        ip += n;
      }
      len += 1;
      if (ip + len > end) bad('literal runs past the end of the input');
      if (op + len > length) bad('literal runs past the declared length');
      if (len < 16) for (let k = 0; k < len; k++) out[op + k] = src[ip + k]!;
      else src.copy(out, op, ip, ip + len);
      ip += len;
      op += len;
      continue;
    }
    let len: number;
    let off: number;
    if (type === 1) {
      if (ip >= end) bad('truncated copy');
      len = ((tag >>> 2) & 7) + 4;
      off = ((tag >>> 5) << 8) | src[ip++]!;
    } else if (type === 2) {
      if (ip + 2 > end) bad('truncated copy');
      len = (tag >>> 2) + 1;
      off = src[ip]! | (src[ip + 1]! << 8);
      ip += 2;
    } else {
      if (ip + 4 > end) bad('truncated copy');
      len = (tag >>> 2) + 1;
      off = (src[ip]! | (src[ip + 1]! << 8) | (src[ip + 2]! << 16)) + src[ip + 3]! * 0x1000000;
      ip += 4;
    }
    if (off === 0 || off > op) bad(`copy offset ${off} outside the output so far (${op} bytes)`);
    if (op + len > length) bad('copy runs past the declared length');
    const from = op - off;
    if (off >= len && len >= 16) out.copyWithin(op, from, from + len);
    else for (let k = 0; k < len; k++) out[op + k] = out[from + k]!;
    op += len;
  }
  if (op !== length) bad(`decompressed ${op} bytes, the header declares ${length}`);
  return out.subarray(0, length);
}
