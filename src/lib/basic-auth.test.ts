import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basic, bcryptHash } from '../../test/support/pki.ts';
import { createBasicAuth, parseBasic } from './basic-auth.ts';

const users = new Map([['prom', bcryptHash('right', 4).replace(/^\$2y\$/, '$2b$')]]);

test('parseBasic: user may be empty, password may hold colons, anything else is malformed', () => {
  assert.deepEqual(parseBasic(basic('u', 'p:q')), ['u', 'p:q']);
  assert.deepEqual(parseBasic(basic('', '')), ['', '']);
  assert.equal(parseBasic('Bearer abc'), undefined);
  assert.equal(parseBasic('Basic !!!'), undefined);
  assert.equal(parseBasic(`Basic ${Buffer.from('nocolon').toString('base64')}`), undefined);
});

test('check: reasons, and a cache that remembers successes apart from failures', async () => {
  let now = 0;
  const auth = createBasicAuth({ cacheSize: 4, cacheTtlMs: 1000, now: () => now });
  assert.deepEqual(await auth.check(users, undefined), { ok: false, reason: 'missing' });
  assert.deepEqual(await auth.check(users, 'Basic x'.padEnd(2000, 'A')), { ok: false, reason: 'malformed' });
  assert.deepEqual(await auth.check(users, basic('eve', 'right')), { ok: false, reason: 'unknown_user' });
  assert.deepEqual(await auth.check(users, basic('prom', 'wrong')), { ok: false, reason: 'wrong_password' });
  assert.deepEqual(await auth.check(users, basic('prom', 'right')), { ok: true, user: 'prom' });
  // A flood of wrong guesses fills the failure side only; the good credential stays cached.
  for (let i = 0; i < 10; i++) await auth.check(users, basic('prom', `guess${i}`));
  assert.equal(auth.cached, 5, '1 success + 4 failures (bounded)');
  now = 500;
  assert.deepEqual(await auth.check(users, basic('prom', 'right')), { ok: true, user: 'prom' });
  auth.clear();
  assert.equal(auth.cached, 0);
});

test('check: at most maxConcurrent + maxWaiting comparisons; the rest are busy, not queued', async () => {
  const slow = new Map([['prom', bcryptHash('right', 10).replace(/^\$2y\$/, '$2b$')]]);
  const auth = createBasicAuth({ maxConcurrent: 1, maxWaiting: 2 });
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) => auth.check(slow, basic('prom', `wrong${i}`))),
  );
  const reasons = results.map((r) => (r.ok ? 'ok' : r.reason));
  assert.equal(reasons.filter((r) => r === 'wrong_password').length, 3);
  assert.equal(reasons.filter((r) => r === 'busy').length, 5);
});
