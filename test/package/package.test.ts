import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ClickHouse, startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { freePort, httpOk, startProcess } from '../../src/stack/servers/process.ts';

/**
 * The package as a user gets it: `npm pack` (which runs the build), `npm install -g` of the tarball into a
 * fresh prefix (offline: scripts/setup.sh caches the dependencies), then `rtcmon` through the symlink npm
 * puts in <prefix>/bin, from a directory that has nothing to do with the checkout.
 */
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every file under dir, relative to it. */
function files(dir: string, skip: (rel: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(dir, p);
      if (skip(rel)) continue;
      if (e.isDirectory()) walk(p);
      else out.push(rel);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

describe('the npm package, installed with npm install -g from its tarball', () => {
  let dir: string;
  let prefix: string;
  let pkg: string;
  let rtcmon: string;
  let elsewhere: string;
  let ch: ClickHouse | undefined;
  // No RTCMON_* variable of the caller's may leak into what is checked.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RTCMON_')));
  const run = (args: string[]) => spawnSync(rtcmon, args, { cwd: elsewhere, encoding: 'utf8', env });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rtcmon-package-'));
    prefix = join(dir, 'prefix');
    elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: repo, encoding: 'utf8' }),
    ) as { filename: string }[];
    const tarball = join(dir, packed[0]!.filename);
    execFileSync(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        tarball,
      ],
      { cwd: elsewhere, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    pkg = join(prefix, 'lib', 'node_modules', 'rtcmon');
    rtcmon = join(prefix, 'bin', 'rtcmon');
  });
  after(async () => {
    await ch?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds compiled JavaScript and its static files, no TypeScript source and no TypeScript loader', () => {
    assert.ok(lstatSync(rtcmon).isSymbolicLink(), 'npm links <prefix>/bin/rtcmon to the package');
    const shipped = files(pkg, (rel) => rel === 'node_modules');
    const ts = shipped.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
    assert.deepEqual(ts, [], 'TypeScript sources in the package');
    assert.ok(shipped.includes('dist/cli.js'));
    assert.ok(!existsSync(join(pkg, 'node_modules', 'tsx')), 'tsx is installed with the package');
    assert.doesNotMatch(readFileSync(join(pkg, 'bin', 'rtcmon'), 'utf8'), /--import|tsx/);
    assert.ok(!shipped.some((f) => /\.test\.js$/.test(f)), 'tests are not shipped');
    // Static files: whatever is not TypeScript beside the sources (console assets), and the dashboards.
    const assets = files(join(repo, 'src')).filter((f) => !f.endsWith('.ts'));
    for (const f of assets)
      assert.ok(shipped.includes(join('dist', f)), `dist/${f} missing from the package`);
    const dashboards = files(join(repo, 'dashboards'));
    for (const f of dashboards) assert.ok(shipped.includes(join('dashboards', f)), `dashboards/${f} missing`);
    process.stdout.write(
      `# package: ${shipped.length} files, ${assets.length} static files from src/, ${dashboards.length} dashboard files\n`,
    );
  });

  it('rtcmon --help and --version work from another directory through the symlink', () => {
    const help = run(['--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^usage: rtcmon <role>/);
    const version = run(['--version']);
    assert.equal(version.status, 0, version.stderr);
    const { version: v } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(version.stdout, `rtcmon, version ${v} (node ${process.version})\n`);
  });

  it("each role's --help lists every flag with its env name, and the defaults it prints pass --check-config", () => {
    const listed = [...run(['--help']).stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]!);
    const inRepo = readdirSync(join(repo, 'src')).filter((d) => existsSync(join(repo, 'src', d, 'main.ts')));
    assert.deepEqual(
      [...listed].sort(),
      [...inRepo].sort(),
      'roles in `rtcmon --help` against src/*/main.ts',
    );
    for (const role of listed) {
      const help = run([role, '--help']);
      assert.equal(help.status, 0, `${role} --help: ${help.stderr}`);
      const flags = [...help.stdout.matchAll(/^ {2}--(?:\[no-\])?([a-z0-9.-]+)\b.*\n {6}.*$/gm)];
      assert.ok(flags.length >= 3, `${role}: ${flags.length} flags`);
      for (const m of flags) {
        const name = m[1]!;
        if (name === 'version' || name === 'help') continue;
        const env = `RTCMON_${name.replace(/[.-]/g, '_').toUpperCase()}`;
        assert.ok(m[0].endsWith(`[env ${env}]`), `${role} --${name} does not name ${env}:\n${m[0]}`);
      }
      for (const f of ['--version', '--check-config', '--log.level=info'])
        assert.ok(help.stdout.includes(`\n  ${f}\n`), `${role} --help lacks ${f}`);
      const withValues = [...help.stdout.matchAll(/^ {2}(--[a-z0-9.-]+=\S*)$/gm)].map((x) =>
        x[1]!.replace(/=""$/, '='),
      );
      const checked = run([role, '--check-config', ...withValues]);
      assert.equal(checked.status, 0, `${role} refuses its own printed defaults: ${checked.stderr}`);
      assert.match(checked.stdout, /configuration OK/);
      const bad = run([role, '--check-config', '--no-such-flag=1']);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /no-such-flag: unknown flag/);
      process.stdout.write(
        `# ${role}: ${flags.length} flags listed, ${withValues.length} printed defaults accepted\n`,
      );
    }
  });

  it('rtcmon adapter from the package becomes ready against a real ClickHouse', async () => {
    ch = await startClickHouse({ dir: join(dir, 'clickhouse'), logDir: join(dir, 'logs') });
    const port = await freePort();
    const adapter = await startProcess({
      name: 'adapter',
      command: rtcmon,
      args: [
        'adapter',
        `--web.listen-address=127.0.0.1:${port}`,
        `--clickhouse.url=${ch.url}`,
        `--clickhouse.database=pkg_${process.pid}`,
      ],
      cwd: elsewhere,
      env,
      logDir: join(dir, 'logs'),
      ready: () => httpOk(`http://127.0.0.1:${port}/-/ready`),
    });
    try {
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(metrics, /^rtcmon_adapter_samples_stored_total 0$/m);
      const tables = await ch!.query(
        `SELECT name FROM system.tables WHERE database = 'pkg_${process.pid}' ORDER BY name`,
      );
      assert.match(tables, /samples/, 'the packaged adapter created its schema');
      const [cmd] = readFileSync(`/proc/${adapter.pid}/cmdline`, 'utf8').split('\0');
      assert.match(cmd!, /node$/, 'the adapter runs as a plain node process');
      const args = readFileSync(`/proc/${adapter.pid}/cmdline`, 'utf8');
      assert.doesNotMatch(args, /tsx/);
    } finally {
      await adapter.stop();
    }
  });
});
