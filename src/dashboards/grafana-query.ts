/**
 * How Grafana's Prometheus data source turns a dashboard target into an HTTP query: template variables,
 * `$__interval`, `$__rate_interval`, `$__range`, step and the aligned time range. Used by the test that
 * runs every shipped panel against a real Prometheus.
 */

/** A variable's chosen values; `all` means "All" was picked (then `allValue` stands for it). */
export interface VariableValue {
  readonly values: readonly string[];
  readonly all: boolean;
  readonly allValue?: string;
  /** Multi-select or with All: values are regex-escaped, as Grafana does for these. */
  readonly regex: boolean;
}

export interface TimeRange {
  /** Unix milliseconds. */
  readonly fromMs: number;
  readonly toMs: number;
}

/** Grafana's interval rounding (kbn.roundInterval), in milliseconds. */
export function roundInterval(ms: number): number {
  const table: [number, number][] = [
    [15, 10],
    [35, 20],
    [75, 50],
    [150, 100],
    [350, 200],
    [750, 500],
    [1500, 1000],
    [3500, 2000],
    [7500, 5000],
    [12500, 10000],
    [17500, 15000],
    [25000, 20000],
    [45000, 30000],
    [90000, 60000],
    [210000, 120000],
    [450000, 300000],
    [1050000, 600000],
    [2100000, 1200000],
    [5400000, 3600000],
    [9000000, 7200000],
    [16200000, 10800000],
    [32400000, 21600000],
    [86400000, 43200000],
    [604800000, 86400000],
    [1814400000, 604800000],
    [3628800000, 2592000000],
  ];
  for (const [below, to] of table) if (ms < below) return to;
  return 31536000000;
}

/**
 * `$__interval` (ms): the range divided by the panel's data points (its width in pixels, about 1,000 on a
 * wide screen), rounded, never below the data source's scrape interval (`timeInterval`).
 */
export function intervalMs(range: TimeRange, scrapeIntervalMs: number, maxDataPoints = 1000): number {
  return Math.max(roundInterval((range.toMs - range.fromMs) / maxDataPoints), scrapeIntervalMs);
}

/** `$__rate_interval` (ms): max($__interval + scrape interval, 4 × scrape interval). */
export function rateIntervalMs(interval: number, scrapeIntervalMs: number): number {
  return Math.max(interval + scrapeIntervalMs, 4 * scrapeIntervalMs);
}

/** Grafana's duration text for the built-in interval variables: whole seconds or ms. */
function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Regex metacharacters escaped as Grafana's Prometheus data source does for multi-value variables
 * (prometheusSpecialRegexEscape): with two backslashes, because the value lands in a PromQL string.
 */
export function regexEscape(v: string): string {
  return v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');
}

function formatVariable(v: VariableValue): string {
  if (v.all && v.allValue !== undefined) return v.allValue;
  if (!v.regex) return v.values[0]?.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'") ?? '';
  const escaped = v.values.map(regexEscape);
  return escaped.length === 1 ? (escaped[0] ?? '') : `(${escaped.join('|')})`;
}

/** Replaces `$name`, `${name}` and `[[name]]` for the given variables and Grafana's built-ins. */
export function interpolate(
  expr: string,
  vars: Readonly<Record<string, VariableValue>>,
  builtins: Readonly<Record<string, string>> = {},
): string {
  const lookup = (name: string): string | undefined => {
    if (name in builtins) return builtins[name];
    const v = vars[name];
    return v ? formatVariable(v) : undefined;
  };
  return expr.replace(
    /\$(\w+)|\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]/g,
    (whole, a: string | undefined, b: string | undefined, c: string | undefined) =>
      lookup((a ?? b ?? c)!) ?? whole,
  );
}

export interface PreparedQuery {
  readonly expr: string;
  /** Seconds; for range queries. */
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

/**
 * A range query as Grafana sends it: built-ins substituted, step = `$__interval`, start and end aligned
 * down to a multiple of the step.
 */
export function prepareRangeQuery(
  expr: string,
  vars: Readonly<Record<string, VariableValue>>,
  range: TimeRange,
  scrapeIntervalMs: number,
): PreparedQuery {
  const interval = intervalMs(range, scrapeIntervalMs);
  const rangeMs = range.toMs - range.fromMs;
  const builtins = {
    __interval: durationText(interval),
    __interval_ms: String(interval),
    __rate_interval: durationText(rateIntervalMs(interval, scrapeIntervalMs)),
    __range: durationText(Math.round(rangeMs / 1000) * 1000),
    __range_s: String(Math.round(rangeMs / 1000)),
    __range_ms: String(rangeMs),
  };
  const step = interval / 1000;
  return {
    expr: interpolate(expr, vars, builtins),
    start: Math.floor(range.fromMs / 1000 / step) * step,
    end: Math.floor(range.toMs / 1000 / step) * step,
    step,
  };
}

/** Parses `label_values(selector, label)` / `label_values(label)` (Grafana's variable query syntax). */
export function parseLabelValues(query: string): { selector?: string; label: string } | undefined {
  const m = /^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(query);
  if (!m) return undefined;
  return m[1] ? { selector: m[1], label: m[2]! } : { label: m[2]! };
}
