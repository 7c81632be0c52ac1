import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRtcMetrics, MAX_FAILURE_REASONS, sanitizeReason } from './index.ts';

test('rooms, participants and the largest room follow joins, leaves and polls', () => {
  const m = createRtcMetrics({ server: 's', capacity: 10 });
  m.participantJoined('a');
  m.participantJoined('a');
  m.participantJoined('b');
  m.participantLeft('zzz');
  let s = m.snapshot().scalars!;
  assert.equal(s.rtc_participants?.[0]?.value, 3);
  assert.equal(s.rtc_rooms?.[0]?.value, 2);
  assert.equal(s.rtc_largest_room_participants?.[0]?.value, 2);
  assert.equal(s.rtc_load_ratio?.[0]?.value, 0.3);
  m.participantLeft('b', 12);
  m.setRoomParticipants('c', 7);
  m.setRoomParticipants('a', 0);
  s = m.snapshot().scalars!;
  assert.equal(s.rtc_participants?.[0]?.value, 7);
  assert.equal(s.rtc_rooms?.[0]?.value, 1);
  assert.equal(m.snapshot().histograms?.rtc_session_duration_seconds?.[0]?.sum, 12);
  m.clearRooms();
  assert.equal(m.snapshot().scalars?.rtc_participants?.[0]?.value, 0);
});

test('failure reasons are sanitised and bounded', () => {
  const m = createRtcMetrics({ server: 's' });
  for (let i = 0; i < 100; i++) m.joinFailed(`reason ${i}`);
  const f = m.snapshot().scalars?.rtc_join_failures_total ?? [];
  assert.equal(f.length, MAX_FAILURE_REASONS + 1);
  assert.equal(f.find((x) => x.labels?.reason === 'other')?.value, 100 - MAX_FAILURE_REASONS);
  assert.equal(m.snapshot().scalars?.rtc_join_attempts_total?.[0]?.value, 100);
  assert.equal(sanitizeReason('ICE Failed!'), 'ice_failed_');
  assert.equal(sanitizeReason(''), 'unknown');
});

test('bad figures are ignored, the stats timestamp moves only on change', () => {
  let now = 1000_000;
  const m = createRtcMetrics({ server: 's', now: () => now });
  now += 5000;
  assert.equal(m.snapshot().updatedSeconds, 1000);
  m.rtp('in', 'audio', Number.NaN);
  m.rtp('in', 'audio', -5);
  m.rtcp({
    kind: 'audio',
    rttSeconds: Number.NaN,
    lossRatio: 3,
    jitterSeconds: -1,
    nacks: Number.POSITIVE_INFINITY,
  });
  now += 1000;
  const s = m.snapshot();
  // Every figure above was ignored: nothing changed, so the stats timestamp stays.
  assert.equal(s.updatedSeconds, 1000);
  assert.equal(s.scalars?.rtc_rtp_bytes_total?.[0]?.value, 0);
  assert.equal(s.scalars?.rtc_nacks_total?.[0]?.value, 0);
  assert.equal(s.histograms?.rtc_rtt_seconds?.[0]?.sum, 0);
  assert.equal(s.histograms?.rtc_quality_score?.[0]?.sum, 0);
  now += 1000;
  assert.equal(m.snapshot().updatedSeconds, 1000);
  m.rtcp({ kind: 'video', rttSeconds: 0.1, lossRatio: 0.02 });
  const moved = m.snapshot();
  assert.equal(moved.updatedSeconds, 1007);
  m.rtcp({ kind: 'audio', nacks: 2 });
  now += 1000;
  assert.equal(m.snapshot().updatedSeconds, 1008);
  const q = moved.histograms?.rtc_quality_score?.[1];
  assert.equal(q?.labels?.kind, 'video');
  assert.ok(q && q.sum > 3 && q.sum < 4.5);
});
