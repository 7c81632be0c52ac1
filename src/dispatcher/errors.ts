import { HttpError } from '../lib/errors.ts';

/** The dispatcher's error catalogue: a stable code and HTTP status each. */
export const invalidRequest = (message: string): HttpError => new HttpError(400, 'invalid_request', message);
export const unauthorized = (message: string): HttpError => new HttpError(401, 'unauthorized', message);
export const forbidden = (message: string): HttpError => new HttpError(403, 'forbidden', message);
export const unknownServer = (id: string): HttpError =>
  new HttpError(404, 'unknown_server', `no server ${JSON.stringify(id)} in the fleet snapshot`);
/** No server can take the client: the body explains why; clients may retry later. */
export const NO_SERVER_STATUS = 503;
