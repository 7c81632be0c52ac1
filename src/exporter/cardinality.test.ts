import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../lib/logger.ts';
import {
  createRtcMetrics,
  FAMILIES,
  FAMILY_NAMES,
  type Family,
  renderExposition,
  STATE_FAMILIES,
} from '../sdk/index.ts';
import { createExporter } from './app.ts';
import { createPushSource } from './push.ts';
import { sdkSource } from './source.ts';

/** family → series count, and every label name seen. */
function census(text: string) {
  const perFamily = new Map<string, number>();
  const labelNames = new Set<string>();
  const values: string[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-z_]+?)(_bucket|_sum|_count)?\{(.*)\} \S+$/.exec(line);
    assert.ok(m, line);
    const name = m[1]!;
    const family = FAMILIES[name as keyof typeof FAMILIES]?.type === 'histogram' ? name : name + (m[2] ?? '');
    if (m[2] === '_sum' || m[2] === '_count') continue;
    perFamily.set(family, (perFamily.get(family) ?? 0) + 1);
    for (const [, k, v] of m[3]!.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      labelNames.add(k!);
      values.push(v!);
    }
  }
  return { perFamily, labelNames, values };
}

async function exposition(rooms: number, perRoom: number): Promise<string> {
  const recorders = ['sfu-a', 'sfu-b'].map((server) =>
    createRtcMetrics({ server, capacity: rooms * perRoom }),
  );
  for (const m of recorders) {
    for (let r = 0; r < rooms; r++) {
      for (let p = 0; p < perRoom; p++) {
        m.participantJoined(`room-${r}`);
        m.joinSucceeded(0.5 + p / 10);
        m.trackAdded('in', p % 2 ? 'video' : 'audio');
        m.rtp('in', 'video', 1200, 1);
        m.rtp('out', 'audio', 100, 1);
        m.rtcp({
          kind: p % 2 ? 'video' : 'audio',
          rttSeconds: r / rooms,
          jitterSeconds: 0.01,
          lossRatio: p / perRoom,
          nacks: 1,
        });
      }
      m.joinFailed(`failure ${r}`); // hostile: one distinct reason per room
      if (r % 3 === 0) m.participantLeft(`room-${r}`, r);
    }
  }
  const push = createPushSource({
    token: '',
    staleAfterMs: 30_000,
    forgetAfterMs: 60_000,
    maxServers: 10,
    maxBodyBytes: 1 << 20,
    logger: silentLogger,
  });
  const pushed = await push.routes![0]!.handler({
    method: 'POST',
    path: '/api/v1/push',
    query: new URLSearchParams(),
    headers: {},
    params: [],
    body: Buffer.from(
      JSON.stringify({
        server: 'go-1',
        metrics: { rtc_rooms: rooms, rtc_participants: rooms * perRoom, rtc_capacity_participants: 1 },
      }),
    ),
  });
  assert.equal(pushed.status, 200);
  const exporter = createExporter({ sources: [sdkSource(recorders), push], logger: silentLogger });
  return renderExposition(await exporter.collect());
}

test('cardinality: 1,000 rooms and 10,000 participants per server give the same series as 50 rooms', async () => {
  const small = census(await exposition(50, 10));
  const big = census(await exposition(1000, 10));
  assert.match(await exposition(1000, 10), /^rtc_rooms\{server="sfu-a"\} 1000$/m);

  const servers = 3;
  const allowed = new Set([
    'server',
    'direction',
    'kind',
    'reason',
    'state',
    'le',
    'version',
    'eip',
    'port',
    'region',
    'zone',
    'host',
  ]);
  assert.deepEqual(
    [...big.labelNames].filter((l) => !allowed.has(l)),
    [],
    'only bounded labels',
  );
  assert.ok(!big.values.some((v) => v.includes('room-')), 'no room name in any label value');

  for (const name of [...FAMILY_NAMES, ...Object.values(STATE_FAMILIES).map((f) => f.name)]) {
    const f: Family =
      FAMILIES[name as keyof typeof FAMILIES] ?? Object.values(STATE_FAMILIES).find((x) => x.name === name)!;
    const n = big.perFamily.get(name) ?? 0;
    assert.equal(n, small.perFamily.get(name) ?? 0, `${name}: series must not grow with rooms`);
    // Bound per server: product of the label value sets (reason: 16 + other), times buckets + 1.
    let bound = 1;
    for (const l of f.labelNames) bound *= l === 'reason' ? 17 : (f.labelValues?.[l]?.length ?? 1);
    if (f.type === 'histogram') bound *= (f.buckets?.length ?? 0) + 1;
    assert.ok(n <= bound * servers, `${name}: ${n} series > bound ${bound * servers}`);
  }
  const total = [...big.perFamily.values()].reduce((a, b) => a + b, 0);
  assert.ok(total < 600, `total series ${total}`);
});
