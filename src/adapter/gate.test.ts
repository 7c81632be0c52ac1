import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HttpError } from '../lib/errors.ts';
import { createGate } from './gate.ts';

describe('createGate', () => {
  it('lets max run, queues the next, and answers 503 naming the limit after the wait', async () => {
    const gate = createGate(1);
    const release = await gate.acquire(50);
    const waiting = gate.acquire(1000);
    await assert.rejects(
      gate.acquire(20),
      (e: HttpError) => e.status === 503 && /read\.max-concurrent/.test(e.message),
    );
    release();
    release(); // twice is harmless
    const second = await waiting;
    assert.equal(gate.running, 1);
    second();
    assert.equal(gate.running, 0);
  });
});
