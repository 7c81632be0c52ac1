import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createPrometheusApi, PrometheusUnavailable, parseAnswer } from './prometheus-api.ts';

describe('Prometheus API client', () => {
  it('posts instant queries and returns the vector; errors are PrometheusUnavailable', async (t) => {
    let seen = '';
    const srv = createServer((req, res) => {
      let b = '';
      req.on('data', (c) => {
        b += c;
      });
      req.on('end', () => {
        seen = new URLSearchParams(b).get('query') ?? '';
        if (seen === 'bad') {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end('{"status":"error","errorType":"bad_data","error":"parse error"}');
        } else if (seen === 'scalar')
          res.end('{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}');
        else
          res.end(
            '{"status":"success","data":{"resultType":"vector","result":[{"metric":{"server":"a"},"value":[1,"2"]}]}}',
          );
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    t.after(() => srv.close());
    const api = createPrometheusApi(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/`);
    assert.deepEqual(await api.query('max by (server) (rtc_up)'), [
      { metric: { server: 'a' }, value: [1, '2'] },
    ]);
    assert.equal(seen, 'max by (server) (rtc_up)');
    await assert.rejects(
      api.query('bad'),
      (e: Error) => e instanceof PrometheusUnavailable && /parse error/.test(e.message),
    );
    await assert.rejects(api.query('scalar'), /expected a vector/);
    const down = createPrometheusApi('http://127.0.0.1:1');
    await assert.rejects(down.query('up'), PrometheusUnavailable);
    await assert.rejects(api.query('up', AbortSignal.abort()), PrometheusUnavailable);
  });
});

describe('parseAnswer (JSON.parse in slices)', () => {
  // Label values that look like the sample gap, quotes, backslashes and non-ASCII text.
  const value = fc.oneof(
    fc.string(),
    fc.constantFrom(']},{"metric":{', '"]},{\\"metric\\":{', '\\', 'é→', '{"status":"success"'),
  );
  const sample = fc.record({
    metric: fc.dictionary(fc.constantFrom('server', 'metric', 'value', 'host', 'instance'), value),
    value: fc.tuple(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string()),
  });
  it('gives what JSON.parse gives, for any vector, any slice size and any answer that is not a vector', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(sample, { maxLength: 40 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        async (result, piece, warnings) => {
          const text = JSON.stringify({
            status: 'success',
            data: { resultType: 'vector', result },
            ...(warnings ? { warnings: [']},{"metric":{'] } : {}),
          });
          assert.deepEqual(await parseAnswer(text, piece), JSON.parse(text));
        },
      ),
      { numRuns: 300 },
    );
    for (const text of [
      '{"status":"error","errorType":"bad_data","error":"x"}',
      '{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}',
      ' {"status":"success","data":{"resultType":"vector","result":[]}}',
    ])
      assert.deepEqual(await parseAnswer(text, 1), JSON.parse(text));
    await assert.rejects(
      parseAnswer('{"status":"success","data":{"resultType":"vector","result":[{"metric":{}]}}', 1),
      SyntaxError,
    );
  });
});
