/**
 * The source interface: how anything that knows RTC server state (the in-process SDK, the JSON push
 * endpoint, the Janus admin API + event handler) feeds the exporter.
 *
 * At every scrape the exporter calls `collect()` on each source and renders all returned snapshots
 * (src/sdk/exposition.ts). A source therefore keeps its own state up to date in the background (or
 * computes it in `collect`) and returns it as plain data. Rules:
 * - one `ServerSnapshot` per RTC server; `server` is its stable id (the `server` label, contract 2);
 *   two sources must not return the same id (the exporter keeps the first and logs the clash);
 * - `up: false` when the source cannot read that server right now (Janus admin API down, push stale):
 *   the exporter then exposes only `rtc_up 0` and `rtc_server_info` for it, nothing that pretends;
 * - `collect()` must be cheap and must not throw for one bad server; if it throws or rejects (or takes
 *   longer than the exporter's `--collect.timeout`), the exporter logs it and exposes that source's
 *   last known servers with `up: false`;
 * - the easiest way to build snapshots is an SDK recorder per server: `createRtcMetrics({ server })`,
 *   feed it from events/polls, and return `recorder.snapshot({ up })`.
 *
 * A source may also add HTTP routes to the exporter (the push endpoint's POST /api/v1/push, Janus'
 * event handler POST /janus/events) and has a start/stop lifecycle run by main.ts.
 */
import type { Route } from '../lib/http.ts';
import type { RtcMetrics, ServerSnapshot } from '../sdk/index.ts';

export interface Source {
  /** Short name for logs and self-metrics: `sdk`, `push`, `janus`. */
  readonly name: string;
  /** Current state of every server this source knows. Called once per scrape. */
  collect(): readonly ServerSnapshot[] | Promise<readonly ServerSnapshot[]>;
  /** Extra HTTP routes served by the exporter (paths must not clash with other sources'). */
  readonly routes?: readonly Route[];
  /** Called once before the exporter listens (start pollers here). */
  start?(): Promise<void>;
  /** Called on shutdown, after the listener closed. */
  stop?(): Promise<void>;
  /** `/-/ready` is 200 only when every source's `ready()` is true (default true). */
  ready?(): boolean;
}

/** A source over in-process SDK recorders (an RTC server embedding the exporter, demos, tests). */
export function sdkSource(recorders: readonly RtcMetrics[] | (() => readonly RtcMetrics[])): Source {
  const list = typeof recorders === 'function' ? recorders : () => recorders;
  return {
    name: 'sdk',
    collect: () => list().map((r) => r.snapshot()),
  };
}

/** Snapshots to expose: duplicates by server id dropped (first wins), reported through `onClash`. */
export function mergeSnapshots(
  perSource: readonly (readonly ServerSnapshot[])[],
  onClash: (server: string) => void = () => {},
): ServerSnapshot[] {
  const seen = new Set<string>();
  const out: ServerSnapshot[] = [];
  for (const list of perSource)
    for (const s of list) {
      if (seen.has(s.server)) {
        onClash(s.server);
        continue;
      }
      seen.add(s.server);
      out.push(s);
    }
  return out;
}
