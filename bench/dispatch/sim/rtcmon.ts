/** rtcmon's own Chooser in the balance simulator, through its public API, fed the simulated pipeline. */
import { Chooser } from '../../../src/dispatcher/chooser.ts';
import type { Policy } from '../../../src/dispatcher/config.ts';
import { server, snapshotOf } from '../../../src/dispatcher/fixtures.ts';
import type { Placer } from './model.ts';

/** Simulated time 0 as a wall-clock time (the chooser compares sample times with its clock). */
const T0 = 1_700_000_000_000;

export function rtcmon(policy: Policy, random: () => number): Placer {
  const chooser = new Chooser(policy, { random });
  const index = new Map<string, number>();
  return {
    name: 'rtcmon',
    refresh(view) {
      const servers = view.servers.map((o, i) => {
        index.set(o.id, i);
        return server(o.id, {
          host: `h${i}`,
          eip: `10.0.${i >> 8}.${i & 255}`,
          port: 7000,
          region: o.region,
          zone: '',
          version: '',
          instance: `h${i}:9464`,
          // A failed target: up = 0 and its rtc_* series marked stale by Prometheus.
          present: o.up,
          targetUp: o.up,
          rtcUp: o.up,
          state: o.state,
          capacity: o.capacity,
          participants: o.participants,
          sampleTimeMs: T0 + o.sampleTimeMs,
          statsUpdatedMs: T0 + o.statsUpdatedMs,
          joinAttempts: o.joinAttempts,
          lastSeenMs: T0 + o.sampleTimeMs,
        });
      });
      chooser.setSnapshot(snapshotOf(servers, T0 + view.atMs), T0 + view.atMs);
    },
    choose(req) {
      const a = chooser.allocate({ room: req.room, region: req.region }, T0 + req.nowMs);
      return a.ok ? index.get(a.server!.id)! : -1;
    },
  };
}
