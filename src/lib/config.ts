import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.ts';

/**
 * One option: its flag name (Prometheus style, `--web.listen-address`), a default, and a parser that
 * turns the raw text (flag, env) or YAML value into the typed value or throws a message.
 */
export interface Option<T> {
  readonly flag: string;
  readonly help: string;
  readonly default: T;
  readonly parse: (raw: unknown) => T;
  /** How a value is written in `--help` (and how a user would type it): `15s`, `16MiB`, `:9201`. */
  format?(value: T): string;
}

export type Spec = Record<string, Option<unknown>>;
export type ConfigOf<S extends Spec> = { readonly [K in keyof S]: S[K] extends Option<infer T> ? T : never };

const opt =
  <T>(parse: (raw: unknown) => T, format?: (value: T) => string) =>
  (flag: string, def: T, help: string): Option<T> => ({
    flag,
    default: def,
    help,
    parse,
    ...(format ? { format } : {}),
  });

const text = (raw: unknown): string => {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  throw new Error(`expected a string, got ${JSON.stringify(raw)}`);
};

const DURATION_MS: Record<string, number> = { d: 86400e3, h: 3600e3, m: 60e3, s: 1e3, ms: 1 };
/** One or more `<number><unit>` terms, largest unit first as in Prometheus: `1h30m`, `1.5s`, `250ms`. */
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const DURATION_TERM = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
/**
 * Parses a duration (`500ms`, `15s`, `2m`, `1h30m`, `7d`), or a plain number of milliseconds (`15000`, as
 * flags took before units), into milliseconds.
 */
export function parseDuration(raw: unknown): number {
  if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return raw;
  const s = text(raw).trim();
  if (/^\d+(?:\.\d+)?$/.test(s)) return Number(s);
  if (!DURATION.test(s))
    throw new Error(
      `expected a duration like 500ms, 15s, 2m, 1h (or milliseconds), got ${JSON.stringify(raw)}`,
    );
  let ms = 0;
  for (const [, n, unit] of s.matchAll(DURATION_TERM)) ms += Number(n) * (DURATION_MS[unit!] ?? 1);
  return ms;
}

/** Milliseconds as the shortest exact duration: 15000 → `15s`, 5400000 → `1h30m`, 1500 → `1s500ms`, 0 → `0s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0 || !Number.isInteger(ms)) return `${ms}ms`;
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of Object.entries(DURATION_MS)) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

const BYTES = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i;
const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
};
/** Parses `512KiB`, `64MiB`, `1GB` or a plain byte count. */
export function parseBytes(raw: unknown): number {
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0) return raw;
  const m = BYTES.exec(text(raw).trim());
  if (!m) throw new Error(`expected a size like 512KiB or 64MiB, got ${JSON.stringify(raw)}`);
  return Math.floor(Number(m[1]) * (BYTE_UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1));
}

/** A byte count in the largest binary unit that divides it: 16777216 → `16MiB`, 1000 → `1000B`. */
export function formatBytes(n: number): string {
  for (const unit of ['GiB', 'MiB', 'KiB'] as const) {
    const size = BYTE_UNITS[unit.toLowerCase()]!;
    if (n > 0 && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n}B`;
}

function parseBool(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  const s = text(raw).toLowerCase();
  if (['true', '1', 'yes', 'on', ''].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw new Error(`expected true or false, got ${JSON.stringify(raw)}`);
}

/** `host:port`, `:port` (all interfaces) or a bare port; returns host ('' for all) and port. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}
export function parseListenAddress(raw: unknown): ListenAddress {
  const s = text(raw).trim();
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535) throw new Error(`expected host:port or :port, got ${JSON.stringify(raw)}`);
  return { host: m[1] ?? '', port };
}

/** The way Prometheus writes it: `:9201` for every interface, `127.0.0.1:9201`, `[::1]:9201`. */
export function formatListenAddress(a: ListenAddress): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

export const options = {
  string: opt(text),
  bool: opt(parseBool),
  duration: opt(parseDuration, formatDuration),
  bytes: opt(parseBytes, formatBytes),
  listen: opt(parseListenAddress, formatListenAddress),
  url: opt((raw) => {
    const s = text(raw);
    try {
      return new URL(s).toString().replace(/\/$/, '');
    } catch {
      throw new Error(`expected an absolute URL, got ${JSON.stringify(s)}`);
    }
  }),
  /** Comma-separated in flags and env, a list in YAML. */
  list: opt(
    (raw): readonly string[] =>
      Array.isArray(raw)
        ? raw.map(text)
        : text(raw)
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    (v) => v.join(','),
  ),
  int: (flag: string, def: number, help: string, min = 0, max = Number.MAX_SAFE_INTEGER): Option<number> =>
    opt((raw) => {
      const n = typeof raw === 'number' ? raw : Number(text(raw).trim());
      if (!Number.isInteger(n) || n < min || n > max)
        throw new Error(`expected an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
      return n;
    })(flag, def, help),
  number: (flag: string, def: number, help: string, min = -Infinity, max = Infinity): Option<number> =>
    opt((raw) => {
      const n = typeof raw === 'number' ? raw : Number(text(raw).trim());
      if (!Number.isFinite(n) || n < min || n > max)
        throw new Error(`expected a number in [${min}, ${max}], got ${JSON.stringify(raw)}`);
      return n;
    })(flag, def, help),
  oneOf: <T extends string>(flag: string, values: readonly T[], def: T, help: string): Option<T> =>
    opt((raw) => {
      const s = text(raw) as T;
      if (!values.includes(s))
        throw new Error(`expected one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
      return s;
    })(flag, def, help),
};

/** Options every role has. */
export const commonOptions = {
  logLevel: options.oneOf('log.level', ['debug', 'info', 'warn', 'error'] as const, 'info', 'Log level.'),
  configFile: options.string(
    'config.file',
    '',
    'Optional YAML file; its keys are the flag names (nested or dotted).',
  ),
  checkConfig: options.bool(
    'check-config',
    false,
    'Check flags, env and the YAML file, print "configuration OK" and exit (1 with the reason if not).',
  ),
};

/**
 * Thrown by loadConfig under `--check-config` once every value parsed and the role's own checks passed:
 * the role must not start. src/cli.ts prints the message and exits 0.
 */
export class ConfigChecked extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigChecked';
  }
}

/** `web.listen-address` → `RTCMON_WEB_LISTEN_ADDRESS`. */
export const envName = (flag: string): string => `RTCMON_${flag.replace(/[.-]/g, '_').toUpperCase()}`;

function flattenYaml(obj: unknown, prefix: string, out: Map<string, unknown>): void {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    out.set(prefix, obj);
    return;
  }
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flattenYaml(v, key, out);
    else out.set(key, v);
  }
}

/** Splits `--a=b`, `--a b` and bare `--flag` (true) into a map; anything else is an error. */
export function parseArgv(
  argv: readonly string[],
  boolFlags: ReadonlySet<string>,
  /** When given, a bare `--name` that is none of these is an unknown flag, not one missing its value. */
  known?: ReadonlySet<string>,
): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--'))
      throw new ConfigError(arg, 'unexpected argument (flags look like --name=value)');
    const eq = arg.indexOf('=');
    if (eq > 0) out.set(arg.slice(2, eq), arg.slice(eq + 1));
    else {
      const name = arg.slice(2);
      const next = argv[i + 1];
      if (known && !known.has(name) && !(name.startsWith('no-') && boolFlags.has(name.slice(3))))
        throw new ConfigError(name, 'unknown flag');
      if (boolFlags.has(name) && (next === undefined || next.startsWith('--'))) out.set(name, 'true');
      else if (name.startsWith('no-') && boolFlags.has(name.slice(3))) out.set(name.slice(3), 'false');
      else if (next === undefined) throw new ConfigError(name, 'missing value');
      else {
        out.set(name, next);
        i++;
      }
    }
  }
  return out;
}

/**
 * Resolves every option once: flag, then env (`RTCMON_…`), then YAML, then the default.
 * Unknown flags or YAML keys and unparsable values throw a ConfigError naming the key.
 */
export function loadConfig<S extends Spec>(
  spec: S,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  /** The role's checks across options (throw a ConfigError); run before the `--check-config` exit too. */
  validate?: (cfg: ConfigOf<S> & ConfigOf<typeof commonOptions>) => void,
): ConfigOf<S> & ConfigOf<typeof commonOptions> {
  const all: Spec = { ...commonOptions, ...spec };
  const byFlag = new Map(Object.entries(all).map(([k, o]) => [o.flag, k]));
  const boolFlags = new Set(
    Object.values(all)
      .filter((o) => typeof o.default === 'boolean')
      .map((o) => o.flag),
  );
  const flags = parseArgv(argv, boolFlags, new Set(byFlag.keys()));
  for (const f of flags.keys()) if (!byFlag.has(f)) throw new ConfigError(f, 'unknown flag');

  const yaml = new Map<string, unknown>();
  const file = flags.get('config.file') ?? env[envName('config.file')];
  if (file) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError('config.file', `cannot read ${file}: ${(err as Error).message}`);
    }
    if (doc != null) flattenYaml(doc, '', yaml);
    for (const k of yaml.keys()) if (!byFlag.has(k)) throw new ConfigError(k, `unknown key in ${file}`);
  }

  const out: Record<string, unknown> = {};
  const from = { flags: 0, env: 0, file: 0 };
  for (const [name, o] of Object.entries(all)) {
    const raw = flags.get(o.flag) ?? env[envName(o.flag)] ?? yaml.get(o.flag);
    if (raw === undefined) {
      out[name] = o.default;
      continue;
    }
    if (o !== commonOptions.checkConfig)
      from[flags.has(o.flag) ? 'flags' : env[envName(o.flag)] !== undefined ? 'env' : 'file']++;
    try {
      out[name] = o.parse(raw);
    } catch (err) {
      throw new ConfigError(o.flag, (err as Error).message);
    }
  }
  const cfg = Object.freeze(out) as ConfigOf<S> & ConfigOf<typeof commonOptions>;
  validate?.(cfg);
  if (cfg.checkConfig)
    throw new ConfigChecked(
      `configuration OK (${from.flags} setting(s) from flags, ${from.env} from RTCMON_* environment, ` +
        `${file ? `${from.file} from ${file}` : 'no config file'})`,
    );
  return cfg;
}

/** `rtcmon <version> (node <version>)`, from the package.json next to src/ or dist/. */
export function versionText(): string {
  let version = 'unknown';
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    version = pkg.version ?? version;
  } catch {
    // a copy of the code without its package.json: say so rather than fail
  }
  return `rtcmon, version ${version} (node ${process.version})\n`;
}

/** A value as a user would type it on the command line. */
function shown(o: Option<unknown>, value: unknown): string {
  if (o.format) return o.format(value);
  if (typeof value === 'string') return value === '' ? '""' : value;
  return String(value);
}

/**
 * `--help` text for a role, in Prometheus' style: every flag with its default written the way it is typed
 * (`--web.listen-address=:9201`, `--batch.max-delay=100ms`, `--write.max-body-bytes=16MiB`), its help and
 * its environment variable; booleans that default to true show their `--no-` form.
 */
export function usage(role: string, spec: Spec): string {
  const all: Spec = { ...spec, ...commonOptions };
  const lines = Object.values(all).map((o) => {
    const head =
      typeof o.default === 'boolean'
        ? o.default
          ? `--[no-]${o.flag}  (default on)`
          : `--${o.flag}`
        : `--${o.flag}=${shown(o, o.default)}`;
    return `  ${head}\n      ${o.help} [env ${envName(o.flag)}]`;
  });
  lines.push('  --version\n      Print the version and exit.', '  --help\n      Print this help and exit.');
  return `usage: rtcmon ${role} [flags]\n\nflags (flag, then env, then --config.file, then default):\n${lines.join('\n')}\n`;
}
