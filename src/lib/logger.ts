import { pino } from 'pino';

/** The logging surface core code depends on; tests pass `silentLogger`. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

const noop = (): void => {};

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** JSON lines on stdout, one object per event (pino). */
export function createLogger(opts: { level: LogLevel; role: string }): Logger {
  return pino({ level: opts.level, base: { role: opts.role }, timestamp: pino.stdTimeFunctions.isoTime });
}
