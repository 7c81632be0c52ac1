import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ReadRequest, TO_OBJECT } from '../../test/support/prompb.ts';
import { HttpError } from '../lib/errors.ts';
import { decodeReadRequest } from './read-request.ts';

const int64 = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.maxSafeInteger(),
  fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
);
const matcher = fc.record({
  type: fc.integer({ min: 0, max: 3 }),
  name: fc.string({ unit: 'binary', maxLength: 12 }),
  value: fc.string({ unit: 'binary', maxLength: 40 }),
});
const hints = fc.record({
  step_ms: int64,
  func: fc.constantFrom('', 'rate', 'series', 'sum'),
  start_ms: int64,
  end_ms: int64,
  grouping: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  by: fc.boolean(),
  range_ms: int64,
});
const request = fc.record({
  queries: fc.array(
    fc.record({
      start_timestamp_ms: int64,
      end_timestamp_ms: int64,
      matchers: fc.array(matcher, { maxLength: 4 }),
      hints: fc.option(hints, { nil: undefined }),
    }),
    { maxLength: 3 },
  ),
  accepted_response_types: fc.array(fc.integer({ min: 0, max: 1 }), { maxLength: 3 }),
});

/** What protobufjs makes of the same bytes, in the decoder's shape (hints without grouping/by). */
const oracle = (bytes: Uint8Array) => {
  const o = ReadRequest.toObject(ReadRequest.decode(bytes), TO_OBJECT) as {
    queries: { hints: null | Record<string, unknown> }[];
  };
  for (const q of o.queries)
    if (q.hints) {
      delete q.hints.grouping;
      delete q.hints.by;
    }
  return o;
};

describe('decodeReadRequest', () => {
  it('decodes what protobufjs encodes exactly as protobufjs decodes it', () => {
    fc.assert(
      fc.property(request, (req) => {
        const bytes = ReadRequest.encode(ReadRequest.fromObject(req)).finish();
        assert.deepEqual(
          JSON.parse(JSON.stringify(decodeReadRequest(Buffer.from(bytes)))),
          JSON.parse(JSON.stringify(oracle(bytes))),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('answers any corruption of a valid request with a 400 or a decoding, never another error', () => {
    fc.assert(
      fc.property(request, fc.integer({ min: 0 }), fc.integer({ min: 0, max: 255 }), (req, at, byte) => {
        const bytes = Buffer.from(ReadRequest.encode(ReadRequest.fromObject(req)).finish());
        if (bytes.length === 0) return;
        bytes[at % bytes.length] = byte;
        const cut = bytes.subarray(0, (at >> 3) % (bytes.length + 1));
        for (const b of [bytes, cut])
          try {
            decodeReadRequest(b);
          } catch (e) {
            assert.ok(e instanceof HttpError && e.status === 400, String(e));
          }
      }),
      { numRuns: 2000 },
    );
  });

  it('names the field whose wire type is wrong, and invalid UTF-8 in a matcher', () => {
    // queries (field 1) as a varint
    assert.throws(
      () => decodeReadRequest(Buffer.from([0x08, 0x01])),
      (e: HttpError) => e.status === 400 && /ReadRequest: query has wire type varint/.test(e.message),
    );
    // one query with one matcher whose name is 0xff
    const bad = Buffer.from([0x0a, 0x05, 0x1a, 0x03, 0x12, 0x01, 0xff]);
    assert.throws(
      () => decodeReadRequest(bad),
      (e: HttpError) => e.status === 400 && e.code === 'invalid_utf8',
    );
  });

  it('reads unpacked accepted_response_types and an absent hints as null', () => {
    const r = decodeReadRequest(Buffer.from([0x10, 0x01, 0x10, 0x00, 0x0a, 0x00]));
    assert.deepEqual(r.accepted_response_types, [1, 0]);
    assert.deepEqual(r.queries, [{ start_timestamp_ms: 0, end_timestamp_ms: 0, matchers: [], hints: null }]);
  });
});
