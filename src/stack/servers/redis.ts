import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { freePort, type ManagedProcess, startProcess } from './process.ts';

export interface RedisOptions {
  /** Data directory (nothing is persisted: no RDB, no AOF; Redis still wants a dir). */
  dir: string;
  port?: number;
  logDir?: string;
  name?: string;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** True when Redis at 127.0.0.1:port answers PING. */
export function redisPing(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** Starts redis-server (Debian package `redis-server`) on 127.0.0.1, in memory only. */
export async function startRedis(opts: RedisOptions): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  mkdirSync(opts.dir, { recursive: true });
  const proc = await startProcess({
    name: opts.name ?? 'redis',
    command: '/usr/bin/redis-server',
    args: [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      opts.dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--loglevel',
      'warning',
    ],
    cwd: opts.dir,
    logDir: opts.logDir ?? opts.dir,
    ready: () => redisPing(port),
    readyTimeoutMs: 20_000,
  });
  return { url: `redis://127.0.0.1:${port}`, port, process: proc, stop: () => proc.stop() };
}
