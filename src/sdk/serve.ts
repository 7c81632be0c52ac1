import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTENT_TYPES, negotiateFormat, renderExposition } from './exposition.ts';
import type { ServerSnapshot } from './snapshot.ts';

export interface MetricsServer {
  readonly server: Server;
  readonly port: number;
  /** Base URL; metrics at url + '/metrics'. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics (text or OpenMetrics by Accept header) for in-process recorders, for RTC servers
 * that want to be scraped directly instead of through the rtcmon exporter.
 */
export async function serveMetrics(
  source: { snapshot(): ServerSnapshot } | (() => readonly ServerSnapshot[]),
  opts: { port?: number; host?: string } = {},
): Promise<MetricsServer> {
  const collect = typeof source === 'function' ? source : () => [source.snapshot()];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const format = negotiateFormat(req.headers.accept);
    res.writeHead(200, { 'content-type': CONTENT_TYPES[format] }).end(renderExposition(collect(), format));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
