import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Payloads } from './fleet.ts';

export interface SendResult {
  /** Samples in requests answered 2xx. */
  acked: number;
  seconds: number;
  /** 5xx answers that were retried. */
  retried: number;
}

/**
 * Sends every body to `url` the way Prometheus' remote-write queue does: one sender per shard, each sending
 * its own shard's requests in order, one at a time; a 5xx is resent after a backoff, a 4xx is an error.
 */
export async function sendAll(
  url: string,
  p: Payloads,
  senders: number,
  /** For an https:// URL: the CA to trust, and an Authorization header (basic auth), as Prometheus sends them. */
  secure?: { ca: Buffer; authorization: string },
): Promise<SendResult> {
  const u = new URL(url);
  const tls = u.protocol === 'https:';
  const agent = tls
    ? new HttpsAgent({ keepAlive: true, maxSockets: senders, ...(secure ? { ca: secure.ca } : {}) })
    : new Agent({ keepAlive: true, maxSockets: senders });
  const post = (body: Buffer): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = (tls ? httpsRequest : request)(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent,
          headers: {
            'content-encoding': 'snappy',
            'content-type': 'application/x-protobuf',
            'x-prometheus-remote-write-version': '0.1.0',
            'content-length': body.length,
            ...(secure ? { authorization: secure.authorization } : {}),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const queues: number[][] = Array.from({ length: senders }, () => []);
  for (const [i, sh] of p.shard.entries()) queues[sh]!.push(i);
  let acked = 0;
  let retried = 0;
  const t0 = performance.now();
  try {
    await Promise.all(
      queues.map(async (q) => {
        for (const i of q) {
          for (let attempt = 0; ; attempt++) {
            const status = await post(p.bodies[i]!);
            if (status >= 200 && status < 300) break;
            if (status < 500 || attempt > 50) throw new Error(`${url}: status ${status}`);
            retried++;
            // Prometheus' backoff: 30 ms doubling, capped (min_backoff 30ms, max_backoff 5s).
            await sleep(Math.min(5_000, 30 * 2 ** attempt));
          }
          acked += p.samples[i]!;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return { acked, seconds: (performance.now() - t0) / 1000, retried };
}
