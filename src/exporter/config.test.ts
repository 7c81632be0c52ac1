import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../lib/config.ts';
import { exporterOptions } from './config.ts';

test('exporter config: defaults, flags, env, and bad values naming the key', () => {
  const d = loadConfig(exporterOptions, [], {});
  assert.deepEqual(d.listen, { host: '', port: 9464 });
  assert.equal(d.pushStaleAfter, 30_000);
  assert.equal(d.pushMaxBody, 256 * 1024);
  assert.equal(d.simServers, 0);
  const c = loadConfig(
    exporterOptions,
    ['--push.stale-after=5s', '--sim.servers=3', '--sim.regions=eu,us', '--no-push.enabled'],
    { RTCMON_PUSH_TOKEN_FILE: '/run/secrets/push' },
  );
  assert.equal(c.pushStaleAfter, 5000);
  assert.equal(c.simServers, 3);
  assert.deepEqual(c.simRegions, ['eu', 'us']);
  assert.equal(c.pushEnabled, false);
  assert.equal(c.pushTokenFile, '/run/secrets/push');
  assert.throws(() => loadConfig(exporterOptions, ['--push.max-servers=0'], {}), /push\.max-servers/);
  assert.throws(() => loadConfig(exporterOptions, ['--push.stale-after=soon'], {}), /push\.stale-after/);
});
