import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { freePort, type ManagedProcess, startProcess } from './process.ts';

/** Debian's jars: ZooKeeper (its manifest lists the rest), and the log4j binding so it logs at all. */
export const ZOOKEEPER_CLASSPATH = [
  '/usr/share/java/zookeeper.jar',
  '/usr/share/java/slf4j-log4j12.jar',
  '/usr/share/java/log4j-1.2.jar',
];

/** One server of the ensemble: its ports on 127.0.0.1. */
export interface ZooKeeperNode {
  readonly id: number;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly electionPort: number;
}

/** zoo.cfg of server `id` in an ensemble (the same server list in every file). */
export function zooConfig(opts: { dataDir: string; self: ZooKeeperNode; nodes: readonly ZooKeeperNode[] }) {
  return [
    'tickTime=500',
    'initLimit=20',
    'syncLimit=10',
    `dataDir=${opts.dataDir}`,
    'clientPortAddress=127.0.0.1',
    `clientPort=${opts.self.clientPort}`,
    // Sessions of ClickHouse (session_timeout_ms 10 s on the rig) must fit between min and max.
    'minSessionTimeout=1000',
    'maxSessionTimeout=60000',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr,ruok,mntr',
    'autopurge.snapRetainCount=3',
    'autopurge.purgeInterval=1',
    ...(opts.nodes.length > 1
      ? opts.nodes.map((n) => `server.${n.id}=127.0.0.1:${n.peerPort}:${n.electionPort}`)
      : []),
    '',
  ].join('\n');
}

/** log4j 1.2 config: everything at WARN (INFO with `verbose`) to the console, which the launcher logs. */
export const log4jConfig = (verbose = false): string =>
  [
    `log4j.rootLogger=${verbose ? 'INFO' : 'WARN'}, CONSOLE`,
    'log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender',
    'log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] %-5p [%t:%C{1}@%L] - %m%n',
    '',
  ].join('\n');

/** Sends a four-letter word (`srvr`, `ruok`) and returns the answer ('' when nothing answers). */
export function fourLetterWord(port: number, word: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const parts: Buffer[] = [];
    const done = () => {
      sock.destroy();
      resolve(Buffer.concat(parts).toString('utf8'));
    };
    sock.setTimeout(timeoutMs, done);
    sock.once('error', done);
    sock.once('connect', () => sock.write(word));
    sock.on('data', (d: Buffer) => parts.push(d));
    sock.once('end', done);
  });
}

/** `leader`, `follower`, `standalone`, or '' when the server does not serve (no quorum, or down). */
export async function zookeeperMode(port: number): Promise<string> {
  return /^Mode: (\w+)/m.exec(await fourLetterWord(port, 'srvr'))?.[1] ?? '';
}

export interface ZooKeeperServer {
  readonly node: ZooKeeperNode;
  readonly process: ManagedProcess;
  /** Running (started and not stopped). */
  running(): boolean;
  stop(): Promise<void>;
  /** Starts it again with the same config and data (for fault tests). */
  start(): Promise<void>;
}

export interface ZooKeeperEnsemble {
  readonly servers: readonly ZooKeeperServer[];
  /** `host:port,host:port,…` for clients. */
  readonly connectString: string;
  /** Every server's client address, for ClickHouse's `<zookeeper>` section. */
  readonly nodes: readonly { host: string; port: number }[];
  stop(): Promise<void>;
}

export interface ZooKeeperOptions {
  dir: string;
  /** Servers in the ensemble: 3 survives the loss of one. @default 3 */
  size?: number;
  logDir?: string;
  /** Preferred client ports (stack: 2181…), else free ones. */
  port?: (preferred: number) => Promise<number>;
  /** Java heap per server. @default 256m */
  heap?: string;
}

/**
 * Starts a ZooKeeper ensemble on 127.0.0.1 (Debian package `zookeeper`): one JVM per server with its own
 * zoo.cfg, myid and data dir under `dir`, no JMX, no admin server, `-Xmx256m`. Resolves once the ensemble
 * has a leader and every server serves.
 */
export async function startZooKeeper(opts: ZooKeeperOptions): Promise<ZooKeeperEnsemble> {
  const size = opts.size ?? 3;
  const port = opts.port ?? ((_p: number) => freePort());
  const nodes: ZooKeeperNode[] = [];
  for (let i = 1; i <= size; i++)
    nodes.push({
      id: i,
      clientPort: await port(2180 + i),
      peerPort: await freePort(),
      electionPort: await freePort(),
    });
  const logDir = opts.logDir ?? opts.dir;
  const log4j = join(opts.dir, 'log4j.properties');
  mkdirSync(opts.dir, { recursive: true });
  writeFileSync(log4j, log4jConfig());

  const servers: ZooKeeperServer[] = [];
  const launch = async (self: ZooKeeperNode): Promise<ManagedProcess> => {
    const dir = join(opts.dir, `zk${self.id}`);
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'myid'), `${self.id}\n`);
    const cfg = join(dir, 'zoo.cfg');
    writeFileSync(cfg, zooConfig({ dataDir, self, nodes }));
    return startProcess({
      name: `zookeeper-${self.id}`,
      command: '/usr/bin/java',
      args: [
        `-Xmx${opts.heap ?? '256m'}`,
        '-XX:+UseSerialGC',
        '-Dzookeeper.jmx.log4j.disable=true',
        `-Dlog4j.configuration=file:${log4j}`,
        `-Dzookeeper.log.dir=${dir}`,
        '-cp',
        ZOOKEEPER_CLASSPATH.join(':'),
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        cfg,
      ],
      cwd: dir,
      env: { ...process.env, JMXDISABLE: 'true' },
      logDir,
      // A member of an ensemble serves only once a quorum elected a leader: wait for the port alone here.
      ready: async () => (await fourLetterWord(self.clientPort, 'srvr')) !== '',
      readyTimeoutMs: 60_000,
    });
  };

  try {
    for (const n of nodes) {
      let proc = await launch(n);
      servers.push({
        node: n,
        get process() {
          return proc;
        },
        running: () => !proc.exited(),
        stop: () => proc.stop(),
        async start() {
          if (!proc.exited()) return;
          proc = await launch(n);
        },
      });
    }
    const deadline = Date.now() + 60_000;
    for (;;) {
      const modes = await Promise.all(nodes.map((n) => zookeeperMode(n.clientPort)));
      if (modes.every((m) => m !== '') && (size === 1 || modes.includes('leader'))) break;
      if (Date.now() > deadline)
        throw new Error(`ZooKeeper ensemble did not elect a leader: ${modes.join(',')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    for (const s of servers) await s.stop().catch(() => {});
    throw err;
  }
  return {
    servers,
    connectString: nodes.map((n) => `127.0.0.1:${n.clientPort}`).join(','),
    nodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.clientPort })),
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}
