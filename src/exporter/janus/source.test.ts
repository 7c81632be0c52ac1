import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { JanusAdmin } from './admin.ts';
import { createJanusSource } from './source.ts';

function fakeAdmin(): JanusAdmin & { down: boolean; draining: boolean; calls: string[] } {
  const a = {
    down: false,
    draining: false,
    calls: [] as string[],
    async info() {
      a.calls.push('info');
      if (a.down) throw new Error('ECONNREFUSED');
      return { version_string: '1.1.2', 'accepting-new-sessions': !a.draining };
    },
    async listSessions() {
      a.calls.push('list_sessions');
      if (a.down) throw new Error('ECONNREFUSED');
      return [1, 2];
    },
    async listHandles(s: number) {
      if (s === 2) throw new Error('no such session'); // vanished between the calls
      return [10];
    },
    async handleInfo(s: number, h: number) {
      return {
        session_id: s,
        handle_id: h,
        plugin: 'janus.plugin.videoroom',
        plugin_specific: { room: 1234 },
      };
    },
    async videoRoomList() {
      return [{ room: 1234, num_participants: 1 }];
    },
    async videoRoomParticipants() {
      return [];
    },
  };
  return a;
}

test('up while the admin API answers; down shows up=false; vanished sessions are not an outage', async () => {
  const admin = fakeAdmin();
  const registry = new Registry();
  const src = createJanusSource({ server: 'janus-a', adminUrl: 'x', adminSecret: 'y', admin, registry });
  assert.equal(src.ready?.(), false);
  assert.equal(await src.pollNow(), true);
  assert.equal(src.ready?.(), true);
  let [snap] = await src.collect();
  assert.equal(snap?.server, 'janus-a');
  assert.equal(snap?.up, true);
  assert.equal(snap?.info?.version, '1.1.2');
  assert.equal(snap?.scalars?.rtc_participants?.[0]?.value, 1);

  admin.down = true;
  assert.equal(await src.pollNow(), false);
  [snap] = await src.collect();
  assert.equal(snap?.up, false);
  admin.down = false;
  assert.equal(await src.pollNow(), true);
  assert.ok(admin.calls.filter((c) => c === 'info').length >= 2, 'version re-read after an outage');
  assert.match(await registry.metrics(), /rtcmon_janus_polls_total\{result="error"\} 1/);
  assert.equal((await src.collect())[0]?.state, 'serving');
  admin.draining = true;
  await src.pollNow();
  assert.equal((await src.collect())[0]?.state, 'draining', 'accept_new_sessions=false is draining');
});

test('a poller that stalls stops speaking for Janus', async () => {
  let t = 0;
  const src = createJanusSource({
    server: 'j',
    adminUrl: 'x',
    adminSecret: 'y',
    admin: fakeAdmin(),
    pollIntervalMs: 1000,
    now: () => t,
  });
  await src.pollNow();
  assert.equal((await src.collect())[0]?.up, true);
  t += 60_000;
  assert.equal((await src.collect())[0]?.up, false);
});

test('event route: JSON array or object accepted, anything else a 400 naming the problem', async () => {
  const src = createJanusSource({ server: 'j', adminUrl: 'x', adminSecret: 'y', admin: fakeAdmin() });
  const route = src.routes?.[0];
  assert.equal(route?.path, '/janus/events');
  const call = (body: string) =>
    Promise.resolve().then(() =>
      route!.handler({
        method: 'POST',
        path: '/janus/events',
        query: new URLSearchParams(),
        headers: {},
        body: Buffer.from(body),
        params: [],
      }),
    );
  const ok = await call(
    JSON.stringify([{ type: 16, subtype: 6, handle_id: 5, timestamp: 1, event: { connection: 'webrtcup' } }]),
  );
  assert.equal(ok.status, 200);
  assert.equal((await src.collect())[0]?.scalars?.rtc_join_attempts_total?.[0]?.value, 1);
  await assert.rejects(call('{not json'), (e: Error & { status?: number }) => e.status === 400);
  await assert.rejects(call('42'), /expected an event object/);
  const authed = createJanusSource({
    server: 'j',
    adminUrl: 'x',
    adminSecret: 'y',
    admin: fakeAdmin(),
    eventsUser: 'janus',
    eventsPassword: 'pw',
  });
  const post = (authorization?: string) =>
    Promise.resolve().then(() =>
      authed.routes![0]!.handler({
        method: 'POST',
        path: '/janus/events',
        query: new URLSearchParams(),
        headers: authorization ? { authorization } : {},
        body: Buffer.from('[]'),
        params: [],
      }),
    );
  await assert.rejects(post(), (e: Error & { status?: number }) => e.status === 401);
  await assert.rejects(post(`Basic ${Buffer.from('janus:nope').toString('base64')}`), /basic-auth/);
  assert.equal((await post(`Basic ${Buffer.from('janus:pw').toString('base64')}`)).status, 200);
  const none = createJanusSource({ server: 'j', adminUrl: 'x', adminSecret: 'y', eventsPath: '' });
  assert.equal(none.routes?.length, 0);
});
