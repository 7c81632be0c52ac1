/**
 * Errors that cross an HTTP boundary carry a stable `code` and the `status` to answer with.
 * Each role keeps its own catalogue (`src/<role>/errors.ts`) built on this class.
 */
export class HttpError extends Error {
  readonly code: string;
  readonly status: number;
  /** Seconds, for 503/429 answers. */
  readonly retryAfter: number | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    opts: { cause?: unknown; retryAfter?: number } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.retryAfter = opts.retryAfter;
  }
}

export const badRequest = (code: string, message: string, cause?: unknown): HttpError =>
  new HttpError(400, code, message, cause === undefined ? {} : { cause });

/** Raised at start-up for a bad flag, env var or YAML key; the message names the key. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`config: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}
