import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createPrometheusApi, PrometheusUnavailable } from './prometheus-api.ts';

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
