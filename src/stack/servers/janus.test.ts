import assert from 'node:assert/strict';
import { test } from 'node:test';
import { janusConfigs } from './janus.ts';

const base = {
  dir: '/tmp/j',
  adminSecret: 's3cret',
  serverName: 'j1',
  statsPeriod: 5,
  rooms: [1234, 42],
  debugLevel: 4,
};

test('generated Janus config: loopback only, ICE on jv0 only, admin API with secret, private module folders', () => {
  const files = janusConfigs({ ...base, eventsBackend: 'http://127.0.0.1:7090/janus/events' });
  const core = files['janus.jcfg'] ?? '';
  assert.match(core, /ice_enforce_list = "jv0"/);
  assert.match(core, /admin_secret = "s3cret"/);
  assert.match(core, /plugins_folder = "\/tmp\/j\/plugins"/);
  assert.match(core, /broadcast = true/);
  assert.match(core, /stats_period = 5/);
  const http = files['janus.transport.http.jcfg'] ?? '';
  assert.match(http, /\bip = "127\.0\.0\.1"/);
  assert.match(http, /admin_ip = "127\.0\.0\.1"/);
  assert.match(http, /admin_http = true/);
  assert.doesNotMatch(http, /https = true/);
  const rooms = files['janus.plugin.videoroom.jcfg'] ?? '';
  assert.match(rooms, /room-1234: \{/);
  assert.match(rooms, /room-42: \{/);
  const evh = files['janus.eventhandler.sampleevh.jcfg'] ?? '';
  assert.match(evh, /backend = "http:\/\/127\.0\.0\.1:7090\/janus\/events"/);
  assert.doesNotMatch(evh, /transports/, 'transport events are not subscribed');
});

test('no event handler config (and no broadcast) without a backend; strings are quoted safely', () => {
  const files = janusConfigs({ ...base, adminSecret: 'a"b\\c' });
  assert.equal(files['janus.eventhandler.sampleevh.jcfg'], undefined);
  assert.match(files['janus.jcfg'] ?? '', /broadcast = false/);
  assert.match(files['janus.jcfg'] ?? '', /admin_secret = "a\\"b\\\\c"/);
});
