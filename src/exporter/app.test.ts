import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { silentLogger } from '../lib/logger.ts';
import { createRtcMetrics, type ServerSnapshot } from '../sdk/index.ts';
import { createExporter, METRICS_ROUTE } from './app.ts';
import { type Source, sdkSource } from './source.ts';

const get = (exporter: ReturnType<typeof createExporter>, accept?: string) =>
  exporter.app.handle({
    method: 'GET',
    path: METRICS_ROUTE,
    query: new URLSearchParams(),
    headers: accept ? { accept } : {},
    body: Buffer.alloc(0),
  });

test('a source that fails or hangs exposes its last servers as down; duplicates keep the first', async () => {
  let mode: 'ok' | 'throw' | 'hang' = 'ok';
  const snap: ServerSnapshot = {
    server: 'j1',
    up: true,
    info: { eip: '192.0.2.4' },
    scalars: { rtc_rooms: [{ value: 2 }] },
  };
  const flaky: Source = {
    name: 'flaky',
    collect: () => {
      if (mode === 'throw') throw new Error('admin API down');
      if (mode === 'hang') return new Promise(() => {});
      return [snap];
    },
  };
  const dup: Source = { name: 'dup', collect: () => [{ ...snap, info: { eip: 'other' } }] };
  const registry = new Registry();
  const exporter = createExporter({
    sources: [flaky, dup],
    logger: silentLogger,
    registry,
    collectTimeoutMs: 50,
  });

  let body = String((await get(exporter)).body);
  assert.match(body, /^rtc_up\{server="j1"\} 1$/m);
  assert.match(body, /^rtc_rooms\{server="j1"\} 2$/m);
  assert.doesNotMatch(body, /eip="other"/);
  for (const m of ['throw', 'hang'] as const) {
    mode = m;
    body = String((await get(exporter)).body);
    assert.match(body, /^rtc_up\{server="j1"\} 0$/m, m);
    assert.doesNotMatch(body, /^rtc_rooms\{server="j1"\}/m, m);
    assert.match(body, /rtc_server_info\{server="j1",version="",eip="192\.0\.2\.4"/, m);
  }
  assert.match(body, /^rtcmon_exporter_collect_errors_total\{source="flaky"\} 2$/m);
});

test('/metrics negotiates the format and includes self-metrics without promtool-hostile names', async () => {
  const registry = new Registry();
  const m = createRtcMetrics({ server: 's1' });
  const exporter = createExporter({ sources: [sdkSource([m])], logger: silentLogger, registry });
  const text = await get(exporter);
  assert.match(text.headers?.['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
  const om = await get(exporter, 'application/openmetrics-text; version=1.0.0');
  assert.match(om.headers?.['content-type'] ?? '', /^application\/openmetrics-text/);
  assert.match(String(om.body), /^# TYPE rtcmon_exporter_collect_errors counter$/m);
  assert.ok(String(om.body).endsWith('# EOF\n'));
  assert.ok(exporter.ready());
});
