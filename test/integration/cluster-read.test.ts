import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type NodeExporter, startNodeExporter } from '../../src/stack/servers/node-exporter.ts';
import { freePort } from '../../src/stack/servers/process.ts';
import { type Prometheus, startPrometheus } from '../../src/stack/servers/prometheus.ts';
import {
  type AdapterHandle,
  type ClusterRig,
  q,
  readyDetail,
  remoteRead,
  startClusterRig,
} from '../support/cluster-harness.ts';

/**
 * Two Prometheus servers, k8s_cluster="a" and "b", each remote-writing through its own adapter into one
 * ClickHouse cluster (3 shards × 2 replicas). Prometheus R has an empty TSDB and external label
 * k8s_cluster="a"; it reads through adapter B (the other one), so Prometheus adds k8s_cluster="a" as a
 * matcher and strips it from the answer. The same PromQL at the same time must answer the same on A and R.
 */
describe('ClickHouse cluster: two Prometheus write, either adapter reads, PromQL answers as on the TSDB', () => {
  let rig: ClusterRig;
  let adapterA: AdapterHandle;
  let adapterB: AdapterHandle;
  let node: NodeExporter;
  let promA: Prometheus;
  let promB: Prometheus;
  let promR: Prometheus;

  before(async () => {
    rig = await startClusterRig();
    adapterA = await rig.startAdapter([], 'adapter-a');
    adapterB = await rig.startAdapter([], 'adapter-b');
    node = await startNodeExporter({ logDir: rig.logDir });
    const writer = (name: string, k8s: string, adapter: AdapterHandle, port: number) =>
      startPrometheus({
        dir: join(rig.dir, name),
        port,
        name,
        logDir: rig.logDir,
        scrapeInterval: '1s',
        externalLabels: { k8s_cluster: k8s },
        jobs: [
          { job: 'node', targets: [node.address] },
          { job: 'prometheus', targets: [`127.0.0.1:${port}`] },
        ],
        remoteWrite: [
          {
            url: `${adapter.url}/write`,
            // One shard sends in order, so "highest sent timestamp" means "everything before it was sent".
            queueConfig: { batch_send_deadline: '500ms', min_shards: 1, max_shards: 1, min_backoff: '100ms' },
          },
        ],
      });
    promA = await writer('prometheus-a', 'a', adapterA, await freePort());
    promB = await writer('prometheus-b', 'b', adapterB, await freePort());
    promR = await startPrometheus({
      dir: join(rig.dir, 'prometheus-r'),
      name: 'prometheus-r',
      logDir: rig.logDir,
      scrapeInterval: '1s',
      externalLabels: { k8s_cluster: 'a' },
      jobs: [],
      remoteRead: [{ url: `${adapterB.url}/read`, readRecent: true }],
    });
  });
  after(async () => {
    for (const p of [promR, promB, promA, node]) await p?.stop().catch(() => {});
    await rig?.stop();
  });

  const api = async (base: string, path: string, params: Record<string, string>) => {
    const res = await fetch(`${base}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as {
      status: string;
      data: { resultType: string; result: unknown };
      error?: string;
    };
    assert.equal(body.status, 'success', `${base} ${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };
  const canonical = (data: { resultType: string; result: unknown }) => {
    if (!Array.isArray(data.result)) return data;
    const key = (r: { metric: Record<string, string> }) => JSON.stringify(Object.entries(r.metric).sort());
    return {
      resultType: data.resultType,
      result: [...(data.result as { metric: Record<string, string> }[])].sort((a, b) =>
        key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0,
      ),
    };
  };
  const highestSentMs = async (p: Prometheus): Promise<number> => {
    const r = (
      await api(p.url, 'query', { query: 'prometheus_remote_storage_queue_highest_sent_timestamp_seconds' })
    ).result as { value: [number, string] }[];
    return r.length ? Number(r[0]!.value[1]) * 1000 : 0;
  };

  let evalAt = 0;
  const QUERIES = [
    'up',
    'node_load1',
    'node_cpu_seconds_total{mode="idle"}',
    'node_cpu_seconds_total{mode!~"idle|user"}',
    '{__name__=~"node_memory_Mem.*", job="node"}',
    'rate(node_cpu_seconds_total[5s])',
    'sum by (mode) (rate(node_cpu_seconds_total[5s]))',
    'max_over_time(node_memory_MemFree_bytes[10s])',
    'histogram_quantile(0.9, sum by (le) (rate(prometheus_http_request_duration_seconds_bucket[10s])))',
    'count by (job) ({job=~"node|prometheus"})',
  ];

  it('both Prometheus servers have sent a window past the evaluation time', async () => {
    await sleep(12_000);
    evalAt = Math.floor(Date.now() / 1000) * 1000 - 2_000;
    const deadline = Date.now() + 60_000;
    for (const p of [promA, promB])
      while ((await highestSentMs(p)) < evalAt + 1_000) {
        assert.ok(Date.now() < deadline, `${p.url} did not send past the evaluation time`);
        await sleep(250);
      }
  });

  it('7. PromQL through the adapter on the cluster answers as Prometheus A does from its TSDB', async () => {
    let points = 0;
    for (const query of QUERIES) {
      const a = canonical(await api(promA.url, 'query', { query, time: String(evalAt / 1000) }));
      const r = canonical(await api(promR.url, 'query', { query, time: String(evalAt / 1000) }));
      assert.deepEqual(r, a, `instant ${query}`);
      const params = { query, start: String(evalAt / 1000 - 10), end: String(evalAt / 1000), step: '1' };
      const ar = canonical(await api(promA.url, 'query_range', params));
      const rr = canonical(await api(promR.url, 'query_range', params));
      assert.deepEqual(rr, ar, `range ${query}`);
      assert.ok((ar.result as unknown[]).length > 0, `no result for ${query}`);
      points += (ar.result as { values: unknown[] }[]).reduce((n, s) => n + s.values.length, 0);
    }
    process.stdout.write(
      `# PromQL equality on the cluster: ${QUERIES.length} queries, ${points} range points compared\n`,
    );
  });

  it('either adapter answers for the labels asked: k8s_cluster selects, no matcher means both', async () => {
    const window = [evalAt - 10_000, evalAt] as const;
    for (const adapter of [adapterA, adapterB]) {
      const both = await remoteRead(adapter.url, [{ type: 0, name: '__name__', value: 'up' }], ...window);
      const onlyA = await remoteRead(
        adapter.url,
        [
          { type: 0, name: '__name__', value: 'up' },
          { type: 0, name: 'k8s_cluster', value: 'a' },
        ],
        ...window,
      );
      const onlyB = await remoteRead(
        adapter.url,
        [
          { type: 0, name: '__name__', value: 'up' },
          { type: 0, name: 'k8s_cluster', value: 'b' },
        ],
        ...window,
      );
      const clusterOf = (m: Map<string, number>) =>
        [...m.keys()]
          .map((k) => (JSON.parse(k) as [string, string][]).find(([n]) => n === 'k8s_cluster')?.[1])
          .sort();
      assert.deepEqual(clusterOf(onlyA), ['a', 'a']);
      assert.deepEqual(clusterOf(onlyB), ['b', 'b']);
      assert.deepEqual(clusterOf(both), ['a', 'a', 'b', 'b']);
    }
    // Both Prometheus servers' series are spread over the three shards.
    const perShard = await Promise.all(
      rig.cluster.nodes
        .filter((n) => n.replica === 0)
        .map((n) => q(n.url, `SELECT count() FROM ${rig.database}.series_local`).then(Number)),
    );
    process.stdout.write(`# series rows per shard: ${perShard.join(', ')}\n`);
    for (const n of perShard) assert.ok(n > 0);
  });

  it('/-/ready and /metrics show every shard and replica', async () => {
    const r = await readyDetail(adapterA.url);
    assert.equal(r.status, 200);
    assert.equal(r.detail.shards.length, 3);
    for (const s of r.detail.shards) {
      assert.equal(s.writable, true);
      assert.deepEqual(
        s.replicas.map((x) => [x.up, x.readOnly]),
        [
          [true, false],
          [true, false],
        ],
      );
    }
    const text = await (await fetch(`${adapterA.url}/metrics`)).text();
    for (const name of [
      'rtcmon_adapter_clickhouse_replica_up',
      'rtcmon_adapter_clickhouse_replica_readonly',
      'rtcmon_adapter_clickhouse_replica_queue_size',
      'rtcmon_adapter_clickhouse_replica_delay_seconds',
    ])
      assert.equal(
        text.match(new RegExp(`^${name}\\{shard="\\d+",replica="[^"]+"\\} `, 'gm'))?.length,
        6,
        name,
      );
    assert.match(
      text,
      /^rtcmon_adapter_clickhouse_shard_inserts_total\{shard="1",replica="[^"]+",outcome="ok"\} [1-9]/m,
    );
  });
});
