/**
 * Renders snapshots as the Prometheus text format (0.0.4) or OpenMetrics 1.0, family by family across
 * servers, without timestamps. Optionally appends prom-client metrics (a role's own self-metrics).
 */
import { FAMILIES, FAMILY_NAMES, type Family, SERVER_STATES, STATE_FAMILIES } from './catalogue.ts';
import type { HistogramSample, ScalarSample, ServerSnapshot } from './snapshot.ts';

export type ExpositionFormat = 'text' | 'openmetrics';

export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** Picks OpenMetrics when the Accept header prefers it (by q-value) over the text format. */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'text';
  let om = -1;
  let txt = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    let q = 1;
    for (const p of params) if (p.startsWith('q=')) q = Number(p.slice(2)) || 0;
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*') txt = Math.max(txt, q);
  }
  return om > 0 && om >= txt ? 'openmetrics' : 'text';
}

/** prom-client's `getMetricsAsJSON()` entries (the fields used here). */
export interface PromClientMetric {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly values: readonly {
    readonly value: number;
    readonly labels: Readonly<Record<string, string | number>>;
    readonly metricName?: string;
  }[];
}

const escapeLabel = (v: string): string =>
  /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
const escapeHelp = (v: string): string =>
  /[\\\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : v;

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

/** `{server="a",k="v"` (no closing brace) for the family's label names, in order. */
function labelPrefix(
  server: string,
  names: readonly string[],
  labels: Readonly<Record<string, string>> | undefined,
): string {
  let s = `{server="${server}"`;
  for (const n of names) s += `,${n}="${escapeLabel(labels?.[n] ?? '')}"`;
  return s;
}

function header(out: string[], f: Family | { name: string; help: string }, type: string, om: boolean) {
  let name = f.name;
  if (om && type === 'counter') name = name.replace(/_total$/, '');
  if (om && type === 'info') name = name.replace(/_info$/, '');
  out.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${type}`);
}

function histogramLines(
  out: string[],
  f: Family,
  server: string,
  h: HistogramSample,
  bounds: readonly string[],
): void {
  const prefix = labelPrefix(server, f.labelNames, h.labels);
  const bucket = `${f.name}_bucket${prefix},le="`;
  let cum = 0;
  for (let i = 0; i < bounds.length; i++) {
    cum += h.counts[i] ?? 0;
    out.push(`${bucket}${bounds[i]}"} ${cum}`);
  }
  const count = cum + (h.counts[bounds.length] ?? 0);
  out.push(
    `${bucket}+Inf"} ${count}`,
    `${f.name}_sum${prefix}} ${formatValue(h.sum)}`,
    `${f.name}_count${prefix}} ${count}`,
  );
}

const BOUND_TEXT = new Map<string, readonly string[]>();
function boundTexts(f: Family): readonly string[] {
  let b = BOUND_TEXT.get(f.name);
  if (!b) {
    b = (f.buckets ?? []).map(formatValue);
    BOUND_TEXT.set(f.name, b);
  }
  return b;
}

/** The exposition of every server's `rtc_*` families, then `extra` (prom-client JSON), in `format`. */
export function renderExposition(
  snapshots: readonly ServerSnapshot[],
  format: ExpositionFormat = 'text',
  extra: readonly PromClientMetric[] = [],
): string {
  const om = format === 'openmetrics';
  const out: string[] = [];
  const sorted = [...snapshots].sort((a, b) => (a.server < b.server ? -1 : a.server > b.server ? 1 : 0));

  header(out, STATE_FAMILIES.up, 'gauge', om);
  for (const s of sorted) out.push(`rtc_up{server="${escapeLabel(s.server)}"} ${s.up ? 1 : 0}`);

  const info = STATE_FAMILIES.info;
  header(out, info, om ? 'info' : 'gauge', om);
  for (const s of sorted) {
    const i = s.info ?? {};
    const labels = {
      version: i.version,
      eip: i.eip,
      port: i.port,
      region: i.region,
      zone: i.zone,
      host: i.host,
    };
    out.push(
      `rtc_server_info${labelPrefix(escapeLabel(s.server), info.labelNames, labels as Record<string, string>)}} 1`,
    );
  }

  const live = sorted.filter((s) => s.up);
  header(out, STATE_FAMILIES.state, 'gauge', om);
  for (const s of live) {
    if (!s.state) continue;
    for (const st of SERVER_STATES)
      out.push(`rtc_server_state{server="${escapeLabel(s.server)}",state="${st}"} ${st === s.state ? 1 : 0}`);
  }
  header(out, STATE_FAMILIES.updated, 'gauge', om);
  for (const s of live)
    if (s.updatedSeconds !== undefined)
      out.push(`rtc_stats_updated_timestamp_seconds{server="${escapeLabel(s.server)}"} ${s.updatedSeconds}`);

  for (const name of FAMILY_NAMES) {
    const f: Family = FAMILIES[name];
    header(out, f, f.type, om);
    if (f.type === 'histogram') {
      const bounds = boundTexts(f);
      for (const s of live) {
        const hs = (s.histograms as Record<string, readonly HistogramSample[] | undefined> | undefined)?.[
          name
        ];
        if (hs) for (const h of hs) histogramLines(out, f, escapeLabel(s.server), h, bounds);
      }
    } else {
      for (const s of live) {
        const ss = (s.scalars as Record<string, readonly ScalarSample[] | undefined> | undefined)?.[name];
        if (ss)
          for (const x of ss)
            out.push(
              `${f.name}${labelPrefix(escapeLabel(s.server), f.labelNames, x.labels)}} ${formatValue(x.value)}`,
            );
      }
    }
  }

  for (const m of extra) renderPromClient(out, m, om);
  if (om) out.push('# EOF');
  out.push('');
  return out.join('\n');
}

function renderPromClient(out: string[], m: PromClientMetric, om: boolean): void {
  let type = m.type;
  if (om && type === 'counter' && !m.name.endsWith('_total')) type = 'unknown';
  header(out, m, type, om);
  for (const v of m.values) {
    const names = Object.keys(v.labels);
    let lb = '';
    if (names.length) {
      lb = `{${names.map((n) => `${n}="${escapeLabel(String(v.labels[n]))}"`).join(',')}}`;
    }
    out.push(`${v.metricName ?? m.name}${lb} ${formatValue(v.value)}`);
  }
}
