import { freePort, httpOk, type ManagedProcess, startProcess } from './process.ts';

export interface NodeExporter {
  readonly url: string;
  readonly address: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** Starts the real node_exporter on 127.0.0.1 (Debian's prometheus-node-exporter). */
export async function startNodeExporter(opts: {
  logDir: string;
  port?: number;
  name?: string;
}): Promise<NodeExporter> {
  const port = opts.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const proc = await startProcess({
    name: opts.name ?? 'node-exporter',
    command: '/usr/bin/prometheus-node-exporter',
    args: [`--web.listen-address=${address}`, '--log.level=warn'],
    logDir: opts.logDir,
    ready: () => httpOk(`http://${address}/metrics`),
  });
  return { url: `http://${address}`, address, process: proc, stop: () => proc.stop() };
}
