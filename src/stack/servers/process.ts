import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A server process this project started; stop() ends it (and only it) by PID. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly child: ChildProcess;
  exited(): boolean;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

/** Asks the kernel for a free port on 127.0.0.1 (bind to 0, read, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Folder for `<name>.log` (stdout and stderr). */
  logDir: string;
  /** Resolves true once the server answers; polled until `readyTimeoutMs`. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
}

/** Starts a server and waits until it is ready; on failure the process is stopped and the log tail is in the error. */
export async function startProcess(opts: StartOptions): Promise<ManagedProcess> {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = join(opts.logDir, `${opts.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : 0);
      resolve();
    });
    child.once('error', () => {
      exitCode = -1;
      resolve();
    });
  });
  const proc: ManagedProcess = {
    name: opts.name,
    pid: child.pid ?? -1,
    logFile,
    child,
    exited: () => exitCode !== undefined,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (exitCode !== undefined) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(t);
      log.end();
    },
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (exitCode !== undefined) break;
    if (await opts.ready().catch(() => false)) return proc;
    await sleep(100);
  }
  await proc.stop('SIGKILL');
  const { readFileSync } = await import('node:fs');
  const tail = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
  throw new Error(
    `${opts.name} (${opts.command}) ${exitCode !== undefined ? `exited with ${exitCode}` : 'did not become ready'}; log ${logFile}:\n${tail}`,
  );
}

/** True when GET url answers 2xx. */
export async function httpOk(url: string, init?: RequestInit): Promise<boolean> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
