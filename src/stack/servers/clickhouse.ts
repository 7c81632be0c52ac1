import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, httpOk, type ManagedProcess, startProcess } from './process.ts';

export interface ClickHouse {
  readonly url: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly dir: string;
  readonly process: ManagedProcess;
  /** Runs one SQL statement over HTTP and returns the body (throws with ClickHouse's message on error). */
  query(sql: string): Promise<string>;
  stop(): Promise<void>;
  /** Starts it again on the same ports and data (for fault tests). */
  restart(): Promise<ClickHouse>;
}

export const CLICKHOUSE_BIN = '/usr/sbin/clickhouse-server';

export interface ClickHouseOptions {
  dir: string;
  httpPort?: number;
  tcpPort?: number;
  interserverPort?: number;
  logDir?: string;
  /** Extra XML inside <yandex> (zookeeper, macros, remote_servers). */
  extraConfig?: string;
  /** Extra settings of the default profile in users.xml (e.g. a short `receive_timeout` on a test rig). */
  profile?: Record<string, string | number>;
  /** Extra users beside the passwordless `default` (name → plaintext password), on 127.0.0.1. */
  users?: Record<string, string>;
  name?: string;
  /** Longest wait for /ping after start. @default 60 s */
  readyTimeoutMs?: number;
}

/** Writes a minimal config under `dir` and starts a single clickhouse-server on 127.0.0.1. */
export async function startClickHouse(opts: ClickHouseOptions): Promise<ClickHouse> {
  const httpPort = opts.httpPort ?? (await freePort());
  const tcpPort = opts.tcpPort ?? (await freePort());
  const interserverPort = opts.interserverPort ?? (await freePort());
  const dir = opts.dir;
  for (const d of ['data', 'tmp', 'user_files', 'format_schemas'])
    mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <interserver_http_port>${interserverPort}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>200</max_concurrent_queries>
  ${opts.extraConfig ?? ''}
</yandex>
`,
  );
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><log_queries>0</log_queries>${Object.entries(
    opts.profile ?? {},
  )
    .map(([k, v]) => `<${k}>${v}</${k}>`)
    .join('')}</default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>${Object.entries(
    opts.users ?? {},
  )
    .map(
      ([u, p]) =>
        `<${u}><password>${p}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></${u}>`,
    )
    .join('')}</users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`,
  );
  const url = `http://127.0.0.1:${httpPort}`;
  const start = async (): Promise<ClickHouse> => {
    const proc = await startProcess({
      name: opts.name ?? 'clickhouse',
      command: CLICKHOUSE_BIN,
      args: [`--config-file=${join(dir, 'config.xml')}`],
      cwd: dir,
      logDir: opts.logDir ?? dir,
      ready: () => httpOk(`${url}/ping`),
      ...(opts.readyTimeoutMs ? { readyTimeoutMs: opts.readyTimeoutMs } : {}),
    });
    return {
      url,
      httpPort,
      tcpPort,
      dir,
      process: proc,
      query: (sql) => clickhouseQuery(url, sql),
      stop: () => proc.stop(),
      restart: async () => {
        await proc.stop();
        return start();
      },
    };
  };
  return start();
}

/** POSTs one statement to ClickHouse's HTTP interface. */
export async function clickhouseQuery(url: string, sql: string): Promise<string> {
  const res = await fetch(`${url}/`, { method: 'POST', body: sql });
  const body = await res.text();
  if (!res.ok) throw new Error(`ClickHouse ${res.status}: ${body.trim()}`);
  return body;
}
