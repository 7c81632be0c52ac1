/**
 * Typed panel and variable builders shared by every rtcmon dashboard, on @grafana/grafana-foundation-sdk:
 * a wrong field or a wrong enum value is a type error, and every panel is forced to carry a unit,
 * thresholds and a description.
 */

import {
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  VizLegendOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  type DataSourceRef,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as HeatmapPanel } from '@grafana/grafana-foundation-sdk/heatmap';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import type { Step } from './thresholds.ts';

/** Every panel and variable queries the data source the user picked in `$datasource`. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template.
export const DS: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** Grafana unit ids used here (a subset of Grafana's catalogue; a typo is a type error). */
export type Unit =
  | 'none'
  | 'short'
  | 'percentunit'
  | 's'
  | 'bps'
  | 'Bps'
  | 'bytes'
  | 'ops'
  | 'reqps'
  | 'pps'
  | 'dateTimeFromNow';

export interface Query {
  readonly expr: string;
  /** Grafana legend template, e.g. `{{region}}`. */
  readonly legend?: string;
}

/**
 * One query per quantile of the same histogram, legends `p50`, `p99`, … after `legendPrefix`
 * (e.g. `{{table}} ` gives `{{table}} p99`).
 */
export function quantileQueries(
  quantiles: readonly number[],
  expr: (q: number) => string,
  legendPrefix = '',
): Query[] {
  return quantiles.map((q) => ({ expr: expr(q), legend: `${legendPrefix}p${q * 100}` }));
}

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: Unit;
  readonly steps: readonly Step[];
  readonly queries: readonly Query[];
  /** Width in grid columns (of 24) and height in grid rows. */
  readonly w: number;
  readonly h: number;
  readonly decimals?: number;
  readonly min?: number;
  readonly max?: number;
}

export type Panel = TimeseriesPanel | StatPanel | HeatmapPanel | TablePanel;

const thresholds = (steps: readonly Step[]) =>
  new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps(steps.map(([color, value]) => ({ color, value })));

function target(q: Query, i: number, format: PromQueryFormat, instant = false): DataqueryBuilder {
  const t = new DataqueryBuilder()
    .refId(String.fromCharCode(65 + i))
    .datasource(DS)
    .expr(q.expr)
    .format(format);
  if (q.legend !== undefined) t.legendFormat(q.legend);
  return instant ? t.instant() : t.range();
}

/** The parts every panel kind shares. */
function common<P extends Panel>(p: P, s: PanelSpec, format: PromQueryFormat, instant = false): P {
  p.title(s.title)
    .description(s.description)
    .datasource(DS)
    .unit(s.unit)
    .thresholds(thresholds(s.steps))
    .span(s.w)
    .height(s.h);
  if (s.decimals !== undefined) p.decimals(s.decimals);
  if (s.min !== undefined) p.min(s.min);
  if (s.max !== undefined) p.max(s.max);
  s.queries.forEach((q, i) => {
    p.withTarget(target(q, i, format, instant));
  });
  return p;
}

/** A time series graph; thresholds drawn as dashed lines. */
export function timeseries(s: PanelSpec): TimeseriesPanel {
  return common(new TimeseriesPanel(), s, PromQueryFormat.TimeSeries)
    .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed))
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom),
    )
    .fillOpacity(10);
}

/** One big number (the last value), colored by its thresholds, with a sparkline. */
export function stat(s: PanelSpec): StatPanel {
  return common(new StatPanel(), s, PromQueryFormat.TimeSeries).reduceOptions(
    new ReduceDataOptionsBuilder().calcs(['lastNotNull']),
  );
}

/** A heatmap of a Prometheus histogram: the query must return per-`le` rates (format heatmap). */
export function heatmap(s: PanelSpec): HeatmapPanel {
  return common(new HeatmapPanel(), s, PromQueryFormat.Heatmap).calculate(false);
}

/** A table of the latest values (instant query, format table), e.g. a top-k. */
export function table(s: PanelSpec): TablePanel {
  return common(new TablePanel(), s, PromQueryFormat.Table, true);
}

/** `$datasource`: any Prometheus data source (the provisioned one is the default). */
export function datasourceVariable(): DatasourceVariableBuilder {
  return new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus');
}

/**
 * A query variable over label values (`label_values(selector, label)`), multi-select with All;
 * All stands for `.*` so that servers without the label value are not left out.
 */
export function labelVariable(
  name: string,
  label: string,
  query: string,
  opts: { multi?: boolean } = {},
): QueryVariableBuilder {
  const multi = opts.multi ?? true;
  const v = new QueryVariableBuilder(name)
    .label(label)
    .datasource(DS)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(multi)
    .includeAll(multi);
  return multi ? v.allValue('.*').current({ text: 'All', value: '$__all' }) : v;
}

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly variables: readonly (QueryVariableBuilder | DatasourceVariableBuilder)[];
  readonly panels: readonly Panel[];
}

/** A dashboard: last 1 h, refresh every 30 s, panels laid out left to right, ids in order. */
export function dashboard(s: DashboardSpec): Dashboard {
  const d = new DashboardBuilder(s.title)
    .uid(s.uid)
    .description(s.description)
    .tags(['rtcmon'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s')
    .timezone('browser');
  for (const v of s.variables) d.withVariable(v);
  s.panels.forEach((p, i) => {
    d.withPanel(p.id(i + 1));
  });
  return d.build();
}
