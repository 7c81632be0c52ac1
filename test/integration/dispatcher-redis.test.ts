import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as pathJoin } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SimServer, startSimFleet } from '../../src/sdk/sim-server.ts';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { type Prometheus, startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { type RedisServer, startRedis } from '../../src/stack/servers/redis.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { allocate, join, servers, tokenFile, until } from './dispatcher-helpers.ts';

const TOKEN = 'it-token';

describe('two dispatcher replicas sharing a real Redis', () => {
  let dir: string;
  let fleet: SimServer[];
  let prom: Prometheus;
  let redis: RedisServer;
  const replicas: ManagedProcess[] = [];
  const urls: string[] = [];

  before(async () => {
    dir = mkdtempSync(pathJoin(tmpdir(), 'rtcmon-dispatcher-redis-'));
    redis = await startRedis({ dir: pathJoin(dir, 'redis') });
    fleet = await startSimFleet(6, { capacity: 200, prefix: 'r' });
    prom = await startPrometheus({
      dir: pathJoin(dir, 'prometheus'),
      scrapeInterval: '1s',
      jobs: [{ job: 'rtc', targets: fleet.map((s) => s.address) }],
    });
    for (const name of ['a', 'b']) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      replicas.push(
        await startRole({
          role: 'dispatcher',
          name: `dispatcher-${name}`,
          url,
          logDir: dir,
          args: [
            `--web.listen-address=127.0.0.1:${port}`,
            `--prometheus.url=${prom.url}`,
            '--snapshot.interval=1s',
            `--redis.url=${redis.url}`,
            `--api.token-file=${tokenFile(dir)}`,
            // Every server near-equal: without a shared claim, two replicas would scatter a room.
            '--spread.epsilon=0.5',
            '--log.level=warn',
          ],
        }),
      );
      urls.push(url);
    }
    for (const url of urls)
      await until(
        'the fleet in the snapshot',
        async () => ((await servers(url)).servers.filter((s) => !s.excluded).length === 6 ? true : undefined),
        20_000,
      );
  });

  after(async () => {
    for (const r of replicas) await r.stop();
    await prom?.stop();
    await redis?.stop();
    await Promise.all((fleet ?? []).map((s) => s.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps one room on one server when its joins hit both replicas at once', async () => {
    const [a, b] = urls as [string, string];
    for (let r = 0; r < 20; r++) {
      const room = `shared-${r}`;
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => allocate(i % 2 ? b : a, room)));
      const chosen = new Set(answers.map((x) => x.body.server?.id));
      assert.equal(chosen.size, 1, `${room} went to ${[...chosen].join(', ')}`);
      for (const x of answers) assert.ok(await join(x.body, room));
    }
  });

  it('shares the ledger and drains between replicas', async () => {
    const [a, b] = urls as [string, string];
    // The joins of the previous test are in the metrics by now: the data retires them from both ledgers,
    // so that the count below can only come from replica a's new assignments (never joined).
    await until(
      'both ledgers to empty once the metrics show the earlier joins',
      async () =>
        (await servers(a)).ledgerEntries + (await servers(b)).ledgerEntries === 0 ? true : undefined,
      15_000,
      100,
    );
    for (let i = 0; i < 10; i++) assert.equal((await allocate(a, `only-a-${i}`)).status, 200);
    await until(
      'replica b to see replica a’s assignments',
      async () => ((await servers(b)).ledgerEntries >= 10 ? true : undefined),
      5000,
      50,
    );
    const target = fleet[0]!.id;
    const r = await fetch(`${a}/api/v1/servers/${target}/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(r.status, 200);
    await until(
      'replica b to see the drain',
      async () => ((await servers(b)).servers.find((s) => s.id === target)?.drained ? true : undefined),
      5000,
      50,
    );
    for (let i = 0; i < 10; i++)
      assert.notEqual((await allocate(b, `after-drain-${i}`)).body.server?.id, target);
  });

  it('keeps answering from memory when Redis goes away', async () => {
    await redis.stop();
    for (const url of urls)
      for (let i = 0; i < 5; i++) {
        const { status, body } = await allocate(url, `no-redis-${url}-${i}`);
        assert.equal(status, 200, body.message);
      }
  });
});
