import { crc32c } from './crc32c.ts';
import { type PbWriter, uvarintSize } from './read-proto.ts';

/**
 * Framing of a streamed remote-read answer (Prometheus storage/remote/chunked.go): each message is
 * preceded by its length as an unsigned varint and its CRC-32C, 4 bytes big-endian.
 */
export const STREAMED_CONTENT_TYPE = 'application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse';

/** Bytes the frame header of a `length`-byte message takes. */
export const frameHeaderSize = (length: number): number => uvarintSize(length) + 4;

/**
 * Writes the frame header in front of the message `w.buf[start, w.pos)` (the writer needs that much
 * headroom before `start`) and returns where the frame begins.
 */
export function frameInPlace(w: PbWriter, start: number): number {
  const len = w.pos - start;
  const at = start - frameHeaderSize(len);
  if (at < 0) throw new Error('not enough headroom for the frame header');
  const crc = crc32c(w.buf.subarray(start, w.pos));
  const save = w.pos;
  w.pos = at;
  w.uvarint(len);
  w.buf.writeUInt32BE(crc, w.pos);
  w.pos = save;
  return at;
}
