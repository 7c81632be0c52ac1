import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../lib/logger.ts';
import { createConsoleApp } from './app.ts';
import { assetDirs } from './assets.ts';
import { createDashboards } from './dashboards.ts';
import { createUpstream } from './upstream.ts';

const get = (path: string, query = '') => ({
  method: 'GET',
  path,
  query: new URLSearchParams(query),
  headers: {},
  body: Buffer.alloc(0),
});
const bodyOf = (r: { body?: unknown }) => JSON.parse(Buffer.from(r.body as Uint8Array).toString('utf8'));

describe('console app (socket-free)', () => {
  let dir: string;
  let closedPort: number;
  let seen: string[];
  let prom: ReturnType<typeof createServer>;
  let promUrl: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rtcmon-console-'));
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ uid: 'fleet', title: 'Fleet', panels: [] }));
    writeFileSync(join(dir, 'b.json'), '{ not json');
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ dashboard: { title: 'Wrapped', panels: [] } }));
    seen = [];
    prom = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      res.end('{"status":"success","data":{"resultType":"vector","result":[]}}');
    });
    await new Promise<void>((r) => prom.listen(0, '127.0.0.1', r));
    promUrl = `http://127.0.0.1:${(prom.address() as AddressInfo).port}`;
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    closedPort = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
  });
  after(() => {
    prom.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const app = (promBase: string) =>
    createConsoleApp({
      dirs: assetDirs(dir),
      dashboards: createDashboards(dir, silentLogger),
      prometheus: createUpstream({ name: 'prometheus', baseUrl: promBase, timeoutMs: 2000 }),
      dispatcher: createUpstream({
        name: 'dispatcher',
        baseUrl: `http://127.0.0.1:${closedPort}`,
        timeoutMs: 2000,
      }),
      settings: { scrapeIntervalMs: 5000 },
      logger: silentLogger,
    });

  it('lists the dashboard files as they are and skips what is not a dashboard', async () => {
    const a = app(promUrl);
    const list = bodyOf(await a.handle(get('/api/dashboards')));
    assert.deepEqual(
      list.dashboards.map((d: { uid: string; title: string }) => [d.uid, d.title]),
      [
        ['fleet', 'Fleet'],
        ['c', 'Wrapped'],
      ],
    );
    assert.equal((await a.handle(get('/api/dashboards/fleet'))).status, 200);
    assert.equal((await a.handle(get('/api/dashboards/nope'))).status, 404);
  });

  it('serves its page and uPlot from the package, and nothing outside them', async () => {
    const a = app(promUrl);
    const page = await a.handle(get('/'));
    assert.equal(page.status, 200);
    assert.match(Buffer.from(page.body as Uint8Array).toString(), /uPlot\.esm\.js/);
    assert.equal((await a.handle(get('/vendor/uplot/uPlot.esm.js'))).status, 200);
    assert.equal((await a.handle(get('/static/app.js'))).status, 200);
    assert.equal((await a.handle(get('/static/../config.ts'))).status, 400);
    assert.equal((await a.handle(get('/static/grafana.test.ts'))).status, 404);
  });

  it('relays queries to Prometheus with only its known parameters', async () => {
    const a = app(promUrl);
    const r = await a.handle(get('/api/prom/query_range', 'query=up&start=1&end=2&step=1'));
    assert.equal(r.status, 200);
    assert.match(seen.at(-1) ?? '', /^\/api\/v1\/query_range\?query=up&start=1&end=2&step=1$/);
    const bad = await a.handle(get('/api/prom/query', 'query=up&evil=1'));
    assert.equal(bad.status, 400);
    assert.match(bodyOf(bad).error, /unknown query parameter "evil"/);
    assert.equal((await a.handle(get('/api/prom/label/bad-name!/values'))).status, 400);
  });

  it('streams a batch of queries as one JSON line per answer, and refuses malformed batches', async () => {
    const a = app(promUrl);
    const post = (body: string) =>
      a.handle({ ...get('/api/prom/batch'), method: 'POST', body: Buffer.from(body) });
    const r = await post(
      JSON.stringify({
        queries: [
          { kind: 'query', params: { query: 'up', time: '1' } },
          { kind: 'query_range', params: { query: 'rate(x[1m])', start: '1', end: '2', step: '1' } },
        ],
      }),
    );
    assert.equal(r.status, 200);
    let text = '';
    for await (const chunk of r.body as AsyncIterable<Uint8Array>) text += Buffer.from(chunk).toString();
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .sort((x, y) => x.i - y.i);
    assert.deepEqual(
      lines.map((l) => [l.i, l.status, l.body.status]),
      [
        [0, 200, 'success'],
        [1, 200, 'success'],
      ],
    );
    for (const [body, msg] of [
      ['nope', /not valid JSON/],
      ['{"queries":[]}', /non-empty array/],
      ['{"queries":[{"kind":"series","params":{}}]}', /kind must be/],
      ['{"queries":[{"kind":"query","params":{"query":"up","evil":"1"}}]}', /unknown query parameter "evil"/],
    ] as const) {
      const bad = await post(body);
      assert.equal(bad.status, 400, body);
      assert.match(bodyOf(bad).error, msg);
    }
  });

  it('says plainly which upstream is unreachable', async () => {
    const a = app(`http://127.0.0.1:${closedPort}`);
    const r = await a.handle(get('/api/prom/query', 'query=up'));
    assert.equal(r.status, 502);
    const b = bodyOf(r);
    assert.equal(b.errorType, 'prometheus_unreachable');
    assert.match(b.error, /Prometheus at http:\/\/127\.0\.0\.1:\d+ is unreachable: ECONNREFUSED/);
    const d = bodyOf(await a.handle(get('/api/dispatcher/servers')));
    assert.equal(d.errorType, 'dispatcher_unreachable');
    const s = bodyOf(await a.handle(get('/api/status')));
    assert.equal(s.prometheus.ok, false);
    assert.equal(s.dispatcher.ok, false);
  });
});
