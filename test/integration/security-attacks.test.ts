import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { type ClickHouse, startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import type { ManagedProcess } from '../../src/stack/servers/process.ts';
import { basic, httpsCall, makeCa, makeLeaf, type Pair } from '../support/pki.ts';
import { writeBody } from '../support/prompb.ts';
import { makeSecrets, type Secrets, startSecureRole } from '../support/secure-rig.ts';

/**
 * Hostile clients against `rtcmon adapter` behind TLS (client certificates required) and basic auth:
 * every one is refused with the right status or a handshake error, none of their (valid) remote-write
 * bodies is stored, the process stays up and its memory stays bounded. Then the right client stores.
 */
describe('security: refused clients against the adapter over TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-secatk-'));
  const logDir = join(dir, 'logs');
  const database = `secatk_${process.pid}_${Date.now()}`;
  let secrets: Secrets;
  let ch: ClickHouse;
  let adapter: { proc: ManagedProcess; url: string };
  let otherCa: Pair;
  let rogueClient: Pair;
  let expiredClient: Pair;
  const now = Date.now();
  const body = writeBody([
    { labels: [{ name: '__name__', value: 'attack_probe' }], samples: [{ value: 1, timestamp: now }] },
  ]);
  const writeHeaders = { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' };
  const stored = async () => Number(await ch.query(`SELECT count() FROM ${database}.samples`));
  const rss = async () => {
    const m = await httpsCall(`${adapter.url}/metrics`, {
      ca: secrets.ca.cert,
      client: secrets.client,
      auth: secrets.auth('scraper'),
    });
    return Number(/^rtcmon_process_resident_memory_bytes (\S+)$/m.exec(m.body.toString())?.[1]);
  };
  const write = (opts: Partial<Parameters<typeof httpsCall>[1]>) =>
    httpsCall(`${adapter.url}/write`, {
      ca: secrets.ca.cert,
      client: secrets.client,
      method: 'POST',
      body,
      headers: writeHeaders,
      ...opts,
    });

  before(async () => {
    // Cost 4 keeps thousands of guesses quick; the cache and the bound are what is under test.
    secrets = makeSecrets(join(dir, 'pki'), { cost: 4 });
    otherCa = makeCa(join(dir, 'pki'), 'other-ca');
    rogueClient = makeLeaf(join(dir, 'pki'), otherCa, 'rogue', { client: true });
    expiredClient = makeLeaf(join(dir, 'pki'), secrets.ca, 'expired', { client: true, days: -1 });
    ch = await startClickHouse({ dir: join(dir, 'clickhouse'), logDir });
    adapter = await startSecureRole({
      role: 'adapter',
      secrets,
      logDir,
      policy: ['/write=writer', '/read=reader', '/metrics=scraper'],
      args: [`--clickhouse.url=${ch.url}`, `--clickhouse.database=${database}`, '--batch.max-delay=20ms'],
    });
  });

  after(async () => {
    await adapter?.proc.stop().catch(() => {});
    await ch?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses wrong credentials with 401/403, before reading the body', async () => {
    assert.equal((await write({ auth: basic('writer', 'wrong') })).status, 401);
    assert.equal((await write({ auth: basic('nobody', secrets.users.writer.password) })).status, 401);
    assert.equal((await write({ auth: secrets.auth('reader') })).status, 403);
    assert.equal((await write({ auth: `Bearer ${secrets.users.writer.password}` })).status, 401);
    const noAuth = await write({});
    assert.equal(noAuth.status, 401);
    assert.match(String(noAuth.headers['www-authenticate']), /^Basic realm=/);
  });

  it('refuses at the handshake: wrong CA, no client certificate, a foreign or expired one, TLS 1.0', async () => {
    const auth = secrets.auth('writer');
    // The client does not trust the server's CA.
    await assert.rejects(write({ auth, ca: otherCa.cert }), /self-signed|unable to verify|certificate/i);
    const refused = /certificate|alert|ECONNRESET|socket hang up|EPIPE|unknown ca|expired/i;
    await assert.rejects(
      httpsCall(`${adapter.url}/write`, { ca: secrets.ca.cert, method: 'POST', body, auth }),
      refused,
    );
    await assert.rejects(write({ auth, client: rogueClient }), refused);
    await assert.rejects(write({ auth, client: expiredClient }), refused);
    await assert.rejects(
      write({ auth, minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }),
      /version|protocol|alert|ECONNRESET/i,
    );
  });

  it('refuses oversized Authorization headers: 401 past 1 KiB, 431 past the header limit', async () => {
    assert.equal((await write({ auth: `Basic ${'A'.repeat(4096)}` })).status, 401);
    const huge = await write({ auth: `Basic ${'A'.repeat(20_000)}` }).catch((e: Error) => e);
    assert.ok(
      huge instanceof Error || huge.status === 431,
      `got ${huge instanceof Error ? huge.message : huge.status}`,
    );
  });

  it('refuses thousands of random credentials; stays up, stores nothing, memory bounded', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const before = await rss();
    const statuses = new Map<number, number>();
    const header = fc.oneof(
      fc.tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 80 })).map(([u, p]) => basic(u, p)),
      fc
        .tuple(fc.constantFrom('writer', 'reader', 'scraper'), fc.string({ maxLength: 80 }))
        .map(([u, p]) => basic(u, p)),
      fc.stringMatching(/^[\x20-\x7e]{0,300}$/),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(header, { minLength: 8, maxLength: 8 }), async (batch) => {
        const answers = await Promise.all(batch.map((auth) => write({ auth, agent })));
        for (const a of answers) {
          statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
          assert.ok([400, 401, 403, 503].includes(a.status), `status ${a.status}`);
        }
      }),
      { numRuns: 300 },
    );
    agent.destroy();
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    process.stdout.write(
      `random credentials: ${total} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}\n`,
    );
    assert.ok(total >= 2400);
    const after = await rss();
    process.stdout.write(
      `adapter RSS before ${(before / 2 ** 20).toFixed(1)} MiB, after ${(after / 2 ** 20).toFixed(1)} MiB\n`,
    );
    assert.ok(after - before < 64 * 2 ** 20, `RSS grew by ${after - before} bytes`);
    assert.equal(adapter.proc.exited(), false, 'the adapter is still running');
    const healthy = await httpsCall(`${adapter.url}/-/healthy`, {
      ca: secrets.ca.cert,
      client: secrets.client,
      auth: secrets.auth('scraper'),
    });
    assert.equal(healthy.status, 200);
    assert.equal(await stored(), 0, 'a refused request stored samples');
  });

  it('counts refusals by handler and reason; the right client then stores', async () => {
    const m = (
      await httpsCall(`${adapter.url}/metrics`, {
        ca: secrets.ca.cert,
        client: secrets.client,
        auth: secrets.auth('scraper'),
      })
    ).body.toString();
    for (const reason of ['wrong_password', 'unknown_user', 'not_allowed', 'missing', 'malformed'])
      assert.match(
        m,
        new RegExp(`rtcmon_http_auth_failures_total\\{handler="/write",reason="${reason}"\\} [1-9]`),
      );
    assert.match(m, /rtcmon_tls_handshake_failures_total\{reason="[a-z_]+"\} [1-9]/);
    const ok = await write({ auth: secrets.auth('writer') });
    assert.equal(ok.status, 204, ok.body.toString());
    assert.equal(await stored(), 1);
  });
});
