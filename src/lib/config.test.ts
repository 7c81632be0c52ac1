import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, options, parseBytes, parseDuration, parseListenAddress } from './config.ts';
import { ConfigError } from './errors.ts';

const spec = {
  listen: options.listen('web.listen-address', parseListenAddress(':9201'), 'where to listen'),
  url: options.url('clickhouse.url', 'http://127.0.0.1:8123', 'ClickHouse'),
  maxBody: options.bytes('write.max-body-bytes', 1024, 'limit'),
  timeout: options.duration('clickhouse.timeout', 5000, 'timeout'),
  migrate: options.bool('migrate', true, 'run migrations'),
  workers: options.int('workers', 2, 'workers', 1, 64),
};

test('defaults apply when nothing is given', () => {
  const cfg = loadConfig(spec, [], {});
  assert.deepEqual(cfg.listen, { host: '', port: 9201 });
  assert.equal(cfg.maxBody, 1024);
  assert.equal(cfg.migrate, true);
  assert.equal(cfg.logLevel, 'info');
  assert.ok(Object.isFrozen(cfg));
});

test('flags beat env, env beats YAML, YAML beats defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-config-'));
  const file = join(dir, 'c.yml');
  writeFileSync(
    file,
    'clickhouse:\n  url: http://yaml:8123\n  timeout: 2s\nworkers: 3\nwrite.max-body-bytes: 4KiB\n',
  );
  const cfg = loadConfig(spec, ['--config.file', file, '--workers=9', '--no-migrate'], {
    RTCMON_CLICKHOUSE_URL: 'http://env:8123',
  });
  assert.equal(cfg.url, 'http://env:8123');
  assert.equal(cfg.timeout, 2000);
  assert.equal(cfg.workers, 9);
  assert.equal(cfg.maxBody, 4096);
  assert.equal(cfg.migrate, false);
});

test('a bad value names its key', () => {
  assert.throws(
    () => loadConfig(spec, ['--workers=0'], {}),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, 'workers');
      assert.match(e.message, /workers: expected an integer in \[1, 64\], got "0"/);
      return true;
    },
  );
  assert.throws(() => loadConfig(spec, ['--nope=1'], {}), /nope: unknown flag/);
  assert.throws(
    () => loadConfig(spec, [], { RTCMON_CLICKHOUSE_TIMEOUT: 'soon' }),
    /clickhouse.timeout: expected a duration/,
  );
  assert.throws(() => loadConfig(spec, ['--web.listen-address=host:99999'], {}), /web.listen-address/);
});

test('units parse as documented', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseBytes('64MiB'), 64 * 1024 * 1024);
  assert.equal(parseBytes('1GB'), 1e9);
  assert.deepEqual(parseListenAddress('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListenAddress('[::1]:8080'), { host: '::1', port: 8080 });
});
