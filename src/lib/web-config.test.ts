import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bcryptHash, makeCa, makeLeaf } from '../../test/support/pki.ts';
import { accessFor, checkPolicy, parseGoDuration, parseRoutePolicy, parseWebConfig } from './web-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'rtcmon-webcfg-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const ca = makeCa(dir, 'ca');
makeLeaf(dir, ca, 'server');
const otherCa = makeCa(dir, 'other');
makeLeaf(dir, otherCa, 'mismatch');
const file = join(dir, 'web.yml');
const parse = (text: string) => parseWebConfig(text, file);
const fails = (text: string, field: string, msg: RegExp) =>
  assert.throws(
    () => parse(text),
    (err: Error) => {
      assert.match(err.message, new RegExp(`web\\.config\\.file: ${field.replace(/[.$()]/g, '\\$&')}: `));
      assert.match(err.message, msg);
      return true;
    },
  );

test('the toolkit format: relative files, defaults, names of versions, ciphers, curves and client auth', () => {
  const c = parse(`
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP256]
http_server_config:
  headers:
    X-Content-Type-Options: nosniff
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  alice: ${bcryptHash('a', 4)}
rate_limit:
  interval: 1s
  burst: 10
`);
  assert.equal(c.tls?.minVersion, 'TLSv1.3');
  assert.equal(c.tls?.maxVersion, 'TLSv1.3');
  assert.equal(c.tls?.clientAuth, 'RequireAndVerifyClientCert');
  assert.deepEqual(c.tls?.ciphers, ['ECDHE-ECDSA-AES128-GCM-SHA256']);
  assert.deepEqual(c.tls?.curves, ['X25519', 'P-256']);
  assert.deepEqual(c.tls?.files, [join(dir, 'server.crt'), join(dir, 'server.key'), join(dir, 'ca.crt')]);
  assert.equal(c.users.get('alice')?.slice(0, 4), '$2b$');
  assert.deepEqual(c.rateLimit, { intervalMs: 1000, burst: 10 });
  assert.equal(c.headers['X-Content-Type-Options'], 'nosniff');

  const plain = parse('');
  assert.equal(plain.tls, undefined);
  assert.equal(plain.users.size, 0);
  assert.equal(
    parse('tls_server_config:\n  min_version: TLS12\n').tls,
    undefined,
    'no cert field: TLS stays off',
  );
  assert.equal(
    parse('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n').tls?.minVersion,
    'TLSv1.2',
  );
});

test('a bad file is refused with the field named', () => {
  const tls = 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n';
  fails(
    'tls_server_config:\n  cert_file: server.crt\n',
    'tls_server_config.key_file',
    /missing one of key or key_file/,
  );
  fails(`${tls}  min_version: TLS14\n`, 'tls_server_config.min_version', /unknown TLS version "TLS14"/);
  fails(
    `${tls}  client_auth_type: Sometimes\n`,
    'tls_server_config.client_auth_type',
    /invalid ClientAuth: Sometimes/,
  );
  fails(
    `${tls}  client_ca_file: ca.crt\n`,
    'tls_server_config.client_auth_type',
    /without a Client Auth Policy/,
  );
  fails(
    `${tls}  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n`,
    'tls_server_config.cipher_suites',
    /unknown cipher/,
  );
  fails(`${tls}  curve_preferences: [CurveP224]\n`, 'tls_server_config.curve_preferences', /unknown curve/);
  fails(
    `${tls}  min_version: TLS13\n  max_version: TLS12\n`,
    'tls_server_config.min_version',
    /above max_version/,
  );
  fails(`${tls}  cert: inline\n`, 'tls_server_config.cert_file', /either cert or cert_file/);
  fails(`${tls}  certfile: x\n`, 'tls_server_config.certfile', /unknown field/);
  fails(
    'tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n',
    'tls_server_config.cert_file',
    /cannot read/,
  );
  fails(
    'tls_server_config:\n  cert_file: server.crt\n  key_file: mismatch.key\n',
    'tls_server_config.cert_file',
    /key pair/,
  );
  fails('basic_auth_users:\n  bob: hunter2\n', 'basic_auth_users.bob', /not a bcrypt hash/);
  assert.throws(
    () => parse('basic_auth_users:\n  bob: hunter2\n'),
    (e: Error) => !e.message.includes('hunter2'),
  );
  fails(
    'http_server_config:\n  headers:\n    X-Frame-Options: always\n',
    'http_server_config.headers.X-Frame-Options',
    /deny, sameorigin/,
  );
  fails(
    'http_server_config:\n  headers:\n    Server: rtcmon\n',
    'http_server_config.headers.Server',
    /unknown field/,
  );
  fails('rate_limit:\n  interval: soon\n', 'rate_limit.interval', /duration/);
  fails('basic_auth: {}\n', 'basic_auth', /unknown field/);
  fails('a: [\n', '(yaml)', /./);
});

test('route policy: exact paths before prefixes, longest prefix first, users must exist', () => {
  const p = parseRoutePolicy([
    '/write=writer',
    '/read=reader|grafana',
    '/metrics=open',
    '/api/*=ops',
    '/api/v1/push=open',
  ]);
  assert.deepEqual(accessFor(p, '/metrics'), { kind: 'open' });
  assert.deepEqual(accessFor(p, '/api/v1/push'), { kind: 'open' });
  const read = accessFor(p, '/read');
  assert.ok(read.kind === 'users' && read.users?.has('grafana') && !read.users.has('writer'));
  const api = accessFor(p, '/api/v1/servers');
  assert.ok(api.kind === 'users' && api.users?.has('ops'));
  assert.deepEqual(accessFor(p, '/-/ready'), { kind: 'users', users: null }, 'unlisted: any user');
  assert.throws(() => parseRoutePolicy(['write=x']), /web.route-policy: expected PATH=open/);
  assert.throws(() => parseRoutePolicy(['/a=x', '/a=y']), /given twice/);
  const cfg = parse(`basic_auth_users:\n  writer: ${bcryptHash('w', 4)}\n`);
  assert.throws(() => checkPolicy(p, cfg), /basic_auth_users: user "reader" is named in --web.route-policy/);
  checkPolicy(parseRoutePolicy(['/write=writer']), cfg);
});

test('Go durations', () => {
  assert.equal(parseGoDuration('1m30s'), 90_000);
  assert.equal(parseGoDuration('250ms'), 250);
  assert.equal(parseGoDuration('0'), 0);
  assert.throws(() => parseGoDuration('1 s'));
});
