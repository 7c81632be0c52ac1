import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import { type ClickHouse, startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { type NodeExporter, startNodeExporter } from '../../src/stack/servers/node-exporter.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { type Prometheus, startPrometheus } from '../../src/stack/servers/prometheus.ts';
import {
  clickhouseSamples,
  diffSamples,
  prometheusSamples,
  waitSentPast,
} from '../support/adapter-harness.ts';
import { basic, httpsCall, makeLeaf } from '../support/pki.ts';
import { makeSecrets, type Secrets, startSecureRole } from '../support/secure-rig.ts';

/**
 * While Prometheus remote-writes to the adapter over mutual TLS with basic auth, the writer's password and
 * the server certificate change (the web config file is rewritten; the adapter notices the change). After
 * the reload the old password is refused, the new one works, new connections get the new certificate, and
 * every sample the adapter acknowledged is in ClickHouse. The adapter reaches ClickHouse as a user whose
 * password comes from --clickhouse.password-file.
 */
describe('security: reload of password and certificate while Prometheus writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-secreload-'));
  const logDir = join(dir, 'logs');
  const database = `secreload_${process.pid}_${Date.now()}`;
  const externalLabels = { cluster: 'reload' };
  let secrets: Secrets;
  let ch: ClickHouse;
  let node: NodeExporter;
  let prom: Prometheus;
  let adapter: { proc: ManagedProcess; url: string };
  let t0 = 0;
  let oldPassword = '';

  before(async () => {
    secrets = makeSecrets(join(dir, 'pki'));
    const chPassword = randomBytes(12).toString('hex');
    const chPasswordFile = join(dir, 'clickhouse.password');
    writeFileSync(chPasswordFile, `${chPassword}\n`, { mode: 0o600 });
    ch = await startClickHouse({ dir: join(dir, 'clickhouse'), logDir, users: { rtcmon: chPassword } });
    node = await startNodeExporter({ logDir });
    adapter = await startSecureRole({
      role: 'adapter',
      secrets,
      logDir,
      policy: ['/write=writer', '/metrics=scraper'],
      args: [
        `--clickhouse.url=${ch.url}`,
        '--clickhouse.user=rtcmon',
        `--clickhouse.password-file=${chPasswordFile}`,
        `--clickhouse.database=${database}`,
        '--batch.max-delay=50ms',
      ],
    });
    const port = await freePort();
    prom = await startPrometheus({
      dir: join(dir, 'prom'),
      port,
      logDir,
      scrapeInterval: '1s',
      externalLabels,
      jobs: [
        { job: 'node', targets: [node.address] },
        { job: 'prometheus', targets: [`127.0.0.1:${port}`] },
      ],
      remoteWrite: [
        {
          url: `${adapter.url}/write`,
          queueConfig: { batch_send_deadline: '500ms', min_shards: 1, max_shards: 1, min_backoff: '100ms' },
          client: secrets.promClient('writer'),
        },
      ],
    });
    t0 = Date.now() + 3_000;
  });

  after(async () => {
    for (const p of [prom, adapter?.proc, node, ch]) await p?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  const servedFingerprint = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = connect(
        {
          host: '127.0.0.1',
          port: Number(new URL(adapter.url).port),
          ca: readFileSync(secrets.ca.cert),
          cert: readFileSync(secrets.client.cert),
          key: readFileSync(secrets.client.key),
        },
        () => {
          resolve(s.getPeerCertificate().fingerprint256);
          s.end();
        },
      );
      s.on('error', reject);
    });

  it('changes the password and the certificate under load; old credentials fail, new ones work', async () => {
    await waitSentPast(prom.url, t0 + 3_000);
    const server2 = makeLeaf(join(dir, 'pki'), secrets.ca, 'server2');
    const fp2 = new X509Certificate(readFileSync(server2.cert)).fingerprint256;
    assert.notEqual(await servedFingerprint(), fp2);
    oldPassword = secrets.users.writer.password;
    const newPassword = `writer-${randomBytes(9).toString('hex')}`;
    // Prometheus reads password_file on every request; the adapter reloads when its files change.
    writeFileSync(secrets.users.writer.file, newPassword);
    secrets.write({ server: server2, passwords: { writer: newPassword } });
    const deadline = Date.now() + 15_000;
    while ((await servedFingerprint()) !== fp2) {
      assert.ok(Date.now() < deadline, 'the adapter did not pick up the new certificate');
      await sleep(200);
    }
    const post = (auth: string) =>
      httpsCall(`${adapter.url}/write`, {
        ca: secrets.ca.cert,
        client: secrets.client,
        method: 'POST',
        auth,
      });
    assert.equal((await post(basic('writer', oldPassword))).status, 401);
    // Authenticated: the empty body then fails as a remote-write body (400), not as a credential.
    assert.equal((await post(secrets.auth('writer'))).status, 400);
  });

  it('keeps writing after the reload, and every acknowledged sample is in ClickHouse', async () => {
    const switchAt = Date.now();
    await sleep(5_000);
    const tEnd = Math.floor(Date.now() / 1000) * 1000 - 2_000;
    await waitSentPast(prom.url, tEnd + 1_000);
    const metrics = await (await fetch(`${prom.url}/metrics`)).text();
    const failed = Number(
      /^prometheus_remote_storage_samples_failed_total\{[^}]*\} (\S+)$/m.exec(metrics)?.[1] ?? 0,
    );
    const problems = diffSamples(
      await prometheusSamples(prom.url, t0, tEnd, externalLabels),
      await clickhouseSamples(ch, database, t0, tEnd),
    );
    const missing = problems.filter((p) => p.startsWith('missing sample'));
    const other = problems.filter((p) => !p.startsWith('missing sample'));
    process.stdout.write(
      `reload under load: ${missing.length} samples missing in ClickHouse, ${failed} samples Prometheus reports as refused (401 before it read the new password), other differences ${other.length}\n`,
    );
    assert.deepEqual(other, [], 'values differ or extra data');
    // A missing sample is one Prometheus was refused (never acknowledged) in the moment of the switch.
    assert.ok(missing.length <= failed, `${missing.length} missing but only ${failed} refused`);
    for (const m of missing) {
      const ts = Number(/@(\d+)$/.exec(m)?.[1]);
      assert.ok(ts > switchAt - 20_000 && ts < switchAt + 5_000, `lost outside the switch: ${m}`);
    }
    const log = readFileSync(adapter.proc.logFile, 'utf8');
    assert.match(log, /web config reloaded/);
    assert.ok(
      !log.includes(oldPassword) && !log.includes(secrets.users.writer.password),
      'a password in the log',
    );
  });
});
