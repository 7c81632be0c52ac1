import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Reply } from '../lib/http.ts';
import { silentLogger } from '../lib/logger.ts';
import { renderExposition } from '../sdk/index.ts';
import { createExporter } from './app.ts';
import { createPushSource } from './push.ts';

function setup(opts: { token?: string; maxServers?: number } = {}) {
  let now = 1_000_000;
  const push = createPushSource({
    token: opts.token ?? '',
    staleAfterMs: 30_000,
    forgetAfterMs: 600_000,
    maxServers: opts.maxServers ?? 10,
    maxBodyBytes: 1 << 20,
    logger: silentLogger,
    now: () => now,
  });
  const exporter = createExporter({ sources: [push], logger: silentLogger });
  const send = (body: unknown, headers: Record<string, string> = {}) =>
    exporter.app.handle({
      method: 'POST',
      path: '/api/v1/push',
      query: new URLSearchParams(),
      headers,
      body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    });
  return { push, exporter, send, advance: (ms: number) => (now += ms) };
}
const error = (r: Reply): string => (JSON.parse(String(r.body)) as { errorType: string }).errorType;

const good = {
  server: 'go-1',
  info: { eip: '192.0.2.1', port: 443, region: 'eu' },
  state: 'serving',
  metrics: {
    rtc_participants: 5,
    rtc_capacity_participants: 20,
    rtc_join_failures_total: [{ labels: { reason: 'timeout' }, value: 2 }],
    rtc_rtp_bytes_total: [{ labels: { direction: 'in', kind: 'audio' }, value: 100 }],
    rtc_packet_loss_ratio: {
      labels: { kind: 'audio' },
      buckets: {
        '0': 1,
        '0.005': 1,
        '0.01': 2,
        '0.02': 2,
        '0.03': 2,
        '0.05': 2,
        '0.1': 2,
        '0.2': 2,
        '0.5': 3,
        '+Inf': 3,
      },
      sum: 0.31,
      count: 3,
    },
  },
};

test('a valid push is exposed with derived load ratio, then turns stale, then is forgotten', async () => {
  const { send, exporter, advance } = setup();
  assert.equal((await send(good)).status, 200);
  let text = renderExposition(await exporter.collect());
  assert.match(text, /^rtc_up\{server="go-1"\} 1$/m);
  assert.match(text, /^rtc_load_ratio\{server="go-1"\} 0\.25$/m);
  assert.match(text, /^rtc_packet_loss_ratio_bucket\{server="go-1",kind="audio",le="0\.01"\} 2$/m);
  assert.match(text, /^rtc_server_info\{server="go-1",version="",eip="192\.0\.2\.1",port="443",region="eu"/m);
  advance(31_000);
  text = renderExposition(await exporter.collect());
  assert.match(text, /^rtc_up\{server="go-1"\} 0$/m);
  assert.doesNotMatch(text, /rtc_participants\{server="go-1"\}/, 'a stale server shows nothing else');
  advance(600_000);
  assert.equal((await exporter.collect()).length, 0);
});

test('bad bodies are 4xx naming the problem', async () => {
  const { send } = setup();
  const cases: [unknown, number, string, RegExp][] = [
    ['{', 400, 'invalid_json', /not valid JSON/],
    [{ ...good, metrics: { rtc_nope: 1 } }, 400, 'unknown_metric', /rtc_nope/],
    [{ ...good, metrics: { rtc_participants: '5' } }, 400, 'wrong_type', /rtc_participants: expected/],
    [{ ...good, metrics: { rtc_nacks_total: -1 } }, 400, 'negative_value', /rtc_nacks_total/],
    [
      { ...good, metrics: { rtc_tracks: [{ labels: { direction: 'in', kind: 'screen' }, value: 1 }] } },
      400,
      'bad_labels',
      /kind/,
    ],
    [{ ...good, metrics: { rtc_rooms: [{ labels: { room: 'r1' }, value: 1 }] } }, 400, 'bad_labels', /room/],
    [{ ...good, server: 'bad id with spaces' }, 400, 'invalid_body', /server/],
    [{ ...good, state: 'sleeping' }, 400, 'invalid_body', /state/],
    [{ ...good, extra: 1 }, 400, 'invalid_body', /unknown field/],
    [[], 400, 'invalid_body', /empty/],
    [
      { ...good, metrics: { rtc_rtt_seconds: { buckets: { '0.01': 1 }, sum: 1 } } },
      400,
      'invalid_body',
      /missing bucket/,
    ],
  ];
  for (const [body, status, code, message] of cases) {
    const r = await send(body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.equal(error(r), code, JSON.stringify(body));
    assert.match(String(r.body), message);
  }
  const many = Array.from({ length: 17 }, (_, i) => ({ labels: { reason: `r${i}` }, value: 1 }));
  assert.equal(
    error(await send({ server: 'a', metrics: { rtc_join_failures_total: many } })),
    'too_many_series',
  );
});

test('counters may not go backwards unless started_at changes', async () => {
  const { send } = setup();
  assert.equal((await send({ ...good, started_at: 1 })).status, 200);
  const back = {
    ...good,
    started_at: 1,
    metrics: { ...good.metrics, rtc_join_failures_total: [{ labels: { reason: 'timeout' }, value: 1 }] },
  };
  const r = await send(back);
  assert.equal(r.status, 409);
  assert.match(String(r.body), /rtc_join_failures_total.*backwards \(2 → 1\)/);
  assert.equal((await send({ ...back, started_at: 2 })).status, 200, 'a restart resets counters');
});

test('bearer token and server limit', async () => {
  const { send } = setup({ token: 't0k', maxServers: 2 });
  assert.equal((await send(good)).status, 401);
  assert.equal((await send(good, { authorization: 'Bearer wrong' })).status, 401);
  const auth = { authorization: 'Bearer t0k' };
  assert.equal((await send(good, auth)).status, 200);
  assert.equal((await send({ server: 'b' }, auth)).status, 200);
  const r = await send({ server: 'c' }, auth);
  assert.equal(r.status, 429);
  assert.equal(error(r), 'too_many_servers');
  assert.equal((await send({ ...good, metrics: {} }, auth)).status, 200, 'known servers still push');
});

test('GET /api/v1/push/schema describes every catalogue family', async () => {
  const { exporter } = setup();
  const r = await exporter.app.handle({
    method: 'GET',
    path: '/api/v1/push/schema',
    query: new URLSearchParams(),
    headers: {},
    body: Buffer.alloc(0),
  });
  assert.equal(r.status, 200);
  const schema = JSON.parse(String(r.body)) as {
    oneOf: { properties: { metrics: { properties: Record<string, unknown> } } }[];
  };
  const families = Object.keys(schema.oneOf[0]!.properties.metrics.properties);
  assert.ok(families.includes('rtc_rtp_bytes_total') && families.includes('rtc_quality_score'));
  assert.match(String(r.body), /"enum":\["in","out"\]/);
});
