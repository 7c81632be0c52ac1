import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import snappy from 'snappy';
import { type AdapterRig, adapterMetric, startRig } from '../support/adapter-harness.ts';
import { WriteRequest } from '../support/prompb.ts';

/** ClickHouse closes a connection idle this long (18.16's default is 3 s). */
const KEEP_ALIVE_S = 2;
const SERIES = 50;

/**
 * Issue 14: ClickHouse closes idle HTTP connections after `keep_alive_timeout`; an adapter that reuses such
 * a socket used to answer 503. Writes are spaced around that interval, and some arrive while the adapter's
 * event loop is stalled (SIGSTOP, as a long GC, a large decode or a loaded host would) across the server's
 * deadline: the socket timer that should have expired the idle connection has not run when the stalled
 * write picks it.
 */
describe('adapter against a ClickHouse with a short keep_alive_timeout', () => {
  let rig: AdapterRig;
  before(async () => {
    rig = await startRig({
      prometheus: false,
      clickhouseConfig: `<keep_alive_timeout>${KEEP_ALIVE_S}</keep_alive_timeout>`,
    });
  });
  after(async () => {
    await rig?.stop();
  });

  let sent = 0;
  const write = async (ts: number): Promise<number> => {
    const body = snappy.compressSync(
      Buffer.from(
        WriteRequest.encode(
          WriteRequest.fromObject({
            timeseries: Array.from({ length: SERIES }, (_, i) => ({
              labels: [
                { name: '__name__', value: 'keepalive_probe' },
                { name: 'i', value: String(i) },
              ],
              samples: [{ value: i + ts / 1000, timestamp: ts }],
            })),
          }),
        ).finish(),
      ),
    );
    sent += SERIES;
    const res = await fetch(`${rig.adapterUrl}/write`, {
      method: 'POST',
      body: new Uint8Array(body),
      headers: { 'content-encoding': 'snappy' },
    });
    await res.arrayBuffer();
    return res.status;
  };

  it('writes spaced around the keep-alive, some during an event-loop stall: every one 204, every sample stored once', async () => {
    const statuses: number[] = [];
    let ts = Date.now();
    // Idle gaps around the server's 2 s (Node reuses a socket for up to 1 s after ClickHouse's hint).
    for (const gapMs of [900, 1_000, 1_100, 1_900, 2_000, 2_100, 2_500]) {
      await sleep(gapMs);
      statuses.push(await write(++ts));
    }
    // Stalls: the adapter is stopped right after an answer, a write arrives meanwhile, and it resumes past
    // the server's deadline (the idle socket is then 2.1–2.6 s old, closed by ClickHouse).
    for (const [arriveMs, resumeMs] of [
      [300, 2_100],
      [900, 2_300],
      [100, 2_600],
    ] as const) {
      await sleep(50);
      process.kill(rig.adapter.pid, 'SIGSTOP');
      await sleep(arriveMs);
      const pending = write(++ts);
      await sleep(resumeMs - arriveMs);
      process.kill(rig.adapter.pid, 'SIGCONT');
      statuses.push(await pending);
    }
    assert.deepEqual(
      statuses.filter((s) => s !== 204),
      [],
      `answers: ${statuses.join(' ')}`,
    );

    const [rows, keys, final] = (
      await rig.ch.query(
        `SELECT count(), uniqExact(fingerprint, timestamp_ms), (SELECT count() FROM ${rig.database}.samples FINAL) FROM ${rig.database}.samples`,
      )
    )
      .trim()
      .split('\t')
      .map(Number);
    assert.equal(keys, sent);
    assert.equal(final, sent);
    const m = async (name: string) => adapterMetric(rig.adapterUrl, name);
    const stale = await m('rtcmon_adapter_clickhouse_stale_sockets_dropped_total');
    const retries = await m('rtcmon_adapter_clickhouse_retries_total');
    const connections = await m('rtcmon_adapter_clickhouse_connections_total');
    const failed = await m('rtcmon_adapter_samples_failed_total');
    process.stdout.write(
      `# ${statuses.length} writes, ${sent} samples sent; stored rows ${rows}, keys ${keys}, FINAL ${final}; ` +
        `ClickHouse connections ${connections}, stale sockets dropped ${stale}, retries ${retries}, samples failed ${failed}\n`,
    );
    assert.equal(failed, 0);
    // The stalls did put a socket past ClickHouse's deadline in the pool's way (else this test proves nothing).
    assert.ok(stale + retries >= 1, 'no stale socket was met: the stalls did not reach the race');
  });
});
