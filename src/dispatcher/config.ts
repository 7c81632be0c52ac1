import { type ConfigOf, loadConfig, options } from '../lib/config.ts';
import { ConfigError } from '../lib/errors.ts';
import { webOptions } from '../lib/web-config.ts';

/** Every flag of `rtcmon dispatcher` (also env `RTCMON_…` and YAML keys). */
export const spec = {
  ...webOptions,
  listen: options.listen('web.listen-address', { host: '', port: 8080 }, 'Address to serve the API on.'),
  prometheusUrl: options.url('prometheus.url', 'http://127.0.0.1:9090', 'Prometheus HTTP API base URL.'),
  prometheusTimeout: options.duration('prometheus.timeout', 5000, 'Timeout of one snapshot refresh.'),
  rateWindow: options.string(
    'prometheus.rate-window',
    '1m',
    'Window of the rate() queries (PromQL duration).',
  ),
  refreshInterval: options.duration(
    'snapshot.interval',
    15_000,
    'How often the fleet snapshot is refreshed; set it to the scrape interval.',
  ),
  forgetAfter: options.duration(
    'snapshot.forget-after',
    600_000,
    'How long a server that vanished from Prometheus is still listed (excluded, with the reason).',
  ),
  penaltyAfter: options.duration(
    'staleness.penalty-after',
    30_000,
    'Sample age from which a server’s score is lowered (graded up to the exclusion age).',
  ),
  excludeAfter: options.duration(
    'staleness.exclude-after',
    60_000,
    'Sample age past which a server is excluded.',
  ),
  blindMaxAge: options.duration(
    'blind.max-age',
    600_000,
    'While Prometheus is unreachable, answer from the last good snapshot for at most this long.',
  ),
  fleetLossIsBlind: options.bool(
    'blind.on-fleet-loss',
    true,
    'Treat every usable server going down or stale at the same refresh as a monitoring failure (blind mode).',
  ),
  joinDelay: options.duration(
    'ledger.join-delay',
    10_000,
    'Longest time a client takes to join its server after the allocation (a term of the ledger bound).',
  ),
  reportInterval: options.duration(
    'ledger.report-interval',
    5000,
    'How often a server’s stats reach its exporter: the push interval, or the exporter’s collection interval (a term of the ledger bound).',
  ),
  scrapeInterval: options.duration(
    'ledger.scrape-interval',
    15_000,
    'Prometheus’ scrape interval of the exporters (a term of the ledger bound).',
  ),
  ledgerMaxAge: options.duration(
    'ledger.max-age',
    0,
    'An assignment the metrics never confirm stops counting after this long; 0: join-delay + report-interval + scrape-interval + 2 × snapshot.interval.',
  ),
  highMark: options.number(
    'admission.high-mark',
    0.9,
    'Load (participants incl. pending / capacity) at which a server stops admitting.',
    0.01,
    1,
  ),
  lowMark: options.number(
    'admission.low-mark',
    0.8,
    'Load below which a full server admits again (hysteresis).',
    0,
    1,
  ),
  spreadEpsilon: options.number(
    'spread.epsilon',
    0.05,
    'Servers whose score is within this of the best are near-equal; one of them is picked at random.',
    0,
    1,
  ),
  spreadMax: options.int(
    'spread.max',
    8,
    'At most this many near-equal servers take part in the draw.',
    1,
    1000,
  ),
  roomMaxPerServer: options.int(
    'room.max-per-server',
    0,
    'Most participants of one room on one server (0: only the server’s high mark limits).',
  ),
  roomSpill: options.bool('room.spill', true, 'Let a room spill to another server when its server is full.'),
  roomMaxServers: options.int('room.max-servers', 4, 'Most servers one room may spread over.', 1, 1000),
  roomTtl: options.duration(
    'room.ttl',
    7_200_000,
    'A room’s affinity is forgotten this long after its last join.',
  ),
  roomExpectedSize: options.number(
    'room.expected-size',
    1.5,
    'Prior for the size of a new room; the dispatcher learns the mean from the rooms it places.',
    1,
  ),
  roomReserveWindow: options.duration(
    'room.reserve-window',
    5000,
    'For this long after a room is placed, its expected remaining participants count against its server’s score (0: off).',
  ),
  regionFallback: options.bool(
    'region.fallback',
    true,
    'When no server of the requested region can take the client, choose among all regions.',
  ),
  wParticipants: options.number('score.weight.participants', 1, 'Weight of participants headroom.', 0),
  wCpu: options.number('score.weight.cpu', 0.5, 'Weight of CPU headroom.', 0),
  wEgress: options.number('score.weight.egress', 0.5, 'Weight of egress-vs-NIC headroom.', 0),
  wLoss: options.number('score.weight.loss', 0.3, 'Weight of packet-loss headroom.', 0),
  wJoinFailures: options.number('score.weight.join-failures', 0.3, 'Weight of join-failure headroom.', 0),
  limitCpu: options.number(
    'score.limit.cpu',
    0.9,
    'CPU use (0-1) past which a server is excluded (1: never for cpu and memory).',
    0.01,
    1,
  ),
  limitMemory: options.number(
    'score.limit.memory',
    0.95,
    'Memory use (0-1) past which a server is excluded (1: never for cpu and memory).',
    0.01,
    1,
  ),
  limitEgress: options.number(
    'score.limit.egress',
    0.8,
    'Egress/NIC capacity past which a server is excluded (1: never for cpu and memory).',
    0.01,
    1,
  ),
  limitLoss: options.number(
    'score.limit.loss',
    0.1,
    'Mean packet loss past which a server is excluded (1: never for cpu and memory).',
    0.0001,
    1,
  ),
  limitJoinFailures: options.number(
    'score.limit.join-failures',
    0.5,
    'Share of failed joins (rate over the window) past which a server is excluded (1: never for cpu and memory).',
    0.0001,
    1,
  ),
  nicBitsPerSecond: options.number(
    'score.nic-bits-per-second',
    1e10,
    'NIC capacity when node_exporter reports no link speed.',
    1,
  ),
  apiTokenFile: options.string(
    'api.token-file',
    '',
    'File holding the bearer token for drain/undrain (empty: those calls are refused); never a flag value.',
  ),
  redisUrl: options.string(
    'redis.url',
    '',
    'Redis URL (redis://host:port/db) to share the ledger, room affinity and drains between replicas; empty: in memory.',
  ),
  redisPrefix: options.string('redis.prefix', 'rtcmon:dispatcher:', 'Key and channel prefix in Redis.'),
  explainCandidates: options.int('explain.candidates', 3, 'Next candidates listed in every answer.', 0, 100),
  explainExcluded: options.int('explain.excluded', 10, 'Excluded servers listed in every answer.', 0, 10_000),
};

export type DispatcherConfig = ConfigOf<typeof spec> & {
  readonly logLevel: string;
  readonly configFile: string;
};

/** The decision policy: the part of the config pure modules need. */
export interface Policy {
  readonly highMark: number;
  readonly lowMark: number;
  readonly spreadEpsilon: number;
  readonly spreadMax: number;
  readonly penaltyAfterMs: number;
  readonly excludeAfterMs: number;
  readonly blindMaxAgeMs: number;
  /** Longest join of a client after its allocation. */
  readonly joinDelayMs: number;
  /** How often a server's stats reach its exporter (push or collection interval). */
  readonly reportIntervalMs: number;
  /** Prometheus' scrape interval. */
  readonly scrapeIntervalMs: number;
  /** The dispatcher's snapshot refresh interval. */
  readonly refreshIntervalMs: number;
  /** Age at which an unconfirmed ledger entry expires; 0: derived (ledgerBoundMs). */
  readonly ledgerMaxAgeMs: number;
  readonly roomMaxPerServer: number;
  readonly roomSpill: boolean;
  readonly roomMaxServers: number;
  readonly roomTtlMs: number;
  readonly roomExpectedSize: number;
  readonly roomReserveWindowMs: number;
  readonly regionFallback: boolean;
  readonly forgetAfterMs: number;
  readonly nicBitsPerSecond: number;
  readonly weights: {
    readonly participants: number;
    readonly cpu: number;
    readonly egress: number;
    readonly loss: number;
    readonly joinFailures: number;
  };
  readonly limits: {
    readonly cpu: number;
    readonly memory: number;
    readonly egress: number;
    readonly loss: number;
    readonly joinFailures: number;
  };
  readonly explainCandidates: number;
  readonly explainExcluded: number;
}

/**
 * How long an assignment counts as pending when the metrics never confirm it: the client joins (join
 * delay), the server reports (report interval), Prometheus scrapes (scrape interval), the dispatcher
 * queries (refresh interval), plus one more refresh interval for the refresh's own duration and timer
 * drift. `ledger.max-age` overrides it when set.
 */
export function ledgerBoundMs(p: Policy): number {
  if (p.ledgerMaxAgeMs > 0) return p.ledgerMaxAgeMs;
  return p.joinDelayMs + p.reportIntervalMs + p.scrapeIntervalMs + 2 * p.refreshIntervalMs;
}

/** Defaults of every policy field (tests and the bench start here). */
export const defaultPolicy: Policy = policyOf(loadConfig(spec, [], {}));

export function policyOf(c: ConfigOf<typeof spec>): Policy {
  if (c.lowMark >= c.highMark)
    throw new ConfigError('admission.low-mark', `must be below admission.high-mark (${c.highMark})`);
  if (c.penaltyAfter > c.excludeAfter)
    throw new ConfigError('staleness.penalty-after', 'must not exceed staleness.exclude-after');
  return Object.freeze({
    highMark: c.highMark,
    lowMark: c.lowMark,
    spreadEpsilon: c.spreadEpsilon,
    spreadMax: c.spreadMax,
    penaltyAfterMs: c.penaltyAfter,
    excludeAfterMs: c.excludeAfter,
    blindMaxAgeMs: c.blindMaxAge,
    joinDelayMs: c.joinDelay,
    reportIntervalMs: c.reportInterval,
    scrapeIntervalMs: c.scrapeInterval,
    refreshIntervalMs: c.refreshInterval,
    ledgerMaxAgeMs: c.ledgerMaxAge,
    roomMaxPerServer: c.roomMaxPerServer,
    roomSpill: c.roomSpill,
    roomMaxServers: c.roomMaxServers,
    roomTtlMs: c.roomTtl,
    roomExpectedSize: c.roomExpectedSize,
    roomReserveWindowMs: c.roomReserveWindow,
    regionFallback: c.regionFallback,
    forgetAfterMs: c.forgetAfter,
    nicBitsPerSecond: c.nicBitsPerSecond,
    weights: Object.freeze({
      participants: c.wParticipants,
      cpu: c.wCpu,
      egress: c.wEgress,
      loss: c.wLoss,
      joinFailures: c.wJoinFailures,
    }),
    limits: Object.freeze({
      cpu: c.limitCpu,
      memory: c.limitMemory,
      egress: c.limitEgress,
      loss: c.limitLoss,
      joinFailures: c.limitJoinFailures,
    }),
    explainCandidates: c.explainCandidates,
    explainExcluded: c.explainExcluded,
  });
}

/** Parses argv/env/YAML once; bad values throw a ConfigError naming the key. */
export function loadDispatcherConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  // The checks across options run inside loadConfig, so that `--check-config` runs them too.
  const cfg = loadConfig(spec, argv, env, (c) => {
    if (!/^\d+(ms|s|m|h)$/.test(c.rateWindow))
      throw new ConfigError(
        'prometheus.rate-window',
        `expected a PromQL duration like 1m, got ${c.rateWindow}`,
      );
    policyOf(c);
  });
  return { cfg, policy: policyOf(cfg) };
}
