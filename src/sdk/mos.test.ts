import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateMos } from './mos.ts';

test('E-model MOS: perfect network near 4.4, falls with loss and delay, stays in 1..4.5', () => {
  const perfect = estimateMos(0, 0, 0);
  assert.ok(perfect > 4.3 && perfect <= 4.5, String(perfect));
  const typical = estimateMos(0.15, 0.02, 0.01);
  assert.ok(typical > 3.8 && typical < perfect, String(typical));
  assert.ok(estimateMos(0.15, 0.02, 0.05) < typical);
  assert.ok(estimateMos(0.8, 0.02, 0.01) < typical);
  assert.equal(estimateMos(5, 1, 1), 1);
  for (const v of [estimateMos(Number.NaN, -1, 2), estimateMos(-1, Number.NaN, Number.NaN)])
    assert.ok(v >= 1 && v <= 4.5, String(v));
});
