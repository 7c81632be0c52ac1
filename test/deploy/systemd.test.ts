import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RTCMON_BIN } from '../../src/stack/servers/role.ts';

/**
 * deploy/systemd: every unit passes `systemd-analyze verify` with no warning (ExecStart pointed at this
 * checkout's rtcmon, since /usr/local/bin/rtcmon is not installed here), and every example
 * /etc/rtcmon/<role>.yaml loads in its role (--check-config).
 */
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'systemd');
const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'rtcmon');
const units = readdirSync(dir).filter((f) => f.endsWith('.service'));

describe('deploy/systemd: units and example configs', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'rtcmon-systemd-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('every unit passes systemd-analyze verify without a warning', () => {
    assert.ok(units.length >= 4, units.join());
    for (const u of units) {
      const text = readFileSync(join(dir, u), 'utf8');
      assert.match(
        text,
        /^ExecStart=\/usr\/local\/bin\/rtcmon [a-z]+ --config\.file=\/etc\/rtcmon\/[a-z]+\.yaml$/m,
      );
      writeFileSync(join(tmp, u), text.replaceAll('/usr/local/bin/rtcmon', bin));
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(tmp, u)], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${u}: ${r.stderr}`);
      assert.equal(r.stderr.trim(), '', `${u}: ${r.stderr}`);
    }
    // verify is not a no-op: a unit with an unknown key is reported.
    writeFileSync(join(tmp, 'bad.service'), '[Service]\nExecStart=/bin/true\nBogusKey=1\n');
    const bad = spawnSync('systemd-analyze', ['verify', '--man=no', join(tmp, 'bad.service')], {
      encoding: 'utf8',
    });
    assert.match(bad.stderr, /Unknown key/);
  });

  it('every example /etc/rtcmon/<role>.yaml loads in its role', () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RTCMON_')));
    for (const u of units) {
      const [, role, file] = /^ExecStart=\S+ ([a-z]+) --config\.file=\/etc\/rtcmon\/([a-z]+\.yaml)$/m.exec(
        readFileSync(join(dir, u), 'utf8'),
      )!;
      const r = spawnSync(
        RTCMON_BIN,
        [role!, `--config.file=${join(dir, 'rtcmon', file!)}`, '--check-config'],
        {
          encoding: 'utf8',
          env,
        },
      );
      assert.equal(r.status, 0, `${u}: ${r.stderr}`);
      assert.match(
        r.stdout,
        /configuration OK \(1 setting\(s\) from flags, 0 from RTCMON_\* environment, [1-9]\d* from /,
      );
      process.stdout.write(`# ${u}: ${r.stdout}`);
    }
  });
});
