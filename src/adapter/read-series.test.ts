import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareLabels, parseSeriesRows, seriesSql, toSelectedSeries } from './read-series.ts';

const str = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length]), b]);
};
const row = (fp: bigint, labels: [string, string][]) => {
  const u = Buffer.alloc(8);
  u.writeBigUInt64LE(fp);
  return Buffer.concat([
    u,
    Buffer.from([labels.length]),
    ...labels.map(([n]) => str(n)),
    Buffer.from([labels.length]),
    ...labels.map(([, v]) => str(v)),
  ]);
};

describe('series selection', () => {
  it('collapses fingerprints and asks one more row than the limit', () => {
    const sql = seriesSql([{ type: 0, name: 'job', value: "a'b" }], 11);
    assert.match(sql, /WHERE arrayElement\(label_values, indexOf\(label_names, 'job'\)\) = 'a\\'b'/);
    assert.match(sql, /LIMIT 1 BY fingerprint LIMIT 11 FORMAT RowBinary$/);
  });

  it('parses RowBinary rows, strips labels, sorts labels and series as Prometheus does', () => {
    const body = Buffer.concat([
      row(18446744073709551615n, [
        ['__name__', 'up'],
        ['replica', 'a'],
        ['job', 'z'],
      ]),
      row(7n, [
        ['__name__', 'up'],
        ['job', 'b'],
      ]),
      row(9n, [['__name__', 'up']]),
    ]);
    const rows = parseSeriesRows(body);
    assert.equal(rows[0]!.fingerprint, 18446744073709551615n);
    const sel = toSelectedSeries(rows, new Set(['replica']));
    assert.deepEqual(
      sel.map((s) => [s.fingerprint, s.labels.map((l) => `${l.name}=${l.value}`).join(',')]),
      [
        [9n, '__name__=up'],
        [7n, '__name__=up,job=b'],
        [18446744073709551615n, '__name__=up,job=z'],
      ],
    );
    assert.throws(() => parseSeriesRows(body.subarray(0, body.length - 1)), /truncated/);
  });

  it('compares label sets bytewise, name before value, shorter first', () => {
    const l = (...kv: string[]) =>
      kv.map((s) => ({ name: Buffer.from(s.split('=')[0]!), value: Buffer.from(s.split('=')[1]!) }));
    assert.ok(compareLabels(l('a=1'), l('a=1', 'b=1')) < 0);
    assert.ok(compareLabels(l('a=2'), l('a=10')) > 0);
    assert.ok(compareLabels(l('B=1'), l('a=1')) < 0);
    assert.ok(compareLabels(l('a=é'), l('a=z')) > 0);
    assert.equal(compareLabels(l('a=1'), l('a=1')), 0);
  });
});
