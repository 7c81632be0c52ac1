import { type ConfigOf, options } from '../lib/config.ts';
import { webOptions } from '../lib/web-config.ts';

/** `rtcmon exporter` flags (also env `RTCMON_…` and YAML keys by flag name). */
export const exporterOptions = {
  ...webOptions,
  listen: options.listen(
    'web.listen-address',
    { host: '', port: 9464 },
    'Address to serve /metrics and the push API on.',
  ),
  collectTimeout: options.duration(
    'collect.timeout',
    2000,
    'How long a scrape waits for a source; a slower source is exposed as down (rtc_up 0).',
  ),
  pushEnabled: options.bool('push.enabled', true, 'Accept JSON pushes on POST /api/v1/push.'),
  pushTokenFile: options.string(
    'push.token-file',
    '',
    'File holding the bearer token pushes must carry (empty: no auth); a file, so that ps never shows it.',
  ),
  pushStaleAfter: options.duration(
    'push.stale-after',
    30_000,
    'A pushing server that has not pushed for this long is exposed as rtc_up 0.',
  ),
  pushForgetAfter: options.duration(
    'push.forget-after',
    600_000,
    'A silent pushing server is dropped after this long.',
  ),
  pushMaxServers: options.int(
    'push.max-servers',
    1000,
    'Distinct pushing servers tracked; more are refused (429).',
    1,
  ),
  pushMaxBody: options.bytes('push.max-body-size', 256 * 1024, 'Largest push body accepted (413 beyond).'),
  pushMaxSeries: options.int('push.max-series', 200, 'Series accepted per pushed server.', 1, 10_000),
  simServers: options.int(
    'sim.servers',
    0,
    'Start this many simulated RTC servers (SDK demo fleet) in process, each with /demo/join on its own port.',
    0,
    1000,
  ),
  simCapacity: options.int('sim.capacity', 200, 'Capacity (participants) of each simulated server.', 1),
  simChurnPeriod: options.duration(
    'sim.churn-period',
    120_000,
    'Period of the simulated load wave (0: no churn).',
  ),
  simRegions: options.list(
    'sim.regions',
    [] as readonly string[],
    'Regions handed to simulated servers, round-robin.',
  ),
  simZones: options.list(
    'sim.zones',
    [] as readonly string[],
    'Zones handed to simulated servers, round-robin.',
  ),
  simEip: options.string(
    'sim.eip',
    '127.0.0.1',
    'Public address simulated servers announce in rtc_server_info.',
  ),
  simPortBase: options.int(
    'sim.port-base',
    0,
    'First port for simulated servers (consecutive); 0 = free ports.',
    0,
    65535,
  ),
};

export type ExporterConfig = ConfigOf<typeof exporterOptions>;
