import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadDispatcherConfig } from './config.ts';

describe('dispatcher config', () => {
  it('applies defaults and parses flags', () => {
    const { cfg, policy } = loadDispatcherConfig(
      ['--admission.high-mark=0.8', '--admission.low-mark=0.6'],
      {},
    );
    assert.equal(cfg.listen.port, 8080);
    assert.equal(policy.highMark, 0.8);
    assert.equal(policy.weights.participants, 1);
  });

  it('rejects bad values naming the key', () => {
    assert.throws(() => loadDispatcherConfig(['--admission.low-mark=0.95'], {}), /admission\.low-mark/);
    assert.throws(
      () => loadDispatcherConfig(['--prometheus.rate-window=soon'], {}),
      /prometheus\.rate-window/,
    );
    assert.throws(() => loadDispatcherConfig(['--score.limit.cpu=2'], {}), /score\.limit\.cpu/);
    assert.throws(
      () => loadDispatcherConfig(['--staleness.penalty-after=2m', '--staleness.exclude-after=1m'], {}),
      /staleness\.penalty-after/,
    );
  });
});
