import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  hasAngleNamedGroup,
  InvalidMatcherError,
  matcherSql,
  matchersSql,
  matchesLabels,
  sqlString,
  validateMatchers,
} from './matchers.ts';
import { MatcherType } from './prompb.ts';

const { EQ, NEQ, RE, NRE } = MatcherType;
const labels = (o: Record<string, string>) => new Map(Object.entries(o));

/** Undoes sqlString the way ClickHouse's lexer reads a quoted literal (for the escapes sqlString emits). */
function unquote(lit: string): string {
  assert.ok(lit.startsWith("'") && lit.endsWith("'"));
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    assert.notEqual(c, "'", `unescaped quote at ${i} in ${lit}`);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[++i];
    const map: Record<string, string> = {
      '\\': '\\',
      "'": "'",
      '0': '\0',
      n: '\n',
      r: '\r',
      t: '\t',
      b: '\b',
      f: '\f',
    };
    assert.ok(n !== undefined && n in map, `bad escape \\${n}`);
    out += map[n]!;
  }
  return out;
}

describe('sqlString', () => {
  it('quotes so that the literal holds exactly the input, whatever it is', () => {
    for (const s of ["'", '\\', "\\'", "'; DROP TABLE samples; --", 'a\nb\r\t\0\b\f', '日本😀', ''])
      assert.equal(unquote(sqlString(s)), s);
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => unquote(sqlString(s)) === s),
      { numRuns: 5000 },
    );
  });
});

describe('matcher SQL', () => {
  it('reads a missing label as empty and anchors regexes with Go defaults', () => {
    assert.equal(
      matcherSql({ type: RE, name: 'job', value: 'a.*' }),
      "match(arrayElement(label_values, indexOf(label_names, 'job')), '(?-s)^(?:a.*)$')",
    );
    assert.equal(
      matcherSql({ type: NEQ, name: "it's", value: '\\' }),
      "arrayElement(label_values, indexOf(label_names, 'it\\'s')) != '\\\\'",
    );
    assert.match(matcherSql({ type: EQ, name: '__name__', value: 'up' }), /^\(metric_name = 'up' AND /);
    assert.equal(matchersSql([]), '1');
  });

  it('rejects invalid regexes and unknown types with a 400 naming the matcher', () => {
    for (const value of ['(', 'a)|(b', 'a**', '(?=x)', '\\1', 'x{1001}', '[z-a]']) {
      const err = (() => {
        try {
          validateMatchers([{ type: NRE, name: 'l', value }]);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      assert.ok(err instanceof InvalidMatcherError, `${value} must be rejected`);
      assert.equal(err.status, 400);
      assert.ok(err.message.includes(JSON.stringify(value)), err.message);
    }
    assert.throws(() => validateMatchers([{ type: 7, name: 'l', value: '' }]), InvalidMatcherError);
    validateMatchers([
      { type: RE, name: 'l', value: '' },
      { type: RE, name: 'l', value: '(?i)A|b+' },
    ]);
  });
});

describe('matchesLabels (reference semantics)', () => {
  const s = labels({ __name__: 'up', job: 'node', path: '/a\nb' });
  it('treats a missing label as the empty string for every operator', () => {
    assert.equal(matchesLabels([{ type: EQ, name: 'zone', value: '' }], s), true);
    assert.equal(matchesLabels([{ type: NEQ, name: 'zone', value: 'x' }], s), true);
    assert.equal(matchesLabels([{ type: RE, name: 'zone', value: 'x|' }], s), true);
    assert.equal(matchesLabels([{ type: NRE, name: 'zone', value: '.+' }], s), true);
    assert.equal(matchesLabels([{ type: EQ, name: 'job', value: '' }], s), false);
  });
  it('anchors regexes fully and keeps . off newlines unless (?s)', () => {
    assert.equal(matchesLabels([{ type: RE, name: 'job', value: 'nod' }], s), false);
    assert.equal(matchesLabels([{ type: RE, name: 'job', value: 'no|node' }], s), true);
    assert.equal(matchesLabels([{ type: RE, name: 'path', value: '/a.b' }], s), false);
    assert.equal(matchesLabels([{ type: RE, name: 'path', value: '(?s)/a.b' }], s), true);
    assert.equal(matchesLabels([{ type: RE, name: '__name__', value: 'u.' }], s), true);
  });
});

describe('hasAngleNamedGroup', () => {
  it('finds (?<name> groups only outside escapes, \\Q…\\E and character classes', () => {
    const cases: [string, boolean][] = [
      ['(?<n>a)', true],
      ['x(?<y>z)', true],
      ['[]](?<x>a)', true],
      ['[[:alpha:]](?<q>a)', true],
      ['\\(?<a', false],
      ['[(?<]', false],
      ['[[:alpha:](?<]', false],
      ['\\Q(?<\\E', false],
      ['a(?P<n>b)', false],
    ];
    for (const [re, want] of cases) assert.equal(hasAngleNamedGroup(re), want, re);
    assert.throws(() => validateMatchers([{ type: RE, name: 'l', value: 'a(?<n>b)' }]), /\(\?P<name>/);
  });
});
