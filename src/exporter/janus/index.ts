/**
 * The Janus source's entry for `rtcmon exporter` (main.ts loads this module when it exists): its
 * flags, and a factory that builds the source when `--janus.admin-url` is set.
 */
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { type ConfigOf, options } from '../../lib/config.ts';
import { ConfigError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Source } from '../source.ts';
import { createJanusSource as createSource } from './source.ts';

export const janusOptions = {
  janusAdminUrl: options.string(
    'janus.admin-url',
    '',
    'Janus admin API base URL (e.g. http://127.0.0.1:7088/admin); empty: no Janus source.',
  ),
  janusAdminSecret: options.string(
    'janus.admin-secret',
    '',
    "Janus' admin_secret. Prefer the env var RTCMON_JANUS_ADMIN_SECRET.",
  ),
  janusServerId: options.string(
    'janus.server-id',
    '',
    'The `server` label of this Janus (default: this host name).',
  ),
  janusPollInterval: options.duration('janus.poll-interval', 5000, 'How often the admin API is polled.'),
  janusTimeout: options.duration('janus.timeout', 3000, 'Timeout of one admin API request.'),
  janusEventsPath: options.string(
    'janus.events-path',
    '/janus/events',
    "Path on the exporter's port where Janus' sample event handler posts (its `backend`); empty: off.",
  ),
  janusEventsUser: options.string(
    'janus.events-user',
    '',
    'Basic-auth user the event handler must send (its backend_user); empty: no auth.',
  ),
  janusEventsPassword: options.string(
    'janus.events-password',
    '',
    'Basic-auth password (backend_pwd). Prefer the env var RTCMON_JANUS_EVENTS_PASSWORD.',
  ),
  janusCapacity: options.int(
    'janus.capacity',
    0,
    'Participants this Janus is meant to hold (rtc_capacity_participants, rtc_load_ratio).',
  ),
  janusEip: options.string('janus.eip', '', 'Public address clients reach this Janus at (rtc_server_info).'),
  janusPort: options.string('janus.port', '', 'Public port clients reach this Janus at (rtc_server_info).'),
  janusRegion: options.string('janus.region', '', 'Region (rtc_server_info).'),
  janusZone: options.string('janus.zone', '', 'Zone (rtc_server_info).'),
};

export type JanusConfig = ConfigOf<typeof janusOptions>;

/** Builds the Janus source from the exporter's config, or undefined when no admin URL is set. */
export function createJanusSource(
  cfg: Readonly<Record<string, unknown>>,
  deps: { logger: Logger; registry: Registry },
): Source | undefined {
  const c = cfg as unknown as JanusConfig;
  if (!c.janusAdminUrl) return undefined;
  try {
    new URL(c.janusAdminUrl);
  } catch {
    throw new ConfigError(
      'janus.admin-url',
      `expected an absolute URL, got ${JSON.stringify(c.janusAdminUrl)}`,
    );
  }
  if (c.janusEventsPath && !c.janusEventsPath.startsWith('/'))
    throw new ConfigError('janus.events-path', `must start with /, got ${JSON.stringify(c.janusEventsPath)}`);
  const info = {
    host: hostname(),
    ...(c.janusEip ? { eip: c.janusEip } : {}),
    ...(c.janusPort ? { port: c.janusPort } : {}),
    ...(c.janusRegion ? { region: c.janusRegion } : {}),
    ...(c.janusZone ? { zone: c.janusZone } : {}),
  };
  return createSource({
    server: c.janusServerId || hostname(),
    adminUrl: c.janusAdminUrl,
    adminSecret: c.janusAdminSecret,
    pollIntervalMs: c.janusPollInterval,
    timeoutMs: c.janusTimeout,
    eventsPath: c.janusEventsPath,
    eventsUser: c.janusEventsUser,
    eventsPassword: c.janusEventsPassword,
    capacity: c.janusCapacity,
    info,
    logger: deps.logger,
    registry: deps.registry,
  });
}
