import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.ts';

/**
 * Reads a token or password from a file named by `flag` ('' when no file is given). Secrets come from
 * files, not flag values, because every user on the host can read a process's arguments with ps.
 * One trailing newline is dropped (echo, Kubernetes secrets); an empty file is an error, not "no auth".
 * Without a file, the environment variable `env` (not shown by ps either; what the deploy manifests set).
 */
export function readSecretFile(path: string, flag: string, env?: string): string {
  if (!path) return (env && process.env[env]) || '';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      flag,
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const secret = text.replace(/\r?\n$/, '');
  if (!secret) throw new ConfigError(flag, `${path} is empty`);
  return secret;
}

/** Reads a PEM bundle of CA certificates named by --clickhouse.ca-file. */
export function readCaFile(path: string, flag = 'clickhouse.ca-file'): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new ConfigError(
      flag,
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError(flag, `${path} holds no PEM certificate`);
  return pem;
}
