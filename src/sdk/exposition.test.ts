import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FAMILIES, FAMILY_NAMES } from './catalogue.ts';
import { negotiateFormat, renderExposition } from './exposition.ts';
import { createRtcMetrics } from './index.ts';

/** name{sorted labels} → value, comments dropped. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `bad line ${line}`);
    const labels = (m[2] ?? '').match(/[a-zA-Z_]+="(?:[^"\\]|\\.)*"/g) ?? [];
    out.set(`${m[1]}{${labels.sort().join(',')}}`, Number(m[3]));
  }
  return out;
}

function record(m: ReturnType<typeof createRtcMetrics>) {
  for (let i = 0; i < 30; i++) m.participantJoined(`room-${i % 7}`);
  for (let i = 0; i < 5; i++) m.participantLeft(`room-${i}`, i * 100);
  m.trackAdded('in', 'audio');
  m.trackAdded('out', 'video');
  m.joinSucceeded(0.3);
  m.joinSucceeded(4);
  m.joinFailed('timeout');
  m.joinFailed('ICE failed');
  m.iceRestart();
  m.rtp('in', 'audio', 120);
  m.rtp('out', 'video', 12000, 10);
  m.rtcp({ kind: 'audio', rttSeconds: 0.05, jitterSeconds: 0.004, lossRatio: 0.01, packetsLost: 3 });
  m.rtcp({ kind: 'video', direction: 'out', rttSeconds: 0.3, lossRatio: 0.2, nacks: 4, plis: 1 });
}

test('the hand-written exposition equals prom-client for the same recordings', () => {
  const m = createRtcMetrics({ server: 'sfu-1', capacity: 40, info: { host: 'h1' } });
  record(m);
  const snap = m.snapshot();
  const ours = parse(renderExposition([snap], 'text'));

  const reg = new Registry();
  for (const name of FAMILY_NAMES) {
    const f = FAMILIES[name];
    const labelNames = ['server', ...f.labelNames];
    if (f.type === 'histogram') {
      const h = new Histogram({ name, help: f.help, labelNames, buckets: [...f.buckets], registers: [reg] });
      for (const s of snap.histograms?.[name as 'rtc_rtt_seconds'] ?? []) {
        // Replay each bucket's count as observations at its upper bound.
        const bounds = [...f.buckets, 1e9];
        for (let i = 0; i < s.counts.length; i++)
          for (let k = 0; k < s.counts[i]!; k++) h.observe({ server: 'sfu-1', ...s.labels }, bounds[i]!);
      }
      continue;
    }
    const Ctor = f.type === 'counter' ? Counter : Gauge;
    const c = new Ctor({ name, help: f.help, labelNames, registers: [reg] });
    for (const s of snap.scalars?.[name as 'rtc_rooms'] ?? []) {
      if (c instanceof Counter) c.inc({ server: 'sfu-1', ...s.labels }, s.value);
      else c.set({ server: 'sfu-1', ...s.labels }, s.value);
    }
  }
  return reg.metrics().then((text) => {
    const theirs = parse(text);
    for (const [k, v] of theirs) {
      if (k.includes('_sum{')) continue; // replayed at bucket bounds: sums differ by construction
      assert.equal(ours.get(k), v, k);
    }
    const ourKeys = [...ours.keys()].filter((k) => FAMILY_NAMES.some((n) => k.startsWith(n)));
    // prom-client omits counters never incremented with a label set; everything else is the same set.
    const missing = ourKeys.filter((k) => !theirs.has(k) && ours.get(k) !== 0);
    assert.deepEqual(missing, []);
    assert.equal(ours.get('rtc_participants{server="sfu-1"}'), 25);
    assert.equal(ours.get('rtc_rooms{server="sfu-1"}'), 7);
    assert.equal(ours.get('rtc_join_failures_total{reason="ice_failed",server="sfu-1"}'), 1);
    assert.equal(ours.get('rtc_rtp_packets_lost_total{direction="in",server="sfu-1"}'), 3);
    assert.equal(ours.get('rtc_nacks_total{server="sfu-1"}'), 4);
  });
});

test('a down server exposes only rtc_up 0 and its info', () => {
  const m = createRtcMetrics({ server: 'x' });
  record(m);
  const text = renderExposition([m.snapshot({ up: false })], 'text');
  const keys = [...parse(text).keys()];
  assert.deepEqual(
    keys.sort(),
    [
      'rtc_server_info{eip="",host="' +
        (m.snapshot().info?.host ?? '') +
        '",port="",region="",server="x",version="",zone=""}',
      'rtc_up{server="x"}',
    ].sort(),
  );
  assert.equal(parse(text).get('rtc_up{server="x"}'), 0);
});

test('OpenMetrics: counters and info typed by family name, # EOF, no timestamps', () => {
  const m = createRtcMetrics({ server: 's' });
  record(m);
  const om = renderExposition([m.snapshot()], 'openmetrics');
  assert.match(om, /^# TYPE rtc_rtp_bytes counter$/m);
  assert.match(om, /^rtc_rtp_bytes_total\{server="s",direction="in",kind="audio"\} 120$/m);
  assert.match(om, /^# TYPE rtc_server info$/m);
  assert.ok(om.endsWith('# EOF\n'));
  for (const line of om.split('\n'))
    if (line && !line.startsWith('#')) assert.equal(line.split(' ').length, 2, line);
});

test('Accept negotiation follows q-values', () => {
  assert.equal(negotiateFormat(undefined), 'text');
  assert.equal(negotiateFormat('text/plain'), 'text');
  assert.equal(
    negotiateFormat(
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    ),
    'openmetrics',
  );
  assert.equal(negotiateFormat('application/openmetrics-text;q=0.2,text/plain;q=0.9'), 'text');
});

test('label values and help are escaped; promtool accepts the exposition', () => {
  const m = createRtcMetrics({ server: 'a"b\\c\nd', info: { version: 'v"1' } });
  record(m);
  const text = renderExposition([m.snapshot()], 'text');
  assert.match(text, /server="a\\"b\\\\c\\nd"/);
  if (existsSync('/usr/bin/promtool')) {
    const out = execFileSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(out.trim(), '');
  }
});
