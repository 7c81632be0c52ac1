import { createHash } from 'node:crypto';

/**
 * The series fingerprint: the first 8 bytes of MD5 over the label set sorted by name, each label as
 * `name 0xff value 0xff` in UTF-8, read as a little-endian UInt64. Stable across processes, versions and
 * machines, so every adapter (and a cluster's sharding key) agrees on it.
 */
export function fingerprintBytes(names: readonly string[], values: readonly string[]): Buffer {
  const h = createHash('md5');
  const sep = Buffer.from([0xff]);
  for (let i = 0; i < names.length; i++) {
    h.update(names[i]!, 'utf8');
    h.update(sep);
    h.update(values[i]!, 'utf8');
    h.update(sep);
  }
  return h.digest().subarray(0, 8);
}

/** The fingerprint as the UInt64 ClickHouse shows (decimal string). */
export function fingerprint(names: readonly string[], values: readonly string[]): bigint {
  return fingerprintBytes(names, values).readBigUInt64LE(0);
}
