import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { getRounds } from 'bcrypt';
import { parse as parseYaml } from 'yaml';
import { options } from './config.ts';
import { ConfigError } from './errors.ts';

/**
 * The web configuration file of the Prometheus exporter toolkit (`--web.config.file`), read the way the
 * toolkit reads it: unknown keys are errors, relative paths are relative to the file's directory, TLS is
 * on when any TLS field is set, every user has every route unless `--web.route-policy` says otherwise.
 * This module is pure: it turns the file's text into a checked, typed value or throws a WebConfigError
 * naming the field.
 */

/** Flags every role that serves HTTP adds to its spec. */
export const webOptions = {
  webConfigFile: options.string(
    'web.config.file',
    '',
    'Exporter-toolkit web config (TLS, basic_auth_users, headers, rate_limit); reloaded on SIGHUP and on change.',
  ),
  webRoutePolicy: options.list(
    'web.route-policy',
    [],
    'Who may call which path when basic_auth_users is set: PATH=open or PATH=user1|user2 (PATH/* for a prefix).',
  ),
};

export class WebConfigError extends ConfigError {
  constructor(field: string, message: string) {
    super(`web.config.file: ${field}`, message);
    this.name = 'ConfigError';
  }
}

export type ClientAuthType =
  | 'NoClientCert'
  | 'RequestClientCert'
  | 'RequireAnyClientCert'
  | 'VerifyClientCertIfGiven'
  | 'RequireAndVerifyClientCert';

export interface TlsServerConfig {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa: Buffer | undefined;
  readonly clientAuth: ClientAuthType;
  readonly clientAllowedSans: readonly string[] | undefined;
  readonly minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  readonly maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL names of the TLS ≤ 1.2 suites; undefined = Node's defaults. */
  readonly ciphers: readonly string[] | undefined;
  readonly curves: readonly string[] | undefined;
  readonly preferServerCipherSuites: boolean;
  /** Files this config was read from (watched for changes). */
  readonly files: readonly string[];
}

export interface WebConfig {
  readonly tls: TlsServerConfig | undefined;
  /** user → bcrypt hash; empty = no basic auth. */
  readonly users: ReadonlyMap<string, string>;
  readonly headers: Readonly<Record<string, string>>;
  readonly http2: boolean;
  readonly rateLimit: { readonly intervalMs: number; readonly burst: number } | undefined;
}

/** Go's crypto/tls version names, as the toolkit accepts them. */
const VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;
const VERSION_ORDER = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/**
 * The names Go's `tls.CipherSuites()` returns (what the toolkit accepts) → OpenSSL names. The TLS 1.3
 * suites are accepted and, as in Go, not configurable (null).
 */
const CIPHERS: Record<string, string | null> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

const CURVES: Record<string, string> = {
  CurveP256: 'P-256',
  CurveP384: 'P-384',
  CurveP521: 'P-521',
  X25519: 'X25519',
};

/** Headers the toolkit lets a config set, with their allowed values (empty = any). */
const HEADERS: Record<string, readonly string[]> = {
  'Strict-Transport-Security': [],
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': [],
  'Content-Security-Policy': [],
};

const CLIENT_AUTH: Record<string, ClientAuthType> = {
  '': 'NoClientCert',
  NoClientCert: 'NoClientCert',
  RequestClientCert: 'RequestClientCert',
  RequireAnyClientCert: 'RequireAnyClientCert',
  RequireClientCert: 'RequireAnyClientCert',
  VerifyClientCertIfGiven: 'VerifyClientCertIfGiven',
  RequireAndVerifyClientCert: 'RequireAndVerifyClientCert',
};

type Obj = Record<string, unknown>;

function object(v: unknown, field: string, keys: readonly string[]): Obj {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new WebConfigError(field, 'expected a mapping');
  for (const k of Object.keys(v))
    if (!keys.includes(k))
      throw new WebConfigError(field ? `${field}.${k}` : k, `unknown field (known: ${keys.join(', ')})`);
  return v as Obj;
}

function str(o: Obj, k: string, field: string): string {
  const v = o[k];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new WebConfigError(`${field}.${k}`, 'expected a string');
  return v;
}

function strList(o: Obj, k: string, field: string): string[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
    throw new WebConfigError(`${field}.${k}`, 'expected a list of strings');
  return v as string[];
}

function bool(o: Obj, k: string, field: string, def: boolean): boolean {
  const v = o[k];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'boolean') throw new WebConfigError(`${field}.${k}`, 'expected true or false');
  return v;
}

const GO_DURATION = /^(?:(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h))+$/;
const GO_UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1e3,
  m: 60e3,
  h: 3600e3,
};
/** A Go duration (`1s`, `1m30s`, `250ms`, `0`) in milliseconds. */
export function parseGoDuration(s: string): number {
  if (s === '0') return 0;
  if (!GO_DURATION.test(s)) throw new Error(`expected a duration like 1s or 250ms, got ${JSON.stringify(s)}`);
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * GO_UNIT_MS[m[2]!]!;
  return ms;
}

/** Reads a PEM given inline or as a file (relative to the config's directory). */
function pem(
  o: Obj,
  inline: string,
  fileKey: string,
  base: string,
  files: string[],
  read: (p: string) => Buffer,
): Buffer | undefined {
  const text = str(o, inline, 'tls_server_config');
  const path = str(o, fileKey, 'tls_server_config');
  if (text && path)
    throw new WebConfigError(`tls_server_config.${fileKey}`, `set either ${inline} or ${fileKey}, not both`);
  if (text) return Buffer.from(text);
  if (!path) return undefined;
  const full = isAbsolute(path) ? path : join(base, path);
  files.push(full);
  try {
    return read(full);
  } catch (err) {
    throw new WebConfigError(
      `tls_server_config.${fileKey}`,
      `cannot read ${full}: ${(err as Error).message}`,
    );
  }
}

function parseTls(raw: unknown, base: string, read: (p: string) => Buffer): TlsServerConfig | undefined {
  const field = 'tls_server_config';
  const o = object(raw, field, [
    'cert',
    'key',
    'client_ca',
    'cert_file',
    'key_file',
    'client_auth_type',
    'client_ca_file',
    'client_allowed_sans',
    'min_version',
    'max_version',
    'cipher_suites',
    'prefer_server_cipher_suites',
    'curve_preferences',
  ]);
  const enabled = [
    'cert',
    'key',
    'client_ca',
    'cert_file',
    'key_file',
    'client_ca_file',
    'client_auth_type',
  ].some((k) => str(o, k, field) !== '');
  // Version, cipher and curve names are checked even when TLS is off, as the toolkit's YAML decoding does.
  const version = (k: string, def: keyof typeof VERSIONS) => {
    const v = str(o, k, field) || def;
    const node = VERSIONS[v as keyof typeof VERSIONS];
    if (!node)
      throw new WebConfigError(
        `${field}.${k}`,
        `unknown TLS version ${JSON.stringify(v)} (TLS10, TLS11, TLS12, TLS13)`,
      );
    return node;
  };
  const minVersion = version('min_version', 'TLS12');
  const maxVersion = version('max_version', 'TLS13');
  const suites = strList(o, 'cipher_suites', field);
  const ciphers = suites?.map((s) => {
    if (!(s in CIPHERS)) throw new WebConfigError(`${field}.cipher_suites`, `unknown cipher: ${s}`);
    return CIPHERS[s];
  });
  const curves = strList(o, 'curve_preferences', field)?.map((c) => {
    const n = CURVES[c];
    if (!n) throw new WebConfigError(`${field}.curve_preferences`, `unknown curve: ${c}`);
    return n;
  });
  const authName = str(o, 'client_auth_type', field);
  const clientAuth = CLIENT_AUTH[authName];
  if (!clientAuth)
    throw new WebConfigError(
      `${field}.client_auth_type`,
      `invalid ClientAuth: ${authName} (${Object.keys(CLIENT_AUTH).filter(Boolean).join(', ')})`,
    );
  const preferServerCipherSuites = bool(o, 'prefer_server_cipher_suites', field, true);
  const clientAllowedSans = strList(o, 'client_allowed_sans', field);
  if (!enabled) return undefined;

  const files: string[] = [];
  const cert = pem(o, 'cert', 'cert_file', base, files, read);
  const key = pem(o, 'key', 'key_file', base, files, read);
  const clientCa = pem(o, 'client_ca', 'client_ca_file', base, files, read);
  if (!cert) throw new WebConfigError(`${field}.cert_file`, 'missing one of cert or cert_file');
  if (!key) throw new WebConfigError(`${field}.key_file`, 'missing one of key or key_file');
  if (clientCa && clientAuth === 'NoClientCert')
    throw new WebConfigError(
      `${field}.client_auth_type`,
      "client CA's have been configured without a Client Auth Policy",
    );
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion))
    throw new WebConfigError(`${field}.min_version`, 'is above max_version');
  const tls: TlsServerConfig = {
    cert,
    key,
    clientCa,
    clientAuth,
    clientAllowedSans,
    minVersion,
    maxVersion,
    ciphers: ciphers?.filter((c): c is string => c !== null),
    curves,
    preferServerCipherSuites,
    files,
  };
  // Loads the key pair and the CA as OpenSSL will: a mismatch or a bad PEM is an error now, not per handshake.
  try {
    createSecureContext(secureContextOptions(tls));
  } catch (err) {
    throw new WebConfigError(`${field}.cert_file`, `failed to load the key pair: ${(err as Error).message}`);
  }
  return tls;
}

/** Node TLS options for a parsed `tls_server_config`. */
export function secureContextOptions(t: TlsServerConfig): SecureContextOptions {
  const o: SecureContextOptions = {
    cert: t.cert,
    key: t.key,
    minVersion: t.minVersion,
    maxVersion: t.maxVersion,
    honorCipherOrder: t.preferServerCipherSuites,
  };
  if (t.clientCa) o.ca = t.clientCa;
  if (t.ciphers?.length) o.ciphers = `${TLS13_SUITES}:${t.ciphers.join(':')}`;
  // OpenSSL 3 refuses TLS 1.0/1.1 at its default security level; a config that asks for them gets them.
  if (t.minVersion === 'TLSv1' || t.minVersion === 'TLSv1.1')
    o.ciphers = `${o.ciphers ?? 'DEFAULT'}:@SECLEVEL=0`;
  if (t.curves?.length) o.ecdhCurve = t.curves.join(':');
  return o;
}

/** Parses the file's text; `path` resolves relative certificate paths (as the toolkit does). */
export function parseWebConfig(
  text: string,
  path: string,
  read: (p: string) => Buffer = (p) => readFileSync(p),
): WebConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new WebConfigError('(yaml)', (err as Error).message);
  }
  const top = object(doc, '', ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit']);

  const http = object(top.http_server_config, 'http_server_config', ['http2', 'headers']);
  const headerObj = object(http.headers, 'http_server_config.headers', Object.keys(HEADERS));
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(headerObj)) {
    const field = `http_server_config.headers.${k}`;
    if (typeof v !== 'string') throw new WebConfigError(field, 'expected a string');
    const allowed = HEADERS[k]!;
    if (allowed.length && !allowed.includes(v))
      throw new WebConfigError(field, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    if (v) headers[k] = v;
  }

  const users = new Map<string, string>();
  const rawUsers = top.basic_auth_users;
  if (rawUsers !== undefined && rawUsers !== null) {
    if (typeof rawUsers !== 'object' || Array.isArray(rawUsers))
      throw new WebConfigError('basic_auth_users', 'expected a mapping of user name to bcrypt hash');
    for (const [user, hash] of Object.entries(rawUsers as Obj)) {
      // The hash itself is never echoed: a password pasted here by mistake must not reach a log.
      if (typeof hash !== 'string')
        throw new WebConfigError(`basic_auth_users.${user}`, 'expected a bcrypt hash');
      let rounds: number;
      try {
        rounds = getRounds(hash);
      } catch {
        rounds = -1;
      }
      if (!/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash) || rounds < 4 || rounds > 31)
        throw new WebConfigError(
          `basic_auth_users.${user}`,
          'not a bcrypt hash ($2y$10$… from htpasswd -nBC 10)',
        );
      if (user.includes(':'))
        throw new WebConfigError(`basic_auth_users.${user}`, 'a user name cannot contain ":" (basic auth)');
      // $2y$ (htpasswd) is the same algorithm as $2b$, which is the name the bcrypt library knows.
      users.set(user, hash.replace(/^\$2y\$/, '$2b$'));
    }
  }

  const rl = object(top.rate_limit, 'rate_limit', ['interval', 'burst']);
  let rateLimit: WebConfig['rateLimit'];
  if (rl.interval !== undefined || rl.burst !== undefined) {
    let intervalMs: number;
    try {
      intervalMs = parseGoDuration(String(rl.interval ?? '0'));
    } catch (err) {
      throw new WebConfigError('rate_limit.interval', (err as Error).message);
    }
    const burst = rl.burst ?? 0;
    if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 0)
      throw new WebConfigError('rate_limit.burst', 'expected a non-negative integer');
    if (intervalMs > 0) rateLimit = { intervalMs, burst };
  }

  return {
    tls: parseTls(top.tls_server_config, dirname(path), read),
    users,
    headers,
    http2: bool(http, 'http2', 'http_server_config', true),
    rateLimit,
  };
}

/** Reads and parses the file (and the certificate files it names). */
export function readWebConfig(path: string): WebConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new WebConfigError('(file)', `cannot read ${path}: ${(err as Error).message}`);
  }
  return parseWebConfig(text, path);
}

/** Who may call a path: anyone (no credentials asked), any configured user, or the named users. */
export type Access =
  | { readonly kind: 'open' }
  | { readonly kind: 'users'; readonly users: ReadonlySet<string> | null };

export interface RoutePolicy {
  readonly entries: readonly {
    readonly pattern: string;
    readonly prefix: boolean;
    readonly access: Access;
  }[];
  /** Users the policy names (each must exist in basic_auth_users). */
  readonly users: ReadonlySet<string>;
}

/** `--web.route-policy` entries: `/write=prom-writer`, `/read=reader|grafana`, `/metrics=open`, `/api/v1/*=ops`. */
export function parseRoutePolicy(entries: readonly string[]): RoutePolicy {
  const out: RoutePolicy['entries'][number][] = [];
  const users = new Set<string>();
  for (const e of entries) {
    const eq = e.lastIndexOf('=');
    const pattern = eq > 0 ? e.slice(0, eq).trim() : '';
    const who = eq > 0 ? e.slice(eq + 1).trim() : '';
    if (!pattern.startsWith('/') || !who)
      throw new ConfigError(
        'web.route-policy',
        `expected PATH=open or PATH=user1|user2, got ${JSON.stringify(e)}`,
      );
    const prefix = pattern.endsWith('*');
    const p = prefix ? pattern.slice(0, -1) : pattern;
    if (out.some((x) => x.pattern === p && x.prefix === prefix))
      throw new ConfigError('web.route-policy', `${pattern} is given twice`);
    let access: Access;
    if (who === 'open') access = { kind: 'open' };
    else {
      const names = who.split('|').map((s) => s.trim());
      if (names.some((n) => !n))
        throw new ConfigError('web.route-policy', `empty user name in ${JSON.stringify(e)}`);
      for (const n of names) users.add(n);
      access = { kind: 'users', users: new Set(names) };
    }
    out.push({ pattern: p, prefix, access });
  }
  // Exact paths first, then the longest prefix: the most specific entry wins.
  out.sort((a, b) => Number(a.prefix) - Number(b.prefix) || b.pattern.length - a.pattern.length);
  return { entries: out, users };
}

const ANY_USER: Access = { kind: 'users', users: null };

/** The access rule for a path; without a matching entry, every configured user (the toolkit's rule). */
export function accessFor(policy: RoutePolicy, path: string): Access {
  for (const e of policy.entries)
    if (e.prefix ? path.startsWith(e.pattern) : path === e.pattern) return e.access;
  return ANY_USER;
}

/** A policy naming users the config does not define is refused (at start-up and on reload). */
export function checkPolicy(policy: RoutePolicy, cfg: WebConfig): void {
  if (policy.entries.length && cfg.users.size === 0)
    throw new ConfigError('web.route-policy', 'needs basic_auth_users in --web.config.file');
  for (const u of policy.users)
    if (!cfg.users.has(u))
      throw new WebConfigError(
        'basic_auth_users',
        `user ${JSON.stringify(u)} is named in --web.route-policy but not defined`,
      );
}
