/**
 * The fleet as the dispatcher sees it: one instant-query result per signal, joined by the `server`
 * label (rtc_* series) and by host (node_exporter series), into one record per RTC server.
 */

export type ServerState = 'serving' | 'draining' | 'shutting_down' | 'unknown';

export interface ServerView {
  readonly id: string;
  readonly host: string;
  readonly eip: string;
  readonly port: number;
  readonly region: string;
  readonly zone: string;
  readonly version: string;
  /** Prometheus' scrape target of the server's exporter (`instance` label). */
  readonly instance: string;
  /** False when the server's series are gone from Prometheus (target down, stale markers). */
  readonly present: boolean;
  /** `up` of the scrape target; undefined when unknown. */
  readonly targetUp: boolean | undefined;
  readonly rtcUp: boolean;
  readonly state: ServerState;
  readonly capacity: number;
  readonly participants: number;
  readonly rooms: number;
  /** Host CPU use 0-1 (node_exporter), undefined without node data. */
  readonly cpu: number | undefined;
  readonly memory: number | undefined;
  /** Host egress in bits/s (node_exporter, all NICs but lo), else the server's RTP egress. */
  readonly egressBps: number | undefined;
  /** NIC capacity in bits/s (node_network_speed_bytes), undefined when not reported. */
  readonly nicBps: number | undefined;
  readonly loss: number | undefined;
  readonly joinFailureRatio: number | undefined;
  /** Time (ms) of the newest sample of this server. */
  readonly sampleTimeMs: number;
  /** `rtc_stats_updated_timestamp_seconds` in ms: when the server's stats last changed; undefined if not reported. */
  readonly statsUpdatedMs: number | undefined;
  /** `rtc_join_attempts_total` (a counter); undefined if not reported. */
  readonly joinAttempts: number | undefined;
  /** When the server was last present in Prometheus (ms). */
  readonly lastSeenMs: number;
}

export interface Snapshot {
  readonly servers: readonly ServerView[];
  readonly byId: ReadonlyMap<string, ServerView>;
  /** When the queries were evaluated (ms). */
  readonly takenAtMs: number;
}

export const emptySnapshot: Snapshot = { servers: [], byId: new Map(), takenAtMs: 0 };

/** One sample of an instant-query vector, as the Prometheus HTTP API returns it. */
export interface VectorSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

export type QueryName =
  | 'info'
  | 'up'
  | 'rtcUp'
  | 'sampleTime'
  | 'statsUpdated'
  | 'joinAttempts'
  | 'state'
  | 'capacity'
  | 'participants'
  | 'rooms'
  | 'rtpEgress'
  | 'loss'
  | 'joinFailures'
  | 'cpu'
  | 'memory'
  | 'nodeTx'
  | 'nicSpeed';

/** The instant queries of one refresh; `w` is the rate window (e.g. `1m`). */
export function queries(w: string): Record<QueryName, string> {
  return {
    // Grouping keeps only the labels the join needs: answers for 10,000 servers stay small.
    info: 'max by (server, eip, port, region, zone, host, version, instance) (rtc_server_info)',
    up: 'max by (instance) (up)',
    rtcUp: 'max by (server) (rtc_up)',
    sampleTime: 'max by (server) (timestamp(rtc_up))',
    statsUpdated: 'max by (server) (rtc_stats_updated_timestamp_seconds)',
    joinAttempts: 'sum by (server) (rtc_join_attempts_total)',
    state: 'max by (server, state) (rtc_server_state == 1)',
    capacity: 'max by (server) (rtc_capacity_participants)',
    participants: 'max by (server) (rtc_participants)',
    rooms: 'max by (server) (rtc_rooms)',
    rtpEgress: `sum by (server) (rate(rtc_rtp_bytes_total{direction="out"}[${w}]))`,
    loss: `sum by (server) (rate(rtc_packet_loss_ratio_sum[${w}])) / sum by (server) (rate(rtc_packet_loss_ratio_count[${w}]))`,
    joinFailures: `sum by (server) (rate(rtc_join_failures_total[${w}])) / sum by (server) (rate(rtc_join_attempts_total[${w}]))`,
    cpu: `1 - avg by (instance, host) (rate(node_cpu_seconds_total{mode="idle"}[${w}]))`,
    memory: 'max by (instance, host) (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)',
    nodeTx: `sum by (instance, host) (rate(node_network_transmit_bytes_total{device!="lo"}[${w}]))`,
    nicSpeed: 'sum by (instance, host) (node_network_speed_bytes{device!="lo"} > 0)',
  };
}

export type QueryResults = Partial<Record<QueryName, readonly VectorSample[]>>;

const num = (s: VectorSample): number => {
  const v = Number(s.value[1]);
  return Number.isFinite(v) ? v : Number.NaN;
};

/** `10.0.0.5:9100` → `10.0.0.5`; `[::1]:9100` → `::1`. */
export function hostOf(instance: string): string {
  const m = /^\[(.*)\](?::\d+)?$/.exec(instance);
  if (m) return m[1]!;
  const i = instance.lastIndexOf(':');
  return i > 0 && instance.indexOf(':') === i ? instance.slice(0, i) : instance;
}

/** Rows joined between two checks of the time budget (see buildSnapshotAsync). */
const STEP = 1000;

/** Node series keyed both by the `host` label and by the instance's host part. */
function* byHost(rows: readonly VectorSample[] | undefined): Generator<void, Map<string, number>> {
  const out = new Map<string, number>();
  if (!rows) return out;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (i % STEP === STEP - 1) yield;
    const v = num(r);
    if (Number.isNaN(v)) continue;
    if (r.metric.host) out.set(r.metric.host, v);
    if (r.metric.instance) {
      const h = hostOf(r.metric.instance);
      if (!out.has(h)) out.set(h, v);
    }
  }
  return out;
}

const STATES = new Set<ServerState>(['serving', 'draining', 'shutting_down']);

/**
 * Joins the query results into a snapshot. Servers of `previous` that vanished are kept as not
 * present (so answers can say why they are excluded) until `forgetAfterMs` after they were last seen.
 */
export function buildSnapshot(
  results: QueryResults,
  takenAtMs: number,
  previous: Snapshot = emptySnapshot,
  forgetAfterMs = 600_000,
): Snapshot {
  const steps = joinSteps(results, takenAtMs, previous, forgetAfterMs);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** The next turn of the event loop: requests waiting on sockets are served before the work goes on. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * buildSnapshot without blocking the event loop for more than about `sliceMs` at a time: the join yields
 * to waiting requests between slices. The snapshot is only handed out once complete.
 */
export async function buildSnapshotAsync(
  results: QueryResults,
  takenAtMs: number,
  previous: Snapshot = emptySnapshot,
  forgetAfterMs = 600_000,
  sliceMs = 2,
): Promise<Snapshot> {
  const steps = joinSteps(results, takenAtMs, previous, forgetAfterMs);
  let sliceStart = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
}

/** The join, as a generator that pauses every STEP rows. */
function* joinSteps(
  results: QueryResults,
  takenAtMs: number,
  previous: Snapshot,
  forgetAfterMs: number,
): Generator<void, Snapshot> {
  const upByInstance = new Map<string, boolean>();
  const up = results.up ?? [];
  for (let i = 0; i < up.length; i++) {
    const r = up[i]!;
    if (r.metric.instance) upByInstance.set(r.metric.instance, num(r) === 1);
    if (i % STEP === STEP - 1) yield;
  }

  // One record per server from rtc_server_info, then every other answer is written into it directly:
  // one map lookup per sample, no intermediate map per query.
  type Building = { -readonly [K in keyof ServerView]: ServerView[K] };
  const servers: Building[] = [];
  const byId = new Map<string, Building>();
  const info = results.info ?? [];
  for (let i = 0; i < info.length; i++) {
    if (i % STEP === STEP - 1) yield;
    const m = info[i]!.metric;
    const id = m.server;
    if (id === undefined || id === '' || byId.has(id)) continue;
    const instance = m.instance ?? '';
    const v: Building = {
      id,
      host: m.host || hostOf(instance),
      eip: m.eip ?? '',
      port: Number(m.port) || 0,
      region: m.region ?? '',
      zone: m.zone ?? '',
      version: m.version ?? '',
      instance,
      present: true,
      targetUp: upByInstance.get(instance),
      rtcUp: false,
      state: 'unknown',
      capacity: 0,
      participants: 0,
      rooms: 0,
      cpu: undefined,
      memory: undefined,
      egressBps: undefined,
      nicBps: undefined,
      loss: undefined,
      joinFailureRatio: undefined,
      sampleTimeMs: takenAtMs,
      statsUpdatedMs: undefined,
      joinAttempts: undefined,
      lastSeenMs: takenAtMs,
    };
    servers.push(v);
    byId.set(id, v);
  }
  function* each(rows: readonly VectorSample[] | undefined, set: (v: Building, x: number) => void) {
    if (!rows) return;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (i % STEP === STEP - 1) yield;
      const id = r.metric.server;
      const v = id === undefined ? undefined : byId.get(id);
      if (!v) continue;
      const x = num(r);
      if (!Number.isNaN(x)) set(v, x);
    }
  }
  yield* each(results.rtcUp, (v, x) => {
    v.rtcUp = x === 1;
  });
  yield* each(results.sampleTime, (v, x) => {
    v.sampleTimeMs = x * 1000;
  });
  yield* each(results.statsUpdated, (v, x) => {
    v.statsUpdatedMs = x * 1000;
  });
  yield* each(results.joinAttempts, (v, x) => {
    v.joinAttempts = x;
  });
  yield* each(results.capacity, (v, x) => {
    v.capacity = x;
  });
  yield* each(results.participants, (v, x) => {
    v.participants = x;
  });
  yield* each(results.rooms, (v, x) => {
    v.rooms = x;
  });
  yield* each(results.rtpEgress, (v, x) => {
    v.egressBps = x * 8;
  });
  yield* each(results.loss, (v, x) => {
    v.loss = x;
  });
  yield* each(results.joinFailures, (v, x) => {
    v.joinFailureRatio = x;
  });
  const state = results.state ?? [];
  for (let i = 0; i < state.length; i++) {
    const r = state[i]!;
    if (i % STEP === STEP - 1) yield;
    const id = r.metric.server;
    const st = r.metric.state as ServerState;
    const v = id === undefined ? undefined : byId.get(id);
    if (v && STATES.has(st)) v.state = st;
  }
  if (servers.length > 0) {
    const cpu = yield* byHost(results.cpu);
    const memory = yield* byHost(results.memory);
    const nodeTx = yield* byHost(results.nodeTx);
    const nicSpeed = yield* byHost(results.nicSpeed);
    for (let i = 0; i < servers.length; i++) {
      const v = servers[i]!;
      if (i % STEP === STEP - 1) yield;
      v.cpu = cpu.get(v.host);
      v.memory = memory.get(v.host);
      const tx = nodeTx.get(v.host);
      // The host's egress (every process on it) wins over the server's own RTP egress.
      if (tx !== undefined) v.egressBps = tx * 8;
      const speed = nicSpeed.get(v.host);
      if (speed !== undefined) v.nicBps = speed * 8;
    }
  }

  for (let i = 0; i < previous.servers.length; i++) {
    const old = previous.servers[i]!;
    if (i % STEP === STEP - 1) yield;
    if (byId.has(old.id) || takenAtMs - old.lastSeenMs > forgetAfterMs) continue;
    const gone: Building = {
      ...old,
      present: false,
      targetUp: old.instance ? (upByInstance.get(old.instance) ?? old.targetUp) : old.targetUp,
    };
    servers.push(gone);
    byId.set(gone.id, gone);
  }
  return { servers, byId: byId as ReadonlyMap<string, ServerView>, takenAtMs };
}
