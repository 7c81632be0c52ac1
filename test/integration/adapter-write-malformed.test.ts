import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import snappy from 'snappy';
import { type AdapterRig, startRig } from '../support/adapter-harness.ts';
import { WriteRequest } from '../support/prompb.ts';

const MAX_DECODED = 4 * 1024 * 1024;

const rssBytes = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
};

const isBadSnappy = (b: Uint8Array): boolean => {
  try {
    snappy.uncompressSync(Buffer.from(b));
    return false;
  } catch {
    return true;
  }
};
const isBadProtobuf = (b: Uint8Array): boolean => {
  try {
    WriteRequest.decode(b);
    return false;
  } catch {
    return true;
  }
};
const enc = (msg: object): Buffer => Buffer.from(WriteRequest.encode(WriteRequest.fromObject(msg)).finish());
const valid = enc({
  timeseries: [
    {
      labels: [
        { name: '__name__', value: 'm' },
        { name: 'a', value: 'b' },
      ],
      samples: [{ value: 1, timestamp: 1 }],
    },
  ],
});
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};

/** Bodies that are wrong by construction, each with the reason; the snappy/protobufjs libraries are the oracles. */
const label = fc.record({
  name: fc.stringMatching(/^[a-z_]{1,8}$/),
  value: fc.string({ minLength: 1, maxLength: 8 }),
});
const series = (labels: fc.Arbitrary<{ name: string; value: string }[]>) =>
  labels.map((ls) =>
    snappy.compressSync(enc({ timeseries: [{ labels: ls, samples: [{ value: 1, timestamp: 1 }] }] })),
  );
const bodies: fc.Arbitrary<{ kind: string; body: Buffer }> = fc.oneof(
  fc
    .uint8Array({ minLength: 1, maxLength: 2048 })
    .filter(isBadSnappy)
    .map((b) => ({ kind: 'random bytes', body: Buffer.from(b) })),
  fc
    .integer({ min: 1, max: 1000 })
    .map((cut) => {
      const full = snappy.compressSync(Buffer.concat(Array.from({ length: 20 }, () => valid)));
      return full.subarray(0, Math.min(cut, full.length - 1));
    })
    .filter(isBadSnappy)
    .map((body) => ({ kind: 'truncated snappy', body })),
  fc
    .tuple(fc.integer({ min: MAX_DECODED + 1, max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 64 }))
    .map(([n, tail]) => ({
      kind: 'declared length over the limit',
      body: Buffer.from([...varint(n), ...tail]),
    })),
  // Invalid protobuf by construction (Go's decoder in Prometheus would refuse it too): a valid request cut
  // inside a field, or followed by a tag with wire type 6 or 7, which do not exist.
  fc
    .tuple(fc.array(label, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 10_000 }))
    .map(([ls, cut]) => {
      const full = enc({
        timeseries: [
          { labels: [{ name: '__name__', value: 'm' }, ...ls], samples: [{ value: 1, timestamp: 1 }] },
        ],
      });
      return full.subarray(0, 1 + (cut % (full.length - 1)));
    })
    .filter(isBadProtobuf)
    .map((b) => ({ kind: 'invalid protobuf', body: snappy.compressSync(b) })),
  fc
    .tuple(fc.integer({ min: 1, max: 100 }), fc.constantFrom(6, 7), fc.uint8Array({ maxLength: 16 }))
    .map(([field, wire, tail]) => ({
      kind: 'invalid protobuf',
      body: snappy.compressSync(
        Buffer.concat([valid, Buffer.from([(field << 3) | wire]), Buffer.from(tail)]),
      ),
    })),
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom(0xff, 0xc0, 0xed, 0xf8))
    .map(([pre, bad]) => {
      // Label value bytes that are not UTF-8 (a lone 0xff/0xc0/... breaks any sequence).
      const value = Buffer.from([...pre.map((x) => x & 0x7f), bad]);
      const lab = (n: string, v: Buffer) =>
        Buffer.concat([Buffer.from([0x0a, n.length]), Buffer.from(n), Buffer.from([0x12, v.length]), v]);
      const l1 = lab('__name__', Buffer.from('m'));
      const l2 = lab('x', value);
      const ts = Buffer.concat([
        Buffer.from([0x0a, l1.length]),
        l1,
        Buffer.from([0x0a, l2.length]),
        l2,
        Buffer.from([0x12, 0]),
      ]);
      return {
        kind: 'invalid UTF-8',
        body: snappy.compressSync(Buffer.concat([Buffer.from([0x0a, ts.length]), ts])),
      };
    }),
  series(
    fc
      .array(label, { maxLength: 4 })
      .map((ls) => [{ name: '', value: 'x' }, { name: '__name__', value: 'm' }, ...ls]),
  ).map((body) => ({ kind: 'empty label name', body })),
  series(label.map((l) => [{ name: '__name__', value: 'm' }, l, { name: l.name, value: `${l.value}2` }])).map(
    (body) => ({
      kind: 'duplicate label name',
      body,
    }),
  ),
  series(
    fc.array(
      label.filter((l) => l.name !== '__name__'),
      { maxLength: 5 },
    ),
  ).map((body) => ({
    kind: 'missing __name__',
    body,
  })),
);

describe('adapter: malformed remote-write bodies (property-based, real adapter process)', () => {
  let rig: AdapterRig;
  before(async () => {
    rig = await startRig({ prometheus: false, adapterArgs: [`--write.max-decoded-bytes=${MAX_DECODED}`] });
  });
  after(async () => {
    await rig?.stop();
  });

  it('answers every malformed body 4xx with a message, stays up and keeps its memory bounded', async () => {
    const pid = rig.adapter.pid;
    const post = async (body: Buffer) => {
      const res = await fetch(`${rig.adapterUrl}/write`, {
        method: 'POST',
        body: new Uint8Array(body),
        headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' },
      });
      return { status: res.status, text: await res.text() };
    };
    // Warm up, then measure.
    for (let i = 0; i < 200; i++) await post(Buffer.from([0xff, 0xff, 0xff]));
    const rssBefore = rssBytes(pid);
    const kinds = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(bodies, async ({ kind, body }) => {
        const r = await post(body);
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        assert.ok(r.status >= 400 && r.status < 500, `${kind}: status ${r.status} ${r.text}`);
        const msg = (JSON.parse(r.text) as { error?: string }).error ?? '';
        assert.ok(msg.length > 5, `${kind}: no message in ${r.text}`);
      }),
      { numRuns: 3000 },
    );
    const rssAfter = rssBytes(pid);
    assert.equal((await fetch(`${rig.adapterUrl}/-/healthy`)).status, 200);
    assert.ok(!rig.adapter.exited());
    const growth = rssAfter - rssBefore;
    process.stdout.write(
      `# kinds ${JSON.stringify(Object.fromEntries(kinds))}; RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MiB\n`,
    );
    assert.ok(growth < 150 * 2 ** 20, `RSS grew by ${growth} bytes`);
    assert.ok(kinds.size >= 8, `every kind of bad body was tried: ${[...kinds.keys()].join(', ')}`);
  });
});
