import { type Matcher, matchersSql } from './matchers.ts';
import { encodeLabels } from './read-proto.ts';

/** One stored series selected by a query: fingerprint, labels as raw bytes, labels pre-encoded. */
export interface SelectedSeries {
  readonly fingerprint: bigint;
  readonly labels: readonly { name: Buffer; value: Buffer }[];
  /** `repeated Label labels = 1`, ready to copy into an answer. */
  readonly encoded: Buffer;
}

/**
 * The statement that finds the series of a query: every matcher as a condition on the `series` table,
 * one row per fingerprint (ReplacingMergeTree may hold several until it merges), at most `limit` rows.
 */
export function seriesSql(matchers: readonly Matcher[], limit: number): string {
  return (
    `SELECT fingerprint, label_names, label_values FROM series WHERE ${matchersSql(matchers)}` +
    ` LIMIT 1 BY fingerprint LIMIT ${Math.trunc(limit)} FORMAT RowBinary`
  );
}

/** Reads RowBinary (UInt64, Array(String), Array(String)) rows. */
export function parseSeriesRows(buf: Buffer): { fingerprint: bigint; names: Buffer[]; values: Buffer[] }[] {
  let pos = 0;
  const uvarint = (): number => {
    let x = 0;
    let mul = 1;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('RowBinary: truncated varint');
      x += (b & 0x7f) * mul;
      if (b < 0x80) return x;
      mul *= 128;
    }
  };
  const strings = (): Buffer[] => {
    const n = uvarint();
    const out: Buffer[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const len = uvarint();
      if (pos + len > buf.length) throw new Error('RowBinary: truncated string');
      out[i] = buf.subarray(pos, pos + len);
      pos += len;
    }
    return out;
  };
  const rows: { fingerprint: bigint; names: Buffer[]; values: Buffer[] }[] = [];
  while (pos < buf.length) {
    if (pos + 8 > buf.length) throw new Error('RowBinary: truncated UInt64');
    const fingerprint = buf.readBigUInt64LE(pos);
    pos += 8;
    const names = strings();
    const values = strings();
    if (names.length !== values.length)
      throw new Error('series row with label_names and label_values of different lengths');
    rows.push({ fingerprint, names, values });
  }
  return rows;
}

/** Prometheus' labels.Compare: label by label, name then value, bytewise; then the shorter first. */
export function compareLabels(
  a: readonly { name: Buffer; value: Buffer }[],
  b: readonly { name: Buffer; value: Buffer }[],
): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const c = Buffer.compare(x.name, y.name) || Buffer.compare(x.value, y.value);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/**
 * Turns series rows into the answer's series: labels named in `strip` removed, labels sorted by name
 * (the table keeps them sorted; a stored row is not trusted blindly), series sorted as Prometheus sorts.
 */
export function toSelectedSeries(
  rows: readonly { fingerprint: bigint; names: Buffer[]; values: Buffer[] }[],
  strip: ReadonlySet<string>,
): SelectedSeries[] {
  const stripBytes = [...strip].map((s) => Buffer.from(s));
  const out = rows.map((r) => {
    const labels: { name: Buffer; value: Buffer }[] = [];
    for (let i = 0; i < r.names.length; i++) {
      const name = r.names[i]!;
      if (stripBytes.some((s) => s.equals(name))) continue;
      labels.push({ name, value: r.values[i]! });
    }
    labels.sort((x, y) => Buffer.compare(x.name, y.name));
    return { fingerprint: r.fingerprint, labels, encoded: encodeLabels(labels) };
  });
  return out.sort((a, b) => compareLabels(a.labels, b.labels));
}
