import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ClickHouse, startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { type NodeExporter, startNodeExporter } from '../../src/stack/servers/node-exporter.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { type Prometheus, startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { waitSentPast } from '../support/adapter-harness.ts';
import { httpsCall } from '../support/pki.ts';
import { canonical, promApi } from '../support/promql.ts';
import { makeSecrets, type Secrets, startSecureRole } from '../support/secure-rig.ts';

/**
 * Every role behind one exporter-toolkit web config (TLS with client certificates required, bcrypt basic
 * auth, headers) and a route policy: /write only for `writer`, /read only for `reader`, /metrics only for
 * `scraper`. A real Prometheus 2.42 (A) scrapes the adapter, the exporter and the dispatcher over mutual
 * TLS with basic auth and remote-writes to the adapter; Prometheus B reads back through the adapter over
 * TLS. The same PromQL must answer the same on A and B.
 */
describe('security: Prometheus scrapes, writes and reads every role over TLS + basic auth', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-sec-'));
  const logDir = join(dir, 'logs');
  const database = `sec_${process.pid}_${Date.now()}`;
  let secrets: Secrets;
  let ch: ClickHouse;
  let node: NodeExporter;
  let promA: Prometheus;
  let promB: Prometheus;
  const procs: ManagedProcess[] = [];
  const urls: Record<string, string> = {};

  before(async () => {
    secrets = makeSecrets(join(dir, 'pki'));
    ch = await startClickHouse({ dir: join(dir, 'clickhouse'), logDir });
    node = await startNodeExporter({ logDir });
    const adapter = await startSecureRole({
      role: 'adapter',
      secrets,
      logDir,
      policy: ['/write=writer', '/read=reader', '/metrics=scraper', '/-/healthy=open'],
      args: [
        `--clickhouse.url=${ch.url}`,
        `--clickhouse.database=${database}`,
        '--batch.max-delay=50ms',
        '--read.strip-labels=replica',
        '--log.level=info',
      ],
    });
    procs.push(adapter.proc);
    urls.adapter = adapter.url;
    const exporter = await startSecureRole({
      role: 'exporter',
      secrets,
      logDir,
      policy: ['/metrics=scraper', '/-/healthy=open'],
      args: ['--sim.servers=2', '--log.level=info'],
    });
    procs.push(exporter.proc);
    urls.exporter = exporter.url;
    const dispatcherPort = await freePort();
    const portA = await freePort();
    const job = (name: string, port: number) => ({
      job: name,
      targets: [`127.0.0.1:${port}`],
      scheme: 'https' as const,
      client: secrets.promClient('scraper'),
    });
    promA = await startPrometheus({
      dir: join(dir, 'prom-a'),
      port: portA,
      name: 'prometheus-a',
      logDir,
      scrapeInterval: '1s',
      externalLabels: { cluster: 'sec', replica: 'a' },
      jobs: [
        { job: 'node', targets: [node.address] },
        job('adapter', adapter.port),
        job('exporter', exporter.port),
        job('dispatcher', dispatcherPort),
      ],
      remoteWrite: [
        {
          url: `${adapter.url}/write`,
          queueConfig: { batch_send_deadline: '500ms', min_shards: 1, max_shards: 1, min_backoff: '100ms' },
          client: secrets.promClient('writer'),
        },
      ],
    });
    const dispatcher = await startSecureRole({
      role: 'dispatcher',
      secrets,
      logDir,
      port: dispatcherPort,
      readyPath: '/-/healthy',
      policy: ['/metrics=scraper'],
      args: [`--prometheus.url=${promA.url}`, '--snapshot.interval=1s', '--log.level=info'],
    });
    procs.push(dispatcher.proc);
    urls.dispatcher = dispatcher.url;
    promB = await startPrometheus({
      dir: join(dir, 'prom-b'),
      name: 'prometheus-b',
      logDir,
      scrapeInterval: '1s',
      externalLabels: { cluster: 'sec', replica: 'b' },
      jobs: [],
      remoteRead: [{ url: `${adapter.url}/read`, readRecent: true, client: secrets.promClient('reader') }],
    });
  });

  after(async () => {
    for (const p of [promB, promA, ...procs.reverse(), node, ch]) await p?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('the web config is valid for the exporter toolkit itself (promtool check web-config)', () => {
    const r = spawnSync('promtool', ['check', 'web-config', secrets.webConfig], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /SUCCESS/);
  });

  it('Prometheus scrapes the adapter, the exporter and the dispatcher over mutual TLS with basic auth', async () => {
    const deadline = Date.now() + 60_000;
    let up: Record<string, string> = {};
    while (Date.now() < deadline) {
      const d = await promApi(promA.url, 'query', { query: 'up{job=~"adapter|exporter|dispatcher"}' });
      const r = d.result as { metric: { job: string }; value: [number, string] }[];
      up = Object.fromEntries(r.map((s) => [s.metric.job, s.value[1]]));
      if (Object.keys(up).length === 3 && Object.values(up).every((v) => v === '1')) break;
      await sleep(500);
    }
    assert.deepEqual(up, { adapter: '1', exporter: '1', dispatcher: '1' });
    const rtc = await promApi(promA.url, 'query', { query: 'count(rtc_up{job="exporter"})' });
    assert.equal((rtc.result as { value: [number, string] }[])[0]?.value[1], '2', 'both simulated servers');
  });

  let evalAt = 0;
  const QUERIES = [
    'up',
    'rate(node_cpu_seconds_total{mode=~"idle|user"}[5s])',
    'sum by (job) (up)',
    'rtc_capacity_participants',
    'count({__name__=~".+"})',
  ];

  it('remote-writes through the adapter over TLS into ClickHouse', async () => {
    await sleep(8_000);
    evalAt = Math.floor(Date.now() / 1000) * 1000 - 2_000;
    await waitSentPast(promA.url, evalAt + 1_000);
    const n = Number(await ch.query(`SELECT count() FROM ${database}.samples`));
    assert.ok(n > 1000, `only ${n} samples in ClickHouse`);
  });

  it('answers the same PromQL on A (its TSDB) and B (remote read over TLS)', async () => {
    for (const query of QUERIES) {
      const instant = { query, time: String(evalAt / 1000) };
      const a = canonical(await promApi(promA.url, 'query', instant));
      assert.ok((a.result as unknown[]).length > 0, `no result for ${query}`);
      assert.deepEqual(canonical(await promApi(promB.url, 'query', instant)), a, `instant ${query}`);
      const range = { query, start: String(evalAt / 1000 - 5), end: String(evalAt / 1000), step: '1' };
      const ra = canonical(await promApi(promA.url, 'query_range', range));
      assert.deepEqual(canonical(await promApi(promB.url, 'query_range', range)), ra, `range ${query}`);
    }
  });

  it('keeps writers out of /read and readers out of /write; no credentials is a 401 with WWW-Authenticate', async () => {
    const call = (path: string, auth?: string) =>
      httpsCall(`${urls.adapter}${path}`, {
        ca: secrets.ca.cert,
        client: secrets.client,
        method: 'POST',
        body: 'x',
        ...(auth ? { auth } : {}),
      });
    assert.equal((await call('/read', secrets.auth('writer'))).status, 403);
    assert.equal((await call('/write', secrets.auth('reader'))).status, 403);
    const none = await call('/write');
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Basic /);
    assert.equal(none.headers['x-content-type-options'], 'nosniff');
    const m = await httpsCall(`${urls.adapter}/metrics`, {
      ca: secrets.ca.cert,
      client: secrets.client,
      auth: secrets.auth('scraper'),
    });
    const text = m.body.toString();
    assert.match(text, /rtcmon_http_auth_failures_total\{handler="\/read",reason="not_allowed"\} 1/);
    assert.match(text, /rtcmon_http_auth_failures_total\{handler="\/write",reason="missing"\} 1/);
  });

  it('never writes a password into a log or /metrics', async () => {
    const secretsList = Object.values(secrets.users).map((u) => u.password);
    for (const role of ['adapter', 'exporter', 'dispatcher']) {
      const m = await httpsCall(`${urls[role]}/metrics`, {
        ca: secrets.ca.cert,
        client: secrets.client,
        auth: secrets.auth('scraper'),
      });
      assert.equal(m.status, 200);
      for (const p of secretsList) assert.ok(!m.body.includes(p), `${role} /metrics shows a password`);
    }
    for (const f of readdirSync(logDir)) {
      const log = readFileSync(join(logDir, f), 'utf8');
      for (const p of secretsList) assert.ok(!log.includes(p), `${f} holds a password`);
    }
  });
});
