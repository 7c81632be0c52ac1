import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError } from './errors.ts';
import { createApp, createRegistry, json, type Route, serve } from './http.ts';
import { silentLogger } from './logger.ts';

const routes: Route[] = [
  {
    method: 'POST',
    path: '/echo',
    maxBodyBytes: 16,
    handler: (req) => json(200, { got: req.body.toString() }),
  },
  { method: 'GET', path: /^\/items\/([^/]+)$/, handler: (req) => json(200, { id: req.params[0] }) },
  {
    method: 'GET',
    path: '/busy',
    handler: () => {
      throw new HttpError(503, 'storage_unavailable', 'ClickHouse is down', { retryAfter: 2 });
    },
  },
  {
    method: 'GET',
    path: '/slow',
    handler: async () => {
      await sleep(300);
      return json(200, { done: true });
    },
  },
];

test('app answers without a socket: routes, params, 404, 405, mapped errors', async () => {
  const app = createApp(routes, silentLogger);
  const base = { headers: {}, query: new URLSearchParams(), body: Buffer.alloc(0) };
  assert.equal((await app.handle({ ...base, method: 'GET', path: '/items/a%20b' })).body, '{"id":"a b"}');
  assert.equal((await app.handle({ ...base, method: 'GET', path: '/nope' })).status, 404);
  const bad = await app.handle({ ...base, method: 'GET', path: '/items/%zz' });
  assert.equal(bad.status, 400);
  assert.match(String(bad.body), /malformed percent-encoding/);
  assert.equal((await app.handle({ ...base, method: 'GET', path: '/echo' })).status, 405);
  const busy = await app.handle({ ...base, method: 'GET', path: '/busy' });
  assert.equal(busy.status, 503);
  assert.equal(busy.headers?.['retry-after'], '2');
  assert.match(String(busy.body), /ClickHouse is down/);
});

test('serve: body limit is a 413, built-in endpoints answer, shutdown lets in-flight requests finish', async () => {
  const registry = createRegistry('test_');
  let ready = false;
  const served = await serve({
    app: createApp(routes, silentLogger),
    listen: { host: '127.0.0.1', port: 0 },
    logger: silentLogger,
    registry,
    ready: () => ready,
  });
  const ok = await fetch(`${served.url}/echo`, { method: 'POST', body: 'hello' });
  assert.deepEqual(await ok.json(), { got: 'hello' });
  const big = await fetch(`${served.url}/echo`, { method: 'POST', body: 'x'.repeat(17) });
  assert.equal(big.status, 413);
  assert.match(await big.text(), /exceeds the limit of 16 bytes/);
  assert.equal((await fetch(`${served.url}/-/healthy`)).status, 200);
  assert.equal((await fetch(`${served.url}/-/ready`)).status, 503);
  ready = true;
  assert.equal((await fetch(`${served.url}/-/ready`)).status, 200);
  const metrics = await (await fetch(`${served.url}/metrics`)).text();
  assert.match(metrics, /rtcmon_http_requests_total\{handler="\/echo",code="413"\} 1/);

  // A request in flight when shutdown starts still gets its answer; new connections are refused.
  const slow = new Promise<string>((resolve, reject) => {
    request(`${served.url}/slow`, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
  await sleep(50);
  await served.close();
  assert.equal(await slow, '{"done":true}');
  await assert.rejects(fetch(`${served.url}/-/healthy`));
});
