import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type QueryName, queries, type VectorSample } from '../../src/dispatcher/snapshot.ts';

/**
 * A stand-in for the Prometheus HTTP API that answers the dispatcher's instant queries for an N-server
 * fleet (a real Prometheus scraping 10,000 targets does not fit on this machine). Answers are built once,
 * with the same shapes and label sets a real Prometheus returns; sample times move with the clock.
 */
export async function startFakePrometheus(
  n: number,
  rateWindow = '1m',
): Promise<{ url: string; results: () => Record<QueryName, VectorSample[]>; close(): Promise<void> }> {
  const q = queries(rateWindow);
  const byQuery = new Map<string, QueryName>(Object.entries(q).map(([k, v]) => [v, k as QueryName]));
  const ids = Array.from({ length: n }, (_, i) => `rtc-${String(i).padStart(5, '0')}`);
  const host = (i: number) => `node-${i}`;
  const inst = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9464`;
  const build = (name: QueryName, t: number): VectorSample[] => {
    const v = (metric: Record<string, string>, x: number | string): VectorSample => ({
      metric,
      value: [t, String(x)],
    });
    const per = (
      f: (i: number) => number | string,
      extra: (i: number) => Record<string, string> = () => ({}),
    ) => ids.map((id, i) => v({ server: id, ...extra(i) }, f(i)));
    const node = (f: (i: number) => number) =>
      ids.map((_, i) => v({ instance: `${host(i)}:9100`, host: host(i) }, f(i)));
    switch (name) {
      case 'info':
        return per(
          () => 1,
          (i) => ({
            instance: inst(i),
            eip: `198.18.${(i >> 8) & 255}.${i & 255}`,
            port: '443',
            region: `r${i % 4}`,
            zone: `z${i % 12}`,
            host: host(i),
            version: '1.0.0',
          }),
        );
      case 'up':
        return ids.map((_, i) => v({ instance: inst(i) }, 1));
      case 'rtcUp':
        return per(() => 1);
      case 'sampleTime':
        return per(() => t - 0.5);
      case 'statsUpdated':
        return per(() => t - 1);
      case 'joinAttempts':
        return per((i) => (i * 13) % 1000);
      case 'state':
        return per(
          () => 1,
          () => ({ state: 'serving' }),
        );
      case 'capacity':
        return per(() => 10_000);
      case 'participants':
        return per((i) => (i * 7919) % 5000);
      case 'rooms':
        return per((i) => (i * 31) % 500);
      case 'rtpEgress':
        return ids.map((id, i) => v({ server: id }, 1e6 * (i % 100)));
      case 'loss':
        return ids.map((id, i) => v({ server: id }, (i % 10) / 1000));
      case 'joinFailures':
        return ids.map((id, i) => v({ server: id }, i % 3 ? 0 : 'NaN'));
      case 'cpu':
        return node((i) => (i % 80) / 100);
      case 'memory':
        return node((i) => 0.3 + (i % 50) / 100);
      case 'nodeTx':
        return node((i) => 1e7 * (i % 50));
      case 'nicSpeed':
        return node(() => 1.25e9);
    }
  };
  // Answers are rebuilt at most every 30 s (sample times included) so that the stand-in costs little CPU next to the dispatcher.
  const cache = new Map<QueryName, { at: number; body: string }>();
  const answer = (name: QueryName): string => {
    const now = Date.now();
    const c = cache.get(name);
    if (c && now - c.at < 30_000) return c.body;
    const body = JSON.stringify({
      status: 'success',
      data: { resultType: 'vector', result: build(name, now / 1000) },
    });
    cache.set(name, { at: now, body });
    return body;
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const name = byQuery.get(form.get('query') ?? '');
      if (!name) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'unknown query' }));
        return;
      }
      const body = answer(name);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    results: () => {
      const t = Date.now() / 1000;
      return Object.fromEntries((Object.keys(q) as QueryName[]).map((k) => [k, build(k, t)])) as Record<
        QueryName,
        VectorSample[]
      >;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
