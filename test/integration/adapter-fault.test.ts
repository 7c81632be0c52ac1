import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import snappy from 'snappy';
import { freePort } from '../../src/stack/servers/process.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import {
  type AdapterRig,
  adapterMetric,
  clickhouseSamples,
  diffSamples,
  highestSentMs,
  prometheusSamples,
  sampleCounts,
  startRig,
  waitScrapes,
  waitSentPast,
} from '../support/adapter-harness.ts';
import { WriteRequest } from '../support/prompb.ts';

describe('adapter under faults', () => {
  let rig: AdapterRig;
  before(async () => {
    rig = await startRig({ prometheus: true });
  });
  after(async () => {
    await rig?.stop();
  });

  it('ClickHouse stopped while Prometheus writes, then started again: nothing lost, nothing twice', async () => {
    await waitScrapes(rig.prom!.url, 4);
    const from = Date.now() - 2_000;
    await waitSentPast(rig.prom!.url, from + 1_000);

    await rig.ch.process.stop();
    const downAt = Date.now();
    // Not ready while ClickHouse is away, and writes are refused with 503 (Prometheus keeps them).
    await sleep(1_500);
    assert.equal((await fetch(`${rig.adapterUrl}/-/ready`)).status, 503);
    await sleep(4_500);
    const failed = await adapterMetric(
      rig.adapterUrl,
      'rtcmon_adapter_requests_rejected_total',
      'code="503"',
    );
    assert.ok(failed > 0, 'expected 503 answers while ClickHouse was down');
    const sentDuringOutage = await highestSentMs(rig.prom!.url);
    assert.ok(
      sentDuringOutage < downAt + 1_000,
      'Prometheus must not see its samples acknowledged while ClickHouse is down',
    );

    rig.ch = await rig.ch.restart();
    const upAt = Date.now();
    const to = upAt + 3_000;
    await waitSentPast(rig.prom!.url, to, 90_000);
    assert.equal((await fetch(`${rig.adapterUrl}/-/ready`)).status, 200);

    const prom = await prometheusSamples(rig.prom!.url, from, to, rig.externalLabels);
    const ch = await clickhouseSamples(rig.ch, rig.database, from, to);
    const inOutage = [...prom.values()]
      .flat()
      .filter((p) => p.ts > BigInt(downAt) && p.ts < BigInt(upAt)).length;
    assert.ok(inOutage > 1_000, `expected samples scraped during the outage, got ${inOutage}`);
    assert.deepEqual(diffSamples(prom, ch), []);

    // Retried requests may have been stored twice physically; the ReplacingMergeTree key collapses them.
    const before = await sampleCounts(rig.ch, rig.database);
    await rig.ch.query(`OPTIMIZE TABLE ${rig.database}.samples FINAL`);
    const afterOptimize = await sampleCounts(rig.ch, rig.database);
    assert.equal(afterOptimize.rows, afterOptimize.keys);
    assert.equal(afterOptimize.keys, before.keys);
    process.stdout.write(
      `# outage ${upAt - downAt} ms, ${inOutage} samples scraped during it; physical rows before OPTIMIZE ${before.rows}, keys ${before.keys}\n`,
    );
  });

  it('a request resent after a timeout is not stored twice', async () => {
    const body = snappy.compressSync(
      Buffer.from(
        WriteRequest.encode(
          WriteRequest.fromObject({
            timeseries: [
              {
                labels: [{ name: '__name__', value: 'resent_probe' }],
                samples: Array.from({ length: 1000 }, (_, k) => ({ value: k / 3, timestamp: 2_000_000 + k })),
              },
            ],
          }),
        ).finish(),
      ),
    );
    for (let n = 0; n < 2; n++) {
      const res = await fetch(`${rig.adapterUrl}/write`, {
        method: 'POST',
        body: new Uint8Array(body),
        headers: { 'content-encoding': 'snappy' },
      });
      assert.equal(res.status, 204);
    }
    const where = `fingerprint IN (SELECT fingerprint FROM ${rig.database}.series WHERE metric_name = 'resent_probe')`;
    const count = async (final: string) =>
      Number(await rig.ch.query(`SELECT count() FROM ${rig.database}.samples ${final} WHERE ${where}`));
    assert.equal(await count('FINAL'), 1000);
    await rig.ch.query(`OPTIMIZE TABLE ${rig.database}.samples FINAL`);
    assert.equal(await count(''), 1000);
  });

  it("ClickHouse's 'too many parts' becomes a 503 with Retry-After, never a 4xx", async () => {
    // A second adapter on its own database, whose samples table refuses inserts beyond two parts.
    const db = `${rig.database}_parts`;
    await rig.ch.query(`CREATE DATABASE ${db}`);
    await rig.ch.query(
      `CREATE TABLE ${db}.samples (fingerprint UInt64, timestamp_ms Int64, value Float64) ENGINE = ReplacingMergeTree PARTITION BY toDate(toDateTime(intDiv(timestamp_ms, 1000))) ORDER BY (fingerprint, timestamp_ms) SETTINGS parts_to_throw_insert = 2, parts_to_delay_insert = 1`,
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const second = await startRole({
      role: 'adapter',
      args: [
        `--web.listen-address=127.0.0.1:${port}`,
        `--clickhouse.url=${rig.ch.url}`,
        `--clickhouse.database=${db}`,
      ],
      url,
      logDir: rig.dir,
      name: 'adapter-parts',
    });
    try {
      const answers: { status: number; retryAfter: string | null; errorType: string }[] = [];
      for (let n = 0; n < 20; n++) {
        const body = snappy.compressSync(
          Buffer.from(
            WriteRequest.encode(
              WriteRequest.fromObject({
                timeseries: [
                  {
                    labels: [{ name: '__name__', value: 'parts_probe' }],
                    samples: [{ value: n, timestamp: 3_000_000 + n }],
                  },
                ],
              }),
            ).finish(),
          ),
        );
        const res = await fetch(`${url}/write`, {
          method: 'POST',
          body: new Uint8Array(body),
          headers: { 'content-encoding': 'snappy' },
        });
        const text = await res.text();
        answers.push({
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          errorType: text ? ((JSON.parse(text) as { errorType?: string }).errorType ?? '') : '',
        });
      }
      assert.ok(
        answers.every((a) => a.status === 204 || a.status === 503),
        JSON.stringify(answers),
      );
      const refused = answers.filter((a) => a.status === 503);
      assert.ok(refused.length > 0, 'expected ClickHouse to refuse inserts');
      for (const a of refused) {
        assert.equal(a.errorType, 'clickhouse_too_many_parts');
        assert.ok(Number(a.retryAfter) >= 1);
      }
      assert.ok(
        (await adapterMetric(
          url,
          'rtcmon_adapter_requests_rejected_total',
          'reason="clickhouse_too_many_parts"',
        )) > 0,
      );
    } finally {
      await second.stop();
    }
  });

  it('SIGTERM: every acknowledged write is stored; the rest get 503 or a closed connection', async () => {
    const post = async (i: number): Promise<number | string> => {
      const body = snappy.compressSync(
        Buffer.from(
          WriteRequest.encode(
            WriteRequest.fromObject({
              timeseries: [
                {
                  labels: [
                    { name: '__name__', value: 'sigterm_probe' },
                    { name: 'req', value: String(i) },
                  ],
                  samples: Array.from({ length: 200 }, (_, k) => ({ value: k, timestamp: 1_000_000 + k })),
                },
              ],
            }),
          ).finish(),
        ),
      );
      try {
        const res = await fetch(`${rig.adapterUrl}/write`, {
          method: 'POST',
          body: new Uint8Array(body),
          headers: { 'content-encoding': 'snappy' },
        });
        await res.arrayBuffer();
        return res.status;
      } catch (err) {
        return (err as Error & { cause?: { code?: string } }).cause?.code ?? 'error';
      }
    };
    const results = new Map<number, number | string>();
    let i = 0;
    const stopAt = Date.now() + 400;
    const workers = Array.from({ length: 8 }, async () => {
      while (Date.now() < stopAt + 2_000) {
        const n = i++;
        results.set(n, await post(n));
        if (results.get(n) !== 204) break;
      }
    });
    await sleep(400);
    await rig.adapter.stop('SIGTERM');
    await Promise.all(workers);
    const acked = [...results].filter(([, s]) => s === 204).map(([n]) => n);
    const others = [...results].filter(([, s]) => s !== 204).map(([, s]) => s);
    assert.ok(acked.length > 0, 'expected writes acknowledged before the signal');
    for (const s of others) assert.ok(s === 503 || typeof s === 'string', `unexpected answer ${s}`);
    const stored = new Map(
      (
        await rig.ch.query(
          `SELECT label_values[indexOf(label_names, 'req')] AS req, count() FROM ${rig.database}.samples FINAL ANY INNER JOIN (SELECT fingerprint, any(label_names) AS label_names, any(label_values) AS label_values FROM ${rig.database}.series WHERE metric_name = 'sigterm_probe' GROUP BY fingerprint) USING fingerprint GROUP BY req`,
        )
      )
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t'))
        .map(([r, c]) => [Number(r), Number(c)]),
    );
    for (const n of acked) assert.equal(stored.get(n), 200, `acknowledged request ${n} is not fully stored`);
    process.stdout.write(
      `# SIGTERM: ${acked.length} acknowledged (all stored), others: ${JSON.stringify(others)}\n`,
    );
    await rig.startAdapter();
  });
});
