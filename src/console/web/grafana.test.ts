import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  alignMatrix,
  builtins,
  filterValues,
  flattenPanels,
  formatDuration,
  formatValue,
  heatmapCells,
  interpolate,
  legendName,
  parseTime,
  parseVariableQuery,
  queryInterval,
  reduce,
  thresholdColor,
} from './grafana.js';

const v = (
  values: string[],
  opts: { multi?: boolean; includeAll?: boolean; allValue?: string; options?: string[] } = {},
) => ({
  values,
  options: opts.options ?? ['eu-west', 'us.east'],
  multi: opts.multi ?? false,
  includeAll: opts.includeAll ?? false,
  allValue: opts.allValue,
});

describe('Grafana model in the console', () => {
  it('interpolates variables as Grafana’s Prometheus datasource does', () => {
    const g = builtins(0, 3_600_000, 15_000, 5_000);
    assert.equal(interpolate('up{r="$r"}', { r: v(['eu-west']) }, g), 'up{r="eu-west"}');
    assert.equal(
      interpolate('up{r=~"$r"}', { r: v(['eu-west', 'us.east'], { multi: true }) }, g),
      'up{r=~"(eu-west|us\\\\.east)"}',
    );
    assert.equal(
      interpolate('up{r=~"${r}"}', { r: v(['$__all'], { includeAll: true, allValue: '.*' }) }, g),
      'up{r=~".*"}',
    );
    assert.equal(
      interpolate('up{r=~"[[r]]"}', { r: v(['$__all'], { includeAll: true }) }, g),
      'up{r=~"(eu-west|us\\\\.east)"}',
    );
    assert.equal(interpolate('${r:pipe}', { r: v(['a', 'b'], { multi: true }) }, g), 'a|b');
    assert.equal(
      interpolate('rate(x[$__rate_interval]) $__interval $__range $nope', {}, g),
      'rate(x[20s]) 15s 3600s $nope',
    );
  });

  it('computes the step and $__rate_interval from the range, width and scrape interval', () => {
    assert.equal(queryInterval(0, 3_600_000, 1000, 5000), 5000);
    assert.equal(queryInterval(0, 7 * 86_400_000, 1000, 5000), 900_000);
    assert.equal(builtins(0, 60_000, 1000, 15_000).__rate_interval, '1m');
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(parseTime('now-6h', 10 * 3_600_000), 4 * 3_600_000);
    assert.throws(() => parseTime('yesterday', 0), /not a time/);
  });

  it('reads variable queries, rows and legends', () => {
    assert.deepEqual(parseVariableQuery('label_values(region)'), { kind: 'labels', label: 'region' });
    assert.deepEqual(parseVariableQuery({ query: 'label_values(rtc_up{job="x"}, server)' }), {
      kind: 'labels',
      label: 'server',
      match: 'rtc_up{job="x"}',
    });
    assert.deepEqual(filterValues(['b', 'a', 'a', 'c-1'], '/^(\\w)$/'), ['a', 'b']);
    const panels = flattenPanels({
      panels: [{ type: 'row', id: 1, panels: [{ type: 'stat' }] }, { type: 'timeseries' }],
    });
    assert.deepEqual(
      panels.map((p) => p.type),
      ['row', 'stat', 'timeseries'],
    );
    assert.equal(legendName({ __name__: 'up', server: 's1' }, '{{server}} up'), 's1 up');
    assert.equal(legendName({ __name__: 'up', server: 's1' }, undefined), 'up{server="s1"}');
  });

  it('formats units, thresholds and reductions', () => {
    assert.equal(formatValue(0.256, 'percentunit'), '25.6%');
    assert.equal(formatValue(0.0123, 's'), '12.3 ms');
    assert.equal(formatValue(2048, 'bytes'), '2 KiB');
    assert.equal(formatValue(1_500_000, 'bps'), '1.5 Mbps');
    assert.equal(formatValue(null, 'short'), 'No data');
    const t = {
      mode: 'absolute',
      steps: [
        { value: null, color: 'green' },
        { value: 80, color: 'red' },
      ],
    };
    assert.equal(thresholdColor(50, t), '#73bf69');
    assert.equal(thresholdColor(80, t), '#f2495c');
    assert.equal(reduce([1, null, 3], 'lastNotNull'), 3);
    assert.equal(reduce([1, null, 3], 'mean'), 2);
  });

  it('aligns range answers and de-accumulates histogram buckets for heatmaps', () => {
    const { series, data } = alignMatrix([
      {
        refId: 'A',
        legendFormat: '{{le}}',
        result: [
          {
            metric: { le: '+Inf' },
            values: [
              [10, '5'],
              [20, '9'],
            ],
          },
          {
            metric: { le: '0.1' },
            values: [
              [10, '2'],
              [20, '4'],
            ],
          },
          { metric: { le: '0.5' }, values: [[20, '8']] },
        ],
      },
    ]);
    assert.deepEqual(data[0], [10, 20]);
    assert.equal(series.length, 3);
    const h = heatmapCells(data, series);
    assert.deepEqual(h.rows, ['≤ 0.1', '≤ 0.5', '≤ +Inf']);
    assert.deepEqual(h.counts, [
      [2, 4],
      [0, 4],
      [5, 1],
    ]);
    assert.equal(h.max, 5);
  });
});
