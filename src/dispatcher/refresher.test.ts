import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../lib/logger.ts';
import { Chooser } from './chooser.ts';
import { defaultPolicy } from './config.ts';
import type { PrometheusApi } from './prometheus-api.ts';
import { PrometheusUnavailable } from './prometheus-api.ts';
import { createRefresher } from './refresher.ts';
import { type QueryName, queries, type VectorSample } from './snapshot.ts';

const names = Object.entries(queries('1m')).map(([k, v]) => [v, k as QueryName] as const);
const byQuery = new Map(names);

/** A fake Prometheus API: `fleet(now)` gives each server's participants; `down` makes it unreachable. */
function fakeApi(
  state: { down: boolean; up: number; sampleAge: number; servers: string[] },
  clock: () => number,
): PrometheusApi {
  return {
    async query(q) {
      if (state.down) throw new PrometheusUnavailable('connection refused');
      const t = clock() / 1000;
      const v = (metric: Record<string, string>, x: number): VectorSample => ({
        metric,
        value: [t, String(x)],
      });
      const s = state.servers;
      switch (byQuery.get(q)) {
        case 'info':
          return s.map((id) => v({ server: id, instance: `${id}:1`, eip: '192.0.2.1', port: '1' }, 1));
        case 'up':
          return s.map((id) => v({ instance: `${id}:1` }, state.up));
        case 'rtcUp':
          return s.map((id) => v({ server: id }, 1));
        case 'sampleTime':
          return s.map((id) => v({ server: id }, t - state.sampleAge / 1000));
        case 'capacity':
          return s.map((id) => v({ server: id }, 10));
        default:
          return [];
      }
    },
  };
}

/** A refresher over a fake Prometheus of servers a, b, c; `tick()` moves the clock by one interval. */
function setup() {
  let now = 1_000_000;
  const clock = () => now;
  const state = { down: false, up: 1, sampleAge: 500, servers: ['a', 'b', 'c'] };
  const chooser = new Chooser(defaultPolicy);
  const r = createRefresher({
    chooser,
    prometheus: fakeApi(state, clock),
    rateWindow: '1m',
    intervalMs: 1000,
    timeoutMs: 1000,
    forgetAfterMs: 60_000,
    excludeAfterMs: 60_000,
    fleetLossIsBlind: true,
    logger: silentLogger,
    clock,
  });
  return {
    state,
    chooser,
    r,
    tick: () => {
      now += 1000;
    },
    now: () => now,
  };
}

describe('refresher', () => {
  it('loads snapshots, goes blind when Prometheus is unreachable, and back', async () => {
    const { state, chooser, r, tick } = setup();
    assert.equal((await r.refresh()).ok, true);
    assert.equal(r.loaded, true);
    assert.equal(chooser.current.servers.length, 3);
    state.down = true;
    tick();
    const o = await r.refresh();
    assert.equal(o.ok, false);
    assert.match(o.error ?? '', /connection refused/);
    assert.equal(chooser.blind, true);
    assert.equal(chooser.current.servers.length, 3, 'last good snapshot kept');
    state.down = false;
    tick();
    assert.equal((await r.refresh()).ok, true);
    assert.equal(chooser.blind, false);
  });

  it('every server down at once is treated as a monitoring failure; one server down is not', async () => {
    const { state, chooser, r, tick, now } = setup();
    await r.refresh();
    state.up = 0;
    tick();
    const o = await r.refresh();
    assert.equal(o.ok, false);
    assert.match(o.error ?? '', /suspecting monitoring/);
    assert.equal(chooser.allocate({ room: 'x' }, now()).ok, true);
    state.up = 1;
    state.servers = ['a', 'b'];
    tick();
    assert.equal((await r.refresh()).ok, true);
    assert.equal(chooser.blind, false);
    assert.equal(chooser.current.byId.get('c')?.present, false);
    // Stale data everywhere (a Prometheus that came back but has not scraped yet) is blind too.
    state.sampleAge = 120_000;
    tick();
    assert.equal((await r.refresh()).ok, false);
  });
});
