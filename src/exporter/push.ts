/**
 * The JSON push endpoint: RTC servers written in anything but Node post their current counters and
 * gauges (and optionally histograms) to POST /api/v1/push. Bodies are validated against the catalogue;
 * a server that stops pushing turns stale (`rtc_up` 0 after --push.stale-after) and is forgotten after
 * --push.forget-after. See docs/exporter.md for the body format.
 */
import { timingSafeEqual } from 'node:crypto';
import { json, type Route } from '../lib/http.ts';
import type { Logger } from '../lib/logger.ts';
import {
  FAMILIES,
  type Family,
  type FamilyName,
  type HistogramSample,
  MAX_FAILURE_REASONS,
  type ScalarSample,
  SERVER_STATES,
  type ServerInfo,
  type ServerSnapshot,
  type ServerState,
} from '../sdk/index.ts';
import { pushErrors as E } from './errors.ts';
import { pushSchema } from './push-schema.ts';
import type { Source } from './source.ts';

/** One server's validated push. */
export interface PushedServer {
  readonly server: string;
  readonly info: Partial<ServerInfo>;
  readonly state?: ServerState;
  readonly startedAt?: number;
  /** Series key (`family{labels}`) → value; histograms keyed `family{labels}` with cumulative counts. */
  readonly scalars: Map<string, { family: FamilyName; labels: Record<string, string>; value: number }>;
  readonly histograms: Map<
    string,
    { family: FamilyName; labels: Record<string, string>; cumulative: number[]; sum: number }
  >;
}

export interface PushLimits {
  /** Servers in one body. @default 100 */
  maxServersPerBody: number;
  /** Series per server. @default 200 */
  maxSeriesPerServer: number;
}

const SERVER_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;
const REASON = /^[a-z0-9_]{1,48}$/;
const INFO_KEYS = ['version', 'eip', 'port', 'region', 'zone', 'host'] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const has = (o: object, k: string): boolean => Object.hasOwn(o, k);
const show = (k: string): string => JSON.stringify(k.length > 60 ? `${k.slice(0, 60)}…` : k);

function number(path: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw E.wrongType(path, 'a finite number');
  if (v < 0) throw E.negativeValue(path);
  return v;
}

function parseLabels(path: string, f: Family, raw: unknown): Record<string, string> {
  if (raw === undefined) raw = {};
  if (!isObject(raw)) throw E.wrongType(`${path}.labels`, 'an object of label values');
  const out: Record<string, string> = {};
  for (const k of Object.keys(raw))
    if (!f.labelNames.includes(k))
      throw E.badLabels(
        `${path}.labels`,
        `label ${show(k)} not allowed on ${f.name} (allowed: ${f.labelNames.join(', ') || 'none'})`,
      );
  for (const name of f.labelNames) {
    const v = raw[name];
    if (typeof v !== 'string') throw E.badLabels(`${path}.labels.${name}`, 'missing or not a string');
    const allowed = f.labelValues?.[name];
    if (allowed && !allowed.includes(v))
      throw E.badLabels(`${path}.labels.${name}`, `${show(v)} is not one of ${allowed.join(', ')}`);
    if (name === 'reason' && !REASON.test(v))
      throw E.badLabels(`${path}.labels.reason`, 'must match [a-z0-9_]{1,48}');
    out[name] = v;
  }
  return out;
}

const seriesKey = (family: string, labels: Record<string, string>): string =>
  `${family}{${Object.values(labels).join(',')}}`;

/** Validates one server object of a push body. Throws an HttpError naming the problem. */
export function validateServer(path: string, raw: unknown, limits: PushLimits): PushedServer {
  if (!isObject(raw)) throw E.wrongType(path, 'an object');
  for (const k of Object.keys(raw))
    if (!['server', 'info', 'state', 'started_at', 'metrics'].includes(k))
      throw E.invalidBody(
        `${path}.${k.slice(0, 60)}`,
        'unknown field (allowed: server, info, state, started_at, metrics)',
      );
  const server = raw.server;
  if (typeof server !== 'string' || !SERVER_ID.test(server))
    throw E.invalidBody(`${path}.server`, 'required, 1–128 characters of [A-Za-z0-9_.:@-]');
  const info: Partial<Record<(typeof INFO_KEYS)[number], string>> = {};
  if (raw.info !== undefined) {
    if (!isObject(raw.info)) throw E.wrongType(`${path}.info`, 'an object');
    for (const [k, v] of Object.entries(raw.info)) {
      if (!(INFO_KEYS as readonly string[]).includes(k))
        throw E.invalidBody(
          `${path}.info.${k.slice(0, 60)}`,
          `unknown field (allowed: ${INFO_KEYS.join(', ')})`,
        );
      if ((typeof v !== 'string' && typeof v !== 'number') || String(v).length > 256)
        throw E.wrongType(`${path}.info.${k}`, 'a string of at most 256 characters');
      info[k as (typeof INFO_KEYS)[number]] = String(v);
    }
  }
  let state: ServerState | undefined;
  if (raw.state !== undefined) {
    if (!SERVER_STATES.includes(raw.state as ServerState))
      throw E.invalidBody(`${path}.state`, `must be one of ${SERVER_STATES.join(', ')}`);
    state = raw.state as ServerState;
  }
  const startedAt = raw.started_at === undefined ? undefined : number(`${path}.started_at`, raw.started_at);
  const metrics = raw.metrics ?? {};
  if (!isObject(metrics)) throw E.wrongType(`${path}.metrics`, 'an object of metric name → value');

  const scalars: PushedServer['scalars'] = new Map();
  const histograms: PushedServer['histograms'] = new Map();
  let series = 0;
  for (const [name, value] of Object.entries(metrics)) {
    const p = `${path}.metrics.${name.slice(0, 60)}`;
    if (!has(FAMILIES, name)) throw E.unknownMetric(`${path}.metrics`, name);
    const family = name as FamilyName;
    const f: Family = FAMILIES[family];
    const items: unknown[] = Array.isArray(value) ? value : [value];
    if (items.length > limits.maxSeriesPerServer) throw E.tooManySeries(p, limits.maxSeriesPerServer);
    items.forEach((item, i) => {
      const ip = Array.isArray(value) ? `${p}[${i}]` : p;
      if (++series > limits.maxSeriesPerServer)
        throw E.tooManySeries(`${path}.metrics`, limits.maxSeriesPerServer);
      if (f.type === 'histogram') {
        if (!isObject(item))
          throw E.wrongType(ip, 'a histogram {buckets: {le: cumulative count}, sum, count}');
        const labels = parseLabels(ip, f, item.labels);
        const h = parseHistogram(ip, f, item);
        const key = seriesKey(name, labels);
        if (histograms.has(key)) throw E.badLabels(ip, 'duplicate label set');
        histograms.set(key, { family, labels, ...h });
        return;
      }
      let labels: Record<string, string>;
      let v: number;
      if (typeof item === 'number' && f.labelNames.length === 0) {
        labels = {};
        v = number(ip, item);
      } else {
        if (!isObject(item))
          throw E.wrongType(
            ip,
            f.labelNames.length ? '{labels: {…}, value: number}' : 'a number or {value: number}',
          );
        for (const k of Object.keys(item))
          if (k !== 'labels' && k !== 'value')
            throw E.invalidBody(`${ip}.${k.slice(0, 60)}`, 'unknown field');
        labels = parseLabels(ip, f, item.labels);
        v = number(`${ip}.value`, item.value);
      }
      if (f.type === 'gauge' && name === 'rtc_load_ratio' && v > 1000)
        throw E.invalidBody(ip, 'implausible load ratio');
      const key = seriesKey(name, labels);
      if (scalars.has(key)) throw E.badLabels(ip, 'duplicate label set');
      scalars.set(key, { family, labels, value: v });
    });
  }
  const reasons = [...scalars.values()].filter((s) => s.family === 'rtc_join_failures_total').length;
  if (reasons > MAX_FAILURE_REASONS)
    throw E.tooManySeries(`${path}.metrics.rtc_join_failures_total`, MAX_FAILURE_REASONS);
  return {
    server,
    info,
    ...(state ? { state } : {}),
    ...(startedAt !== undefined ? { startedAt } : {}),
    scalars,
    histograms,
  };
}

function parseHistogram(
  path: string,
  f: Family,
  item: Record<string, unknown>,
): { cumulative: number[]; sum: number } {
  for (const k of Object.keys(item))
    if (!['labels', 'buckets', 'sum', 'count'].includes(k))
      throw E.invalidBody(
        `${path}.${k.slice(0, 60)}`,
        'unknown field (allowed: labels, buckets, sum, count)',
      );
  const bounds = f.buckets ?? [];
  const expected = `le keys ${[...bounds.map(String), '+Inf'].join(', ')}`;
  if (!isObject(item.buckets)) throw E.wrongType(`${path}.buckets`, `an object with ${expected}`);
  const byLe = new Map<number, number>();
  for (const [le, c] of Object.entries(item.buckets)) {
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    if (
      le.trim() === '' ||
      Number.isNaN(bound) ||
      (bound !== Number.POSITIVE_INFINITY && !bounds.includes(bound))
    )
      throw E.invalidBody(`${path}.buckets`, `unexpected bucket ${show(le)} (expected ${expected})`);
    if (byLe.has(bound)) throw E.invalidBody(`${path}.buckets`, `bucket ${show(le)} given twice`);
    byLe.set(bound, number(`${path}.buckets.${le}`, c));
  }
  const cumulative: number[] = [];
  for (const b of [...bounds, Number.POSITIVE_INFINITY]) {
    const c = byLe.get(b);
    if (c === undefined)
      throw E.invalidBody(
        `${path}.buckets`,
        `missing bucket ${b === Infinity ? '+Inf' : b} (expected ${expected})`,
      );
    if (cumulative.length && c < cumulative[cumulative.length - 1]!)
      throw E.invalidBody(`${path}.buckets`, 'bucket counts must be cumulative (non-decreasing)');
    cumulative.push(c);
  }
  const sum = number(`${path}.sum`, item.sum);
  if (item.count !== undefined && number(`${path}.count`, item.count) !== cumulative[cumulative.length - 1])
    throw E.invalidBody(`${path}.count`, 'must equal the +Inf bucket');
  return { cumulative, sum };
}

/** A body is one server object or an array of them; returns them validated. */
export function validatePush(body: unknown, limits: PushLimits): PushedServer[] {
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw E.invalidBody('body', 'empty array');
  if (list.length > limits.maxServersPerBody)
    throw E.invalidBody('body', `more than ${limits.maxServersPerBody} servers in one body`);
  const out = list.map((s, i) => validateServer(Array.isArray(body) ? `body[${i}]` : 'body', s, limits));
  if (new Set(out.map((s) => s.server)).size !== out.length)
    throw E.invalidBody('body', 'a server appears twice');
  return out;
}

/** Checks that no counter (or histogram) went backwards since the previous push of the same run. */
export function checkMonotonic(prev: PushedServer, next: PushedServer, path: string): void {
  if (next.startedAt !== prev.startedAt) return; // a restart: counters may start again from 0
  for (const [key, s] of next.scalars) {
    if (FAMILIES[s.family].type !== 'counter') continue;
    const before = prev.scalars.get(key)?.value;
    if (before !== undefined && s.value < before)
      throw E.counterBackwards(`${path}.metrics.${key}`, before, s.value);
  }
  for (const [key, h] of next.histograms) {
    const before = prev.histograms.get(key);
    if (!before) continue;
    const b = before.cumulative[before.cumulative.length - 1]!;
    const n = h.cumulative[h.cumulative.length - 1]!;
    if (n < b) throw E.counterBackwards(`${path}.metrics.${key} count`, b, n);
  }
}

export interface PushSourceOptions {
  /** Bearer token required on POST /api/v1/push; '' = no auth. */
  token: string;
  staleAfterMs: number;
  forgetAfterMs: number;
  /** Distinct pushing servers kept. */
  maxServers: number;
  maxBodyBytes: number;
  limits?: Partial<PushLimits>;
  logger: Logger;
  now?: () => number;
}

interface Entry {
  data: PushedServer;
  lastPushMs: number;
  changedMs: number;
  fingerprint: string;
}

const fingerprint = (s: PushedServer): string =>
  JSON.stringify([s.state, s.info, [...s.scalars.entries()], [...s.histograms.entries()]]);

/** Turns a validated push into the snapshot the exporter renders. */
export function toSnapshot(s: PushedServer, up: boolean, changedMs: number): ServerSnapshot {
  const scalars: Partial<Record<FamilyName, ScalarSample[]>> = {};
  const histograms: Partial<Record<FamilyName, HistogramSample[]>> = {};
  for (const x of s.scalars.values()) {
    scalars[x.family] ??= [];
    const list = scalars[x.family]!;
    list.push(Object.keys(x.labels).length ? { labels: x.labels, value: x.value } : { value: x.value });
  }
  const participants = s.scalars.get('rtc_participants{}')?.value;
  const capacity = s.scalars.get('rtc_capacity_participants{}')?.value;
  if (!scalars.rtc_load_ratio && participants !== undefined && capacity !== undefined)
    scalars.rtc_load_ratio = [{ value: capacity > 0 ? participants / capacity : 0 }];
  for (const h of s.histograms.values()) {
    const counts = h.cumulative.map((c, i) => c - (i > 0 ? h.cumulative[i - 1]! : 0));
    histograms[h.family] ??= [];
    const list = histograms[h.family]!;
    list.push(
      Object.keys(h.labels).length ? { labels: h.labels, counts, sum: h.sum } : { counts, sum: h.sum },
    );
  }
  return {
    server: s.server,
    up,
    info: s.info,
    ...(s.state ? { state: s.state } : {}),
    updatedSeconds: changedMs / 1000,
    scalars: scalars as ServerSnapshot['scalars'] & object,
    histograms: histograms as ServerSnapshot['histograms'] & object,
  };
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!.trim());
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface PushSource extends Source {
  /** Servers currently tracked (stale ones included until forgotten). */
  size(): number;
}

/** The push endpoint as a Source: POST /api/v1/push, collect() = every tracked server. */
export function createPushSource(opts: PushSourceOptions): PushSource {
  const now = opts.now ?? Date.now;
  const limits: PushLimits = { maxServersPerBody: 100, maxSeriesPerServer: 200, ...opts.limits };
  const entries = new Map<string, Entry>();

  const forget = (t: number) => {
    for (const [id, e] of entries) if (t - e.lastPushMs > opts.forgetAfterMs) entries.delete(id);
  };

  const route: Route = {
    method: 'POST',
    path: '/api/v1/push',
    name: '/api/v1/push',
    maxBodyBytes: opts.maxBodyBytes,
    handler(req) {
      if (opts.token && !tokenMatches(req.headers.authorization, opts.token)) throw E.unauthorized();
      let body: unknown;
      try {
        body = JSON.parse(req.body.toString('utf8'));
      } catch (err) {
        throw E.invalidJson((err as Error).message.slice(0, 200));
      }
      const servers = validatePush(body, limits);
      const t = now();
      forget(t);
      const fresh = servers.filter((s) => !entries.has(s.server)).length;
      if (entries.size + fresh > opts.maxServers) throw E.tooManyServers(opts.maxServers);
      // Validate every server against its previous push before storing any (all or nothing).
      servers.forEach((s, i) => {
        const prev = entries.get(s.server);
        if (prev) checkMonotonic(prev.data, s, Array.isArray(body) ? `body[${i}]` : 'body');
      });
      for (const s of servers) {
        const prev = entries.get(s.server);
        const fp = fingerprint(s);
        entries.set(s.server, {
          data: s,
          lastPushMs: t,
          changedMs: prev && prev.fingerprint === fp ? prev.changedMs : t,
          fingerprint: fp,
        });
      }
      return json(200, { status: 'ok', servers: servers.map((s) => s.server) });
    },
  };

  return {
    name: 'push',
    routes: [route, { method: 'GET', path: '/api/v1/push/schema', handler: () => json(200, pushSchema()) }],
    size: () => entries.size,
    collect() {
      const t = now();
      forget(t);
      return [...entries.values()].map((e) =>
        toSnapshot(e.data, t - e.lastPushMs <= opts.staleAfterMs, e.changedMs),
      );
    },
  };
}
