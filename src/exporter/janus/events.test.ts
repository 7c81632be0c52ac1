import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseEvents } from './events.ts';

// Shapes as Janus 1.1.2's sample event handler posted them (captured, trimmed).
const H = 6620831492477552;
const S = 4714813124271550;
const captured = [
  {
    emitter: 'rtcmon-janus',
    type: 128,
    timestamp: 1,
    event: { transport: 'janus.transport.http', id: '1', data: { event: 'request' } },
  },
  {
    emitter: 'rtcmon-janus',
    type: 2,
    timestamp: 10,
    session_id: S,
    handle_id: H,
    event: { name: 'attached', plugin: 'janus.plugin.videoroom' },
  },
  {
    emitter: 'rtcmon-janus',
    type: 64,
    timestamp: 20,
    session_id: S,
    handle_id: H,
    event: {
      plugin: 'janus.plugin.videoroom',
      data: { event: 'joined', room: 1234, id: 1107625487491669, display: 'pub' },
    },
  },
  {
    emitter: 'rtcmon-janus',
    type: 8,
    timestamp: 30,
    session_id: S,
    handle_id: H,
    event: { owner: 'remote', jsep: { type: 'offer', sdp: 'v=0' } },
  },
  {
    emitter: 'rtcmon-janus',
    type: 16,
    subtype: 1,
    timestamp: 40,
    session_id: S,
    handle_id: H,
    event: { ice: 'gathering', stream_id: 1, component_id: 1 },
  },
  {
    emitter: 'rtcmon-janus',
    type: 16,
    subtype: 2,
    timestamp: 41,
    session_id: S,
    handle_id: H,
    event: { 'local-candidate': '1 1 udp 2015363327 127.0.0.1 41986 typ host' },
  },
  {
    emitter: 'rtcmon-janus',
    type: 16,
    subtype: 5,
    timestamp: 50,
    session_id: S,
    handle_id: H,
    event: { dtls: 'connected', stream_id: 1, component_id: 1, retransmissions: 0 },
  },
  {
    emitter: 'rtcmon-janus',
    type: 16,
    subtype: 6,
    timestamp: 60,
    session_id: S,
    handle_id: H,
    event: { connection: 'webrtcup' },
  },
  {
    emitter: 'rtcmon-janus',
    type: 32,
    subtype: 3,
    timestamp: 70,
    session_id: S,
    handle_id: H,
    event: {
      mid: '0',
      mindex: 0,
      media: 'audio',
      codec: 'opus',
      base: 48000,
      rtt: 12,
      lost: 3,
      'lost-by-remote': 0,
      'jitter-local': 4,
      'jitter-remote': 0,
      'in-link-quality': 100,
      'out-link-quality': 0,
      'packets-received': 118,
      'packets-sent': 0,
      'bytes-received': 8135,
      'bytes-sent': 0,
      'nacks-received': 0,
      'nacks-sent': 2,
    },
  },
  {
    emitter: 'rtcmon-janus',
    type: 32,
    subtype: 1,
    timestamp: 71,
    handle_id: H,
    event: { media: 'audio', receiving: true },
  },
  {
    emitter: 'rtcmon-janus',
    type: 64,
    timestamp: 80,
    event: { plugin: 'janus.plugin.videoroom', data: { event: 'leaving', room: 1234, id: 1107625487491669 } },
  },
  {
    emitter: 'rtcmon-janus',
    type: 2,
    timestamp: 90,
    session_id: S,
    handle_id: H,
    event: { name: 'detached', plugin: 'janus.plugin.videoroom' },
  },
];

test('a grouped post: used events typed, transport/JSEP/candidate/state events ignored', () => {
  const p = parseEvents(captured);
  assert.equal(p.emitter, 'rtcmon-janus');
  assert.deepEqual(
    p.events.map((e) => e.kind),
    ['attached', 'joined', 'ice', 'dtls', 'webrtcup', 'media', 'leaving', 'detached'],
  );
  assert.equal(p.ignored, 4);
  assert.equal(p.invalid, 0);
  const media = p.events.find((e) => e.kind === 'media');
  assert.ok(media?.kind === 'media');
  assert.deepEqual(media.stats, {
    mid: '0',
    kind: 'audio',
    rttMs: 12,
    lost: 3,
    lostByRemote: 0,
    jitterLocalMs: 4,
    jitterRemoteMs: 0,
    packetsReceived: 118,
    packetsSent: 0,
    bytesReceived: 8135,
    bytesSent: 0,
    nacksReceived: 0,
    nacksSent: 2,
    inQuality: 100,
    outQuality: 0,
  });
  const leaving = p.events.find((e) => e.kind === 'leaving');
  assert.deepEqual(leaving, { kind: 'leaving', handle: 0, tsUs: 80, participant: '1107625487491669' });
});

test('a single event object (grouping off) and combined media stats', () => {
  const p = parseEvents({
    type: 32,
    subtype: 3,
    timestamp: 5,
    handle_id: 7,
    event: {
      media: [
        { mid: '0', media: 'audio', 'packets-received': 1 },
        { mid: '1', media: 'video', 'packets-received': 2 },
        { mid: '2', media: 'data' },
      ],
    },
  });
  assert.deepEqual(
    p.events.map((e) => (e.kind === 'media' ? `${e.stats.mid}:${e.stats.kind}` : e.kind)),
    ['0:audio', '1:video'],
  );
});

test('hostile entries are counted, never thrown', () => {
  const p = parseEvents([
    null,
    1,
    'x',
    [],
    {},
    { type: 16 },
    { type: 32, subtype: 3, handle_id: 1, event: { media: 'audio', rtt: -5, lost: 'many' } },
    { type: 64, event: { plugin: 'janus.plugin.videoroom', data: { event: 'joined', id: { x: 1 } } } },
  ]);
  assert.equal(p.invalid, 4);
  assert.equal(p.ignored, 3);
  assert.equal(p.events.length, 1);
  const m = p.events[0];
  assert.ok(m?.kind === 'media');
  assert.equal(m.stats.rttMs, undefined, 'negative figures dropped');
  assert.equal(m.stats.lost, undefined, 'non-numbers dropped');
});

test('property: any JSON body parses without throwing, every entry accounted for', () => {
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), fc.array(fc.jsonValue())), (body) => {
      const p = parseEvents(body);
      const n = Array.isArray(body) ? body.length : 1;
      assert.ok(p.ignored + p.invalid <= n);
      assert.ok(p.events.length >= 0);
    }),
    { numRuns: 2000 },
  );
  // Event-shaped noise: typed fields with hostile values.
  const ev = fc.record({
    type: fc.constantFrom(1, 2, 16, 32, 64, 128, 256, -1, 1e308),
    subtype: fc.oneof(fc.integer({ min: -1, max: 7 }), fc.string()),
    handle_id: fc.oneof(fc.integer(), fc.double(), fc.string()),
    timestamp: fc.oneof(fc.integer(), fc.double()),
    event: fc.jsonValue(),
  });
  fc.assert(
    fc.property(fc.array(ev, { maxLength: 50 }), (body) => {
      const p = parseEvents(body);
      for (const e of p.events) assert.ok(Number.isFinite(e.handle) && Number.isFinite(e.tsUs));
    }),
    { numRuns: 2000 },
  );
});
