import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, type ManagedProcess, startProcess } from './process.ts';

const run = promisify(execFile);

/** Ports inside the namespace: it is private, so fixed numbers never collide. */
const NS_API_PORT = 8088;
const NS_ADMIN_PORT = 7088;
const NS_EVENTS_PORT = 7090;
/** The veth end that holds 127.0.0.1/32: Janus' only ICE interface. */
const ICE_IFACE = 'jv0';

export interface JanusOptions {
  /** Fresh directory for the generated configs, sockets and plugin links. */
  dir: string;
  logDir?: string;
  name?: string;
  /** Host port of the admin API bridge (a restarted Janus keeps its address). @default a free port */
  adminPort?: number;
  /** @default a random secret */
  adminSecret?: string;
  /** Janus' `server_name`. @default 'rtcmon-janus' */
  serverName?: string;
  /**
   * Where the sample event handler posts, as seen from this host (e.g. the exporter's
   * `http://127.0.0.1:9464/janus/events`); omitted: no event handler is loaded.
   */
  eventsUrl?: string;
  /** Basic-auth credentials the event handler sends (`backend_user`, `backend_pwd`). */
  eventsAuth?: { user: string; password: string };
  /** Seconds between media statistics events per handle. @default 5 */
  statsPeriod?: number;
  /** VideoRoom rooms configured at start. @default [1234] */
  rooms?: readonly number[];
  /** Janus' debug_level (0-7). @default 4 */
  debugLevel?: number;
}

export interface Janus {
  /** Name of the private network namespace Janus runs in (`ip netns exec NAME …` enters it). */
  readonly netns: string;
  /** Janus API for WebRTC clients: reachable only from inside the namespace. */
  readonly apiUrlInNs: string;
  /** Admin API, bridged to this host's 127.0.0.1. */
  readonly adminUrl: string;
  readonly adminSecret: string;
  readonly serverName: string;
  readonly process: ManagedProcess;
  /** argv that runs `argv` inside the namespace. */
  nsCommand(argv: readonly string[]): string[];
  /** Stops Janus and the bridges by PID, then deletes the namespace. Idempotent. */
  stop(): Promise<void>;
}

/** Folder of Janus' plugins, transports and event handlers (Debian: /usr/lib/<triplet>/janus). */
export function janusLibDir(): string {
  for (const d of readdirSync('/usr/lib')) {
    const p = join('/usr/lib', d, 'janus');
    if (existsSync(join(p, 'plugins', 'libjanus_videoroom.so'))) return p;
  }
  throw new Error('Janus plugins not found under /usr/lib/*/janus (apt-get install janus)');
}

const q = (s: string) => JSON.stringify(s);

/** The generated config files, by file name (libconfig syntax, Janus' .jcfg). */
export function janusConfigs(opts: {
  dir: string;
  adminSecret: string;
  serverName: string;
  eventsBackend?: string;
  eventsAuth?: { user: string; password: string };
  statsPeriod: number;
  rooms: readonly number[];
  debugLevel: number;
}): Record<string, string> {
  const files: Record<string, string> = {
    'janus.jcfg': `general: {
  configs_folder = ${q(opts.dir)}
  plugins_folder = ${q(join(opts.dir, 'plugins'))}
  transports_folder = ${q(join(opts.dir, 'transports'))}
  events_folder = ${q(join(opts.dir, 'events'))}
  loggers_folder = ${q(join(opts.dir, 'loggers'))}
  debug_level = ${opts.debugLevel}
  debug_colors = false
  server_name = ${q(opts.serverName)}
  admin_secret = ${q(opts.adminSecret)}
  session_timeout = 60
  protected_folders = [ "/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr", "/var" ]
}
certificates: {
}
media: {
  ipv6 = false
}
nat: {
  ice_enforce_list = ${q(ICE_IFACE)}
  ignore_mdns = true
}
plugins: {
}
transports: {
}
loggers: {
}
events: {
  broadcast = ${opts.eventsBackend ? 'true' : 'false'}
  stats_period = ${opts.statsPeriod}
}
`,
    'janus.transport.http.jcfg': `general: {
  json = "plain"
  base_path = "/janus"
  http = true
  ip = "127.0.0.1"
  port = ${NS_API_PORT}
  https = false
}
admin: {
  admin_base_path = "/admin"
  admin_http = true
  admin_ip = "127.0.0.1"
  admin_port = ${NS_ADMIN_PORT}
  admin_https = false
}
cors: {
}
`,
    'janus.plugin.videoroom.jcfg': `general: {
}
${opts.rooms
  .map(
    (r) => `room-${r}: {
  description = "rtcmon room ${r}"
  publishers = 6
  bitrate = 256000
  fir_freq = 10
  record = false
}
`,
  )
  .join('')}`,
  };
  if (opts.eventsBackend)
    files['janus.eventhandler.sampleevh.jcfg'] = `general: {
  enabled = true
  events = "sessions,handles,webrtc,media,plugins"
  grouping = true
  json = "plain"
  backend = ${q(opts.eventsBackend)}
${opts.eventsAuth ? `  backend_user = ${q(opts.eventsAuth.user)}\n  backend_pwd = ${q(opts.eventsAuth.password)}\n` : ''}  max_retransmissions = 2
  retransmissions_backoff = 100
}
`;
  return files;
}

/** A node script run inside the namespace: unix socket <-> TCP on the namespace's 127.0.0.1. */
const NS_BRIDGE = `
import { createServer, createConnection } from 'node:net';
const [adminSock, adminPort, eventsPort, eventsSock] = process.argv.slice(2);
const pipe = (a, b) => { a.pipe(b); b.pipe(a); a.on('error', () => b.destroy()); b.on('error', () => a.destroy()); };
createServer((c) => pipe(c, createConnection({ host: '127.0.0.1', port: Number(adminPort) }))).listen(adminSock);
createServer((c) => pipe(c, createConnection(eventsSock))).listen(Number(eventsPort), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

/** Host side of a bridge: every connection to `listen` is piped to `connect`. */
function hostBridge(
  listen: { port: number; host: string } | string,
  connect: () => ReturnType<typeof createConnection>,
): Promise<{ close(): Promise<void> }> {
  const open = new Set<Socket>();
  const srv = createServer((c) => {
    const up = connect();
    for (const s of [c, up]) {
      open.add(s);
      s.once('close', () => open.delete(s));
    }
    c.pipe(up);
    up.pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  const close = () =>
    new Promise<void>((r) => {
      srv.close(() => r());
      // Keep-alive clients (the exporter's fetch) would hold close() open: end them.
      for (const s of open) s.destroy();
    });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    if (typeof listen === 'string') srv.listen(listen, () => resolve({ close }));
    else srv.listen(listen.port, listen.host, () => resolve({ close }));
  });
}

async function adminPing(url: string, secret: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      body: JSON.stringify({ janus: 'ping', transaction: 'ready', admin_secret: secret }),
      signal: AbortSignal.timeout(2000),
    });
    const body = (await res.json()) as { janus?: string };
    return body.janus === 'pong';
  } catch {
    return false;
  }
}

/**
 * Starts Janus (Debian's `janus`) inside a private network namespace that holds only `lo` and a veth
 * pair with 127.0.0.1/32 on jv0 (`ice_enforce_list = "jv0"`): its only ICE candidate is 127.0.0.1 and no
 * packet can leave the machine. Only the VideoRoom plugin, the HTTP transport and (with `eventsUrl`)
 * the sample event handler are loaded. The admin API and the event handler's posts cross the namespace
 * boundary through unix sockets under `dir`.
 */
export async function startJanus(opts: JanusOptions): Promise<Janus> {
  const dir = opts.dir;
  const logDir = opts.logDir ?? dir;
  const name = opts.name ?? 'janus';
  const adminSecret = opts.adminSecret ?? `rtcmon-${Math.random().toString(36).slice(2)}`;
  const serverName = opts.serverName ?? 'rtcmon-janus';
  const netns = `rtcmon-janus-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const lib = janusLibDir();
  for (const [sub, files] of [
    ['plugins', ['libjanus_videoroom.so']],
    ['transports', ['libjanus_http.so']],
    ['events', opts.eventsUrl ? ['libjanus_sampleevh.so'] : []],
    ['loggers', []],
  ] as const) {
    mkdirSync(join(dir, sub), { recursive: true });
    for (const f of files) symlinkSync(join(lib, sub, f), join(dir, sub, f));
  }
  const nsEventsPath = opts.eventsUrl ? new URL(opts.eventsUrl) : undefined;
  for (const [file, body] of Object.entries(
    janusConfigs({
      dir,
      adminSecret,
      serverName,
      ...(nsEventsPath
        ? {
            eventsBackend: `http://127.0.0.1:${NS_EVENTS_PORT}${nsEventsPath.pathname}${nsEventsPath.search}`,
          }
        : {}),
      ...(opts.eventsAuth ? { eventsAuth: opts.eventsAuth } : {}),
      statsPeriod: opts.statsPeriod ?? 5,
      rooms: opts.rooms ?? [1234],
      debugLevel: opts.debugLevel ?? 4,
    }),
  ))
    writeFileSync(join(dir, file), body);
  writeFileSync(join(dir, 'ns-bridge.mjs'), NS_BRIDGE);

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  const nsArgs = (argv: readonly string[]) => ['netns', 'exec', netns, ...argv];
  const nsCommand = (argv: readonly string[]) => ['ip', ...nsArgs(argv)];
  try {
    await run('ip', ['netns', 'add', netns]);
    cleanups.push(async () => {
      await run('ip', ['netns', 'del', netns]);
    });
    const inNs = (...argv: string[]) => run('ip', ['netns', 'exec', netns, ...argv]);
    await inNs('ip', 'link', 'set', 'lo', 'up');
    await inNs('ip', 'link', 'add', ICE_IFACE, 'type', 'veth', 'peer', 'name', 'jv1');
    await inNs('ip', 'link', 'set', ICE_IFACE, 'up');
    await inNs('ip', 'link', 'set', 'jv1', 'up');
    await inNs('ip', 'addr', 'add', '127.0.0.1/32', 'dev', ICE_IFACE);

    // Host side of the bridges: admin API in, event posts out.
    const adminSock = join(dir, 'admin.sock');
    const eventsSock = join(dir, 'events.sock');
    const adminPort = opts.adminPort ?? (await freePort());
    const adminSrv = await hostBridge({ host: '127.0.0.1', port: adminPort }, () =>
      createConnection(adminSock),
    );
    cleanups.push(() => adminSrv.close());
    if (nsEventsPath) {
      const target = { host: nsEventsPath.hostname, port: Number(nsEventsPath.port || 80) };
      const evSrv = await hostBridge(eventsSock, () => createConnection(target));
      cleanups.push(() => evSrv.close());
    }
    const bridge = await startProcess({
      name: `${name}-bridge`,
      command: 'ip',
      args: nsArgs([
        process.execPath,
        join(dir, 'ns-bridge.mjs'),
        adminSock,
        String(NS_ADMIN_PORT),
        String(NS_EVENTS_PORT),
        eventsSock,
      ]),
      logDir,
      ready: async () => existsSync(adminSock),
      readyTimeoutMs: 10_000,
    });
    cleanups.push(() => bridge.stop());

    const adminUrl = `http://127.0.0.1:${adminPort}/admin`;
    const janus = await startProcess({
      name,
      command: 'ip',
      args: nsArgs(['/usr/bin/janus', '-F', dir, '-C', join(dir, 'janus.jcfg')]),
      cwd: dir,
      logDir,
      ready: () => adminPing(adminUrl, adminSecret),
      readyTimeoutMs: 30_000,
    });
    cleanups.push(() => janus.stop('SIGTERM', 10_000));
    let stopping: Promise<void> | undefined;
    return {
      netns,
      apiUrlInNs: `http://127.0.0.1:${NS_API_PORT}/janus`,
      adminUrl,
      adminSecret,
      serverName,
      process: janus,
      nsCommand,
      stop: () => {
        stopping ??= cleanup();
        return stopping;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** True when Debian's Janus is installed (the stack starts it only then). */
export const janusInstalled = (): boolean => existsSync('/usr/bin/janus');

/**
 * Janus wired to an `rtcmon exporter` that will listen at `exporterUrl`: starts Janus (events posted to
 * `exporterUrl` + `/janus/events`) and returns the flags and environment to start the exporter with.
 * Undefined when Janus is not installed.
 */
export async function startJanusForExporter(opts: {
  dir: string;
  logDir: string;
  exporterUrl: string;
  /** `server` label. @default 'janus-local' */
  serverId?: string;
  pollInterval?: string;
}): Promise<{ janus: Janus; args: string[]; env: Record<string, string> } | undefined> {
  if (!janusInstalled()) return undefined;
  const janus = await startJanus({
    dir: opts.dir,
    logDir: opts.logDir,
    eventsUrl: `${opts.exporterUrl.replace(/\/+$/, '')}/janus/events`,
    serverName: opts.serverId ?? 'janus-local',
  });
  return {
    janus,
    args: [
      `--janus.admin-url=${janus.adminUrl}`,
      `--janus.server-id=${opts.serverId ?? 'janus-local'}`,
      `--janus.poll-interval=${opts.pollInterval ?? '5s'}`,
      '--janus.eip=127.0.0.1',
      '--janus.port=8088',
    ],
    env: { RTCMON_JANUS_ADMIN_SECRET: janus.adminSecret },
  };
}
