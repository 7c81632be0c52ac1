import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import snappy from 'snappy';
import { type ClickHouse, startClickHouse } from '../../src/stack/servers/clickhouse.ts';
import { type NodeExporter, startNodeExporter } from '../../src/stack/servers/node-exporter.ts';
import type { ManagedProcess } from '../../src/stack/servers/process.ts';
import { freePort } from '../../src/stack/servers/process.ts';
import { type Prometheus, startPrometheus } from '../../src/stack/servers/prometheus.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { ChunkedReadResponse, ReadRequest, TO_OBJECT } from '../support/prompb.ts';
import { canonical, promApi } from '../support/promql.ts';

/**
 * Prometheus A scrapes node_exporter and itself every second and remote-writes through `rtcmon adapter`
 * into ClickHouse. Prometheus B has an empty TSDB and reads everything through the adapter
 * (remote_read, read_recent). The same PromQL at the same timestamps must give the same answer on both.
 * A stores its external labels (cluster="it", replica="a"); B has cluster="it" (matched as stored) and
 * replica="b" (the adapter runs with --read.strip-labels=replica, so that matcher is ignored).
 */
describe('adapter read path: Prometheus B answers from ClickHouse what Prometheus A answers from its TSDB', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rtcmon-read-'));
  const logDir = join(dir, 'logs');
  const database = `read_${process.pid}_${Date.now()}`;
  let ch: ClickHouse;
  let adapter: ManagedProcess;
  let adapterUrl: string;
  let node: NodeExporter;
  let promA: Prometheus;
  let promB: Prometheus;

  before(async () => {
    ch = await startClickHouse({ dir: join(dir, 'clickhouse'), logDir });
    const port = await freePort();
    adapterUrl = `http://127.0.0.1:${port}`;
    adapter = await startRole({
      role: 'adapter',
      args: [
        `--web.listen-address=127.0.0.1:${port}`,
        `--clickhouse.url=${ch.url}`,
        `--clickhouse.database=${database}`,
        '--batch.max-delay=50ms',
        '--read.strip-labels=replica',
        '--log.level=warn',
      ],
      url: adapterUrl,
      logDir,
    });
    node = await startNodeExporter({ logDir });
    const portA = await freePort();
    promA = await startPrometheus({
      dir: join(dir, 'prom-a'),
      port: portA,
      name: 'prometheus-a',
      logDir,
      scrapeInterval: '1s',
      externalLabels: { cluster: 'it', replica: 'a' },
      jobs: [
        { job: 'node', targets: [node.address] },
        { job: 'prometheus', targets: [`127.0.0.1:${portA}`] },
      ],
      remoteWrite: [
        {
          url: `${adapterUrl}/write`,
          // One shard sends in order, so "highest sent timestamp" means "everything before it was sent".
          queueConfig: { batch_send_deadline: '500ms', min_shards: 1, max_shards: 1, min_backoff: '100ms' },
        },
      ],
    });
    promB = await startPrometheus({
      dir: join(dir, 'prom-b'),
      name: 'prometheus-b',
      logDir,
      scrapeInterval: '1s',
      externalLabels: { cluster: 'it', replica: 'b' },
      jobs: [],
      remoteRead: [{ url: `${adapterUrl}/read`, readRecent: true }],
    });
  });

  after(async () => {
    for (const p of [promB, promA, node, adapter, ch]) await p?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  const api = promApi;
  const highestSentMs = async (): Promise<number> => {
    const d = await api(promA.url, 'query', {
      query: 'prometheus_remote_storage_queue_highest_sent_timestamp_seconds',
    });
    const r = d.result as { value: [number, string] }[];
    return r.length ? Number(r[0]!.value[1]) * 1000 : 0;
  };

  let evalAt = 0;
  const QUERIES = [
    'up',
    'node_cpu_seconds_total{mode="idle"}',
    'node_cpu_seconds_total{mode!="idle"}',
    'node_cpu_seconds_total{mode=~"idle|user|sys.*"}',
    'node_cpu_seconds_total{mode!~"idle|user"}',
    '{__name__=~"node_load1|node_load5", job="node"}',
    '{__name__!~"node_.*|go_.*|process_.*|prometheus_.*|net_conntrack.*", job=~".+"}',
    'node_cpu_seconds_total{no_such_label="", mode="user"}',
    'node_cpu_seconds_total{no_such_label=~"x|", mode="user"}',
    'node_cpu_seconds_total{mode=~"user|does.not.exist"} offset 3s',
    'rate(node_cpu_seconds_total[5s])',
    'sum by (mode) (rate(node_cpu_seconds_total[5s]))',
    'max_over_time(node_memory_MemFree_bytes[10s])',
    'histogram_quantile(0.9, sum by (le) (rate(prometheus_http_request_duration_seconds_bucket[10s])))',
    'histogram_quantile(0.5, rate(prometheus_http_response_size_bytes_bucket[10s]))',
    'count({__name__=~".+"})',
    'count by (job) ({job=~"node|prometheus"})',
    'count(count by (__name__) ({__name__=~".+"}))',
  ];

  it('has data in ClickHouse for a window Prometheus A fully sent', async () => {
    await sleep(14_000);
    evalAt = Math.floor(Date.now() / 1000) * 1000 - 2_000;
    const deadline = Date.now() + 60_000;
    while ((await highestSentMs()) < evalAt + 1_000) {
      assert.ok(Date.now() < deadline, 'Prometheus A did not send past the evaluation time');
      await sleep(250);
    }
    const n = Number(await ch.query(`SELECT count() FROM ${database}.samples`));
    assert.ok(n > 1000, `only ${n} samples in ClickHouse`);
  });

  it('answers every instant query the same on A and B', async () => {
    let nonEmpty = 0;
    for (const query of QUERIES) {
      const params = { query, time: String(evalAt / 1000) };
      const a = canonical(await api(promA.url, 'query', params));
      const b = canonical(await api(promB.url, 'query', params));
      assert.deepEqual(b, a, `instant ${query}`);
      if ((a.result as unknown[]).length > 0) nonEmpty++;
    }
    assert.ok(nonEmpty >= QUERIES.length - 1, `only ${nonEmpty} queries had results`);
  });

  it('answers every range query the same on A and B', async () => {
    for (const query of QUERIES) {
      const params = { query, start: String(evalAt / 1000 - 10), end: String(evalAt / 1000), step: '1' };
      const a = canonical(await api(promA.url, 'query_range', params));
      const b = canonical(await api(promB.url, 'query_range', params));
      assert.deepEqual(b, a, `range ${query}`);
      assert.ok((a.result as unknown[]).length > 0 || query.includes('does.not'), `no result for ${query}`);
    }
  });

  it('lists the same series on A and B (series API: labels only through remote read)', async () => {
    const params = {
      'match[]': '{job="node", __name__=~"node_(cpu|load|memory).*"}',
      start: String(evalAt / 1000 - 10),
      end: String(evalAt / 1000),
    };
    const get = async (base: string) => {
      const res = await fetch(`${base}/api/v1/series?${new URLSearchParams(params)}`);
      const body = (await res.json()) as { status: string; data: Record<string, string>[] };
      assert.equal(body.status, 'success');
      return body.data.map((m) => JSON.stringify(Object.entries(m).sort())).sort();
    };
    const a = await get(promA.url);
    assert.ok(a.length > 20, `only ${a.length} series`);
    assert.deepEqual(await get(promB.url), a);
  });

  it('streams STREAMED_XOR_CHUNKS that an independent reader decodes to exactly the stored samples', async () => {
    const end = evalAt;
    const start = end - 10_000;
    const req = ReadRequest.encode(
      ReadRequest.fromObject({
        queries: [
          {
            start_timestamp_ms: start,
            end_timestamp_ms: end,
            matchers: [
              { type: 0, name: 'job', value: 'node' },
              { type: 2, name: '__name__', value: 'node_(cpu|load|memory).*' },
            ],
          },
          {
            start_timestamp_ms: start,
            end_timestamp_ms: end,
            matchers: [{ type: 0, name: '__name__', value: 'up' }],
          },
        ],
        accepted_response_types: [1, 0],
      }),
    ).finish();
    const res = await fetch(`${adapterUrl}/read`, {
      method: 'POST',
      headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' },
      body: new Uint8Array(snappy.compressSync(Buffer.from(req))),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(
      res.headers.get('content-type'),
      'application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse',
    );
    const stream = Buffer.from(await res.arrayBuffer());

    // Independent reader: uvarint length, CRC-32C (bitwise, here), message; chunks by readXorChunk below,
    // written from Prometheus' chunk format documentation, not from the adapter's encoder.
    const got = [new Map<string, string[]>(), new Map<string, string[]>()];
    let pos = 0;
    let frames = 0;
    while (pos < stream.length) {
      let len = 0;
      for (let shift = 0; ; shift += 7) {
        const b = stream[pos++]!;
        len += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) break;
      }
      const crc = stream.readUInt32BE(pos);
      const msg = stream.subarray(pos + 4, pos + 4 + len);
      pos += 4 + len;
      assert.equal(crc32cBitwise(msg), crc, `frame ${frames} checksum`);
      frames++;
      const f = ChunkedReadResponse.toObject(ChunkedReadResponse.decode(msg), TO_OBJECT) as {
        query_index: number;
        chunked_series: {
          labels: { name: string; value: string }[];
          chunks: { type: number; data: Uint8Array }[];
        }[];
      };
      for (const cs of f.chunked_series) {
        const key = JSON.stringify(cs.labels.map((l) => [l.name, l.value]));
        const list = got[f.query_index]!.get(key) ?? [];
        for (const c of cs.chunks) {
          assert.equal(c.type, 1);
          for (const s of readXorChunk(c.data)) list.push(`${s.t}:${s.bits}`);
        }
        got[f.query_index]!.set(key, list);
      }
    }
    assert.ok(frames > 0);

    const stored = async (where: string) => {
      const out = new Map<string, string[]>();
      const series = new Map<string, string>();
      for (const line of (
        await ch.query(
          `SELECT fingerprint, label_names, label_values FROM ${database}.series WHERE ${where} LIMIT 1 BY fingerprint FORMAT JSONEachRow`,
        )
      )
        .split('\n')
        .filter(Boolean)) {
        const r = JSON.parse(line) as { fingerprint: string; label_names: string[]; label_values: string[] };
        const labels = r.label_names.map((n, i) => [n, r.label_values[i]!]).filter(([n]) => n !== 'replica');
        series.set(r.fingerprint, JSON.stringify(labels));
      }
      const rows = await ch.query(
        `SELECT DISTINCT fingerprint, timestamp_ms, reinterpretAsUInt64(reinterpretAsString(value)) FROM ${database}.samples WHERE fingerprint IN (${[...series.keys()].join(',') || '0'}) AND timestamp_ms BETWEEN ${start} AND ${end} ORDER BY fingerprint, timestamp_ms FORMAT TSV`,
      );
      for (const line of rows.split('\n').filter(Boolean)) {
        const [fp, t, bits] = line.split('\t');
        const key = series.get(fp!)!;
        out.set(key, [...(out.get(key) ?? []), `${t}:${bits}`]);
      }
      return out;
    };
    const expected0 = await stored(
      "arrayElement(label_values, indexOf(label_names, 'job')) = 'node' AND match(metric_name, '^(?:node_(cpu|load|memory).*)$')",
    );
    const expected1 = await stored("metric_name = 'up'");
    assert.ok(expected0.size > 20, `only ${expected0.size} node series`);
    assert.deepEqual(new Map([...got[0]!].sort()), new Map([...expected0].sort()));
    assert.deepEqual(new Map([...got[1]!].sort()), new Map([...expected1].sort()));
  });

  it('counts reads by response type on /metrics', async () => {
    const text = await (await fetch(`${adapterUrl}/metrics`)).text();
    const value = (line: RegExp) => Number(line.exec(text)?.[1] ?? 0);
    assert.ok(
      value(/rtcmon_adapter_read_requests_total\{response_type="samples",code="200"\} (\d+)/) > 0,
      text,
    );
    assert.ok(
      value(/rtcmon_adapter_read_requests_total\{response_type="streamed_xor_chunks",code="200"\} (\d+)/) ===
        1,
    );
    assert.ok(value(/rtcmon_adapter_read_duration_seconds_count\{response_type="samples"\} (\d+)/) > 0);
    assert.ok(value(/rtcmon_adapter_read_samples_total\{response_type="streamed_xor_chunks"\} (\d+)/) > 0);
  });
});

/** CRC-32C bit by bit (Castagnoli, reflected 0x82F63B78): the test's own, not the adapter's. */
function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * An XOR chunk read back as Prometheus' tsdb/docs/format/chunks.md describes it, independent of src/:
 * num_samples <uint16 BE>, ts_0 <varint>, v_0 <float64>, ts_1_delta <uvarint>, v_1_xor <varbit_xor>, then
 * per sample ts_n_dod <varbit_ts>, v_n_xor <varbit_xor>; bits MSB first, padded to a byte.
 * varbit_ts: `0` (dod 0) | `10`+14 | `110`+17 | `1110`+20 | `1111`+64 bits; an n-bit field holds
 * -(2^(n-1) - 1) … 2^(n-1), so a value above 2^(n-1) is negative (it minus 2^n).
 * varbit_xor: `0` (same value) | `10` + the previous window's meaningful bits | `11` + 5 bits leading zeros
 * + 6 bits length (0 = 64) + that many bits.
 */
function readXorChunk(data: Uint8Array): { t: bigint; bits: bigint }[] {
  let bit = 0;
  const one = (): bigint => {
    const byte = data[bit >> 3];
    if (byte === undefined) throw new Error(`XOR chunk ends at bit ${bit}`);
    const v = (byte >> (7 - (bit & 7))) & 1;
    bit++;
    return BigInt(v);
  };
  const bits = (n: number): bigint => {
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 1n) | one();
    return v;
  };
  const uvarint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = bits(8);
      v |= (b & 0x7fn) << shift;
      if (b < 0x80n) return v;
    }
  };
  const signed = (v: bigint, width: number): bigint =>
    width === 64 ? BigInt.asIntN(64, v) : v > 1n << BigInt(width - 1) ? v - (1n << BigInt(width)) : v;
  const count = Number(bits(16));
  const out: { t: bigint; bits: bigint }[] = [];
  if (count === 0) return out;
  const z = uvarint();
  let t = (z >> 1n) ^ -(z & 1n); // zig-zag
  let v = bits(64);
  out.push({ t, bits: v });
  let delta = 0n;
  let lead = 0;
  let trail = 0;
  const nextValue = () => {
    if (one() === 0n) return;
    if (one() === 1n) {
      lead = Number(bits(5));
      let len = Number(bits(6));
      if (len === 0) len = 64;
      trail = 64 - lead - len;
    }
    v ^= bits(64 - lead - trail) << BigInt(trail);
  };
  for (let i = 1; i < count; i++) {
    if (i === 1) delta = uvarint();
    else {
      let width = 0;
      while (width < 4 && one() === 1n) width++;
      const dod = width === 0 ? 0n : signed(bits([0, 14, 17, 20, 64][width]!), [0, 14, 17, 20, 64][width]!);
      delta += dod;
    }
    t += delta;
    nextValue();
    out.push({ t, bits: v });
  }
  return out;
}
