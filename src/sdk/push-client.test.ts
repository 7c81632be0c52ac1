import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPushSource } from '../exporter/push.ts';
import { silentLogger } from '../lib/logger.ts';
import { renderExposition } from './exposition.ts';
import { createRtcMetrics } from './index.ts';
import { snapshotToPushBody } from './push-client.ts';

test('SDK → push body → push endpoint → the same exposition as the SDK itself', async () => {
  const m = createRtcMetrics({ server: 'node-sfu', capacity: 30, info: { eip: '192.0.2.8', port: '443' } });
  for (let i = 0; i < 12; i++) m.participantJoined(`r${i % 4}`);
  m.participantLeft('r1', 42);
  m.trackAdded('in', 'video');
  m.joinSucceeded(0.7);
  m.joinFailed('timeout');
  m.rtp('out', 'audio', 1500, 12);
  m.rtcp({
    kind: 'video',
    rttSeconds: 0.08,
    jitterSeconds: 0.004,
    lossRatio: 0.03,
    packetsLost: 2,
    nacks: 3,
    plis: 1,
  });
  const snap = m.snapshot();

  const push = createPushSource({
    token: '',
    staleAfterMs: 30_000,
    forgetAfterMs: 60_000,
    maxServers: 5,
    maxBodyBytes: 1 << 20,
    logger: silentLogger,
  });
  const reply = await push.routes![0]!.handler({
    method: 'POST',
    path: '/api/v1/push',
    query: new URLSearchParams(),
    headers: {},
    params: [],
    body: Buffer.from(JSON.stringify(snapshotToPushBody(snap, 1000))),
  });
  assert.equal(reply.status, 200, String(reply.body));
  const strip = (t: string) => t.replace(/^rtc_stats_updated_timestamp_seconds.*$/m, '');
  const viaPush = strip(renderExposition(await push.collect()));
  assert.equal(viaPush, strip(renderExposition([snap])));
  assert.match(viaPush, /^rtc_participants\{server="node-sfu"\} 11$/m);
});
