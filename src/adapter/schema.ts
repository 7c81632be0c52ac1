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

/** One table of the schema, as written for a single node. */
export interface TableDef {
  readonly name: string;
  /** Column list, without parentheses. */
  readonly columns: string;
  /** `ReplacingMergeTree`, `MergeTree`, … (the cluster layout prefixes `Replicated`). */
  readonly engine: string;
  readonly engineArgs: readonly string[];
  /** PARTITION BY / ORDER BY / SETTINGS after the engine. */
  readonly tail: string;
  /** Sharding expression of the cluster's Distributed table (a series lives on one shard). */
  readonly shardBy: string;
}

/**
 * How tables are created. Single node: one plain table each. A cluster: a local Replicated table per
 * node (`{shard}`/`{replica}` macros) named `<name>_local`, and a Distributed table named `<name>` over
 * them, all `ON CLUSTER`; readers use the same names either way.
 */
export interface SchemaLayout {
  createDatabase(db: string): string;
  createTable(db: string, t: TableDef): string[];
}

export const singleNodeLayout: SchemaLayout = {
  createDatabase: (db) => `CREATE DATABASE IF NOT EXISTS ${ident(db)}`,
  createTable: (db, t) => [
    `CREATE TABLE IF NOT EXISTS ${ident(db)}.${ident(t.name)} (\n${t.columns}\n) ENGINE = ${t.engine}(${t.engineArgs.join(', ')})\n${t.tail}`,
  ],
};

/** The local table behind a cluster's Distributed table `name`. */
export const localTable = (name: string): string => `${name}_local`;

const sqlString = (s: string): string => `'${s.replace(/[\\']/g, '\\$&')}'`;

export function clusterLayout(cluster: string): SchemaLayout {
  const on = `ON CLUSTER ${ident(cluster)}`;
  return {
    createDatabase: (db) => `CREATE DATABASE IF NOT EXISTS ${ident(db)} ${on}`,
    createTable: (db, t) => {
      const local = localTable(t.name);
      const zkPath = sqlString(`/clickhouse/tables/{shard}/${db}/${local}`);
      return [
        `CREATE TABLE IF NOT EXISTS ${ident(db)}.${ident(local)} ${on} (\n${t.columns}\n) ENGINE = Replicated${t.engine}(${[zkPath, "'{replica}'", ...t.engineArgs].join(', ')})\n${t.tail}`,
        `CREATE TABLE IF NOT EXISTS ${ident(db)}.${ident(t.name)} ${on} AS ${ident(db)}.${ident(local)} ENGINE = Distributed(${ident(cluster)}, ${ident(db)}, ${ident(local)}, ${t.shardBy})`,
      ];
    },
  };
}

export interface Migration {
  readonly id: number;
  readonly name: string;
  /** The tables it creates (a cluster host has applied it once all of them exist there). */
  tables(f: Features): readonly TableDef[];
  /** Statements, in order; each must be safe to run again (IF NOT EXISTS). */
  statements(db: string, f: Features, layout: SchemaLayout): string[];
}

/**
 * The schema, as an ordered list of migrations. Never edit one that shipped: add the next id.
 * - series: one row per label set (+ rewritten now and then to move last_seen), collapsed by fingerprint.
 * - samples: (fingerprint, timestamp_ms) is the key; ReplacingMergeTree collapses a retried write's copy.
 * - metadata: the latest type/help/unit per metric family.
 * In a cluster, series and samples are sharded by fingerprint and metadata by `halfMD5(family)`.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'series, samples, metadata',
    tables(f) {
      const lc = (t: string) => (f.lowCardinality ? `LowCardinality(${t})` : t);
      return [
        {
          name: TABLES.series,
          columns: `  fingerprint UInt64,
  metric_name ${lc('String')},
  label_names Array(String),
  label_values Array(String),
  first_seen DateTime,
  last_seen DateTime`,
          engine: 'ReplacingMergeTree',
          engineArgs: ['last_seen'],
          tail: 'ORDER BY (metric_name, fingerprint)',
          shardBy: 'fingerprint',
        },
        {
          name: TABLES.samples,
          columns: `  fingerprint UInt64,
  timestamp_ms Int64${f.codecs ? ' CODEC(DoubleDelta, LZ4)' : ''},
  value Float64${f.codecs ? ' CODEC(Gorilla, LZ4)' : ''}`,
          engine: 'ReplacingMergeTree',
          engineArgs: [],
          tail: `PARTITION BY toDate(toDateTime(intDiv(timestamp_ms, 1000)))
ORDER BY (fingerprint, timestamp_ms)`,
          shardBy: 'fingerprint',
        },
        {
          name: TABLES.metadata,
          columns: `  metric_family_name String,
  type ${lc('String')},
  help String,
  unit String,
  updated DateTime`,
          engine: 'ReplacingMergeTree',
          engineArgs: ['updated'],
          tail: 'ORDER BY metric_family_name',
          shardBy: 'halfMD5(metric_family_name)',
        },
      ];
    },
    statements(db, f, layout) {
      return this.tables(f).flatMap((t) => layout.createTable(db, t));
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
  opts: { features?: Features } = {},
): Promise<MigrateResult> {
  const db = ch.database;
  const features = opts.features ?? (await detectFeatures(ch));
  const layout = singleNodeLayout;
  const settings = features.lowCardinalitySetting ? { allow_experimental_low_cardinality_type: 1 } : {};
  await ch.query(layout.createDatabase(db), { noDatabase: true });
  const mt = `${ident(db)}.${ident(TABLES.migrations)}`;
  await ch.query(
    `CREATE TABLE IF NOT EXISTS ${mt} (id UInt32, name String, applied DateTime) ENGINE = ReplacingMergeTree(applied) ORDER BY id`,
  );
  const done = new Set((await ch.query(`SELECT id FROM ${mt}`)).split('\n').filter(Boolean).map(Number));
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.id)) continue;
    for (const sql of m.statements(db, features, layout)) await ch.query(sql, { settings });
    await ch.query(
      `INSERT INTO ${mt} (id, name, applied) VALUES (${m.id}, '${m.name.replace(/[\\']/g, '\\$&')}', now())`,
    );
    applied.push(m.id);
  }
  return { features, applied, current: MIGRATIONS.at(-1)?.id ?? 0 };
}
