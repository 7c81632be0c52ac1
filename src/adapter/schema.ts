import type { ClickHouseClient } from './clickhouse.ts';

/** What the connected ClickHouse supports; decided from `version()` and `system.settings`, never assumed. */
export interface Features {
  readonly version: string;
  /** LowCardinality(String) columns. */
  readonly lowCardinality: boolean;
  /** The setting LowCardinality needs on CREATE (18.x: experimental). */
  readonly lowCardinalitySetting: boolean;
  /** Column codecs (`CODEC(DoubleDelta, LZ4)`, `CODEC(Gorilla, LZ4)`): 19.11+. */
  readonly codecs: boolean;
}

/** `18.16.1` → [18, 16, 1]. */
export function parseVersion(v: string): number[] {
  return v
    .trim()
    .split('.')
    .map((p) => Number.parseInt(p, 10) || 0);
}

const atLeast = (v: number[], major: number, minor = 0): boolean =>
  (v[0] ?? 0) > major || ((v[0] ?? 0) === major && (v[1] ?? 0) >= minor);

/** Decides the features from the version string and the names of the server's settings. */
export function featuresFor(version: string, settingNames: ReadonlySet<string>): Features {
  const v = parseVersion(version);
  const lcSetting = settingNames.has('allow_experimental_low_cardinality_type');
  // LowCardinality became a regular type in 19.x; in 18.12–18.16 it needs the experimental setting.
  const lowCardinality = atLeast(v, 19, 0) || lcSetting;
  return {
    version: version.trim(),
    lowCardinality,
    lowCardinalitySetting: lowCardinality && !atLeast(v, 19, 0) && lcSetting,
    codecs: atLeast(v, 19, 11),
  };
}

export async function detectFeatures(ch: ClickHouseClient): Promise<Features> {
  const version = await ch.query('SELECT version()', { noDatabase: true });
  const names = await ch.query(
    "SELECT name FROM system.settings WHERE name IN ('allow_experimental_low_cardinality_type')",
    { noDatabase: true },
  );
  return featuresFor(version, new Set(names.split('\n').filter(Boolean)));
}

/** Table names, fixed by the contract with remote read. */
export const TABLES = {
  series: 'series',
  samples: 'samples',
  metadata: 'metadata',
  migrations: 'schema_migrations',
} as const;

/** Quotes an identifier for ClickHouse. */
export const ident = (name: string): string => `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;

/**
 * How a table stores its rows. Single node: the plain engine. The cluster variant passes a function that
 * turns `ReplacingMergeTree(v)` into `ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/t', '{replica}', v)`
 * and adds a Distributed table sharded by fingerprint; the columns and ORDER BY stay the same.
 */
export type EngineFor = (table: string, engine: string, args: readonly string[]) => string;
export const singleNodeEngine: EngineFor = (_t, engine, args) => `${engine}(${args.join(', ')})`;

export interface Migration {
  readonly id: number;
  readonly name: string;
  /** Statements, in order; each must be safe to run again (IF NOT EXISTS). */
  statements(db: string, f: Features, engine: EngineFor): string[];
}

/**
 * The schema, as an ordered list of migrations. Never edit one that shipped: add the next id.
 * - series: one row per label set (+ rewritten now and then to move last_seen), collapsed by fingerprint.
 * - samples: (fingerprint, timestamp_ms) is the key; ReplacingMergeTree collapses a retried write's copy.
 * - metadata: the latest type/help/unit per metric family.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'series, samples, metadata',
    statements(db, f, engine) {
      const lc = (t: string) => (f.lowCardinality ? `LowCardinality(${t})` : t);
      const q = (t: string) => `${ident(db)}.${ident(t)}`;
      return [
        `CREATE TABLE IF NOT EXISTS ${q(TABLES.series)} (
  fingerprint UInt64,
  metric_name ${lc('String')},
  label_names Array(String),
  label_values Array(String),
  first_seen DateTime,
  last_seen DateTime
) ENGINE = ${engine(TABLES.series, 'ReplacingMergeTree', ['last_seen'])}
ORDER BY (metric_name, fingerprint)`,
        `CREATE TABLE IF NOT EXISTS ${q(TABLES.samples)} (
  fingerprint UInt64,
  timestamp_ms Int64${f.codecs ? ' CODEC(DoubleDelta, LZ4)' : ''},
  value Float64${f.codecs ? ' CODEC(Gorilla, LZ4)' : ''}
) ENGINE = ${engine(TABLES.samples, 'ReplacingMergeTree', [])}
PARTITION BY toDate(toDateTime(intDiv(timestamp_ms, 1000)))
ORDER BY (fingerprint, timestamp_ms)`,
        `CREATE TABLE IF NOT EXISTS ${q(TABLES.metadata)} (
  metric_family_name String,
  type ${lc('String')},
  help String,
  unit String,
  updated DateTime
) ENGINE = ${engine(TABLES.metadata, 'ReplacingMergeTree', ['updated'])}
ORDER BY metric_family_name`,
      ];
    },
  },
];

export interface MigrateResult {
  readonly features: Features;
  readonly applied: readonly number[];
  readonly current: number;
}

/**
 * Creates the database and every table, or brings an older schema up to date. Idempotent: running it
 * again applies nothing. Applied migrations are recorded in `schema_migrations`.
 */
export async function migrate(
  ch: ClickHouseClient,
  opts: { engine?: EngineFor; features?: Features } = {},
): Promise<MigrateResult> {
  const db = ch.database;
  const features = opts.features ?? (await detectFeatures(ch));
  const engine = opts.engine ?? singleNodeEngine;
  const settings = features.lowCardinalitySetting ? { allow_experimental_low_cardinality_type: 1 } : {};
  await ch.query(`CREATE DATABASE IF NOT EXISTS ${ident(db)}`, { noDatabase: true });
  const mt = `${ident(db)}.${ident(TABLES.migrations)}`;
  await ch.query(
    `CREATE TABLE IF NOT EXISTS ${mt} (id UInt32, name String, applied DateTime) ENGINE = ${engine(TABLES.migrations, 'ReplacingMergeTree', ['applied'])} ORDER BY id`,
  );
  const done = new Set((await ch.query(`SELECT id FROM ${mt}`)).split('\n').filter(Boolean).map(Number));
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.id)) continue;
    for (const sql of m.statements(db, features, engine)) await ch.query(sql, { settings });
    await ch.query(
      `INSERT INTO ${mt} (id, name, applied) VALUES (${m.id}, '${m.name.replace(/[\\']/g, '\\$&')}', now())`,
    );
    applied.push(m.id);
  }
  return { features, applied, current: MIGRATIONS.at(-1)?.id ?? 0 };
}
