/**
 * Hostile push bodies against a real `rtcmon exporter` process (fast-check): every answer is a 2xx
 * (a body that happens to be valid) or a 4xx with a JSON error message, never a 5xx; afterwards the
 * process is up, it tracks no more servers than its limit, and its memory stayed bounded.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { FAMILY_NAMES } from '../../src/sdk/index.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { startRole } from '../../src/stack/servers/role.ts';

const MAX_SERVERS = 20;
const MAX_BODY = 64 * 1024;
let exporter: ManagedProcess | undefined;
let url = '';

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-exporter-fuzz-'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  exporter = await startRole({
    role: 'exporter',
    url,
    logDir: dir,
    args: [
      `--web.listen-address=127.0.0.1:${port}`,
      `--push.max-servers=${MAX_SERVERS}`,
      `--push.max-body-size=${MAX_BODY}`,
      '--log.level=error',
    ],
  });
});
after(() => exporter?.stop());

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  assert.ok(line, `no ${name}`);
  return Number(line.split(' ').pop());
}

async function send(body: string | Uint8Array): Promise<void> {
  // Raw bytes (invalid UTF-8 included) go as an ArrayBuffer copy.
  const payload = typeof body === 'string' ? body : new Uint8Array(body).buffer;
  const r = await fetch(`${url}/api/v1/push`, {
    method: 'POST',
    body: payload,
    headers: { 'content-type': 'application/json' },
  });
  const text = await r.text();
  assert.ok(
    r.status === 200 || (r.status >= 400 && r.status < 500),
    `status ${r.status}: ${text.slice(0, 200)}`,
  );
  if (r.status !== 200) {
    const parsed = JSON.parse(text) as { error?: unknown };
    assert.equal(typeof parsed.error, 'string');
    assert.ok((parsed.error as string).length > 0);
  }
}

const familyName = fc.oneof(
  fc.constantFrom(...FAMILY_NAMES),
  fc.string({ maxLength: 40 }),
  fc.constant('__proto__'),
);
const labels = fc.dictionary(
  fc.oneof(
    fc.constantFrom('direction', 'kind', 'reason', 'room', 'le', 'server'),
    fc.string({ maxLength: 10 }),
  ),
  fc.oneof(
    fc.constantFrom('in', 'out', 'audio', 'video', 'timeout'),
    fc.string({ maxLength: 20 }),
    fc.jsonValue(),
  ),
);
const value = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -1, 1e308, Number.MAX_SAFE_INTEGER),
  fc.string({ maxLength: 10 }),
  fc.record({ labels, value: fc.oneof(fc.double(), fc.jsonValue()) }),
  fc.array(fc.record({ labels, value: fc.double() }), { maxLength: 30 }),
  fc.record({
    buckets: fc.dictionary(
      fc.oneof(fc.constantFrom('0.01', '+Inf', '1', 'NaN', '-1'), fc.string({ maxLength: 6 })),
      fc.double(),
    ),
    sum: fc.double(),
    count: fc.double(),
  }),
  fc.jsonValue(),
);
const serverId = fc.oneof(
  fc.constantFrom('sfu-1', 'sfu-2', 'a'.repeat(129), '', 'bad id', 'é'),
  fc.stringMatching(/^[a-z0-9-]{1,12}$/),
  fc.jsonValue(),
);
const serverBody = fc.record(
  {
    server: serverId,
    info: fc.oneof(
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue()),
      fc.record({ eip: fc.string(), port: fc.integer() }),
    ),
    state: fc.oneof(fc.constantFrom('serving', 'draining', 'shutting_down', 'x'), fc.jsonValue()),
    started_at: fc.oneof(fc.double(), fc.integer({ min: 0, max: 5 })),
    metrics: fc.dictionary(familyName, value, { maxKeys: 12 }),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  serverBody.map((b) => JSON.stringify(b)),
  fc.array(serverBody, { maxLength: 5 }).map((b) => JSON.stringify(b)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.integer({ min: 1, max: 200_000 }).map((n) => '['.repeat(n) + ']'.repeat(Math.min(n, 10))),
  fc
    .integer({ min: 1, max: 30_000 })
    .map((n) => `{"server":"x","metrics":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`),
  fc.integer({ min: 1, max: 100_000 }).map((n) => `{"server":"${'s'.repeat(n)}"}`),
);

test('hostile push bodies: 2xx or 4xx with a message, process up, limits and memory bounded', async () => {
  const rssBefore = await metric('rtcmon_process_resident_memory_bytes');
  await fc.assert(fc.asyncProperty(body, send), { numRuns: 1500 });
  // Many valid pushes from distinct servers: refused beyond the limit.
  for (let i = 0; i < MAX_SERVERS * 2; i++)
    await send(JSON.stringify({ server: `flood-${i}`, metrics: { rtc_rooms: i } }));
  // Bodies over the limit.
  await send(JSON.stringify({ server: 'big', info: { version: 'v'.repeat(MAX_BODY) } }));

  assert.equal((await fetch(`${url}/-/healthy`)).status, 200);
  assert.equal(exporter?.exited(), false);
  const servers = await metric('rtcmon_exporter_servers{source="push"}');
  assert.ok(servers <= MAX_SERVERS, `push servers ${servers}`);
  const rssAfter = await metric('rtcmon_process_resident_memory_bytes');
  assert.ok(rssAfter < 400 * 1024 * 1024, `RSS ${rssAfter}`);
  assert.ok(rssAfter - rssBefore < 200 * 1024 * 1024, `RSS grew ${rssBefore} → ${rssAfter}`);
});
