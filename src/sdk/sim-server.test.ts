import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSimFleet, startSimServer } from './sim-server.ts';

const post = async (url: string, body: unknown) => {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};
const sample = (text: string, line: string): number => {
  const l = text.split('\n').find((x) => x.startsWith(`${line} `));
  assert.ok(l, `no sample ${line}`);
  return Number(l.slice(line.length + 1));
};

test('join, leave, capacity and state, in process and over HTTP', async (t) => {
  const s = await startSimServer({
    id: 'sim-a',
    capacity: 5,
    region: 'eu',
    zone: 'eu-1',
    eip: '198.51.100.1',
  });
  t.after(() => s.stop());
  assert.match(s.address, /^127\.0\.0\.1:\d+$/);
  assert.equal(s.url, `http://${s.address}`);
  assert.equal(s.join('r1', 3), true);
  assert.equal(s.join('r2', 3), false, 'beyond capacity');
  assert.equal(s.participants(), 3);
  assert.deepEqual(await post(`${s.url}/demo/join`, { room: 'r2' }), {
    status: 200,
    body: { ok: true, participants: 4 },
  });
  assert.equal((await post(`${s.url}/demo/join`, { room: 'r2', n: 2 })).status, 409);
  assert.equal((await post(`${s.url}/demo/leave`, { room: 'r1', n: 2 })).status, 200);
  assert.equal(s.participants(), 2);
  assert.equal((await post(`${s.url}/demo/join`, { nope: 1 })).status, 400);
  assert.equal((await fetch(`${s.url}/demo/join`, { method: 'POST', body: '{' })).status, 400);

  s.setState('draining');
  assert.equal(s.join('r3'), false, 'a draining server takes no new room');
  assert.equal(s.join('r2'), true, 'but keeps filling its rooms');
  s.tick();

  const text = await (await fetch(`${s.url}/metrics`)).text();
  assert.equal(sample(text, 'rtc_participants{server="sim-a"}'), 3);
  assert.equal(sample(text, 'rtc_rooms{server="sim-a"}'), 2);
  assert.equal(sample(text, 'rtc_capacity_participants{server="sim-a"}'), 5);
  assert.equal(sample(text, 'rtc_server_state{server="sim-a",state="draining"}'), 1);
  assert.equal(sample(text, 'rtc_join_failures_total{server="sim-a",reason="room_full"}'), 5);
  assert.equal(sample(text, 'rtc_join_failures_total{server="sim-a",reason="draining"}'), 1);
  assert.ok(sample(text, 'rtc_rtp_bytes_total{server="sim-a",direction="in",kind="video"}') > 0);
  assert.match(
    text,
    new RegExp(
      `rtc_server_info\\{server="sim-a",version="1.0.0-sim",eip="198.51.100.1",port="${s.address.split(':')[1]}",region="eu",zone="eu-1",host="[^"]+"\\} 1`,
    ),
  );
  assert.equal((await post(`${s.url}/demo/state`, { state: 'serving' })).status, 200);
  assert.equal(s.state(), 'serving');
});

test('a churning fleet moves its load on its own', async (t) => {
  // Ticks are driven by hand (the timer is set far away): the test depends on no timing.
  const fleet = await startSimFleet(3, {
    capacity: 100,
    churn: 20,
    tickMs: 3_600_000,
    regions: ['eu', 'us'],
  });
  t.after(() => Promise.all(fleet.map((s) => s.stop())));
  assert.deepEqual(
    fleet.map((s) => s.id),
    ['sim-0', 'sim-1', 'sim-2'],
  );
  assert.equal(new Set(fleet.map((s) => s.address)).size, 3);
  const s0 = fleet[0]!;
  const seen: number[] = [];
  for (let i = 0; i < 3; i++) {
    s0.tick();
    seen.push(s0.participants());
  }
  assert.ok(
    seen[0]! > 0 && seen[1]! > seen[0]! && seen[2]! > seen[1]!,
    `load should ramp up, saw ${seen.join(',')}`,
  );
  assert.ok(s0.rooms() >= 2, 'demo rooms fill up, then new ones open');
  const text = await (await fetch(`${fleet[1]!.url}/metrics`)).text();
  assert.match(text, /rtc_server_info\{server="sim-1",[^}]*region="us"/);
  const bytes = await (await fetch(`${s0.url}/metrics`)).text();
  assert.match(bytes, /^rtc_rtp_bytes_total\{server="sim-0",direction="in",kind="video"\} [1-9]/m);
});
