import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScalarSample, ServerSnapshot } from '../../sdk/index.ts';
import type { JanusHandleInfo, JanusMedium } from './admin.ts';
import type { JanusEvent } from './events.ts';
import { createJanusState, hangupReason } from './state.ts';

const scalar = (s: ServerSnapshot, f: keyof NonNullable<ServerSnapshot['scalars']>, labels = {}): number => {
  const list = (s.scalars?.[f] ?? []) as readonly ScalarSample[];
  const hit = list.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return hit?.value ?? Number.NaN;
};
const histCount = (s: ServerSnapshot, f: keyof NonNullable<ServerSnapshot['histograms']>, kind?: string) => {
  const h = (s.histograms?.[f] ?? []).find((x) => kind === undefined || x.labels?.kind === kind);
  return h ? Array.from(h.counts).reduce((a, b) => a + b, 0) : Number.NaN;
};

function medium(
  type: 'audio' | 'video',
  dir: 'in' | 'out',
  packets: number,
  bytes: number,
  extra = {},
): JanusMedium {
  const stats = { packets, bytes };
  const zero = { packets: 0, bytes: 0 };
  return {
    type,
    direction: { send: dir === 'out', recv: dir === 'in' },
    rtcp: {
      main: {
        rtt: 20,
        lost: 0,
        'lost-by-remote': 0,
        'jitter-local': 5,
        'jitter-remote': 3,
        'in-link-quality': 100,
        'out-link-quality': 100,
        ...extra,
      },
    },
    stats: dir === 'in' ? { in: stats, out: zero } : { in: zero, out: stats },
  };
}
function publisher(
  session: number,
  handle: number,
  room: number,
  packets: number,
  extra = {},
): JanusHandleInfo {
  return {
    session_id: session,
    handle_id: handle,
    plugin: 'janus.plugin.videoroom',
    plugin_specific: { type: 'publisher', room },
    flags: { ready: true },
    webrtc: {
      media: {
        '0': medium('audio', 'in', packets, packets * 100, extra),
        '1': medium('video', 'in', packets * 2, packets * 1000, extra),
      },
    },
  };
}
function subscriber(session: number, handle: number, room: number, packets: number): JanusHandleInfo {
  return {
    session_id: session,
    handle_id: handle,
    plugin: 'janus.plugin.videoroom',
    plugin_specific: { type: 'subscriber', room },
    flags: { ready: true },
    webrtc: { media: { '0': medium('video', 'out', packets, packets * 1000) } },
  };
}

test('polls: rooms, participants (publishers and subscribers), tracks, counters that never go back', () => {
  let t = 1_000_000;
  const st = createJanusState({ server: 'j1', capacity: 10, now: () => t });
  st.applyPoll(
    [publisher(1, 11, 1234, 100), subscriber(2, 21, 1234, 50), publisher(3, 31, 99, 10)],
    [
      { room: 1234, num_participants: 1 },
      { room: 99, num_participants: 1 },
      { room: 5, num_participants: 0 },
    ],
  );
  let s = st.snapshot(true);
  assert.equal(s.server, 'j1');
  assert.equal(scalar(s, 'rtc_rooms'), 2);
  assert.equal(scalar(s, 'rtc_participants'), 3);
  assert.equal(scalar(s, 'rtc_largest_room_participants'), 2);
  assert.equal(scalar(s, 'rtc_load_ratio'), 0.3);
  assert.equal(scalar(s, 'rtc_tracks', { direction: 'in', kind: 'audio' }), 2);
  assert.equal(scalar(s, 'rtc_tracks', { direction: 'in', kind: 'video' }), 2);
  assert.equal(scalar(s, 'rtc_tracks', { direction: 'out', kind: 'video' }), 1);
  assert.equal(scalar(s, 'rtc_rtp_bytes_total', { direction: 'in', kind: 'video' }), 100 * 1000 + 10 * 1000);
  assert.equal(scalar(s, 'rtc_rtp_packets_total', { direction: 'out', kind: 'video' }), 50);

  t += 5000;
  // The subscriber and the second publisher left; the first publisher sent more.
  st.applyPoll([publisher(1, 11, 1234, 150)], [{ room: 1234, num_participants: 1 }]);
  s = st.snapshot(true);
  assert.equal(scalar(s, 'rtc_rooms'), 1);
  assert.equal(scalar(s, 'rtc_participants'), 1);
  assert.equal(scalar(s, 'rtc_tracks', { direction: 'out', kind: 'video' }), 0);
  assert.equal(scalar(s, 'rtc_rtp_bytes_total', { direction: 'in', kind: 'video' }), 150 * 1000 + 10 * 1000);
  assert.equal(
    scalar(s, 'rtc_rtp_packets_total', { direction: 'out', kind: 'video' }),
    50,
    'kept after leave',
  );
  // Quality reports: one per active stream per poll (no events), rtt/jitter/loss observed.
  assert.equal(histCount(s, 'rtc_rtt_seconds'), 5 + 2);
  assert.equal(histCount(s, 'rtc_jitter_seconds', 'video'), 3 + 1);
  assert.equal(histCount(s, 'rtc_packet_loss_ratio', 'audio'), 2 + 1);

  t += 5000;
  st.applyPoll([], []);
  s = st.snapshot(true);
  assert.equal(scalar(s, 'rtc_rooms'), 0);
  assert.equal(scalar(s, 'rtc_participants'), 0);
  assert.equal(scalar(s, 'rtc_tracks', { direction: 'in', kind: 'video' }), 0);
  assert.equal(scalar(s, 'rtc_rtp_bytes_total', { direction: 'in', kind: 'video' }), 160_000);
});

test('loss: deltas of Janus cumulative lost counts, as a ratio per report', () => {
  let t = 0;
  const st = createJanusState({ server: 'j', now: () => t });
  st.applyPoll([publisher(1, 11, 1, 100, { lost: 0 })], []);
  t += 5000;
  // 100 more audio packets arrived and 25 were lost: ratio 0.2 for audio.
  st.applyPoll([publisher(1, 11, 1, 200, { lost: 25 })], []);
  const s = st.snapshot(true);
  assert.equal(scalar(s, 'rtc_rtp_packets_lost_total', { direction: 'in' }), 50, 'audio 25 + video 25');
  const audio = s.histograms?.rtc_packet_loss_ratio?.find((h) => h.labels?.kind === 'audio');
  assert.ok(audio);
  assert.ok(Math.abs(audio.sum - 25 / 125) < 1e-9, `loss sum ${audio.sum}`);
});

test('events: join success with duration, failures by bounded reason, session duration, media stats', () => {
  let t = 0;
  const st = createJanusState({ server: 'j', now: () => t });
  const ev: JanusEvent[] = [
    { kind: 'attached', handle: 1, session: 9, tsUs: 1_000_000, plugin: 'janus.plugin.videoroom' },
    { kind: 'joined', handle: 1, tsUs: 1_100_000, participant: '77' },
    { kind: 'ice', handle: 1, tsUs: 1_200_000, state: 'gathering' },
    { kind: 'webrtcup', handle: 1, tsUs: 2_500_000 },
    // Handle 2 negotiates and fails ICE; handle 3 hangs up before media; handle 4 never negotiates.
    { kind: 'attached', handle: 2, session: 9, tsUs: 1_000_000, plugin: 'janus.plugin.videoroom' },
    { kind: 'ice', handle: 2, tsUs: 1_200_000, state: 'connecting' },
    { kind: 'ice', handle: 2, tsUs: 9_000_000, state: 'failed' },
    { kind: 'hangup', handle: 2, tsUs: 9_000_001, reason: 'ICE failed' },
    { kind: 'attached', handle: 3, session: 9, tsUs: 1_000_000, plugin: 'janus.plugin.videoroom' },
    { kind: 'ice', handle: 3, tsUs: 1_200_000, state: 'gathering' },
    { kind: 'hangup', handle: 3, tsUs: 2_000_000, reason: 'Close PC' },
    { kind: 'attached', handle: 4, session: 9, tsUs: 1_000_000, plugin: 'janus.plugin.videoroom' },
    { kind: 'detached', handle: 4, session: 9, tsUs: 3_000_000 },
    {
      kind: 'media',
      handle: 1,
      tsUs: 3_000_000,
      stats: {
        mid: '0',
        kind: 'audio',
        rttMs: 40,
        jitterLocalMs: 8,
        lost: 0,
        packetsReceived: 500,
        bytesReceived: 40_000,
        inQuality: 100,
      },
    },
    { kind: 'leaving', handle: 0, tsUs: 61_100_000, participant: '77' },
    { kind: 'detached', handle: 1, session: 9, tsUs: 61_200_000 },
  ];
  st.applyEvents(ev);
  const s = st.snapshot(true);
  assert.equal(scalar(s, 'rtc_join_attempts_total'), 3);
  assert.equal(scalar(s, 'rtc_join_failures_total', { reason: 'ice_failed' }), 1);
  assert.equal(scalar(s, 'rtc_join_failures_total', { reason: 'closed_before_media' }), 1);
  const jd = s.histograms?.rtc_join_duration_seconds?.[0];
  assert.ok(jd && Math.abs(jd.sum - 1.5) < 1e-9, `join duration ${jd?.sum}`);
  const sd = s.histograms?.rtc_session_duration_seconds?.[0];
  assert.ok(sd && Math.abs(sd.sum - 60) < 1e-9, `session duration ${sd?.sum}`);
  assert.equal(scalar(s, 'rtc_rtp_bytes_total', { direction: 'in', kind: 'audio' }), 40_000);
  assert.equal(histCount(s, 'rtc_rtt_seconds'), 1);
  assert.equal(s.histograms?.rtc_rtt_seconds?.[0]?.sum, 0.04);
  assert.equal(st.sizes().handles, 2, 'detached handles forgotten; 2 and 3 wait for their detach');

  // A poll right after the event does not observe the same stream again (events are fresher).
  t += 1000;
  st.applyPoll([publisher(9, 1, 5, 600)], []);
  const s2 = st.snapshot(true);
  assert.equal(
    histCount(s2, 'rtc_rtt_seconds'),
    1 + 1,
    'only the video medium (no events) observed by the poll',
  );
  assert.equal(
    scalar(s2, 'rtc_rtp_bytes_total', { direction: 'in', kind: 'audio' }),
    60_000,
    'same counter advanced',
  );
});

test('reasons stay few; unknown state is forgotten; maps are bounded', () => {
  assert.equal(hangupReason('ICE failed'), 'ice_failed');
  assert.equal(hangupReason('DTLS alert'), 'dtls_failed');
  assert.equal(hangupReason('Close PC'), 'closed_before_media');
  assert.equal(hangupReason('Gateway: something random 12345'), 'hangup_before_media');
  let t = 0;
  const st = createJanusState({ server: 'j', now: () => t, maxEntries: 100, forgetAfterMs: 60_000 });
  const ev: JanusEvent[] = [];
  for (let i = 1; i <= 1000; i++) {
    ev.push({ kind: 'attached', handle: i, session: i, tsUs: i, plugin: 'p' });
    ev.push({ kind: 'joined', handle: i, tsUs: i, participant: String(i) });
  }
  st.applyEvents(ev);
  assert.deepEqual(st.sizes(), { streams: 0, handles: 100, participants: 100 });
  t += 120_000;
  st.applyPoll([], []);
  assert.equal(st.sizes().handles, 0);
});

test('a poll between two media events does not swallow the loss of that interval', () => {
  let t = 0;
  const st = createJanusState({ server: 'j', now: () => t });
  const media = (packets: number, lost: number): JanusEvent => ({
    kind: 'media',
    handle: 1,
    tsUs: t * 1000,
    stats: { mid: '0', kind: 'audio', packetsReceived: packets, lost, jitterLocalMs: 1, inQuality: 100 },
  });
  st.applyEvents([media(100, 0)]);
  t += 2000;
  // The poll sees 20 lost of 100 more, but events are fresh: it counts them without a report.
  st.applyPoll(
    [
      {
        session_id: 1,
        handle_id: 1,
        plugin: 'x',
        flags: { ready: true },
        webrtc: {
          media: {
            '0': {
              mid: '0',
              type: 'audio',
              direction: { recv: true },
              rtcp: { main: { lost: 20 } },
              stats: { in: { packets: 180 } },
            },
          },
        },
      },
    ],
    [],
  );
  t += 3000;
  st.applyEvents([media(200, 20)]);
  const s = st.snapshot(true);
  const audio = s.histograms?.rtc_packet_loss_ratio?.find((h) => h.labels?.kind === 'audio');
  assert.ok(audio);
  assert.equal(
    Array.from(audio.counts).reduce((a, b) => a + b, 0),
    2,
    'two event reports, none from the poll',
  );
  assert.ok(Math.abs(audio.sum - 20 / 120) < 1e-9, `loss over the second report: ${audio.sum}`);
  assert.equal(scalar(s, 'rtc_rtp_packets_lost_total', { direction: 'in' }), 20);
});

test('cardinality: 1,000 rooms with 3,000 handles and hostile hangup reasons keep every family small', () => {
  const st = createJanusState({ server: 'j' });
  const infos: JanusHandleInfo[] = [];
  const ev: JanusEvent[] = [];
  for (let r = 0; r < 1000; r++) {
    infos.push(publisher(r * 10 + 1, r * 10 + 1, r, 100), subscriber(r * 10 + 2, r * 10 + 2, r, 50));
    infos.push(subscriber(r * 10 + 3, r * 10 + 3, r, 50));
    ev.push({ kind: 'ice', handle: 1e6 + r, tsUs: 1, state: 'gathering' });
    ev.push({ kind: 'hangup', handle: 1e6 + r, tsUs: 2, reason: `Gateway: weird ${r} ${'x'.repeat(r)}` });
  }
  st.applyPoll(infos, []);
  st.applyEvents(ev);
  const s = st.snapshot(true);
  assert.equal(scalar(s, 'rtc_rooms'), 1000);
  assert.equal(scalar(s, 'rtc_participants'), 3000);
  for (const [family, samples] of Object.entries(s.scalars ?? {}))
    assert.ok((samples?.length ?? 0) <= 4, `${family}: ${samples?.length} series`);
  for (const [family, samples] of Object.entries(s.histograms ?? {}))
    assert.ok((samples?.length ?? 0) <= 2, `${family}: ${samples?.length} series`);
  assert.deepEqual(
    (s.scalars?.rtc_join_failures_total ?? []).map((x) => x.labels?.reason),
    ['hangup_before_media'],
  );
});
