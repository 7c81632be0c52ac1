/**
 * Reading the Grafana dashboard model as Grafana does, with no DOM: panels and rows, time ranges, the query
 * step, variables and their interpolation into PromQL, units, thresholds, legends, and Prometheus answers
 * turned into chart data. Plain ES module: the browser loads it as is, the unit tests import it in Node.
 */

/** Series colours (Grafana's classic palette): saturated, so drawn series stand out from grey axes. */
export const PALETTE = [
  '#7eb26d',
  '#eab839',
  '#6ed0e0',
  '#ef843c',
  '#e24d42',
  '#1f78c1',
  '#ba43a9',
  '#705da0',
  '#508642',
  '#cca300',
  '#447ebc',
  '#c15c17',
];

/**
 * Every panel in display order, rows included (a row's own `panels` follow it when it is collapsed).
 * @param {{panels?: any[]}} dash
 * @returns {any[]}
 */
export function flattenPanels(dash) {
  const out = [];
  for (const p of dash.panels ?? []) {
    if (!p || typeof p !== 'object') continue;
    out.push(p);
    if (p.type === 'row' && Array.isArray(p.panels)) for (const q of p.panels) out.push({ ...q, _row: p.id });
  }
  return out;
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/**
 * `15s`, `1m`, `1h30m`, `500ms` → milliseconds; NaN when not a duration.
 * @param {string} s
 */
export function parseDurationMs(s) {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let any = false;
  re.lastIndex = 0;
  const text = String(s).trim();
  while (re.lastIndex < text.length) {
    const m = re.exec(text);
    if (!m) return Number.NaN;
    total += Number(m[1]) * UNIT_MS[/** @type {keyof typeof UNIT_MS} */ (m[2])];
    any = true;
  }
  return any ? total : Number.NaN;
}

/**
 * Milliseconds → a PromQL duration in the largest unit that divides it (`60000` → `1m`, `90000` → `90s`).
 * @param {number} ms
 */
export function formatDuration(ms) {
  const v = Math.max(1, Math.round(ms));
  for (const [u, f] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ])
    if (v % /** @type {number} */ (f) === 0) return `${v / /** @type {number} */ (f)}${u}`;
  return `${v}ms`;
}

/**
 * A Grafana time: `now`, `now-6h`, `now-7d/d` (rounding ignored), epoch milliseconds or an ISO date.
 * @param {string} s
 * @param {number} nowMs
 */
export function parseTime(s, nowMs) {
  const t = String(s).trim();
  if (t === 'now') return nowMs;
  const rel = /^now-([0-9a-z]+?)(\/[a-z])?$/.exec(t);
  if (rel) {
    const d = parseDurationMs(rel[1] ?? '');
    if (Number.isFinite(d)) return nowMs - d;
  }
  if (/^\d{10,}$/.test(t)) return Number(t);
  const iso = Date.parse(t);
  if (Number.isFinite(iso)) return iso;
  throw new Error(`not a time: ${JSON.stringify(s)}`);
}

/** Grafana's "nice" query intervals, ascending. */
const NICE = [
  1000, 2000, 5000, 10_000, 15_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_200_000,
  1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];

/**
 * The query interval Grafana would use: the range over the panel's width in pixels (max data points),
 * rounded up to a nice interval, never below the scrape interval (or the panel's own `interval`).
 * @param {number} fromMs
 * @param {number} toMs
 * @param {number} maxDataPoints
 * @param {number} minIntervalMs
 */
export function queryInterval(fromMs, toMs, maxDataPoints, minIntervalMs) {
  const raw = Math.max((toMs - fromMs) / Math.max(1, maxDataPoints), minIntervalMs);
  return NICE.find((n) => n >= raw) ?? Math.ceil(raw / 86_400_000) * 86_400_000;
}

/**
 * Grafana's global variables for one query.
 * @param {number} fromMs
 * @param {number} toMs
 * @param {number} intervalMs
 * @param {number} scrapeMs
 * @returns {Record<string, string>}
 */
export function builtins(fromMs, toMs, intervalMs, scrapeMs) {
  const rangeMs = Math.max(1000, toMs - fromMs);
  return {
    __interval: formatDuration(intervalMs),
    __interval_ms: String(intervalMs),
    // Grafana: max($__interval + scrape interval, 4 × scrape interval).
    __rate_interval: formatDuration(Math.max(intervalMs + scrapeMs, 4 * scrapeMs)),
    __range: `${Math.round(rangeMs / 1000)}s`,
    __range_s: String(Math.round(rangeMs / 1000)),
    __range_ms: String(rangeMs),
  };
}

/** @param {string} v */
const regexEscape = (v) => v.replace(/[\\^$*+?.()|{}[\]]/g, '\\\\$&');
/** @param {string} v */
const stringEscape = (v) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

/**
 * @typedef {object} VarState
 * @property {string[]} values chosen values (`$__all` for All)
 * @property {string[]} options every value the variable offers
 * @property {boolean} multi
 * @property {boolean} includeAll
 * @property {string | undefined} allValue
 */

/**
 * A variable's text inside a PromQL query, as Grafana's Prometheus datasource writes it: multi-value and
 * All become a regex alternation of escaped values (or the custom all value); a single value is escaped
 * for a double-quoted string.
 * @param {VarState} v
 * @param {string} [format] `regex`, `pipe`, `csv`, `raw`, `text`
 */
export function formatVariable(v, format) {
  const isAll = v.values.includes('$__all');
  if (isAll && v.allValue !== undefined && v.allValue !== null && v.allValue !== '') return v.allValue;
  const values = isAll ? v.options : v.values;
  switch (format) {
    case 'raw':
    case 'text':
      return values.join(',');
    case 'csv':
      return values.join(',');
    case 'pipe':
      return values.join('|');
    case 'regex':
      return values.length === 1 ? regexEscape(values[0] ?? '') : `(${values.map(regexEscape).join('|')})`;
    default:
      if (!v.multi && !v.includeAll) return stringEscape(values[0] ?? '');
      if (values.length === 1) return regexEscape(values[0] ?? '');
      return `(${values.map(regexEscape).join('|')})`;
  }
}

/**
 * Replaces `$name`, `${name}`, `${name:format}` and `[[name]]` by variable values and Grafana's globals;
 * unknown names are left as written (Prometheus then reports the error).
 * @param {string} text
 * @param {Record<string, VarState>} vars
 * @param {Record<string, string>} globals
 */
export function interpolate(text, vars, globals) {
  return String(text).replace(
    /\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)/g,
    (whole, a, fa, b, fb, c) => {
      const name = a ?? b ?? c;
      const format = fa ?? fb;
      const v = vars[name];
      if (v) return formatVariable(v, format);
      const g = globals[name];
      return g ?? whole;
    },
  );
}

/**
 * What a query variable asks Prometheus: `label_values(label)`, `label_values(selector, label)` or
 * `query_result(expr)`; undefined for anything else.
 * @param {unknown} query a string or Grafana's `{query, qryType}` object
 * @returns {{kind: 'labels', label: string, match?: string} | {kind: 'query', expr: string} | undefined}
 */
export function parseVariableQuery(query) {
  const q = String(
    typeof query === 'object' && query !== null ? /** @type {any} */ (query).query : (query ?? ''),
  ).trim();
  const lv = /^label_values\(\s*(?:(.*?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/s.exec(q);
  if (lv)
    return lv[1]
      ? { kind: 'labels', label: lv[2] ?? '', match: lv[1] }
      : { kind: 'labels', label: lv[2] ?? '' };
  const qr = /^query_result\((.*)\)$/s.exec(q);
  if (qr) return { kind: 'query', expr: qr[1] ?? '' };
  return undefined;
}

/**
 * Applies a variable's `regex` (Grafana: keep matches; the first capture group, when there is one, is the value).
 * @param {string[]} values
 * @param {string | undefined} regex like `/eu-.*\/` or `eu-.*`
 */
export function filterValues(values, regex) {
  if (!regex) return [...new Set(values)].sort();
  const m = /^\/(.*)\/([gimsuy]*)$/s.exec(regex);
  const re = m ? new RegExp(m[1] ?? '', (m[2] ?? '').replace('g', '')) : new RegExp(regex);
  const out = [];
  for (const v of values) {
    const r = re.exec(v);
    if (r) out.push(r[1] ?? r[0]);
  }
  return [...new Set(out)].sort();
}

/**
 * A series' legend: `legendFormat` with `{{label}}` filled in, or the label set as Prometheus prints it.
 * @param {Record<string, string>} metric
 * @param {string | undefined} legendFormat
 */
export function legendName(metric, legendFormat) {
  if (legendFormat && legendFormat !== '__auto')
    return legendFormat.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, l) => metric[l] ?? '');
  const { __name__: name, ...rest } = metric;
  const labels = Object.entries(rest)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return labels ? `${name ?? ''}{${labels}}` : (name ?? 'value');
}

const COLORS = {
  green: '#73bf69',
  red: '#f2495c',
  yellow: '#fade2a',
  orange: '#ff9830',
  blue: '#5794f2',
  purple: '#b877d9',
  text: '#d8d9da',
  transparent: 'transparent',
};

/**
 * A Grafana colour name (`green`, `dark-red`, `semi-dark-orange`) or any CSS colour → CSS.
 * @param {string | undefined} c
 */
export function cssColor(c) {
  if (!c) return COLORS.text;
  const base = c.replace(/^(super-light|light|semi-dark|dark)-/, '');
  return COLORS[/** @type {keyof typeof COLORS} */ (base)] ?? c;
}

/**
 * The threshold colour of a value: the last step whose value is at most v (the first step's is -∞).
 * @param {number} v
 * @param {{mode?: string, steps?: {value: number | null, color: string}[]} | undefined} thresholds
 * @param {{min?: number, max?: number}} [range] for percentage mode
 */
export function thresholdColor(v, thresholds, range = {}) {
  const steps = thresholds?.steps ?? [];
  let color = steps[0]?.color;
  let x = v;
  if (thresholds?.mode === 'percentage') {
    const min = range.min ?? 0;
    const max = range.max ?? 100;
    x = max > min ? ((v - min) / (max - min)) * 100 : 0;
  }
  for (const s of steps) if (s.value !== null && s.value !== undefined && x >= s.value) color = s.color;
  return cssColor(color);
}

/**
 * @param {number} v
 * @param {number} base
 * @param {string[]} units
 * @param {number | undefined} decimals
 */
function scaled(v, base, units, decimals) {
  let i = 0;
  let x = Math.abs(v);
  while (x >= base && i < units.length - 1) {
    x /= base;
    i++;
  }
  return `${v < 0 ? '-' : ''}${fixed(x, decimals)}${units[i]}`;
}

/**
 * @param {number} x
 * @param {number | undefined} decimals
 */
function fixed(x, decimals) {
  if (decimals !== undefined && decimals !== null) return x.toFixed(decimals);
  if (x === 0) return '0';
  const ax = Math.abs(x);
  if (ax >= 100) return x.toFixed(0);
  if (ax >= 10) return String(Number(x.toFixed(1)));
  if (ax >= 0.01) return String(Number(x.toFixed(2)));
  return x.toPrecision(2);
}

/**
 * @param {number} seconds
 * @param {number | undefined} decimals
 */
function duration(seconds, decimals) {
  const a = Math.abs(seconds);
  if (a === 0) return '0 s';
  if (a < 1e-6) return `${fixed(seconds * 1e9, decimals)} ns`;
  if (a < 1e-3) return `${fixed(seconds * 1e6, decimals)} µs`;
  if (a < 1) return `${fixed(seconds * 1e3, decimals)} ms`;
  if (a < 60) return `${fixed(seconds, decimals)} s`;
  if (a < 3600) return `${fixed(seconds / 60, decimals)} min`;
  if (a < 86400) return `${fixed(seconds / 3600, decimals)} hour`;
  return `${fixed(seconds / 86400, decimals)} day`;
}

const SI = ['', ' K', ' Mil', ' Bil', ' Tri'];
const DEC_BYTES = [' B', ' kB', ' MB', ' GB', ' TB', ' PB'];
const BIN_BYTES = [' B', ' KiB', ' MiB', ' GiB', ' TiB', ' PiB'];

/**
 * A value in a Grafana unit (`percentunit`, `s`, `bytes`, `Bps`, `bps`, `reqps`, `short`, `none`, …).
 * @param {number | null | undefined} v
 * @param {string | undefined} unit
 * @param {number} [decimals]
 */
export function formatValue(v, unit, decimals) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'No data';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const d = decimals;
  switch (unit ?? '') {
    case 'percent':
      return `${fixed(v, d)}%`;
    case 'percentunit':
      return `${fixed(v * 100, d)}%`;
    case 's':
      return duration(v, d);
    case 'ms':
      return duration(v / 1000, d);
    case 'µs':
    case 'us':
      return duration(v / 1e6, d);
    case 'ns':
      return duration(v / 1e9, d);
    case 'bytes':
      return scaled(v, 1024, BIN_BYTES, d);
    case 'decbytes':
      return scaled(v, 1000, DEC_BYTES, d);
    case 'bits':
      return scaled(v, 1024, [' b', ' Kib', ' Mib', ' Gib', ' Tib'], d);
    case 'Bps':
    case 'binBps':
      return `${scaled(v, 1024, BIN_BYTES, d)}/s`;
    case 'decBps':
      return `${scaled(v, 1000, DEC_BYTES, d)}/s`;
    case 'bps':
    case 'binbps':
      return scaled(v, 1000, [' bps', ' kbps', ' Mbps', ' Gbps', ' Tbps'], d);
    case 'reqps':
      return `${scaled(v, 1000, SI, d)} req/s`;
    case 'ops':
      return `${scaled(v, 1000, SI, d)} ops/s`;
    case 'pps':
      return `${scaled(v, 1000, SI, d)} p/s`;
    case 'wps':
      return `${scaled(v, 1000, SI, d)} wps`;
    case 'rps':
      return `${scaled(v, 1000, SI, d)} rps`;
    case 'bool':
      return v ? 'True' : 'False';
    case 'dateTimeAsIso':
      return new Date(v).toISOString();
    case 'none':
      return fixed(v, d);
    case '':
    case 'short':
      return scaled(v, 1000, SI, d);
    default:
      if (unit?.startsWith('suffix:')) return `${fixed(v, d)}${unit.slice(7)}`;
      if (unit?.startsWith('prefix:')) return `${unit.slice(7)}${fixed(v, d)}`;
      return `${scaled(v, 1000, SI, d)} ${unit}`;
  }
}

/**
 * Grafana's reducers for stat/gauge panels.
 * @param {(number | null)[]} ys
 * @param {string} calc
 */
export function reduce(ys, calc) {
  const vals = /** @type {number[]} */ (ys.filter((y) => y !== null && Number.isFinite(y)));
  switch (calc) {
    case 'last':
      return ys.length ? (ys[ys.length - 1] ?? null) : null;
    case 'first':
      return ys.length ? (ys[0] ?? null) : null;
    case 'firstNotNull':
      return vals[0] ?? null;
    case 'mean':
      return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
    case 'sum':
      return vals.length ? vals.reduce((a, b) => a + b, 0) : null;
    case 'max':
      return vals.length ? Math.max(...vals) : null;
    case 'min':
      return vals.length ? Math.min(...vals) : null;
    case 'count':
      return vals.length;
    case 'delta':
    case 'range':
      return vals.length ? (vals[vals.length - 1] ?? 0) - (vals[0] ?? 0) : null;
    default:
      return vals.length ? (vals[vals.length - 1] ?? null) : null;
  }
}

/**
 * @typedef {object} Series
 * @property {string} name
 * @property {Record<string, string>} metric
 * @property {string} refId
 */

/**
 * Range answers (matrix) of several targets → uPlot's aligned data: one x array (seconds), one y array per
 * series with null where a series has no sample.
 * @param {{refId: string, legendFormat?: string, result: {metric: Record<string, string>, values: [number, string][]}[]}[]} answers
 * @returns {{series: Series[], data: (number | null)[][]}}
 */
export function alignMatrix(answers) {
  /** @type {Set<number>} */
  const times = new Set();
  for (const a of answers) for (const r of a.result) for (const [t] of r.values) times.add(t);
  const xs = [...times].sort((a, b) => a - b);
  const at = new Map(xs.map((t, i) => [t, i]));
  /** @type {Series[]} */
  const series = [];
  /** @type {(number | null)[][]} */
  const data = [xs];
  for (const a of answers)
    for (const r of a.result) {
      /** @type {(number | null)[]} */
      const ys = new Array(xs.length).fill(null);
      for (const [t, v] of r.values) {
        const n = Number(v);
        ys[/** @type {number} */ (at.get(t))] = Number.isFinite(n) ? n : null;
      }
      series.push({ name: legendName(r.metric, a.legendFormat), metric: r.metric, refId: a.refId });
      data.push(ys);
    }
  return { series, data };
}

/**
 * Histogram buckets over time (series with an `le` label, cumulative as Prometheus keeps them) → heatmap
 * cells: bucket bounds ascending and, per time, the count in each bucket (de-accumulated, never negative).
 * Series without `le` are rows of their own, in legend order.
 * @param {(number | null)[][]} data aligned data from alignMatrix
 * @param {Series[]} series
 * @returns {{rows: string[], counts: number[][], max: number}} counts[row][time]
 */
export function heatmapCells(data, series) {
  const xs = data[0] ?? [];
  const idx = series.map((s, i) => ({ s, i }));
  const bucketed = idx.every(({ s }) => s.metric.le !== undefined);
  const le = (/** @type {Series} */ s) => (s.metric.le === '+Inf' ? Infinity : Number(s.metric.le));
  if (bucketed) idx.sort((a, b) => le(a.s) - le(b.s));
  /** @type {number[][]} */
  const counts = [];
  let max = 0;
  for (let k = 0; k < idx.length; k++) {
    const ys = data[/** @type {number} */ (idx[k]?.i) + 1] ?? [];
    const below = k > 0 && bucketed ? (data[/** @type {number} */ (idx[k - 1]?.i) + 1] ?? []) : undefined;
    const row = new Array(xs.length);
    for (let t = 0; t < xs.length; t++) {
      const c = (ys[t] ?? 0) - (below ? (below[t] ?? 0) : 0);
      row[t] = Math.max(c, 0);
      if (row[t] > max) max = row[t];
    }
    counts.push(row);
  }
  return {
    rows: idx.map(({ s }) => (bucketed ? `≤ ${s.metric.le}` : s.name)),
    counts,
    max,
  };
}
