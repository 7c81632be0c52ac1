import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClickHouseClient } from '../../src/adapter/clickhouse.ts';
import { type ClickHouse, startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { makeCa, makeLeaf, type Pair } from '../support/pki.ts';
import { writeBody } from '../support/prompb.ts';

/**
 * The adapter reaches a real ClickHouse 18.16 over HTTPS (its https_port with a certificate from a test CA)
 * as a user whose password comes from --clickhouse.password-file, trusting --clickhouse.ca-file.
 */
describe('security: the adapter talks to ClickHouse over HTTPS with a password from a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-secch-'));
  const logDir = join(dir, 'logs');
  const database = `secch_${process.pid}_${Date.now()}`;
  let ch: ClickHouse;
  let ca: Pair;
  let httpsUrl = '';
  let adapter: ManagedProcess;
  let adapterUrl = '';

  before(async () => {
    ca = makeCa(dir, 'ca');
    const server = makeLeaf(dir, ca, 'clickhouse');
    // Ports are picked free, then bound by ClickHouse: another process may take one in between
    // ("Address already in use"); then start again on new ports.
    for (let attempt = 0; ; attempt++) {
      const httpsPort = await freePort();
      httpsUrl = `https://127.0.0.1:${httpsPort}`;
      try {
        ch = await startClickHouse({
          dir: join(dir, `clickhouse-${attempt}`),
          logDir,
          users: { rtcmon: 'ch-secret-5d1f' },
          extraConfig: `<https_port>${httpsPort}</https_port><openSSL><server><certificateFile>${server.cert}</certificateFile><privateKeyFile>${server.key}</privateKeyFile><verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile><disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols></server></openSSL>`,
        });
        break;
      } catch (err) {
        if (attempt >= 2 || !/Address already in use/.test((err as Error).message)) throw err;
      }
    }
    writeFileSync(join(dir, 'ch.password'), 'ch-secret-5d1f\n', { mode: 0o600 });
    const port = await freePort();
    adapterUrl = `http://127.0.0.1:${port}`;
    adapter = await startRole({
      role: 'adapter',
      url: adapterUrl,
      logDir,
      args: [
        `--web.listen-address=127.0.0.1:${port}`,
        `--clickhouse.url=${httpsUrl}`,
        `--clickhouse.ca-file=${ca.cert}`,
        '--clickhouse.user=rtcmon',
        `--clickhouse.password-file=${join(dir, 'ch.password')}`,
        `--clickhouse.database=${database}`,
        '--batch.max-delay=20ms',
      ],
    });
  });

  after(async () => {
    await adapter?.stop().catch(() => {});
    await ch?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrates and stores over HTTPS (ready means ClickHouse answered)', async () => {
    const res = await fetch(`${adapterUrl}/write`, {
      method: 'POST',
      headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' },
      body: new Uint8Array(
        writeBody([
          {
            labels: [{ name: '__name__', value: 'over_https' }],
            samples: [{ value: 42, timestamp: Date.now() }],
          },
        ]),
      ),
    });
    assert.equal(res.status, 204, await res.text());
    assert.equal((await ch.query(`SELECT value FROM ${database}.samples`)).trim(), '42');
    assert.ok(
      !readFileSync(adapter.logFile, 'utf8').includes('ch-secret-5d1f'),
      'the password is in the log',
    );
  });

  it('refuses a ClickHouse whose certificate it cannot verify, and a wrong password', async () => {
    const noCa = createClickHouseClient({
      url: httpsUrl,
      database: 'default',
      user: 'rtcmon',
      password: 'ch-secret-5d1f',
    });
    await assert.rejects(noCa.query('SELECT 1'), /unable to verify|self-signed|certificate/);
    noCa.close();
    const wrong = createClickHouseClient({
      url: httpsUrl,
      database: 'default',
      user: 'rtcmon',
      password: 'nope',
      ca: readFileSync(ca.cert),
    });
    await assert.rejects(wrong.query('SELECT 1'), /Wrong password/);
    wrong.close();
  });
});
