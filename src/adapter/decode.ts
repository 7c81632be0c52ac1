import { isUtf8 } from 'node:buffer';
import { hash } from 'node:crypto';
import { malformed, tooLarge } from './errors.ts';
import { Reader, str, WIRE_NAMES } from './pb-reader.ts';
import { MetricTypeNames } from './prompb.ts';

/**
 * Remote write 1.0 `prometheus.WriteRequest` decoding, written by hand for two reasons:
 * - exact value bits: every sample value is copied as its 8 raw bytes into the RowBinary row, never
 *   through a JS number (V8 canonicalises NaN payloads in double arrays: the stale marker
 *   0x7ff0000000000002 would become 0x7ff8000000000000);
 * - speed: the labels of a series already seen are never decoded again; their raw bytes are the key of the
 *   series cache (see bench/ingest).
 * The result is the samples' RowBinary rows (fingerprint UInt64, timestamp_ms Int64, value Float64), the
 * series that still need a `series` row, and the metadata.
 */

/** A label set the adapter knows, with the state of its `series` row. */
export interface SeriesEntry {
  /** Fingerprint as two little-endian 32-bit halves. */
  readonly lo: number;
  readonly hi: number;
  /**
   * The `series` row's RowBinary bytes up to `first_seen` (fingerprint, metric_name, label_names,
   * label_values: names sorted), built from the request's raw bytes; kept only until the row is stored.
   */
  row: Buffer | undefined;
  /** Wall-clock ms of the last stored series row (0: never). */
  storedAt: number;
  /** Wall-clock ms the adapter first saw it (first_seen). */
  readonly firstSeen: number;
  /** The raw label bytes this entry is cached under. */
  readonly key: Buffer;
  /** The series that followed this one in the last request (a guess for the next lookup). */
  next: SeriesEntry | undefined;
  /** The cache generation it was added in. */
  generation: number;
}

export interface MetadataRow {
  readonly family: string;
  readonly type: string;
  readonly help: string;
  readonly unit: string;
}

export interface DecodedWrite {
  /** RowBinary rows for `samples`, `samples * 24` bytes. */
  readonly rows: Buffer;
  readonly samples: number;
  readonly series: number;
  /** Series whose row must be written with these samples (new, or due for a last_seen refresh). */
  readonly seriesToStore: readonly SeriesEntry[];
  readonly metadata: readonly MetadataRow[];
}

/**
 * Known series by the raw bytes of their label fields; bounded (cleared when full). Keyed by a murmur3
 * hash of those bytes computed in JS, then confirmed byte for byte: a string-keyed Map made V8 hash and
 * compare a fresh 200-byte string per sample, the adapter's largest cost (see bench/ingest).
 */
export class SeriesCache {
  readonly #map = new Map<number, CacheSlot>();
  #size = 0;
  /** Bumped on every clear: an entry of an older generation is no longer a valid guess. */
  generation = 0;
  constructor(readonly maxSize: number) {}
  /** The entry whose label bytes equal `buf[start, end)`, if any. */
  find(hash: number, buf: Buffer, start: number, end: number): SeriesEntry | undefined {
    const len = end - start;
    for (let slot = this.#map.get(hash); slot !== undefined; slot = slot.next)
      if (slot.entry.key.length === len && buf.compare(slot.entry.key, 0, len, start, end) === 0)
        return slot.entry;
    return undefined;
  }
  add(hash: number, entry: SeriesEntry): void {
    // Clearing is crude but bounded and cheap; the price is re-writing series rows once.
    if (this.#size >= this.maxSize) {
      this.#map.clear();
      this.#size = 0;
      this.generation++;
    }
    entry.generation = this.generation;
    this.#map.set(hash, { entry, next: this.#map.get(hash) });
    this.#size++;
  }
  get size(): number {
    return this.#size;
  }
}

interface CacheSlot {
  readonly entry: SeriesEntry;
  readonly next: CacheSlot | undefined;
}

/** murmur3 (32-bit) of `buf[start, end)`. */
export function hashBytes(buf: Buffer, start: number, end: number): number {
  let h = (end - start) ^ 0x9747b28c;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    let k = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = end - i;
  if (rest > 0) {
    let k = buf[i]!;
    if (rest > 1) k |= buf[i + 1]! << 8;
    if (rest > 2) k |= buf[i + 2]! << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface DecodeOptions {
  cache: SeriesCache;
  /** Wall clock in ms (first_seen, last_seen refresh). */
  now: number;
  /** A series row older than this is written again (moves last_seen). */
  refreshMs: number;
  /** Largest RowBinary buffer; more is a 413. */
  maxRowBytes: number;
}

const ROW = 24;

// Scratch space reused across series (the decoder is synchronous).
let labelSpans = new Int32Array(64);
let sampleSpans = new Int32Array(256);

function ensure(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  if (n <= a.length) return a;
  const b = new Int32Array(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

/** Decodes one uncompressed WriteRequest. Throws 400 (malformed) or 413 (too large) HttpErrors. */
export function decodeWriteRequest(buf: Buffer, opts: DecodeOptions): DecodedWrite {
  const r = new Reader(buf, 'WriteRequest');
  const end = buf.length;
  // Prometheus' series take 100 to 300 bytes per sample: start near that and grow when needed.
  let rows = Buffer.allocUnsafe(
    Math.min(opts.maxRowBytes, Math.max(ROW * 64, Math.ceil(buf.length / 128) * ROW)),
  );
  let rowPos = 0;
  let seriesCount = 0;
  let prev: SeriesEntry | undefined;
  const seriesToStore: SeriesEntry[] = [];
  const metadata: MetadataRow[] = [];

  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 0) r.fail('field number 0');
    if (field === 1) {
      if (wire !== 2) r.fail(`timeseries has wire type ${WIRE_NAMES[wire] ?? wire}`);
      const tsEnd = r.sub(end);
      seriesCount++;
      // Pass 1: where the labels and samples are.
      let nl = 0;
      let ns = 0;
      while (r.pos < tsEnd) {
        const t = r.uint32();
        const f = t >>> 3;
        const w = t & 7;
        if (f === 1 || f === 2) {
          if (w !== 2) r.fail(`${f === 1 ? 'label' : 'sample'} has wire type ${WIRE_NAMES[w] ?? w}`);
          const start = r.pos;
          const e = r.sub(tsEnd);
          if (f === 1) {
            labelSpans = ensure(labelSpans, nl * 3 + 3);
            labelSpans[nl * 3] = start; // the length prefix: part of the cache key
            labelSpans[nl * 3 + 1] = r.pos;
            labelSpans[nl * 3 + 2] = e;
            nl++;
          } else {
            sampleSpans = ensure(sampleSpans, ns * 2 + 2);
            sampleSpans[ns * 2] = r.pos;
            sampleSpans[ns * 2 + 1] = e;
            ns++;
          }
          r.pos = e;
        } else if (f === 0) r.fail('field number 0');
        else r.skip(w, tsEnd); // exemplars (3), native histograms (4): not stored
      }
      if (ns === 0) continue;
      // Pass 2: the series, from the cache or decoded and validated once.
      // The key is the label fields' raw bytes (tags and lengths included): contiguous in practice.
      let keyBuf = buf;
      let keyStart = 0;
      let keyEnd = 0;
      if (nl > 0) {
        let contiguous = true;
        // Contiguous: each label's tag byte follows the previous label's end.
        for (let i = 1; i < nl; i++) if (labelSpans[i * 3] !== labelSpans[i * 3 - 1]! + 1) contiguous = false;
        if (contiguous) {
          keyStart = labelSpans[0]! - 1;
          keyEnd = labelSpans[nl * 3 - 1]!;
        } else {
          const parts: Buffer[] = [];
          for (let i = 0; i < nl; i++)
            parts.push(buf.subarray(labelSpans[i * 3]! - 1, labelSpans[i * 3 + 2]!));
          keyBuf = Buffer.concat(parts);
          keyEnd = keyBuf.length;
        }
      }
      // Prometheus' shards send their series in the same order every time: try the series that followed
      // the previous one last time before hashing (one byte comparison instead of hash + lookup).
      const keyLen = keyEnd - keyStart;
      const guess = prev?.next;
      let entry: SeriesEntry | undefined;
      if (
        guess !== undefined &&
        guess.generation === opts.cache.generation &&
        guess.key.length === keyLen &&
        keyBuf.compare(guess.key, 0, keyLen, keyStart, keyEnd) === 0
      )
        entry = guess;
      else {
        const hash = hashBytes(keyBuf, keyStart, keyEnd);
        entry = opts.cache.find(hash, keyBuf, keyStart, keyEnd);
        if (entry === undefined) {
          const key = Buffer.allocUnsafe(keyLen);
          keyBuf.copy(key, 0, keyStart, keyEnd);
          // One native check for the whole label set. A name or value is preceded by a length whose last
          // byte is ASCII and followed by a name/value tag (ASCII) or the end: so a sequence broken inside
          // one cannot be mended by its neighbours, and a valid whole means valid names and values (a label
          // with an unknown field is checked alone). When the whole is not valid (a bad label, or a length
          // of 128 bytes or more), each label is checked alone and the bad one is named.
          const { row, lo, hi } = seriesRow(buf, r, nl, isUtf8(key));
          entry = {
            lo,
            hi,
            row,
            storedAt: 0,
            firstSeen: opts.now,
            key,
            next: undefined,
            generation: -1,
          };
          opts.cache.add(hash, entry);
        }
        if (prev !== undefined) prev.next = entry;
      }
      prev = entry;
      if (entry.storedAt === 0) seriesToStore.push(entry);
      else if (opts.now - entry.storedAt >= opts.refreshMs) {
        // The row was dropped once stored; build it again from this request's bytes.
        entry.row = seriesRow(buf, r, nl, true).row;
        seriesToStore.push(entry);
      }
      // Pass 3: one row per sample, the value's 8 bytes copied verbatim.
      const need = rowPos + ns * ROW;
      if (need > rows.length) {
        if (need > opts.maxRowBytes)
          throw tooLarge(
            'decoded_too_large',
            `write request holds more than ${Math.floor(opts.maxRowBytes / ROW)} samples`,
          );
        const bigger = Buffer.allocUnsafe(Math.min(opts.maxRowBytes, Math.max(need, rows.length * 2)));
        rows.copy(bigger, 0, 0, rowPos);
        rows = bigger;
      }
      const lo = entry.lo;
      const hi = entry.hi;
      for (let i = 0; i < ns; i++) {
        r.pos = sampleSpans[i * 2]!;
        const sEnd = sampleSpans[i * 2 + 1]!;
        let vOff = -1;
        let tLo = 0;
        let tHi = 0;
        while (r.pos < sEnd) {
          const t = r.uint32();
          const f = t >>> 3;
          const w = t & 7;
          if (f === 1) {
            if (w !== 1) r.fail(`sample value has wire type ${WIRE_NAMES[w] ?? w}`);
            vOff = r.pos;
            r.pos += 8;
            if (r.pos > sEnd) r.fail('truncated sample value');
          } else if (f === 2) {
            if (w !== 0) r.fail(`sample timestamp has wire type ${WIRE_NAMES[w] ?? w}`);
            // int64 varint, as two 32-bit halves.
            tLo = 0;
            tHi = 0;
            let shift = 0;
            for (let k = 0; ; k++) {
              if (k === 10) r.fail('varint longer than 10 bytes');
              if (r.pos >= sEnd) r.fail('truncated varint');
              const byte = buf[r.pos++]!;
              const bits = byte & 0x7f;
              if (shift < 28) tLo |= bits << shift;
              else if (shift === 28) {
                tLo |= (bits & 0x0f) << 28;
                tHi |= bits >>> 4;
              } else tHi |= bits << (shift - 32);
              if ((byte & 0x80) === 0) break;
              shift += 7;
            }
          } else if (f === 0) r.fail('field number 0');
          else r.skip(w, sEnd);
        }
        rows.writeUInt32LE(lo, rowPos);
        rows.writeUInt32LE(hi, rowPos + 4);
        rows.writeInt32LE(tLo | 0, rowPos + 8);
        rows.writeInt32LE(tHi | 0, rowPos + 12);
        if (vOff < 0) rows.fill(0, rowPos + 16, rowPos + 24);
        else for (let k = 0; k < 8; k++) rows[rowPos + 16 + k] = buf[vOff + k]!;
        rowPos += ROW;
      }
      r.pos = tsEnd;
    } else if (field === 3) {
      if (wire !== 2) r.fail(`metadata has wire type ${WIRE_NAMES[wire] ?? wire}`);
      const mEnd = r.sub(end);
      metadata.push(decodeMetadata(buf, r, mEnd));
    } else if (field === 0) r.fail('field number 0');
    else r.skip(wire, end);
  }
  return {
    rows: rows.subarray(0, rowPos),
    samples: rowPos / ROW,
    series: seriesCount,
    seriesToStore,
    metadata,
  };
}

// Scratch for seriesRow: per kept label its name and value spans in the request, then the sort order.
let spans = new Int32Array(64 * 4);
let order = new Int32Array(64);
let fpInput = Buffer.allocUnsafe(4096);
const METRIC_NAME = Buffer.from('__name__');

/** Byte order of `buf[aS, aE)` and `buf[bS, bE)`, as Buffer.compare (label names are short). */
function compareBytes(buf: Buffer, aS: number, aE: number, bS: number, bE: number): number {
  const n = Math.min(aE - aS, bE - bS);
  for (let k = 0; k < n; k++) {
    const d = buf[aS + k]! - buf[bS + k]!;
    if (d !== 0) return d;
  }
  return aE - aS - (bE - bS);
}

const varUIntSize = (n: number): number =>
  n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;

function putVarUInt(out: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
  return pos;
}

function putBytes(out: Buffer, pos: number, buf: Buffer, s: number, e: number): number {
  if (e - s < 32) for (let k = s; k < e; k++) out[pos++] = buf[k]!;
  else pos += buf.copy(out, pos, s, e);
  return pos;
}

/**
 * A new label set, straight from the request's bytes (no JS strings unless a message needs one): checks it
 * (UTF-8, no empty or repeated name, a metric name), sorts its labels by name bytes, computes the
 * fingerprint (see fingerprint.ts: MD5 of `name 0xff value 0xff`…, the reference this is tested against)
 * and builds the `series` row. Labels with an empty value are not part of the set, as in Prometheus.
 */
function seriesRow(
  buf: Buffer,
  r: Reader,
  nl: number,
  /** The label fields' bytes are known to be valid UTF-8 as a whole (see isUtf8 at the caller). */
  utf8Checked: boolean,
): { row: Buffer; lo: number; hi: number } {
  spans = ensure(spans, nl * 4);
  order = ensure(order, nl);
  let n = 0;
  let keyBytes = 0;
  for (let i = 0; i < nl; i++) {
    r.pos = labelSpans[i * 3 + 1]!;
    const e = labelSpans[i * 3 + 2]!;
    let nS = 0;
    let nE = 0;
    let vS = 0;
    let vE = 0;
    let unknownField = false;
    while (r.pos < e) {
      const t = r.uint32();
      const f = t >>> 3;
      const w = t & 7;
      if (f === 1 || f === 2) {
        if (w !== 2) r.fail(`label ${f === 1 ? 'name' : 'value'} has wire type ${WIRE_NAMES[w] ?? w}`);
        const se = r.sub(e);
        if (f === 1) {
          nS = r.pos;
          nE = se;
        } else {
          vS = r.pos;
          vE = se;
        }
        r.pos = se;
      } else if (f === 0) r.fail('field number 0');
      else {
        r.skip(w, e);
        // An unknown field's tag can start with a byte >= 0x80 (field 16 and up) and complete a sequence
        // that a name or value left open: the check of the whole set says nothing about this label.
        unknownField = true;
      }
    }
    if (!utf8Checked || unknownField) {
      // Decoding validates: a name or value that is not UTF-8 is a 400 naming it.
      const name = str(buf, nS, nE, 'a label name');
      if (vE > vS) str(buf, vS, vE, `the value of label ${JSON.stringify(name)}`);
    }
    if (nE === nS) throw malformed('invalid_labels', 'a series has a label with an empty name');
    if (vE === vS) continue;
    spans[n * 4] = nS;
    spans[n * 4 + 1] = nE;
    spans[n * 4 + 2] = vS;
    spans[n * 4 + 3] = vE;
    order[n] = n;
    keyBytes += nE - nS + vE - vS;
    n++;
  }
  // Insertion sort by name bytes: a series has a handful of labels, usually sorted already.
  for (let i = 1; i < n; i++) {
    const x = order[i]!;
    let j = i - 1;
    while (
      j >= 0 &&
      compareBytes(buf, spans[order[j]! * 4]!, spans[order[j]! * 4 + 1]!, spans[x * 4]!, spans[x * 4 + 1]!) >
        0
    ) {
      order[j + 1] = order[j]!;
      j--;
    }
    order[j + 1] = x;
  }
  let metric = -1;
  for (let i = 0; i < n; i++) {
    const a = order[i]! * 4;
    if (i > 0) {
      const b = order[i - 1]! * 4;
      if (compareBytes(buf, spans[b]!, spans[b + 1]!, spans[a]!, spans[a + 1]!) === 0)
        throw malformed(
          'invalid_labels',
          `a series has the label ${JSON.stringify(buf.toString('utf8', spans[a], spans[a + 1]))} twice`,
        );
    }
    if (
      spans[a + 1]! - spans[a]! === METRIC_NAME.length &&
      buf.compare(METRIC_NAME, 0, METRIC_NAME.length, spans[a], spans[a + 1]) === 0
    )
      metric = a;
  }
  if (metric < 0) {
    const labels: Record<string, string> = {};
    for (let i = 0; i < n; i++) {
      const a = order[i]! * 4;
      labels[buf.toString('utf8', spans[a], spans[a + 1])] = buf.toString('utf8', spans[a + 2], spans[a + 3]);
    }
    throw malformed(
      'invalid_labels',
      `a series has no metric name (__name__); labels: ${JSON.stringify(labels).slice(0, 300)}`,
    );
  }
  // The fingerprint: MD5 over `name 0xff value 0xff` per label, in order.
  if (fpInput.length < keyBytes + 2 * n)
    fpInput = Buffer.allocUnsafe(Math.max(keyBytes + 2 * n, fpInput.length * 2));
  let p = 0;
  for (let i = 0; i < n; i++) {
    const a = order[i]! * 4;
    p = putBytes(fpInput, p, buf, spans[a]!, spans[a + 1]!);
    fpInput[p++] = 0xff;
    p = putBytes(fpInput, p, buf, spans[a + 2]!, spans[a + 3]!);
    fpInput[p++] = 0xff;
  }
  // As a 'binary' (latin1) string: one char per byte, and no buffer to allocate (a fresh one per call cost more than the hash).
  const fp = hash('md5', fpInput.subarray(0, p), 'binary');
  const lo =
    (fp.charCodeAt(0) | (fp.charCodeAt(1) << 8) | (fp.charCodeAt(2) << 16) | (fp.charCodeAt(3) << 24)) >>> 0;
  const hi =
    (fp.charCodeAt(4) | (fp.charCodeAt(5) << 8) | (fp.charCodeAt(6) << 16) | (fp.charCodeAt(7) << 24)) >>> 0;
  // The row: fingerprint, metric_name, label_names, label_values (RowBinary).
  let size = 8 + 2 * varUIntSize(n) + keyBytes;
  for (let i = 0; i < n; i++)
    size +=
      varUIntSize(spans[i * 4 + 1]! - spans[i * 4]!) + varUIntSize(spans[i * 4 + 3]! - spans[i * 4 + 2]!);
  const mLen = spans[metric + 3]! - spans[metric + 2]!;
  size += varUIntSize(mLen) + mLen;
  const row = Buffer.allocUnsafe(size);
  row.writeUInt32LE(lo, 0);
  row.writeUInt32LE(hi, 4);
  p = putVarUInt(row, 8, mLen);
  p = putBytes(row, p, buf, spans[metric + 2]!, spans[metric + 3]!);
  for (let part = 0; part < 2; part++) {
    p = putVarUInt(row, p, n);
    for (let i = 0; i < n; i++) {
      const a = order[i]! * 4 + part * 2;
      p = putVarUInt(row, p, spans[a + 1]! - spans[a]!);
      p = putBytes(row, p, buf, spans[a]!, spans[a + 1]!);
    }
  }
  return { row, lo, hi };
}

function decodeMetadata(buf: Buffer, r: Reader, end: number): MetadataRow {
  let type = 0;
  let family = '';
  let help = '';
  let unit = '';
  while (r.pos < end) {
    const t = r.uint32();
    const f = t >>> 3;
    const w = t & 7;
    if (f === 1) {
      if (w !== 0) r.fail(`metadata type has wire type ${WIRE_NAMES[w] ?? w}`);
      type = r.uint32();
    } else if (f === 2 || f === 4 || f === 5) {
      if (w !== 2) r.fail(`metadata field ${f} has wire type ${WIRE_NAMES[w] ?? w}`);
      const s = r.sub(end);
      const v = str(buf, r.pos, s, f === 2 ? 'a metric family name' : f === 4 ? 'a help text' : 'a unit');
      if (f === 2) family = v;
      else if (f === 4) help = v;
      else unit = v;
      r.pos = s;
    } else if (f === 0) r.fail('field number 0');
    else r.skip(w, end);
  }
  if (family === '') throw malformed('invalid_labels', 'a metadata entry has no metric family name');
  return { family, type: MetricTypeNames[type] ?? 'unknown', help, unit };
}
