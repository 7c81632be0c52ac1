/** The console's own API, as the pages call it: JSON in and out, errors with the upstream's message. */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} type
   * @param {string} message
   * @param {unknown} [body]
   */
  constructor(status, type, message, body) {
    super(message);
    this.status = status;
    this.type = type;
    this.body = body;
  }
  /** Prometheus or the dispatcher did not answer at all. */
  get unreachable() {
    return this.status === 502 || this.status === 0 || this.type.endsWith('_unreachable');
  }
}

/** Listeners told about every failed call (the page banner shows unreachable upstreams). */
const listeners = new Set();
/** @param {(e: ApiError, url: string) => void} f */
export function onApiError(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

/**
 * @param {string} url
 * @param {RequestInit & {accept?: number[]}} [init] `accept`: non-2xx statuses whose JSON body is an answer
 */
export async function call(url, init = {}) {
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    const e = new ApiError(0, 'console_unreachable', `the console did not answer: ${err}`);
    for (const f of listeners) f(e, url);
    throw e;
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    // a non-JSON body: reported below by status
  }
  if (res.ok || init.accept?.includes(res.status)) return body;
  const b = /** @type {any} */ (body) ?? {};
  const e = new ApiError(
    res.status,
    b.errorType ?? `http_${res.status}`,
    b.error ?? b.message ?? `HTTP ${res.status}`,
    body,
  );
  for (const f of listeners) f(e, url);
  throw e;
}

/** @type {{kind: string, params: Record<string, string>, resolve: (v: any) => void, reject: (e: unknown) => void}[]} */
let queued = [];

/** Sends every query asked for in this task as one streamed batch; each promise settles as its line arrives. */
async function flush() {
  const batch = queued;
  queued = [];
  let res;
  try {
    res = await fetch('/api/prom/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ queries: batch.map(({ kind, params }) => ({ kind, params })) }),
    });
  } catch (err) {
    const e = new ApiError(0, 'console_unreachable', `the console did not answer: ${err}`);
    for (const f of listeners) f(e, '/api/prom/batch');
    for (const q of batch) q.reject(e);
    return;
  }
  if (!res.ok || !res.body) {
    const b = await res.json().catch(() => ({}));
    const e = new ApiError(
      res.status,
      b.errorType ?? `http_${res.status}`,
      b.error ?? `HTTP ${res.status}`,
      b,
    );
    for (const q of batch) q.reject(e);
    return;
  }
  const settled = new Set();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buf += value;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
      if (!line) continue;
      const { i, status, body } = JSON.parse(line);
      const q = batch[i];
      if (!q) continue;
      settled.add(i);
      if (status >= 200 && status < 300 && body?.status === 'success') q.resolve(body);
      else {
        const e = new ApiError(
          status,
          body?.errorType ?? `http_${status}`,
          body?.error ?? `HTTP ${status}`,
          body,
        );
        for (const f of listeners) f(e, '/api/prom/batch');
        q.reject(e);
      }
    }
    if (done) break;
  }
  for (const [i, q] of batch.entries())
    if (!settled.has(i)) q.reject(new ApiError(502, 'console_unreachable', 'the batch answer ended early'));
}

/**
 * @param {'query' | 'query_range'} kind
 * @param {Record<string, string>} params
 */
function batched(kind, params) {
  return new Promise((resolve, reject) => {
    if (queued.length === 0) setTimeout(() => void flush(), 0);
    queued.push({ kind, params, resolve, reject });
  });
}

/** Prometheus' HTTP API through the console. */
export const prom = {
  /**
   * @param {string} query
   * @param {number} start seconds
   * @param {number} end seconds
   * @param {number} step seconds
   */
  range: (query, start, end, step) =>
    batched('query_range', { query, start: String(start), end: String(end), step: String(step) }),
  /**
   * @param {string} query
   * @param {number} time seconds
   */
  instant: (query, time) => batched('query', { query, time: String(time) }),
  /**
   * @param {string} label
   * @param {string | undefined} match
   * @param {number} start
   * @param {number} end
   */
  labelValues: async (label, match, start, end) => {
    const q = { start: String(start), end: String(end) };
    if (!match) return (await call(`/api/prom/label/${label}/values?${new URLSearchParams(q)}`)).data;
    const r = await call(`/api/prom/series?${new URLSearchParams({ ...q, 'match[]': match })}`);
    return /** @type {Record<string,string>[]} */ (r.data)
      .map((m) => m[label])
      .filter((v) => v !== undefined);
  },
};
