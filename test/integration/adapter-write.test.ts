import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import snappy from 'snappy';
import {
  type AdapterRig,
  adapterMetric,
  clickhouseSamples,
  diffSamples,
  prometheusSamples,
  STALE_NAN,
  sampleCounts,
  startRig,
  waitScrapes,
  waitSentPast,
} from '../support/adapter-harness.ts';
import { WriteRequest } from '../support/prompb.ts';

/**
 * Real Prometheus scrapes real node_exporter (and the adapter) every second and remote-writes through
 * `rtcmon adapter` into a real ClickHouse; Prometheus' own API is the reference.
 */
describe('adapter write path: Prometheus → adapter → ClickHouse', () => {
  let rig: AdapterRig;
  before(async () => {
    rig = await startRig({ prometheus: true });
  });
  after(async () => {
    await rig?.stop();
  });

  it('stores every series and sample Prometheus has, with identical labels, timestamps and value bits', async () => {
    await waitScrapes(rig.prom!.url, 8);
    const to = Date.now() - 1_500;
    const from = to - 5_000;
    await waitSentPast(rig.prom!.url, to);
    const prom = await prometheusSamples(rig.prom!.url, from, to, rig.externalLabels);
    const ch = await clickhouseSamples(rig.ch, rig.database, from, to);
    const promSamples = [...prom.values()].reduce((n, p) => n + p.length, 0);
    assert.ok(prom.size > 300, `expected node_exporter's hundreds of series, got ${prom.size}`);
    assert.ok(
      promSamples >= prom.size * 3,
      `expected several scrapes in the window, got ${promSamples} samples`,
    );
    assert.deepEqual(diffSamples(prom, ch), []);
    // The series carry Prometheus' external labels and the job's target labels.
    const some = [...ch.keys()].find((k) => k.includes('"node_load1"'));
    assert.ok(some?.includes('["cluster","it"]') && some.includes('["job","node"]'), some);
    // Nothing is stored twice (no retries happened here, so not even physically).
    const counts = await sampleCounts(rig.ch, rig.database);
    assert.equal(counts.rows, counts.keys);
    // Group commit: fewer inserts than requests.
    const inserts = await adapterMetric(
      rig.adapterUrl,
      'rtcmon_adapter_insert_duration_seconds_count',
      'table="samples"',
    );
    const requests = await adapterMetric(
      rig.adapterUrl,
      'rtcmon_adapter_write_requests_total',
      'outcome="stored"',
    );
    assert.ok(inserts > 0 && inserts <= requests, `inserts ${inserts}, requests ${requests}`);
  });

  it("stores Prometheus' stale markers with their exact NaN bits when a target goes away", async () => {
    await rig.node!.stop();
    const stoppedAt = Date.now();
    await waitSentPast(rig.prom!.url, stoppedAt + 3_000);
    const stale = await rig.ch.query(
      `SELECT count() FROM ${rig.database}.samples FINAL WHERE reinterpretAsUInt64(reinterpretAsString(value)) = ${STALE_NAN} AND fingerprint IN (SELECT fingerprint FROM ${rig.database}.series WHERE has(label_values, 'node') AND metric_name = 'node_load1')`,
    );
    assert.ok(Number(stale) >= 1, `expected a stale marker for node_load1, got ${stale.trim()}`);
  });

  it('stores metadata-only requests', async () => {
    const body = snappy.compressSync(
      Buffer.from(
        WriteRequest.encode(
          WriteRequest.fromObject({
            metadata: [
              { type: 1, metric_family_name: 'it_requests_total', help: 'Requests, ünïcode.', unit: '' },
            ],
          }),
        ).finish(),
      ),
    );
    const res = await fetch(`${rig.adapterUrl}/write`, {
      method: 'POST',
      body: new Uint8Array(body),
      headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' },
    });
    assert.equal(res.status, 204);
    const row = await rig.ch.query(
      `SELECT type, help FROM ${rig.database}.metadata FINAL WHERE metric_family_name = 'it_requests_total' FORMAT TSV`,
    );
    assert.equal(row, 'counter\tRequests, ünïcode.\n');
  });

  it('answers /-/ready and serves its own metrics', async () => {
    assert.equal((await fetch(`${rig.adapterUrl}/-/ready`)).status, 200);
    assert.equal((await fetch(`${rig.adapterUrl}/-/healthy`)).status, 200);
    const stored = await adapterMetric(rig.adapterUrl, 'rtcmon_adapter_samples_stored_total');
    const received = await adapterMetric(rig.adapterUrl, 'rtcmon_adapter_samples_received_total');
    assert.ok(stored > 0 && stored <= received);
    for (const name of [
      'rtcmon_adapter_batch_samples_count',
      'rtcmon_adapter_inflight_bytes',
      'rtcmon_adapter_requests_rejected_total',
    ])
      assert.ok((await (await fetch(`${rig.adapterUrl}/metrics`)).text()).includes(name), name);
  });

  it('migrate is idempotent: a second run applies nothing', async () => {
    const { execFileSync } = await import('node:child_process');
    const { RTCMON_BIN } = await import('../../src/stack/servers/role.ts');
    const out = execFileSync(RTCMON_BIN, [
      'adapter',
      'migrate',
      `--clickhouse.url=${rig.ch.url}`,
      `--clickhouse.database=${rig.database}`,
    ]).toString();
    assert.match(out, /applied now: none/);
  });
});
