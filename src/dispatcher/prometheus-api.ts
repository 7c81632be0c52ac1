import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { nextTurn, type VectorSample } from './snapshot.ts';

/** Prometheus could not be asked (network, timeout, 5xx) or answered something unexpected. */
export class PrometheusUnavailable extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'PrometheusUnavailable';
  }
}

/** How every successful instant-query answer of Prometheus begins (compact JSON, this key order). */
const VECTOR_HEAD = '{"status":"success","data":{"resultType":"vector","result":[';
/**
 * Between two samples of the result: `]` closing the previous sample's value, `}` closing the sample, then
 * the next sample's `{"metric":{`. It can only be structure: its `"` after `{` is not escaped, so it opens a
 * string (a closing quote cannot be followed by `m`), and the characters before it are outside strings.
 */
const SAMPLE_GAP = ']},{"metric":{';
/** Characters parsed per slice: about 1 ms of JSON.parse. */
const PIECE_CHARS = 128 * 1024;

/**
 * JSON.parse of an instant-query answer in slices of about PIECE_CHARS, yielding to waiting requests
 * between slices (a 10,000-server answer is ~1-3 MB: 10-25 ms in one JSON.parse). The same value as
 * JSON.parse(text); answers that do not start as Prometheus writes them are parsed in one go.
 */
export async function parseAnswer(text: string, pieceChars = PIECE_CHARS): Promise<unknown> {
  if (text.length <= pieceChars || !text.startsWith(VECTOR_HEAD)) return JSON.parse(text);
  const samples: unknown[] = [];
  let from = VECTOR_HEAD.length;
  for (;;) {
    const gap = text.indexOf(SAMPLE_GAP, from + pieceChars);
    if (gap < 0) break;
    // `[` + samples up to and including the last one's closing `]}` + `]`.
    for (const x of JSON.parse(`[${text.slice(from, gap + 2)}]`) as unknown[]) samples.push(x);
    from = gap + 3;
    await nextTurn();
  }
  if (from === VECTOR_HEAD.length) return JSON.parse(text);
  // The rest of the answer, envelope included, as if the samples parsed so far had not been there.
  const body = JSON.parse(VECTOR_HEAD + text.slice(from)) as { data: { result: unknown[] } };
  body.data.result = samples.concat(body.data.result);
  return body;
}

/** A minimal client of the Prometheus HTTP API: instant queries returning vectors. */
export interface PrometheusApi {
  query(promql: string, signal?: AbortSignal): Promise<VectorSample[]>;
}

/**
 * Instant queries over node:http with keep-alive (a 10,000-server refresh moves ~12 MB of JSON; plain
 * node:http reads it about a third faster than fetch).
 */
export function createPrometheusApi(baseUrl: string): PrometheusApi {
  const url = new URL(`${baseUrl.replace(/\/$/, '')}/api/v1/query`);
  const https = url.protocol === 'https:';
  const agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const send = https ? httpsRequest : httpRequest;
  const auth = url.username
    ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
    : undefined;

  const post = (body: string, signal?: AbortSignal) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = send(
        url,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
            accept: 'application/json',
            ...(auth ? { authorization: auth } : {}),
          },
          ...(signal ? { signal } : {}),
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  // One answer is parsed at a time: answers arriving together would otherwise each run a slice in the
  // same turn of the event loop (setImmediate callbacks queued together run together).
  let parsing: Promise<unknown> = Promise.resolve();

  return {
    async query(promql, signal) {
      let res: { status: number; text: string };
      try {
        res = await post(new URLSearchParams({ query: promql }).toString(), signal);
      } catch (err) {
        throw new PrometheusUnavailable(
          `Prometheus at ${baseUrl} unreachable: ${(err as Error).message}`,
          err,
        );
      }
      let body: { status?: string; error?: string; data?: { resultType?: string; result?: unknown } };
      try {
        const parsed = parsing.then(() => parseAnswer(res.text));
        parsing = parsed.catch(() => {});
        body = (await parsed) as typeof body;
      } catch (err) {
        throw new PrometheusUnavailable(
          `Prometheus answered ${res.status} with a body that is not JSON`,
          err,
        );
      }
      if (res.status < 200 || res.status >= 300 || body.status !== 'success')
        throw new PrometheusUnavailable(
          `Prometheus answered ${res.status} to ${promql}: ${body.error ?? res.text.slice(0, 200)}`,
        );
      if (body.data?.resultType !== 'vector' || !Array.isArray(body.data.result))
        throw new PrometheusUnavailable(`expected a vector for ${promql}, got ${body.data?.resultType}`);
      return body.data.result as VectorSample[];
    },
  };
}
