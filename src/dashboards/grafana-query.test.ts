import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  interpolate,
  parseLabelValues,
  prepareRangeQuery,
  rateIntervalMs,
  regexEscape,
  roundInterval,
} from './grafana-query.ts';

describe('Grafana query preparation', () => {
  it('computes $__interval, $__rate_interval and $__range as Grafana does', () => {
    const range = { fromMs: 1_700_000_000_000, toMs: 1_700_000_300_000 };
    const q = prepareRangeQuery('rate(x[$__rate_interval]) / $__interval [$__range]', {}, range, 15_000);
    assert.equal(q.expr, 'rate(x[60s]) / 15s [300s]');
    assert.equal(q.step, 15);
    assert.equal(q.start % 15, 0);
    assert.equal(roundInterval(300), 200);
    assert.equal(roundInterval(40_000), 30_000);
    assert.equal(rateIntervalMs(60_000, 15_000), 75_000);
  });

  it('formats All, single and multiple values like the Prometheus data source', () => {
    const vars = {
      region: { values: ['eu-west', 'us-east'], all: true, allValue: '.*', regex: true },
      server: { values: ['sim-0', 'sim.1'], all: false, regex: true },
      instance: { values: ['127.0.0.1:9090'], all: false, regex: true },
      single: { values: ["a'b"], all: false, regex: false },
    };
    assert.equal(interpolate('{r=~"$region"}', vars), '{r=~".*"}');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${var} syntax under test.
    assert.equal(interpolate('{s=~"${server}"}', vars), '{s=~"(sim-0|sim\\\\.1)"}');
    assert.equal(interpolate('{i=~"[[instance]]"}', vars), '{i=~"127\\\\.0\\\\.0\\\\.1:9090"}');
    assert.equal(interpolate('$single $unknown', vars), "a\\\\'b $unknown");
    assert.equal(regexEscape('a|b'), 'a\\\\|b');
  });

  it('parses label_values queries', () => {
    assert.deepEqual(parseLabelValues('label_values(rtc_server_info{region=~"$region"}, server)'), {
      selector: 'rtc_server_info{region=~"$region"}',
      label: 'server',
    });
    assert.deepEqual(parseLabelValues('label_values(job)'), { label: 'job' });
    assert.equal(parseLabelValues('query_result(up)'), undefined);
  });
});
