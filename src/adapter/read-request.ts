import type { Matcher } from './matchers.ts';
import { Reader } from './pb-reader.ts';

/**
 * Remote read 0.1.0 `prometheus.ReadRequest` decoding, by hand like the write path's WriteRequest (one
 * protobuf approach per direction: hand-written wire code in, hand-written wire code out; protobufjs is
 * the oracle of the tests). Unknown fields are skipped, as protobuf requires; a known field with the wrong
 * wire type is a 400.
 */

export interface ReadHints {
  readonly step_ms: number;
  readonly func: string;
  readonly start_ms: number;
  readonly end_ms: number;
  readonly range_ms: number;
}

export interface ReadQuery {
  readonly start_timestamp_ms: number;
  readonly end_timestamp_ms: number;
  readonly matchers: Matcher[];
  /** null when the query carries no hints. */
  readonly hints: ReadHints | null;
}

export interface DecodedReadRequest {
  readonly queries: ReadQuery[];
  readonly accepted_response_types: number[];
}

/** Decodes one uncompressed ReadRequest. Throws 400 HttpErrors for malformed input. */
export function decodeReadRequest(buf: Buffer): DecodedReadRequest {
  const r = new Reader(buf, 'ReadRequest');
  const end = buf.length;
  const queries: ReadQuery[] = [];
  const accepted: number[] = [];
  r.fields(end, 'ReadRequest', (field, wire) => {
    if (field === 1) {
      r.expect(wire, 2, 'query');
      queries.push(query(r, r.sub(end)));
    } else if (field === 2 && wire === 2) {
      // A repeated enum, packed (proto3's default) …
      const e = r.sub(end);
      while (r.pos < e) accepted.push(enumValue(r));
      if (r.pos !== e) r.fail('packed accepted_response_types runs past its length');
    } else if (field === 2) {
      // … or one varint per element.
      r.expect(wire, 0, 'accepted_response_types');
      accepted.push(enumValue(r));
    } else r.skip(wire, end);
  });
  return { queries, accepted_response_types: accepted };
}

/** An enum is an int32 on the wire: negative values take 10 bytes. */
const enumValue = (r: Reader): number => r.int64() | 0;

function query(r: Reader, end: number): ReadQuery {
  let start = 0;
  let stop = 0;
  const matchers: Matcher[] = [];
  let hints: ReadHints | null = null;
  r.fields(end, 'query', (field, wire) => {
    if (field === 1) {
      r.expect(wire, 0, 'start_timestamp_ms');
      start = r.int64();
    } else if (field === 2) {
      r.expect(wire, 0, 'end_timestamp_ms');
      stop = r.int64();
    } else if (field === 3) {
      r.expect(wire, 2, 'matcher');
      matchers.push(matcher(r, r.sub(end)));
    } else if (field === 4) {
      r.expect(wire, 2, 'hints');
      hints = readHints(r, r.sub(end), hints);
    } else r.skip(wire, end);
  });
  return { start_timestamp_ms: start, end_timestamp_ms: stop, matchers, hints };
}

function matcher(r: Reader, end: number): Matcher {
  let type = 0;
  let name = '';
  let value = '';
  r.fields(end, 'matcher', (field, wire) => {
    if (field === 1) {
      r.expect(wire, 0, 'matcher type');
      type = enumValue(r);
    } else if (field === 2) {
      r.expect(wire, 2, 'matcher name');
      name = r.string(end, 'a matcher name');
    } else if (field === 3) {
      r.expect(wire, 2, 'matcher value');
      value = r.string(end, `the value of the matcher on ${JSON.stringify(name)}`);
    } else r.skip(wire, end);
  });
  return { type, name, value };
}

/** Hints; a second `hints` field merges into the first, as protobuf's last-one-wins for scalars. */
function readHints(r: Reader, end: number, prev: ReadHints | null): ReadHints {
  const h = { step_ms: 0, func: '', start_ms: 0, end_ms: 0, range_ms: 0, ...prev };
  const times = { 1: 'step_ms', 3: 'start_ms', 4: 'end_ms', 7: 'range_ms' } as const;
  r.fields(end, 'hints', (field, wire) => {
    if (field === 2) {
      r.expect(wire, 2, 'hints.func');
      h.func = r.string(end, 'hints.func');
    } else if (field === 1 || field === 3 || field === 4 || field === 7) {
      r.expect(wire, 0, `hints.${times[field]}`);
      h[times[field]] = r.int64();
    } else r.skip(wire, end); // grouping (5) and by (6): not used, they would change the answer
  });
  return h;
}
