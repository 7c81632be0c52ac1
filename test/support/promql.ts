import assert from 'node:assert/strict';

export interface ApiData {
  resultType: string;
  result: unknown;
}

/** GET /api/v1/<path> of a Prometheus; asserts success and returns `data`. */
export async function promApi(base: string, path: string, params: Record<string, string>): Promise<ApiData> {
  const res = await fetch(`${base}/api/v1/${path}?${new URLSearchParams(params)}`);
  const body = (await res.json()) as { status: string; data: ApiData; error?: string };
  assert.equal(body.status, 'success', `${base} ${path} ${JSON.stringify(params)}: ${body.error}`);
  return body.data;
}

/** The answer with series in a canonical order (Prometheus does not promise one for every function). */
export function canonical(data: ApiData): ApiData {
  if (!Array.isArray(data.result)) return data;
  const key = (r: { metric: Record<string, string> }) =>
    JSON.stringify(Object.entries(r.metric).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    resultType: data.resultType,
    result: [...(data.result as { metric: Record<string, string> }[])].sort((a, b) =>
      key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0,
    ),
  };
}
