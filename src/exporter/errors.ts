/** The exporter's error catalogue: every 4xx the push and Janus events endpoints answer, with a stable code. */
import { HttpError } from '../lib/errors.ts';

export const pushErrors = {
  unauthorized: () => new HttpError(401, 'unauthorized', 'missing or wrong bearer token'),
  invalidJson: (detail: string) => new HttpError(400, 'invalid_json', `body is not valid JSON: ${detail}`),
  invalidBody: (path: string, detail: string) => new HttpError(400, 'invalid_body', `${path}: ${detail}`),
  unknownMetric: (path: string, name: string) =>
    new HttpError(400, 'unknown_metric', `${path}: unknown metric ${JSON.stringify(name.slice(0, 100))}`),
  wrongType: (path: string, expected: string) =>
    new HttpError(400, 'wrong_type', `${path}: expected ${expected}`),
  negativeValue: (path: string) => new HttpError(400, 'negative_value', `${path}: must not be negative`),
  badLabels: (path: string, detail: string) => new HttpError(400, 'bad_labels', `${path}: ${detail}`),
  tooManySeries: (path: string, limit: number) =>
    new HttpError(400, 'too_many_series', `${path}: more than ${limit} series`),
  counterBackwards: (path: string, before: number, now: number) =>
    new HttpError(
      409,
      'counter_backwards',
      `${path}: counter went backwards (${before} → ${now}); send a new started_at after a restart`,
    ),
  tooManyServers: (limit: number) =>
    new HttpError(
      429,
      'too_many_servers',
      `the exporter already tracks ${limit} pushing servers (--push.max-servers)`,
      {
        retryAfter: 60,
      },
    ),
};

/** The Janus events endpoint (Janus' HTTP event handler posts here). */
export const janusEventErrors = {
  unauthorized: () =>
    new HttpError(401, 'unauthorized', 'janus events: missing or wrong basic-auth credentials'),
  badJson: () => new HttpError(400, 'bad_json', 'janus events: body is not JSON'),
  badEvents: () =>
    new HttpError(400, 'bad_events', 'janus events: expected an event object or an array of them'),
};

/** A failed Janus admin API call: transport error, non-2xx status, or a `janus: "error"` answer. */
export class JanusAdminError extends Error {
  override readonly name = 'JanusAdminError';
  constructor(
    message: string,
    /** Janus' error code (e.g. 403 unauthorized) or 0 for transport failures. */
    readonly code = 0,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
