import { RE2JS } from 're2js';
import { HttpError } from '../lib/errors.ts';
import { MatcherType } from './prompb.ts';

/** One label matcher of a remote-read query, as protobufjs decodes it. */
export interface Matcher {
  readonly type: number;
  readonly name: string;
  readonly value: string;
}

const OPS = ['=', '!=', '=~', '!~'] as const;

/** `name="value"` in PromQL notation, for messages. */
export const formatMatcher = (m: Matcher): string =>
  `${m.name}${OPS[m.type] ?? `<op ${m.type}>`}${JSON.stringify(m.value)}`;

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/**
 * A ClickHouse string literal holding exactly `s`. ClickHouse 18.16 has no query parameters, so every
 * value from a request goes through here: backslash and quote are escaped (the only characters that can
 * end or alter a literal), control characters too so the statement stays one readable line.
 */
export function sqlString(s: string): string {
  return `'${s.replace(/[\\'\0\n\r\t\b\f]/g, (c) => ESCAPES[c] ?? c)}'`;
}

/**
 * The regex a matcher means, as Prometheus runs it: fully anchored, `.` not matching a newline.
 * ClickHouse's match() turns on RE2's dot_nl, so `(?-s)` restores Go's default; a `(?s)` inside the
 * user's regex still wins within its own group, as in Go.
 */
export const anchoredRegex = (re: string): string => `(?-s)^(?:${re})$`;

/** Why a matcher cannot be run; answered with 400. */
export class InvalidMatcherError extends HttpError {
  constructor(message: string) {
    super(400, 'invalid_matcher', message);
    this.name = 'InvalidMatcherError';
  }
}

/**
 * Compiles a regex with Go/RE2 syntax (re2js is a port of Go's regexp, the engine Prometheus uses).
 * The user's regex must be valid on its own, so `a)|(b` cannot break out of the anchoring group.
 */
export function compileRegex(m: Matcher): RE2JS {
  let re: RE2JS;
  try {
    RE2JS.compile(m.value);
    re = RE2JS.compile(anchoredRegex(m.value));
  } catch (err) {
    throw new InvalidMatcherError(
      `invalid regular expression in ${formatMatcher(m)}: ${(err as Error).message}`,
    );
  }
  if (hasAngleNamedGroup(m.value))
    throw new InvalidMatcherError(
      `invalid regular expression in ${formatMatcher(m)}: named groups are written (?P<name>...) in the RE2 of Prometheus 2.42 and ClickHouse`,
    );
  return re;
}

/**
 * True when the regex opens a group with `(?<`, a syntax newer Go (1.22) and re2js accept but the Go
 * of Prometheus 2.42 and ClickHouse's RE2 reject. Escapes, `\Q…\E` and character classes are skipped.
 */
export function hasAngleNamedGroup(re: string): boolean {
  let inClass = false;
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if (c === '\\') {
      if (re[i + 1] === 'Q') {
        const end = re.indexOf('\\E', i + 2);
        if (end < 0) return false;
        i = end + 1;
      } else i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '[' && re[i + 1] === ':') {
        // A POSIX class such as [:alpha:] ends with its own `:]`.
        const end = re.indexOf(':]', i + 2);
        if (end >= 0) i = end + 1;
      }
      continue;
    }
    if (c === '[') {
      inClass = true;
      // A `]` right after `[` or `[^` is a member, not the end.
      if (re[i + 1] === '^') i++;
      if (re[i + 1] === ']') i++;
      continue;
    }
    if (c === '(' && re[i + 1] === '?' && re[i + 2] === '<') return true;
  }
  return false;
}

/** Checks every matcher (type, regex syntax); throws InvalidMatcherError naming the first bad one. */
export function validateMatchers(matchers: readonly Matcher[]): void {
  for (const m of matchers) {
    if (!(m.type in OPS))
      throw new InvalidMatcherError(`unknown matcher type ${m.type} in ${formatMatcher(m)}`);
    if (m.type === MatcherType.RE || m.type === MatcherType.NRE) compileRegex(m);
  }
}

/** The SQL expression for a label's value in the `series` table ('' when the series lacks the label). */
export const labelValueSql = (name: string): string =>
  `arrayElement(label_values, indexOf(label_names, ${sqlString(name)}))`;

/**
 * One matcher as a SQL condition on the `series` table. A missing label reads as '', which is exactly
 * Prometheus' rule ("a matcher for an empty value matches series that lack the label").
 */
export function matcherSql(m: Matcher): string {
  const v = labelValueSql(m.name);
  switch (m.type) {
    case MatcherType.EQ:
      // __name__ is also the first column of the table's key: let ClickHouse use its index.
      return m.name === '__name__' && m.value !== ''
        ? `(metric_name = ${sqlString(m.value)} AND ${v} = ${sqlString(m.value)})`
        : `${v} = ${sqlString(m.value)}`;
    case MatcherType.NEQ:
      return `${v} != ${sqlString(m.value)}`;
    case MatcherType.RE:
      return `match(${v}, ${sqlString(anchoredRegex(m.value))})`;
    case MatcherType.NRE:
      return `NOT match(${v}, ${sqlString(anchoredRegex(m.value))})`;
    default:
      throw new InvalidMatcherError(`unknown matcher type ${m.type} in ${formatMatcher(m)}`);
  }
}

/** All matchers ANDed; `1` when there is none. Validate first (validateMatchers). */
export function matchersSql(matchers: readonly Matcher[]): string {
  return matchers.length === 0 ? '1' : matchers.map(matcherSql).join(' AND ');
}

/**
 * Reference evaluation in memory, with Prometheus' semantics: true when the label set (a map from name
 * to value) satisfies every matcher. Throws InvalidMatcherError for an invalid regex.
 */
export function matchesLabels(matchers: readonly Matcher[], labels: ReadonlyMap<string, string>): boolean {
  for (const m of matchers) {
    const v = labels.get(m.name) ?? '';
    let ok: boolean;
    switch (m.type) {
      case MatcherType.EQ:
        ok = v === m.value;
        break;
      case MatcherType.NEQ:
        ok = v !== m.value;
        break;
      case MatcherType.RE:
        ok = compileRegex(m).matches(v);
        break;
      case MatcherType.NRE:
        ok = !compileRegex(m).matches(v);
        break;
      default:
        throw new InvalidMatcherError(`unknown matcher type ${m.type} in ${formatMatcher(m)}`);
    }
    if (!ok) return false;
  }
  return true;
}
