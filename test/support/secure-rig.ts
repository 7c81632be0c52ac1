import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type ManagedProcess } from '../../src/stack/servers/process.ts';
import { startRole } from '../../src/stack/servers/role.ts';
import { basic, bcryptHash, httpsCall, makeCa, makeLeaf, type Pair, writeWebConfig } from './pki.ts';

/**
 * Certificates, users and a web config for tests of `--web.config.file` against real programs: one CA,
 * a server certificate for 127.0.0.1, a client certificate for Prometheus, random passwords (each also in a
 * file, for Prometheus' password_file), and a way to start a role behind them.
 */
export interface Secrets {
  dir: string;
  ca: Pair;
  server: Pair;
  client: Pair;
  webConfig: string;
  users: Record<'scraper' | 'writer' | 'reader', { password: string; file: string }>;
  /** Prometheus HTTP client settings for `user` (basic_auth + tls_config with the client certificate). */
  promClient(user: keyof Secrets['users']): Record<string, unknown>;
  auth(user: keyof Secrets['users']): string;
  /** Rewrites the web config; `users` replaces passwords, `server` the certificate. */
  write(opts?: { server?: Pair; passwords?: Partial<Record<keyof Secrets['users'], string>> }): void;
}

export function makeSecrets(dir: string, opts: { cost?: number } = {}): Secrets {
  mkdirSync(dir, { recursive: true });
  const ca = makeCa(dir, 'ca');
  const server = makeLeaf(dir, ca, 'server');
  const client = makeLeaf(dir, ca, 'prometheus', { client: true });
  const users = {} as Secrets['users'];
  for (const u of ['scraper', 'writer', 'reader'] as const) {
    const password = `${u}-${randomBytes(9).toString('hex')}`;
    const file = join(dir, `${u}.password`);
    writeFileSync(file, password);
    users[u] = { password, file };
  }
  const webConfig = join(dir, 'web.yml');
  let current = server;
  const s: Secrets = {
    dir,
    ca,
    server,
    client,
    webConfig,
    users,
    promClient: (u) => ({
      basic_auth: { username: u, password_file: users[u].file },
      tls_config: { ca_file: ca.cert, cert_file: client.cert, key_file: client.key },
    }),
    auth: (u) => basic(u, users[u].password),
    write(o = {}) {
      if (o.server) current = o.server;
      for (const [u, p] of Object.entries(o.passwords ?? {}))
        users[u as keyof Secrets['users']].password = p!;
      writeWebConfig(webConfig, {
        tls_server_config: {
          cert_file: current.cert,
          key_file: current.key,
          client_ca_file: ca.cert,
          client_auth_type: 'RequireAndVerifyClientCert',
        },
        http_server_config: { headers: { 'X-Content-Type-Options': 'nosniff', 'X-Frame-Options': 'deny' } },
        basic_auth_users: Object.fromEntries(
          Object.entries(users).map(([u, { password }]) => [u, bcryptHash(password, opts.cost ?? 10)]),
        ),
      });
    },
  };
  s.write();
  return s;
}

/** Starts `rtcmon <role>` with the web config and a route policy, waiting for it over mutual TLS. */
export async function startSecureRole(opts: {
  role: string;
  secrets: Secrets;
  args: readonly string[];
  policy: readonly string[];
  logDir: string;
  name?: string;
  port?: number;
  readyPath?: string;
}): Promise<{ proc: ManagedProcess; url: string; port: number }> {
  const port = opts.port ?? (await freePort());
  const url = `https://127.0.0.1:${port}`;
  const { secrets } = opts;
  const proc = await startRole({
    role: opts.role,
    name: opts.name ?? opts.role,
    url,
    logDir: opts.logDir,
    args: [
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.config.file=${secrets.webConfig}`,
      `--web.route-policy=${opts.policy.join(',')}`,
      ...opts.args,
    ],
    ready: async () => {
      try {
        const r = await httpsCall(`${url}${opts.readyPath ?? '/-/ready'}`, {
          ca: secrets.ca.cert,
          client: secrets.client,
          auth: secrets.auth('scraper'),
        });
        return r.status === 200;
      } catch {
        return false;
      }
    },
  });
  return { proc, url, port };
}
