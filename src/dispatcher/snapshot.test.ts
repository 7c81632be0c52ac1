import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildSnapshot,
  buildSnapshotAsync,
  hostOf,
  type QueryResults,
  type VectorSample,
} from './snapshot.ts';

const v = (metric: Record<string, string>, value: number | string, t = 1000): VectorSample => ({
  metric,
  value: [t, String(value)],
});

describe('buildSnapshot', () => {
  const results: QueryResults = {
    info: [
      v(
        {
          __name__: 'rtc_server_info',
          server: 'a',
          eip: '203.0.113.1',
          port: '7000',
          region: 'eu',
          zone: 'z1',
          host: 'm1',
          version: '1',
          instance: '10.0.0.1:9464',
          job: 'rtc',
        },
        1,
      ),
      v(
        {
          __name__: 'rtc_server_info',
          server: 'b',
          eip: '203.0.113.2',
          port: '7001',
          instance: '10.0.0.2:9464',
        },
        1,
      ),
    ],
    up: [v({ instance: '10.0.0.1:9464' }, 1), v({ instance: '10.0.0.2:9464' }, 0)],
    rtcUp: [v({ server: 'a' }, 1), v({ server: 'b' }, 1)],
    sampleTime: [v({ server: 'a' }, 999.5), v({ server: 'b' }, 990)],
    statsUpdated: [v({ server: 'a' }, 998.25)],
    joinAttempts: [v({ server: 'a' }, 42)],
    state: [v({ server: 'a', state: 'serving' }, 1), v({ server: 'b', state: 'draining' }, 1)],
    capacity: [v({ server: 'a' }, 100), v({ server: 'b' }, 50)],
    participants: [v({ server: 'a' }, 10), v({ server: 'b' }, 'NaN')],
    rtpEgress: [v({ server: 'a' }, 1000), v({ server: 'b' }, 2000)],
    loss: [v({ server: 'a' }, 0.01)],
    joinFailures: [v({ server: 'a' }, 'NaN')],
    cpu: [v({ instance: 'x:9100', host: 'm1' }, 0.25), v({ instance: '10.0.0.2:9100' }, 0.5)],
    nodeTx: [v({ instance: 'y:9100', host: 'm1' }, 125_000_000)],
    nicSpeed: [v({ instance: 'y:9100', host: 'm1' }, 1_250_000_000)],
  };

  it('joins rtc_* by server and node_exporter by host label or instance host', () => {
    const s = buildSnapshot(results, 1_000_000);
    const a = s.byId.get('a')!;
    assert.equal(a.eip, '203.0.113.1');
    assert.equal(a.port, 7000);
    assert.equal(a.targetUp, true);
    assert.equal(a.capacity, 100);
    assert.equal(a.participants, 10);
    assert.equal(a.cpu, 0.25);
    assert.equal(a.egressBps, 1e9, 'host egress wins over RTP egress');
    assert.equal(a.nicBps, 1e10);
    assert.equal(a.loss, 0.01);
    assert.equal(a.joinFailureRatio, undefined, '0/0 is no data');
    assert.equal(a.sampleTimeMs, 999_500);
    assert.equal(a.statsUpdatedMs, 998_250);
    assert.equal(a.joinAttempts, 42);
    const b = s.byId.get('b')!;
    assert.equal(b.host, '10.0.0.2');
    assert.equal(b.cpu, 0.5);
    assert.equal(b.targetUp, false);
    assert.equal(b.state, 'draining');
    assert.equal(b.participants, 0);
    assert.equal(b.egressBps, 16000);
    assert.equal(b.statsUpdatedMs, undefined, 'not reported');
    assert.equal(b.joinAttempts, undefined);
  });

  it('keeps vanished servers as not present until forgotten', () => {
    const first = buildSnapshot(results, 1_000_000);
    const second = buildSnapshot({ ...results, info: results.info!.slice(0, 1) }, 1_010_000, first, 60_000);
    assert.equal(second.byId.get('b')?.present, false);
    const third = buildSnapshot({ ...results, info: results.info!.slice(0, 1) }, 1_100_000, second, 60_000);
    assert.equal(third.byId.has('b'), false);
  });

  it('buildSnapshotAsync gives the same snapshot while other work runs between its slices', async () => {
    const n = 2500;
    const ids = Array.from({ length: n }, (_, i) => `s${i}`);
    const per = (f: (i: number) => number, extra: (i: number) => Record<string, string> = () => ({})) =>
      ids.map((id, i) => v({ server: id, ...extra(i) }, f(i)));
    const node = (f: (i: number) => number) => ids.map((_, i) => v({ instance: `h${i}:9100` }, f(i)));
    const big: QueryResults = {
      info: per(
        () => 1,
        (i) => ({ host: `h${i}`, instance: `10.0.${i >> 8}.${i & 255}:9464`, region: `r${i % 3}` }),
      ),
      up: ids.map((_, i) => v({ instance: `10.0.${i >> 8}.${i & 255}:9464` }, i % 7 ? 1 : 0)),
      rtcUp: per(() => 1),
      sampleTime: per((i) => 990 + (i % 10)),
      state: per(
        () => 1,
        (i) => ({ state: i % 5 ? 'serving' : 'draining' }),
      ),
      capacity: per(() => 100),
      participants: per((i) => i % 100),
      rooms: per((i) => i % 10),
      rtpEgress: per((i) => i),
      loss: per((i) => (i % 10) / 100),
      joinFailures: per((i) => (i % 4 ? 0 : Number.NaN)),
      cpu: node((i) => (i % 100) / 100),
      memory: node((i) => (i % 50) / 100),
      nodeTx: node((i) => i * 10),
      nicSpeed: node(() => 1.25e9),
    };
    const first = buildSnapshot(big, 1_000_000);
    const fewer = { ...big, info: big.info!.slice(0, 2000) };
    const sync = buildSnapshot(fewer, 1_010_000, first, 60_000);
    let turns = 0;
    const tick = setInterval(() => turns++, 0);
    const async = await buildSnapshotAsync(fewer, 1_010_000, first, 60_000, 0);
    clearInterval(tick);
    assert.deepEqual(async.servers, sync.servers);
    assert.deepEqual([...async.byId.keys()], [...sync.byId.keys()]);
    assert.equal(async.servers.filter((s) => !s.present).length, 500);
    assert.ok(turns > 0, 'no other work ran during the join');
  });

  it('hostOf strips ports', () => {
    assert.equal(hostOf('10.0.0.1:9100'), '10.0.0.1');
    assert.equal(hostOf('[::1]:9100'), '::1');
    assert.equal(hostOf('node-a'), 'node-a');
  });
});
