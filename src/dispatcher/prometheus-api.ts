import type { VectorSample } from './snapshot.ts';

/** Prometheus could not be asked (network, timeout, 5xx) or answered something unexpected. */
export class PrometheusUnavailable extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'PrometheusUnavailable';
  }
}

/** A minimal client of the Prometheus HTTP API: instant queries returning vectors. */
export interface PrometheusApi {
  query(promql: string, signal?: AbortSignal): Promise<VectorSample[]>;
}

export function createPrometheusApi(baseUrl: string, fetchImpl: typeof fetch = fetch): PrometheusApi {
  const url = `${baseUrl.replace(/\/$/, '')}/api/v1/query`;
  return {
    async query(promql, signal) {
      let res: Response;
      try {
        res = await fetchImpl(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ query: promql }).toString(),
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        throw new PrometheusUnavailable(
          `Prometheus at ${baseUrl} unreachable: ${(err as Error).message}`,
          err,
        );
      }
      const text = await res.text().catch((err: unknown) => {
        throw new PrometheusUnavailable(`reading Prometheus' answer failed: ${(err as Error).message}`, err);
      });
      let body: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } };
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new PrometheusUnavailable(
          `Prometheus answered ${res.status} with a body that is not JSON`,
          err,
        );
      }
      if (!res.ok || body.status !== 'success')
        throw new PrometheusUnavailable(
          `Prometheus answered ${res.status} to ${promql}: ${body.error ?? text.slice(0, 200)}`,
        );
      if (body.data?.resultType !== 'vector' || !Array.isArray(body.data.result))
        throw new PrometheusUnavailable(`expected a vector for ${promql}, got ${body.data?.resultType}`);
      return body.data.result as VectorSample[];
    },
  };
}
