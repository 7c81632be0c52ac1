import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, httpOk, type ManagedProcess, startProcess } from './process.ts';

export interface VictoriaMetrics {
  readonly url: string;
  /** Remote-write endpoint. */
  readonly writeUrl: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** Starts single-node VictoriaMetrics (Debian's victoria-metrics) on 127.0.0.1, the peer for benchmarks. */
export async function startVictoriaMetrics(opts: {
  dir: string;
  logDir?: string;
  port?: number;
  /** More flags, e.g. `-search.disableCache` for benchmarks. */
  extraArgs?: readonly string[];
}): Promise<VictoriaMetrics> {
  const port = opts.port ?? (await freePort());
  mkdirSync(opts.dir, { recursive: true });
  const url = `http://127.0.0.1:${port}`;
  const proc = await startProcess({
    name: 'victoria-metrics',
    command: '/usr/bin/victoria-metrics',
    args: [
      `-storageDataPath=${join(opts.dir, 'data')}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      '-search.latencyOffset=0s',
      '-retentionPeriod=100y',
      '-loggerLevel=ERROR',
      ...(opts.extraArgs ?? []),
    ],
    logDir: opts.logDir ?? opts.dir,
    ready: () => httpOk(`${url}/health`),
  });
  return { url, writeUrl: `${url}/api/v1/write`, process: proc, stop: () => proc.stop() };
}
