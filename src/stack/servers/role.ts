import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpOk, type ManagedProcess, startProcess } from './process.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * The `rtcmon` executable that runs the same code as the caller. Run as TypeScript (tests, benchmarks and
 * anything else started through tsx in a checkout), it is scripts/rtcmon-src.mjs, which runs the sources
 * through tsx: a test started with `npm test -- one.test.ts` right after an edit runs that edit, never an
 * old dist/. Compiled (dist/stack/servers/role.js, e.g. `rtcmon stack` from the package), it is bin/rtcmon.
 */
export const RTCMON_BIN =
  extname(fileURLToPath(import.meta.url)) === '.ts'
    ? join(root, 'scripts', 'rtcmon-src.mjs')
    : join(root, 'bin', 'rtcmon');
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
  /** Replaces the plain GET of readyPath (e.g. over TLS with a client certificate). */
  ready?: () => Promise<boolean>;
}): Promise<ManagedProcess> {
  return startProcess({
    name: opts.name ?? opts.role,
    command: RTCMON_BIN,
    args: [opts.role, ...opts.args],
    env: { ...process.env, ...opts.env },
    logDir: opts.logDir,
    ready: opts.ready ?? (() => httpOk(`${opts.url}${opts.readyPath ?? '/-/ready'}`)),
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
  });
}
