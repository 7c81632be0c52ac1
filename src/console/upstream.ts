import type { Reply } from '../lib/http.ts';
import { upstreamUnreachable } from './errors.ts';

export interface UpstreamOptions {
  readonly name: 'prometheus' | 'dispatcher';
  readonly baseUrl: string;
  readonly timeoutMs: number;
  /** Called once per call with the status answered (502 when unreachable). */
  readonly observe?: (status: number) => void;
}

/** Most bytes of an upstream answer relayed (a runaway query must not exhaust the console's memory). */
const MAX_ANSWER_BYTES = 64 << 20;

/**
 * Calls one upstream API and relays its answer as is (status, JSON body); an upstream that does not answer
 * becomes a 502 naming it, so the browser can say "Prometheus is unreachable" instead of drawing nothing.
 */
export function createUpstream(o: UpstreamOptions) {
  return async (
    path: string,
    init: { method?: 'GET' | 'POST'; body?: string | Uint8Array; headers?: Record<string, string> } = {},
  ): Promise<Reply> => {
    let res: Response;
    try {
      res = await fetch(`${o.baseUrl}${path}`, {
        method: init.method ?? 'GET',
        headers: init.headers ?? {},
        ...(init.body !== undefined ? { body: init.body as BodyInit } : {}),
        signal: AbortSignal.timeout(o.timeoutMs),
      });
    } catch (err) {
      o.observe?.(502);
      throw upstreamUnreachable(o.name, o.baseUrl, err);
    }
    const declared = Number(res.headers.get('content-length') ?? 0);
    if (declared > MAX_ANSWER_BYTES) {
      await res.body?.cancel();
      o.observe?.(502);
      throw upstreamUnreachable(o.name, o.baseUrl, new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
    }
    let body: Buffer;
    try {
      body = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      o.observe?.(502);
      throw upstreamUnreachable(o.name, o.baseUrl, err);
    }
    o.observe?.(res.status);
    const headers: Record<string, string> = {
      'content-type': res.headers.get('content-type') ?? 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    };
    const retry = res.headers.get('retry-after');
    if (retry) headers['retry-after'] = retry;
    return { status: res.status, headers, body };
  };
}
