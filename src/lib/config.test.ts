import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  ConfigChecked,
  envName,
  formatBytes,
  formatDuration,
  formatListenAddress,
  loadConfig,
  options,
  parseBytes,
  parseDuration,
  parseListenAddress,
  usage,
  versionText,
} from './config.ts';
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

test('durations: Prometheus units, compound terms, and plain milliseconds as before', () => {
  assert.equal(parseDuration('15000'), 15_000);
  assert.equal(parseDuration(' 250 '), 250);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1m30s500ms'), 90_500);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('7d'), 7 * 86_400_000);
  for (const bad of ['15 s', '1x', 's', '-5s', '1h 30m', '', 'NaN'])
    assert.throws(() => parseDuration(bad), /expected a duration/, bad);
  assert.equal(formatDuration(15_000), '15s');
  assert.equal(formatDuration(100), '100ms');
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(3_600_000), '1h');
  assert.equal(formatDuration(86_400_000), '1d');
});

test('a formatted duration, size or address parses back to the same value', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 400 * 86_400_000 }),
      (ms) => parseDuration(formatDuration(ms)) === ms,
    ),
  );
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => parseBytes(formatBytes(n)) === n));
  assert.equal(formatBytes(16 * 1024 ** 2), '16MiB');
  assert.equal(formatBytes(512 * 1024), '512KiB');
  assert.equal(formatBytes(1000), '1000B');
  assert.equal(formatBytes(0), '0B');
  for (const a of [':9201', '127.0.0.1:8080', '[::1]:9090', ':0'])
    assert.equal(formatListenAddress(parseListenAddress(a)), a);
});

test('--help lists every flag with its env name and a default that the flag itself accepts', () => {
  const text = usage('demo', spec);
  for (const o of Object.values(spec)) {
    assert.match(text, new RegExp(`--(\\[no-\\])?${o.flag.replace(/[.]/g, '\\.')}\\b`), o.flag);
    assert.ok(text.includes(`[env ${envName(o.flag)}]`), envName(o.flag));
  }
  assert.match(text, /--web\.listen-address=:9201\n/);
  assert.match(text, /--write\.max-body-bytes=1KiB\n/);
  assert.match(text, /--clickhouse\.timeout=5s\n/);
  assert.match(text, /--\[no-\]migrate {2}\(default on\)/);
  assert.match(text, /--version\n/);
  assert.match(text, /--check-config\n/);
  // Every `--flag=default` printed is accepted as written and gives the default back.
  const printed = [...text.matchAll(/^ {2}(--[\w.-]+=\S*)$/gm)].map((m) => m[1]!.replace(/=""$/, '='));
  assert.ok(printed.length >= 5, `${printed.length} flags with values`);
  assert.deepEqual(loadConfig(spec, printed, {}), loadConfig(spec, [], {}));
});

test("--check-config stops after every value and the role's own checks pass", () => {
  assert.throws(
    () => loadConfig(spec, ['--check-config', '--workers=3'], {}),
    (e: unknown) => e instanceof ConfigChecked && /1 setting\(s\) from flags/.test(e.message),
  );
  assert.throws(() => loadConfig(spec, ['--check-config', '--workers=0'], {}), ConfigError);
  const validate = (c: { workers: number }) => {
    if (c.workers > 8) throw new ConfigError('workers', 'more than the cores');
  };
  assert.throws(
    () => loadConfig(spec, ['--check-config', '--workers=9'], {}, validate),
    /more than the cores/,
  );
  assert.throws(() => loadConfig(spec, ['--check-config'], { RTCMON_WORKERS: '4' }, validate), ConfigChecked);
  assert.equal(loadConfig(spec, ['--workers=4'], {}, validate).workers, 4);
  // a bare unknown flag is called unknown, not "missing value"
  assert.throws(() => loadConfig(spec, ['--nope'], {}), /nope: unknown flag/);
  assert.match(versionText(), /^rtcmon, version \d+\.\d+\.\d+ \(node v\d+/);
});
