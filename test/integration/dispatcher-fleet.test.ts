import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join as pathJoin } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { type SimServer, startSimFleet } from '../../src/sdk/sim-server.ts';
import { type NodeExporter, startNodeExporter } from '../../src/stack/servers/node-exporter.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { type Prometheus, startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { allocate, join, servers, tokenFile, until } from './dispatcher-helpers.ts';

const run = promisify(execFile);
const SCRAPE_MS = 1000;
const REFRESH_MS = 1000;
const TOKEN = 'it-token';

describe('dispatcher against real Prometheus scraping a simulated fleet', () => {
  let dir: string;
  let fleet: SimServer[];
  let prom: Prometheus;
  let nodeExporter: NodeExporter;
  let dispatcher: ManagedProcess;
  let url: string;
  const placed = new Map<string, string>(); // room → server

  before(async () => {
    dir = mkdtempSync(pathJoin(tmpdir(), 'rtcmon-dispatcher-'));
    fleet = await startSimFleet(6, { capacity: 30, prefix: 'sim', regions: ['eu'] });
    nodeExporter = await startNodeExporter({ logDir: dir });
    prom = await startPrometheus({
      dir: pathJoin(dir, 'prometheus'),
      scrapeInterval: '1s',
      jobs: [
        { job: 'rtc', targets: fleet.map((s) => s.address) },
        // The simulated servers report host = this machine's hostname; the target label joins them.
        { job: 'node', targets: [nodeExporter.address], labels: { host: hostname() } },
      ],
    });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    dispatcher = await startRole({
      role: 'dispatcher',
      url,
      logDir: dir,
      args: [
        `--web.listen-address=127.0.0.1:${port}`,
        `--prometheus.url=${prom.url}`,
        `--snapshot.interval=${REFRESH_MS}ms`,
        '--prometheus.rate-window=10s',
        '--staleness.penalty-after=2s',
        '--staleness.exclude-after=4s',
        '--ledger.join-delay=500ms',
        // This machine is shared and often fully busy: score CPU and memory, never exclude on them.
        '--score.limit.cpu=1',
        '--score.limit.memory=1',
        `--api.token-file=${tokenFile(dir)}`,
        '--log.level=warn',
      ],
    });
    // Ready means one snapshot; wait until every server of the fleet is in it.
    await until(
      'the whole fleet in the snapshot',
      async () => ((await servers(url)).servers.filter((s) => !s.excluded).length === 6 ? true : undefined),
      20_000,
    );
  });

  after(async () => {
    await dispatcher?.stop();
    await prom?.stop();
    await nodeExporter?.stop();
    await Promise.all((fleet ?? []).map((s) => s.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('joins node_exporter series to the servers by host: CPU and memory are scored', async () => {
    const s = await until(
      'node_exporter data in the snapshot',
      async () => {
        const r = (await (await fetch(`${url}/api/v1/servers`)).json()) as { servers: { notes: string[] }[] };
        return r.servers.every((x) => x.notes.some((n) => /^cpu \d/.test(n))) ? r : undefined;
      },
      15_000,
      200,
    );
    assert.ok(s.servers.every((x) => x.notes.some((n) => /^memory \d/.test(n))));
  });

  it('a Go client written against the original GetRtcServer struct reads every legacy path', async () => {
    // Built with Debian's golang-go into this test's temp dir (GOCACHE kept between runs).
    const bin = pathJoin(dir, 'legacy-go-client');
    const src = fileURLToPath(new URL('./legacy-go-client/main.go', import.meta.url));
    await run('go', ['build', '-o', bin, src], {
      env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off' },
    });
    const { stdout } = await run(bin, [url]);
    process.stdout.write(`${stdout.trim().replace(/^/gm, '# ')}\n`);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 6, stdout);
    for (const l of lines) assert.match(l, /^ok .*: 6 running, first 127\.0\.0\.1:\d+ /);
  });

  it('spreads allocations over the fleet; the fleet load follows them; the ledger empties once scraped', async () => {
    const count = new Map<string, number>();
    for (let i = 0; i < 36; i++) {
      const room = `room-${i}`;
      const { status, body } = await allocate(url, room);
      assert.equal(status, 200, body.message);
      assert.equal(body.blind, false);
      assert.ok(body.server!.reasons.length > 0 && body.reasons.length > 0, 'explained');
      assert.ok(await join(body, room), 'the simulated server accepted the join');
      placed.set(room, body.server!.id);
      count.set(body.server!.id, (count.get(body.server!.id) ?? 0) + 1);
    }
    assert.equal(count.size, 6, `every server got rooms: ${JSON.stringify([...count])}`);
    const v = [...count.values()];
    assert.ok(Math.max(...v) - Math.min(...v) <= 5, `balanced: ${JSON.stringify([...count])}`);
    const total = fleet.reduce((s, x) => s + x.participants(), 0);
    assert.equal(total, 36);
    const caughtUp = await until(
      'metrics to catch up with the ledger',
      async () => {
        const s = await servers(url);
        const p = s.servers.reduce((a, x) => a + x.participants, 0);
        return p === 36 && s.ledgerEntries === 0 ? s : undefined;
      },
      15_000,
    );
    assert.equal(caughtUp.ledgerEntries, 0);
  });

  it('a drained server gets no new room but keeps its rooms', async () => {
    const [room, drainedId] = [...placed][0]!;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const denied = await fetch(`${url}/api/v1/servers/${drainedId}/drain`, { method: 'POST' });
    assert.equal(denied.status, 401);
    const r = await fetch(`${url}/api/v1/servers/${drainedId}/drain`, { method: 'POST', headers: auth });
    assert.equal(r.status, 200, await r.text());
    for (let i = 0; i < 12; i++) {
      const { body } = await allocate(url, `after-drain-${i}`);
      assert.ok(body.ok);
      assert.notEqual(body.server!.id, drainedId);
      assert.ok(body.excluded.some((e) => e.id === drainedId && e.reason === 'drained'));
      assert.ok(await join(body, `after-drain-${i}`));
    }
    const again = await allocate(url, room);
    assert.equal(again.body.server!.id, drainedId, 'its room keeps going to it');
    assert.ok(await join(again.body, room));
    const u = await fetch(`${url}/api/v1/servers/${drainedId}/undrain`, { method: 'POST', headers: auth });
    assert.equal(u.status, 200);
  });

  it('a stopped server disappears from answers within two scrape intervals', async () => {
    const victim = fleet[5]!;
    const roomOnVictim = [...placed].find(([, s]) => s === victim.id)?.[0];
    const t0 = Date.now();
    await victim.stop();
    await until(
      'the stopped server to be excluded',
      async () => ((await servers(url)).servers.find((s) => s.id === victim.id)?.excluded ? true : undefined),
      10_000,
      50,
    );
    const elapsed = Date.now() - t0;
    // Two scrape intervals, one refresh interval of the dispatcher, and slack for a loaded machine.
    assert.ok(elapsed <= 2 * SCRAPE_MS + REFRESH_MS + 1500, `excluded after ${elapsed} ms`);
    for (let i = 0; i < 10; i++) {
      const { body } = await allocate(url, `after-stop-${i}`);
      assert.ok(body.ok);
      assert.notEqual(body.server!.id, victim.id);
    }
    if (roomOnVictim) {
      const { body } = await allocate(url, roomOnVictim);
      assert.notEqual(body.server!.id, victim.id, 'its rooms move elsewhere');
    }
  });

  it('Prometheus stopped: blind-mode answers keep coming, flagged; Prometheus back: normal answers', async () => {
    await prom.stop();
    await until('blind mode', async () => ((await servers(url)).blind ? true : undefined), 10_000);
    const first = await allocate(url, 'blind-first');
    assert.equal(first.status, 200, first.body.message);
    assert.equal(first.body.blind, true);
    // Past the staleness limit (4s): servers must not be declared dead because monitoring is down.
    await sleep(5000);
    for (let i = 0; i < 10; i++) {
      const { status, body } = await allocate(url, `blind-${i}`);
      assert.equal(status, 200, body.message);
      assert.equal(body.blind, true);
      assert.ok((body.blindForMs ?? 0) >= 5000);
      assert.notEqual(body.server!.id, fleet[5]!.id);
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^rtcmon_dispatcher_blind 1$/m);

    prom = await prom.restart();
    await until(
      'the end of blind mode',
      async () => ((await servers(url)).blind ? undefined : true),
      30_000,
      200,
    );
    const { status, body: back } = await allocate(url, 'back');
    assert.equal(status, 200, back.message);
    assert.equal(back.blind, false);
    assert.equal(back.blindForMs, null);
    assert.match(await (await fetch(`${url}/metrics`)).text(), /^rtcmon_dispatcher_blind 0$/m);
  });

  it('bad input on every endpoint over HTTP: 4xx with a message, the process stays up', async () => {
    const endpoints = fc.constantFrom(
      ['POST', '/api/v1/allocate'],
      ['POST', '/api/v1/servers/sim-0/drain'],
      ['POST', '/api/v1/servers/%zz/undrain'],
      ['POST', '/api/v1/servers/%E0%A4%A/drain'],
      ['GET', '/api/v1/servers?region=%'],
      ['POST', '/'],
      ['GET', '/?Action=%00'],
      ['POST', '/GetRtcServer'],
      ['PUT', '/api/v1/allocate'],
    );
    const bodies = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      fc
        .record(
          { room: fc.anything({ maxDepth: 2 }), region: fc.anything({ maxDepth: 1 }) },
          { requiredKeys: [] },
        )
        .map((v) => {
          try {
            return JSON.stringify(v) ?? '';
          } catch {
            return '{';
          }
        }),
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    );
    const headers = fc.constantFrom<Record<string, string>>(
      {},
      { authorization: 'Bearer wrong' },
      { 'content-type': 'application/x-www-form-urlencoded' },
    );
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(endpoints, bodies, headers, async ([method, path], body, h) => {
        runs++;
        const r = await fetch(`${url}${path}`, { method, headers: h, body: method === 'GET' ? null : body });
        const text = await r.text();
        if (r.status === 200 || r.status === 503) return; // a valid allocation or an honest "no server"
        assert.ok(
          r.status >= 400 && r.status < 500,
          `${method} ${path} ${JSON.stringify(String(body))} → ${r.status} ${text}`,
        );
        const j = JSON.parse(text) as { error?: string; Message?: string };
        assert.ok(j.error || j.Message, `a message: ${text}`);
      }),
      { numRuns: 150 },
    );
    assert.equal(runs, 150);
    assert.equal((await fetch(`${url}/-/healthy`)).status, 200);
  });
});
