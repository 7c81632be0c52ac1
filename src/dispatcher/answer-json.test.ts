import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Chooser } from './chooser.ts';
import { defaultPolicy } from './config.ts';
import { server, snapshotOf } from './fixtures.ts';

const T = 1_000_000;

describe('Chooser.answerJson', () => {
  it('says exactly what JSON.stringify says, in ASCII, for answers with and without a server', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.array(fc.constantFrom('serving', 'draining', 'shutting_down'), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        (rooms, states, blind) => {
          const servers = states.map((state, i) =>
            server(`s${i}é`, {
              state,
              capacity: 4,
              sampleTimeMs: T,
              region: i % 2 ? 'eu' : 'üs',
              cpu: i % 3 ? 0.2 * i : undefined,
              loss: i === 1 ? 0.01 : undefined,
            }),
          );
          const c = new Chooser(defaultPolicy);
          c.setSnapshot(snapshotOf(servers, T), T);
          if (blind) c.setBlind(T + 10, T + 20);
          for (const [k, room] of rooms.entries()) {
            const a = c.allocate({ room }, T + 100 + k);
            const text = c.answerJson(a);
            assert.match(text, /^[\u0000-\u007f]*$/);
            assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(a)));
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
