/**
 * Feeds a remote rtcmon exporter from an SDK recorder in another process: every interval it POSTs the
 * recorder's snapshot to the exporter's JSON push endpoint (`/api/v1/push`). Counters stay cumulative;
 * `started_at` (this process' start) lets the exporter accept counters that start again after a restart.
 */
import { FAMILIES, type Family, type FamilyName } from './catalogue.ts';
import type { ServerSnapshot } from './snapshot.ts';

/** The push body (docs/exporter.md) for one snapshot. */
export function snapshotToPushBody(s: ServerSnapshot, startedAt?: number): Record<string, unknown> {
  const metrics: Record<string, unknown> = {};
  for (const [name, samples] of Object.entries(s.scalars ?? {})) {
    if (!samples || samples.length === 0) continue;
    const f = FAMILIES[name as FamilyName];
    metrics[name] =
      f.labelNames.length === 0
        ? samples[0]!.value
        : samples.map((x) => ({ labels: x.labels ?? {}, value: x.value }));
  }
  for (const [name, samples] of Object.entries(s.histograms ?? {})) {
    if (!samples || samples.length === 0) continue;
    const bounds = (FAMILIES[name as FamilyName] as Family).buckets ?? [];
    metrics[name] = samples.map((h) => {
      const buckets: Record<string, number> = {};
      let cum = 0;
      bounds.forEach((b, i) => {
        cum += h.counts[i] ?? 0;
        buckets[String(b)] = cum;
      });
      cum += h.counts[bounds.length] ?? 0;
      buckets['+Inf'] = cum;
      return { ...(h.labels ? { labels: h.labels } : {}), buckets, sum: h.sum, count: cum };
    });
  }
  return {
    server: s.server,
    ...(s.info ? { info: s.info } : {}),
    ...(s.state ? { state: s.state } : {}),
    ...(startedAt !== undefined ? { started_at: startedAt } : {}),
    metrics,
  };
}

export interface PushClientOptions {
  /** Exporter base URL, e.g. http://127.0.0.1:9464 (the path /api/v1/push is added). */
  url: string;
  token?: string;
  /** @default 5000 (well under the exporter's --push.stale-after) */
  intervalMs?: number;
  /** Called with each failed push (network error or non-2xx); pushing goes on. */
  onError?: (err: Error) => void;
}

export interface PushClient {
  /** Pushes now; rejects on failure. */
  pushNow(): Promise<void>;
  stop(): void;
}

const STARTED_AT = Math.floor(Date.now() / 1000 - process.uptime());

/** Pushes `recorder.snapshot()` to the exporter every interval (first push immediately). */
export function startPushing(recorder: { snapshot(): ServerSnapshot }, opts: PushClientOptions): PushClient {
  const endpoint = `${opts.url.replace(/\/$/, '')}/api/v1/push`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const pushNow = async (): Promise<void> => {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers,
      body: JSON.stringify(snapshotToPushBody(recorder.snapshot(), STARTED_AT)),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`push to ${endpoint}: ${res.status} ${text.slice(0, 300)}`);
  };
  const tick = () => {
    pushNow().catch((err: unknown) => opts.onError?.(err as Error));
  };
  tick();
  const timer = setInterval(tick, opts.intervalMs ?? 5000);
  timer.unref();
  return { pushNow, stop: () => clearInterval(timer) };
}
