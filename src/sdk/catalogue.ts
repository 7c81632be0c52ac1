/**
 * The rtcmon metric catalogue: every `rtc_*` family the SDK, the push endpoint and the Janus source
 * produce. Every series also carries `server`; no family has a room, participant, SSRC or IP label.
 */

export type Direction = 'in' | 'out';
export type MediaKind = 'audio' | 'video';
export type ServerState = 'serving' | 'draining' | 'shutting_down';

export const DIRECTIONS: readonly Direction[] = ['in', 'out'];
export const KINDS: readonly MediaKind[] = ['audio', 'video'];
export const SERVER_STATES: readonly ServerState[] = ['serving', 'draining', 'shutting_down'];

export type FamilyType = 'gauge' | 'counter' | 'histogram';

export interface Family {
  /** Full sample name for gauges and counters (`rtc_rtp_bytes_total`), base name for histograms. */
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  /** Labels besides `server`, in exposition order. */
  readonly labelNames: readonly string[];
  /** Allowed values per label: the cardinality bound. `reason` is bounded by MAX_FAILURE_REASONS. */
  readonly labelValues?: Readonly<Record<string, readonly string[]>>;
  /** Upper bounds of the buckets (histograms only), ascending, without +Inf. */
  readonly buckets?: readonly number[];
}

const dk = { direction: DIRECTIONS, kind: KINDS } as const;

/** Distinct join failure reasons kept per server; further ones are counted as `other`. */
export const MAX_FAILURE_REASONS = 16;

/**
 * Families derived from a snapshot's fields rather than its `samples`: `rtc_up`, `rtc_server_info`,
 * `rtc_server_state`, `rtc_stats_updated_timestamp_seconds`.
 */
export const STATE_FAMILIES = {
  up: {
    name: 'rtc_up',
    type: 'gauge',
    help: '1 if the exporter could read the RTC server (SDK in process, a fresh push, Janus admin API answering), else 0.',
    labelNames: [],
  },
  info: {
    name: 'rtc_server_info',
    type: 'gauge',
    help: 'Identity of the RTC server: version, public address (eip, port) where clients connect, region, zone and host (to join node_exporter series). Always 1.',
    labelNames: ['version', 'eip', 'port', 'region', 'zone', 'host'],
  },
  state: {
    name: 'rtc_server_state',
    type: 'gauge',
    help: 'Lifecycle state of the RTC server, one-hot: serving, draining (takes no new rooms), shutting_down.',
    labelNames: ['state'],
    labelValues: { state: SERVER_STATES },
  },
  updated: {
    name: 'rtc_stats_updated_timestamp_seconds',
    type: 'gauge',
    help: 'Unix time when the RTC server stats last changed (resolution: one scrape for the SDK).',
    labelNames: [],
  },
} as const satisfies Record<string, Family>;

/** Families carried in a snapshot's `samples`, in exposition order. */
export const FAMILIES = {
  rtc_capacity_participants: {
    name: 'rtc_capacity_participants',
    type: 'gauge',
    help: 'Participants the RTC server is configured to hold.',
    labelNames: [],
  },
  rtc_rooms: {
    name: 'rtc_rooms',
    type: 'gauge',
    help: 'Rooms with at least one participant.',
    labelNames: [],
  },
  rtc_participants: {
    name: 'rtc_participants',
    type: 'gauge',
    help: 'Participants connected.',
    labelNames: [],
  },
  rtc_largest_room_participants: {
    name: 'rtc_largest_room_participants',
    type: 'gauge',
    help: 'Participants in the largest room.',
    labelNames: [],
  },
  rtc_load_ratio: {
    name: 'rtc_load_ratio',
    type: 'gauge',
    help: 'Participants divided by capacity (0 when the capacity is unknown).',
    labelNames: [],
  },
  rtc_tracks: {
    name: 'rtc_tracks',
    type: 'gauge',
    help: 'Media tracks: direction in = published to the server, out = forwarded to subscribers.',
    labelNames: ['direction', 'kind'],
    labelValues: dk,
  },
  rtc_rtp_bytes_total: {
    name: 'rtc_rtp_bytes_total',
    type: 'counter',
    help: 'RTP payload and header bytes received (in) and sent (out).',
    labelNames: ['direction', 'kind'],
    labelValues: dk,
  },
  rtc_rtp_packets_total: {
    name: 'rtc_rtp_packets_total',
    type: 'counter',
    help: 'RTP packets received (in) and sent (out).',
    labelNames: ['direction', 'kind'],
    labelValues: dk,
  },
  rtc_rtp_packets_lost_total: {
    name: 'rtc_rtp_packets_lost_total',
    type: 'counter',
    help: 'RTP packets lost: in = on streams the server receives, out = reported lost by receivers (RTCP RR).',
    labelNames: ['direction'],
    labelValues: { direction: DIRECTIONS },
  },
  rtc_nacks_total: { name: 'rtc_nacks_total', type: 'counter', help: 'RTCP NACKs.', labelNames: [] },
  rtc_plis_total: {
    name: 'rtc_plis_total',
    type: 'counter',
    help: 'RTCP picture loss indications (PLI).',
    labelNames: [],
  },
  rtc_join_attempts_total: {
    name: 'rtc_join_attempts_total',
    type: 'counter',
    help: 'Attempts to join a room (successful or not).',
    labelNames: [],
  },
  rtc_join_failures_total: {
    name: 'rtc_join_failures_total',
    type: 'counter',
    help: 'Failed joins by reason (at most 16 reasons per server, then "other").',
    labelNames: ['reason'],
  },
  rtc_ice_restarts_total: {
    name: 'rtc_ice_restarts_total',
    type: 'counter',
    help: 'ICE restarts.',
    labelNames: [],
  },
  rtc_join_duration_seconds: {
    name: 'rtc_join_duration_seconds',
    type: 'histogram',
    help: 'Time from join request to media flowing, for successful joins.',
    labelNames: [],
    buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30],
  },
  rtc_session_duration_seconds: {
    name: 'rtc_session_duration_seconds',
    type: 'histogram',
    help: 'Time a participant stayed, observed when it leaves.',
    labelNames: [],
    buckets: [10, 30, 60, 300, 600, 1800, 3600, 7200, 14400],
  },
  rtc_rtt_seconds: {
    name: 'rtc_rtt_seconds',
    type: 'histogram',
    help: 'Round-trip time per stream report (RTCP).',
    labelNames: [],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2],
  },
  rtc_jitter_seconds: {
    name: 'rtc_jitter_seconds',
    type: 'histogram',
    help: 'Interarrival jitter per stream report (RTCP).',
    labelNames: ['kind'],
    labelValues: { kind: KINDS },
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2],
  },
  rtc_packet_loss_ratio: {
    name: 'rtc_packet_loss_ratio',
    type: 'histogram',
    help: 'Fraction of packets lost per stream report (RTCP), 0..1.',
    labelNames: ['kind'],
    labelValues: { kind: KINDS },
    buckets: [0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5],
  },
  rtc_quality_score: {
    name: 'rtc_quality_score',
    type: 'histogram',
    help: 'E-model MOS estimate (1..4.5) per stream report, from RTT, jitter and loss (ITU-T G.107, simplified).',
    labelNames: ['kind'],
    labelValues: { kind: KINDS },
    buckets: [1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4],
  },
} as const satisfies Record<string, Family>;

export type FamilyName = keyof typeof FAMILIES;
export const FAMILY_NAMES = Object.keys(FAMILIES) as FamilyName[];
export type HistogramFamilyName = {
  [K in FamilyName]: (typeof FAMILIES)[K]['type'] extends 'histogram' ? K : never;
}[FamilyName];
export type ScalarFamilyName = Exclude<FamilyName, HistogramFamilyName>;
