import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { basic, bcryptHash, httpsCall, makeCa, makeLeaf, writeWebConfig } from '../../test/support/pki.ts';
import { createApp, createRegistry, json, serve } from './http.ts';
import { silentLogger } from './logger.ts';

const call = async (
  url: string,
  opts: { ca: string; auth?: string; method?: string; body?: string; agent?: Agent },
) => {
  const r = await httpsCall(url, opts);
  return { ...r, body: r.body.toString() };
};

test('serve over TLS with basic auth, route policy, headers; reload swaps password and certificate in place', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-websec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca1 = makeCa(dir, 'ca1');
  const s1 = makeLeaf(dir, ca1, 's1');
  const ca2 = makeCa(dir, 'ca2');
  const s2 = makeLeaf(dir, ca2, 's2');
  const file = join(dir, 'web.yml');
  const config = (cert: { cert: string; key: string }, writerPassword: string) =>
    writeWebConfig(file, {
      tls_server_config: { cert_file: cert.cert, key_file: cert.key },
      http_server_config: { headers: { 'X-Content-Type-Options': 'nosniff' } },
      basic_auth_users: { writer: bcryptHash(writerPassword, 4), reader: bcryptHash('r', 4) },
    });
  config(s1, 'pw-old-7f3a');
  let writes = 0;
  const app = createApp(
    [{ method: 'POST', path: '/write', name: '/write', handler: () => json(200, { n: ++writes }) }],
    silentLogger,
  );
  const registry = createRegistry();
  const served = await serve({
    app,
    listen: { host: '127.0.0.1', port: 0 },
    logger: silentLogger,
    registry,
    web: { webConfigFile: file, webRoutePolicy: ['/write=writer', '/-/healthy=open'] },
  });
  t.after(() => served.close());
  assert.match(served.url, /^https:/);
  const url = (p: string) => `${served.url}${p}`;

  const open = await call(url('/-/healthy'), { ca: ca1.cert });
  assert.equal(open.status, 200);
  assert.equal(open.headers['x-content-type-options'], 'nosniff');
  const none = await call(url('/write'), { ca: ca1.cert, method: 'POST', body: 'x' });
  assert.equal(none.status, 401);
  assert.match(String(none.headers['www-authenticate']), /^Basic realm="rtcmon"/);
  assert.equal(
    (await call(url('/write'), { ca: ca1.cert, method: 'POST', auth: basic('reader', 'r') })).status,
    403,
  );
  assert.equal(
    (await call(url('/write'), { ca: ca1.cert, method: 'POST', auth: basic('writer', 'x') })).status,
    401,
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const ok = await call(url('/write'), {
    ca: ca1.cert,
    method: 'POST',
    auth: basic('writer', 'pw-old-7f3a'),
    agent,
  });
  assert.equal(ok.status, 200);
  assert.equal(writes, 1, 'refused requests never reached the handler');
  assert.equal((await call(url('/metrics'), { ca: ca1.cert, auth: basic('reader', 'r') })).status, 200);

  // A bad file is refused and the old config stays.
  writeWebConfig(file, { tls_server_config: { cert_file: s2.cert, key_file: s1.key } });
  process.emit('SIGHUP', 'SIGHUP');
  assert.equal(
    (await call(url('/write'), { ca: ca1.cert, method: 'POST', auth: basic('writer', 'pw-old-7f3a') }))
      .status,
    200,
  );

  config(s2, 'pw-new-9c1e');
  process.emit('SIGHUP', 'SIGHUP');
  // The keep-alive connection made before the reload still works; credentials are checked per request.
  assert.equal(
    (await call(url('/write'), { ca: ca1.cert, method: 'POST', auth: basic('writer', 'pw-old-7f3a'), agent }))
      .status,
    401,
  );
  assert.equal(
    (await call(url('/write'), { ca: ca1.cert, method: 'POST', auth: basic('writer', 'pw-new-9c1e'), agent }))
      .status,
    200,
  );
  // New connections get the new certificate.
  await assert.rejects(call(url('/-/healthy'), { ca: ca1.cert }), /self-signed|unable to verify|certificate/);
  assert.equal(
    (await call(url('/write'), { ca: ca2.cert, method: 'POST', auth: basic('writer', 'pw-new-9c1e') }))
      .status,
    200,
  );

  const metrics = (await call(url('/metrics'), { ca: ca2.cert, auth: basic('reader', 'r') })).body;
  assert.match(metrics, /rtcmon_http_auth_failures_total\{handler="\/write",reason="missing"\} 1/);
  assert.match(metrics, /rtcmon_http_auth_failures_total\{handler="\/write",reason="not_allowed"\} 1/);
  assert.match(metrics, /rtcmon_http_auth_failures_total\{handler="\/write",reason="wrong_password"\} 2/);
  assert.match(metrics, /rtcmon_web_config_last_reload_successful 1/);
  assert.doesNotMatch(metrics, /pw-old-7f3a|pw-new-9c1e|\$2[aby]\$/);
});
