import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { RTCMON_BIN } from '../../src/stack/servers/role.ts';
import {
  type AdapterHandle,
  type ClusterRig,
  type GenOptions,
  newStats,
  q,
  readyDetail,
  remoteRead,
  report,
  runWriter,
  startClusterRig,
  verify,
} from '../support/cluster-harness.ts';

const run = promisify(execFile);

/**
 * The cluster write path on real programs: ZooKeeper × 3, clickhouse-server 3 shards × 2 replicas, and
 * `rtcmon adapter --clickhouse.cluster`. A generator posts known samples like Prometheus (resending after
 * a 5xx or a connection error); each test ends by checking every acknowledged sample on both replicas
 * of its shard with its exact value bits, and no key twice after OPTIMIZE FINAL.
 */
describe('ClickHouse cluster: writes survive replica, shard and adapter failures', () => {
  let rig: ClusterRig;
  let adapter: AdapterHandle;
  before(async () => {
    rig = await startClusterRig();
    adapter = await rig.startAdapter();
  });
  after(async () => {
    await rig?.stop();
  });
  const gen = (metric: string): GenOptions => ({ metric, series: 300, perSeries: 10 });

  it('1. one replica of each shard SIGKILLed mid-write and restarted: nothing lost, nothing twice', async () => {
    const g = gen('t1_replica_kill');
    let stop = false;
    const writing = runWriter({ url: () => adapter.url, gen: g, workers: 3, stop: () => stop });
    await sleep(2_000);
    const victims = rig.cluster.nodes.filter((n) => n.replica === 0);
    await Promise.all(victims.map((n) => n.kill('SIGKILL')));
    await sleep(3_000);
    await Promise.all(victims.map((n) => n.restart()));
    await sleep(2_000);
    stop = true;
    const stats = await writing;
    assert.ok(stats.acked.size > 0);
    const v = await verify(rig, g, stats);
    report('replica SIGKILL', v, `answers ${JSON.stringify(Object.fromEntries(stats.answers))}`);
    assert.deepEqual(v.missing, []);
    assert.deepEqual(v.divergent, []);
    assert.equal(v.duplicates, 0);
    assert.equal(v.stored, v.acknowledged);
    // Each restarted replica alone (its local table) holds its shard's full data.
    for (const n of victims) {
      const twin = rig.cluster.nodes.find((m) => m.shard === n.shard && m !== n)!;
      const count = (url: string) =>
        q(
          url,
          `SELECT count() FROM ${rig.database}.samples_local FINAL WHERE fingerprint IN (SELECT fingerprint FROM ${rig.database}.series_local WHERE metric_name = '${g.metric}')`,
        );
      assert.equal(await count(n.url), await count(twin.url), `shard ${n.shard + 1}`);
    }
  });

  it('2. a whole shard down for ~10 s: 503 meanwhile, none acknowledged early, all stored once after', async () => {
    const g = gen('t2_shard_down');
    let stop = false;
    const writing = runWriter({ url: () => adapter.url, gen: g, workers: 3, stop: () => stop });
    await sleep(1_500);
    const shard = rig.cluster.nodes.filter((n) => n.shard === 1);
    await Promise.all(shard.map((n) => n.kill('SIGKILL')));
    const downAt = Date.now();
    await sleep(10_000);
    const upAt = Date.now();
    await Promise.all(shard.map((n) => n.restart()));
    await sleep(2_000);
    stop = true;
    const stats = await writing;
    // Every request touches every shard: none may be acknowledged while a shard is down.
    const early = [...stats.ackedAt].filter(([, t]) => t > downAt + 1_000 && t < upAt);
    const v = await verify(rig, g, stats);
    report(
      'shard down',
      v,
      `503 answers ${stats.answers.get('503') ?? 0}, acknowledged during the outage ${early.length}`,
    );
    assert.ok((stats.answers.get('503') ?? 0) > 0, 'expected 503 while the shard was down');
    assert.deepEqual(early, []);
    assert.deepEqual(v.missing, []);
    assert.deepEqual(v.divergent, []);
    assert.equal(v.duplicates, 0);
  });

  it('4. the adapter SIGKILLed under load and restarted: everything acknowledged before is stored', async () => {
    const g = gen('t4_adapter_kill');
    let stop = false;
    const writing = runWriter({ url: () => adapter.url, gen: g, workers: 3, stop: () => stop });
    await sleep(2_000);
    await adapter.process.stop('SIGKILL');
    await sleep(1_000);
    await adapter.restart();
    await sleep(2_000);
    stop = true;
    const stats = await writing;
    const v = await verify(rig, g, stats);
    report('adapter SIGKILL', v, `answers ${JSON.stringify(Object.fromEntries(stats.answers))}`);
    assert.deepEqual(v.missing, []);
    assert.deepEqual(v.divergent, []);
    assert.equal(v.duplicates, 0);
  });

  it('3. ZooKeeper: one of three stopped, writes go on; quorum lost, 503 and reads work; back, 0 lost', async () => {
    const g = gen('t3_zookeeper');
    const stats = newStats();
    let stop = false;
    const writing = runWriter({ url: () => adapter.url, gen: g, workers: 3, stop: () => stop, stats });
    const ackedSince = (t: number, until = Number.POSITIVE_INFINITY) =>
      [...stats.ackedAt.values()].filter((x) => x > t && x < until).length;
    await sleep(1_500);
    const [z1, z2] = rig.zk.servers;
    await z1!.stop();
    const oneDownAt = Date.now();
    await sleep(5_000);
    const withTwo = ackedSince(oneDownAt);
    await z2!.stop();
    const quorumLostAt = Date.now();
    const failedBefore = stats.answers.get('503') ?? 0;
    await sleep(8_000);
    const quorumBackAt = Date.now();
    // Samples written before the outage, read through the adapter while ZooKeeper has no quorum.
    const read = await remoteRead(
      adapter.url,
      [{ type: 0, name: '__name__', value: g.metric }],
      0,
      Number.MAX_SAFE_INTEGER,
    );
    const withoutQuorum = ackedSince(quorumLostAt + 2_000, quorumBackAt);
    const failedWithoutQuorum = (stats.answers.get('503') ?? 0) - failedBefore;
    await z1!.start();
    await z2!.start();
    const deadline = Date.now() + 90_000;
    while (ackedSince(quorumBackAt) < 3 && Date.now() < deadline) await sleep(500);
    const resumed = ackedSince(quorumBackAt);
    stop = true;
    await writing;
    const v = await verify(rig, g, stats);
    report(
      'ZooKeeper',
      v,
      `acknowledged with 2 of 3 ZooKeeper ${withTwo} requests, without quorum ${withoutQuorum} (503: ${failedWithoutQuorum}), after ${resumed}; series read without quorum ${read.size}`,
    );
    assert.ok(withTwo > 0, 'writes must go on with one ZooKeeper server of three down');
    assert.equal(withoutQuorum, 0, 'nothing may be acknowledged without ZooKeeper quorum');
    assert.ok(failedWithoutQuorum > 0, 'expected 503 without quorum');
    assert.equal(read.size, g.series, 'reads must keep working without ZooKeeper quorum');
    assert.ok(resumed >= 3, 'writes must resume when the quorum is back');
    assert.deepEqual(v.missing, []);
    assert.deepEqual(v.divergent, []);
    assert.equal(v.duplicates, 0);
  });

  it('5. a replica frozen with SIGSTOP: writes fail over within the insert timeout, nothing hangs', async () => {
    const g = gen('t5_sigstop');
    const stats = newStats();
    let stop = false;
    // Prometheus' remote_timeout is 30 s: no answer may take longer.
    const writing = runWriter({
      url: () => adapter.url,
      gen: g,
      workers: 3,
      stop: () => stop,
      stats,
      timeoutMs: 30_000,
    });
    await sleep(1_500);
    const frozen = rig.cluster.nodes.find((n) => n.shard === 0 && n.replica === 0)!;
    frozen.pause();
    const pausedAt = Date.now();
    await sleep(12_000);
    const health = await readyDetail(adapter.url);
    const during = [...stats.ackedAt.values()].filter((t) => t > pausedAt).length;
    frozen.resume();
    await sleep(2_000);
    stop = true;
    await writing;
    const v = await verify(rig, g, stats);
    const s1 = health.detail.shards[0]!;
    report(
      'SIGSTOP',
      v,
      `acknowledged while frozen ${during} requests, client timeouts ${stats.timeouts}, answers ${JSON.stringify(Object.fromEntries(stats.answers))}; /-/ready shard 1: ${JSON.stringify(s1.replicas.map((r) => [r.replica, r.up]))}`,
    );
    assert.equal(stats.timeouts, 0);
    assert.ok(during > 0, 'writes must go on through the other replica');
    assert.deepEqual(
      s1.replicas.map((r) => r.up),
      [false, true],
      'health must show the frozen replica down and its twin up',
    );
    assert.equal(health.status, 200, 'still writable: every shard has a replica');
    assert.deepEqual(v.missing, []);
    assert.deepEqual(v.divergent, []);
    assert.equal(v.duplicates, 0);
  });

  it('6. migrate with one node down finishes in bounded time, names it, and a later run completes', async () => {
    const db = `${rig.database}_m`;
    const down = rig.cluster.nodes.find((n) => n.shard === 2 && n.replica === 1)!;
    await down.kill('SIGKILL');
    const args = [
      'adapter',
      'migrate',
      '--clickhouse.cluster=rtcmon',
      `--clickhouse.nodes=${rig.cluster.urls.join(',')}`,
      `--clickhouse.database=${db}`,
      '--clickhouse.migrate-timeout=20s',
    ];
    const first = await run(RTCMON_BIN, args).then(
      () => assert.fail('migrate with a node down must not report success'),
      (err: { code: number; stdout: string }) => err,
    );
    process.stdout.write(first.stdout.replace(/^/gm, '# '));
    assert.equal(first.code, 3);
    assert.match(
      first.stdout,
      new RegExp(
        `shard 3 replica 2 127\\.0\\.0\\.1:${down.host.tcpPort} unreachable; not applied: migration 1`,
      ),
    );
    assert.equal((first.stdout.match(/reachable; up to date/g) ?? []).length, 5);
    await down.restart();
    const second = await run(RTCMON_BIN, args);
    process.stdout.write(second.stdout.replace(/^/gm, '# '));
    assert.equal((second.stdout.match(/reachable; up to date/g) ?? []).length, 6);
    assert.match(second.stdout, /every host is up to date/);
    const tables = (
      await q(down.url, `SELECT name FROM system.tables WHERE database = '${db}' ORDER BY name`)
    )
      .trim()
      .split('\n');
    assert.deepEqual(tables, [
      'metadata',
      'metadata_local',
      'samples',
      'samples_local',
      'series',
      'series_local',
    ]);
  });
});
