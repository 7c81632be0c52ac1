import { crc32c as native } from '@node-rs/crc32';

/**
 * CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected), the checksum of Prometheus' streamed
 * remote-read frames (Go's crc32.MakeTable(crc32.Castagnoli)). @node-rs/crc32 computes it with SSE4.2
 * or a software fallback.
 */
export function crc32c(data: Uint8Array): number {
  return (
    native(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)) >>> 0
  );
}
