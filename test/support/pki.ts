import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
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
