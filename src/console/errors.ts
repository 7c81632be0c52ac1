import { HttpError } from '../lib/errors.ts';

/** The console's error catalogue: a stable code and HTTP status each. */
export const invalidRequest = (message: string): HttpError => new HttpError(400, 'invalid_request', message);
export const notFound = (what: string): HttpError => new HttpError(404, 'not_found', what);
/** Prometheus or the dispatcher did not answer at all (refused, timed out): the UI says so plainly. */
export const upstreamUnreachable = (name: string, url: string, cause: unknown): HttpError =>
  new HttpError(
    502,
    `${name}_unreachable`,
    `${name === 'prometheus' ? 'Prometheus' : 'the dispatcher'} at ${url} is unreachable: ${describe(cause)}`,
    { cause, retryAfter: 5 },
  );

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'no answer within the timeout';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}
