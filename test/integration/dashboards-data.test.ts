/**
 * Every shipped dashboard against the real stack (`rtcmon stack`'s own parts: ClickHouse + adapter,
 * node_exporter, the exporter's demo fleet, Prometheus, the dispatcher with demo clients): variables are
 * resolved from label_values through the Prometheus API, each panel's targets run as Grafana runs them
 * (range query over the last 5 minutes, instant for tables), and a target with an error, no series or only
 * NaN fails the test. Prints a table: dashboard, panel, series returned.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import {
  interpolate,
  parseLabelValues,
  prepareRangeQuery,
  type TimeRange,
  type VariableValue,
} from '../../src/dashboards/grafana-query.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { PARTS } from '../../src/stack/main.ts';
import { createStack, type Stack } from '../../src/stack/start.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DIR = join(ROOT, 'dashboards');
const RANGE_MS = 5 * 60_000;
/**
 * Queries in flight at once. A browser would send up to 6, but on a fresh Prometheus every query also
 * remote-reads the adapter (its range starts before the local TSDB does): 6 at once on a loaded 2-core
 * machine made a sweep slower (60 s) than one at a time (28 s).
 */
const CONCURRENCY = 2;
/** How long the demo may take to produce every signal once the stack is up. */
const DATA_DEADLINE_MS = 120_000;

interface Target {
  refId: string;
  expr: string;
  instant?: boolean;
}
interface PanelJson {
  title: string;
  type: string;
  targets: Target[];
}
interface VariableJson {
  type: string;
  name: string;
  query: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}
interface DashboardJson {
  title: string;
  panels: PanelJson[];
  templating: { list: VariableJson[] };
}

/** The shipped data source's scrape interval: what Grafana takes as the floor of $__interval. */
function scrapeIntervalMs(): number {
  const ds = parse(readFileSync(join(DIR, 'provisioning', 'datasources', 'rtcmon.yaml'), 'utf8')) as {
    datasources: { jsonData?: { timeInterval?: string } }[];
  };
  const t = ds.datasources[0]?.jsonData?.timeInterval ?? '15s';
  const m = /^(\d+)(ms|s|m)$/.exec(t);
  assert.ok(m, `timeInterval ${t}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
}

interface Result {
  series: number;
  finite: number;
  error?: string;
}

async function promGet(base: string, path: string, params: Record<string, string | string[]>) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) body.append(k, x);
  // Queries go as POST (the shipped data source's httpMethod); Prometheus 2.42 serves label values on GET only.
  const r = path.startsWith('/api/v1/label/')
    ? await fetch(`${base}${path}?${body}`, { signal: AbortSignal.timeout(30_000) })
    : await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(30_000),
      });
  const j = (await r.json()) as { status: string; error?: string; data: unknown };
  if (j.status !== 'success') throw new Error(`${path}: ${j.error ?? r.status}`);
  return j.data;
}

/**
 * Resolves the dashboard's query variables in order, as Grafana does on load: each label_values query
 * (with earlier variables substituted) through /api/v1/label/<label>/values?match[]=…; `pick` chooses
 * All (multi-select variables) or the first value (sorted, as the variables sort).
 */
async function resolveVariables(
  prom: string,
  d: DashboardJson,
  range: TimeRange,
  pick: 'all' | 'first',
): Promise<Record<string, VariableValue> | string> {
  const vars: Record<string, VariableValue> = {};
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const lv = parseLabelValues(interpolate(v.query, vars));
    assert.ok(lv, `${d.title}: variable ${v.name}: ${v.query} is not label_values(…)`);
    const values = (
      (await promGet(prom, `/api/v1/label/${lv.label}/values`, {
        ...(lv.selector ? { 'match[]': lv.selector } : {}),
        start: String(range.fromMs / 1000),
        end: String(range.toMs / 1000),
      })) as string[]
    ).sort();
    if (values.length === 0) return `variable ${v.name} has no values (${v.query})`;
    const all = pick === 'all' && v.includeAll === true;
    vars[v.name] = {
      values: all ? values : values.slice(0, 1),
      all,
      ...(v.allValue !== undefined ? { allValue: v.allValue } : {}),
      regex: v.multi === true || v.includeAll === true,
    };
  }
  return vars;
}

async function runTarget(
  prom: string,
  t: Target,
  vars: Record<string, VariableValue>,
  range: TimeRange,
  scrapeMs: number,
): Promise<Result> {
  const q = prepareRangeQuery(t.expr, vars, range, scrapeMs);
  try {
    if (t.instant) {
      const data = (await promGet(prom, '/api/v1/query', {
        query: q.expr,
        time: String(range.toMs / 1000),
      })) as {
        result: { value: [number, string] }[];
      };
      const finite = data.result.filter((s) => Number.isFinite(Number(s.value[1]))).length;
      return { series: data.result.length, finite };
    }
    const data = (await promGet(prom, '/api/v1/query_range', {
      query: q.expr,
      start: String(q.start),
      end: String(q.end),
      step: String(q.step),
    })) as { result: { values: [number, string][] }[] };
    const finite = data.result.filter((s) => s.values.some(([, v]) => Number.isFinite(Number(v)))).length;
    return { series: data.result.length, finite };
  } catch (err) {
    return { series: 0, finite: 0, error: (err as Error).message };
  }
}

interface Row {
  dashboard: string;
  pass: string;
  panel: string;
  results: Record<string, Result>;
}

const ok = (r: Result) => !r.error && r.finite > 0;

describe('shipped dashboards against the demo stack', () => {
  let dir: string;
  let stack: Stack;
  let prom: string;
  const dashboards = readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: f, json: JSON.parse(readFileSync(join(DIR, f), 'utf8')) as DashboardJson }));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rtcmon-dashboards-'));
    stack = createStack({
      runDir: dir,
      logger: createLogger({ level: 'warn', role: 'stack' }),
      scrapeInterval: '5s',
      prometheusPort: 0,
      ports: 'free',
      // The console only reads; these queries are what it would send.
      parts: PARTS.filter((p) => p.name !== 'console'),
    });
    await stack.start();
    prom = stack.prometheusUrl!;
  });

  after(async () => {
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every panel of every dashboard returns data, with All and with the first value of each variable', async () => {
    const scrapeMs = scrapeIntervalMs();
    const t0 = Date.now();
    // Every target scraped (the dispatcher's job is added by a reload after it starts) before sweeping.
    for (;;) {
      const r = (await (await fetch(`${prom}/api/v1/targets`)).json()) as {
        data: { activeTargets: { health: string; scrapePool: string }[] };
      };
      const t = r.data.activeTargets;
      if (t.some((x) => x.scrapePool === 'rtcmon-dispatcher') && t.every((x) => x.health === 'up')) break;
      if (Date.now() - t0 > DATA_DEADLINE_MS) break;
      await sleep(1000);
    }
    let rows: Row[] = [];
    // A panel run that returned data is kept; later sweeps run only the others (each sweep is slow: on a
    // fresh Prometheus every query also remote-reads ClickHouse).
    const good = new Map<string, Row>();
    const key = (r: Pick<Row, 'dashboard' | 'pass' | 'panel'>) => `${r.dashboard}|${r.pass}|${r.panel}`;
    for (;;) {
      const now = Date.now();
      const range = { fromMs: now - RANGE_MS, toMs: now };
      rows = [];
      for (const { file, json } of dashboards) {
        // Multi-select variables run with All and with their first value. Server detail's server is
        // single-select: it runs with the first region and that region's first server (with region All its
        // first server would be the stack's idle Janus, whose quality histograms have no reports: NaN).
        const multi = json.templating.list.every((v) => v.type !== 'query' || v.includeAll);
        for (const pass of multi ? (['all', 'first'] as const) : (['first'] as const)) {
          const vars = await resolveVariables(prom, json, range, pass);
          if (typeof vars === 'string') {
            const results = { vars: { series: 0, finite: 0, error: vars } };
            rows.push({ dashboard: file.replace(/\.json$/, ''), pass, panel: '(variables)', results });
            continue;
          }
          const label = Object.entries(vars)
            .map(([k, v]) => `${k}=${v.all ? 'All' : v.values.join(',')}`)
            .join(' ');
          // Like a browser showing the dashboard: every panel's queries at once, a few at a time.
          const panelRows = json.panels.map((p) => ({
            dashboard: file.replace(/\.json$/, ''),
            pass: label,
            panel: p.title,
            results: {} as Record<string, Result>,
          }));
          const kept = panelRows.map((r) => good.get(key(r)) ?? r);
          const jobs = json.panels.flatMap((p, i) =>
            kept[i] === panelRows[i] ? p.targets.map((t) => ({ row: panelRows[i]!, t })) : [],
          );
          const worker = async () => {
            for (let job = jobs.shift(); job; job = jobs.shift())
              job.row.results[job.t.refId] = await runTarget(prom, job.t, vars, range, scrapeMs);
          };
          await Promise.all(Array.from({ length: CONCURRENCY }, worker));
          for (const r of kept) if (Object.values(r.results).every(ok)) good.set(key(r), r);
          rows.push(...kept);
        }
      }
      const failing = rows.filter((r) => !Object.values(r.results).every(ok));
      process.stdout.write(
        `after ${((Date.now() - t0) / 1000).toFixed(0)} s: ${failing.length} of ${rows.length} panel runs without data${
          failing.length
            ? ` (${failing
                .slice(0, 3)
                .map((r) => `${r.dashboard}/${r.panel}`)
                .join(', ')}…)`
            : ''
        }\n`,
      );
      if (failing.length === 0 || Date.now() - t0 > DATA_DEADLINE_MS) break;
      await sleep(5000);
    }

    const cell = (rs: Record<string, Result>) =>
      Object.entries(rs)
        .map(
          ([id, r]) =>
            `${id}:${r.error ? 'ERROR' : r.finite === r.series ? r.series : `${r.finite}/${r.series}`}`,
        )
        .join(' ');
    const w = (k: keyof Row) => Math.max(...rows.map((r) => String(r[k]).length), k.length);
    const [wd, wv, wp] = [w('dashboard'), w('pass'), w('panel')];
    const lines = [
      `load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(
          ' ',
        )}; data after ${((Date.now() - t0) / 1000).toFixed(0)} s; range 5m, scrape interval of the data source ${scrapeMs / 1000}s`,
      `${'dashboard'.padEnd(wd)}  ${'variables'.padEnd(wv)}  ${'panel'.padEnd(wp)}  series returned per target (finite/all when some are all-NaN)`,
      ...rows.map(
        (r) =>
          `${r.dashboard.padEnd(wd)}  ${r.pass.padEnd(wv)}  ${r.panel.padEnd(wp)}  ${cell(r.results)}${Object.values(r.results).every(ok) ? '' : '   <-- NO DATA'}`,
      ),
      `${rows.length} panel runs, ${rows.reduce((a, r) => a + Object.keys(r.results).length, 0)} queries`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const failing = rows.filter((r) => !Object.values(r.results).every(ok));
    assert.deepEqual(
      failing.map((r) => ({
        dashboard: r.dashboard,
        variables: r.pass,
        panel: r.panel,
        errors: Object.entries(r.results)
          .filter(([, x]) => !ok(x))
          .map(([id, x]) => `${id}: ${x.error ?? (x.series ? 'only NaN' : 'no series')}`),
      })),
      [],
    );
  });
});
