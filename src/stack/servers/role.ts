import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpOk, type ManagedProcess, startProcess } from './process.ts';

/** The `rtcmon` executable of this checkout. */
export const RTCMON_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'rtcmon');

/** Starts `rtcmon <role> args…` as a child process and waits for its /-/ready (or /-/healthy). */
export async function startRole(opts: {
  role: string;
  args: readonly string[];
  /** Base URL the role listens on, e.g. http://127.0.0.1:9201. */
  url: string;
  logDir: string;
  name?: string;
  env?: NodeJS.ProcessEnv;
  readyPath?: string;
  readyTimeoutMs?: number;
}): Promise<ManagedProcess> {
  return startProcess({
    name: opts.name ?? opts.role,
    command: RTCMON_BIN,
    args: [opts.role, ...opts.args],
    env: { ...process.env, ...opts.env },
    logDir: opts.logDir,
    ready: () => httpOk(`${opts.url}${opts.readyPath ?? '/-/ready'}`),
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
  });
}
