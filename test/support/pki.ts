import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type Agent, request } from 'node:https';
import { join } from 'node:path';
import { hashSync } from 'bcrypt';
import { stringify } from 'yaml';

/** A certificate and its key, as files. */
export interface Pair {
  cert: string;
  key: string;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });

function newKey(dir: string, name: string): string {
  const key = join(dir, `${name}.key`);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], dir);
  return key;
}

/** A self-signed CA, made with Debian's openssl in `dir`. */
export function makeCa(dir: string, name: string): Pair {
  mkdirSync(dir, { recursive: true });
  const key = newKey(dir, name);
  const cert = join(dir, `${name}.crt`);
  openssl(['req', '-x509', '-new', '-key', key, '-out', cert, '-days', '30', '-subj', `/CN=${name}`], dir);
  return { cert, key };
}

/**
 * A leaf signed by `ca`: a server certificate for 127.0.0.1/localhost, or a client one (clientAuth).
 * `days: -1` makes one that has already expired.
 */
export function makeLeaf(
  dir: string,
  ca: Pair,
  name: string,
  opts: { client?: boolean; days?: number } = {},
): Pair {
  const key = newKey(dir, name);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    opts.client
      ? `extendedKeyUsage=clientAuth\nsubjectAltName=DNS:${name}\n`
      : 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  openssl(['req', '-new', '-key', key, '-out', csr, '-subj', `/CN=${name}`], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      String(opts.days ?? 30),
      '-extfile',
      ext,
    ],
    dir,
  );
  return { cert, key };
}

/** bcrypt hash as htpasswd -nBC writes it ($2y$), at a given cost. */
export const bcryptHash = (password: string, cost = 10): string =>
  hashSync(password, cost).replace(/^\$2b\$/, '$2y$');

/** Writes an exporter-toolkit web config file. */
export function writeWebConfig(file: string, cfg: Record<string, unknown>): void {
  writeFileSync(file, stringify(cfg));
}

/** Authorization header value for basic auth. */
export const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

export interface HttpsAnswer {
  status: number;
  headers: Record<string, unknown>;
  body: Buffer;
}

/** One HTTPS request trusting `ca` (and showing a client certificate when given); a new connection unless `agent`. */
export function httpsCall(
  url: string,
  opts: {
    ca: string;
    client?: Pair;
    auth?: string;
    method?: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
    agent?: Agent;
    minVersion?: 'TLSv1' | 'TLSv1.2';
    maxVersion?: 'TLSv1' | 'TLSv1.2' | 'TLSv1.3';
    ciphers?: string;
  },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        ca: readFileSync(opts.ca),
        ...(opts.client ? { cert: readFileSync(opts.client.cert), key: readFileSync(opts.client.key) } : {}),
        ...(opts.minVersion ? { minVersion: opts.minVersion } : {}),
        ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
        ...(opts.ciphers ? { ciphers: opts.ciphers } : {}),
        agent: opts.agent ?? false,
        timeout: 10_000,
        headers: { ...opts.headers, ...(opts.auth ? { authorization: opts.auth } : {}) },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}
