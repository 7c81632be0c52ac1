import { createHash, randomBytes } from 'node:crypto';
import { compare, getRounds, hashSync } from 'bcrypt';

/**
 * HTTP basic authentication against bcrypt hashes. bcrypt makes every guess expensive for the attacker;
 * two things keep it from being expensive for the server:
 * - a checked (user, hash, password) triple is remembered for `cacheTtlMs`, so Prometheus sending the same
 *   credentials on every request costs one hash a minute, not one per request; the key is a SHA-256 of the
 *   triple, so the cache holds no password;
 * - at most `maxConcurrent` comparisons run at once (on libuv's thread pool), at most `maxWaiting` wait;
 *   beyond that a request is refused as `busy` (503, Prometheus retries) without hashing anything.
 * An unknown user is compared against a dummy hash of the same cost, so timing does not reveal which users exist.
 */

export type AuthFailure = 'missing' | 'malformed' | 'unknown_user' | 'wrong_password' | 'busy';
export type AuthResult =
  | { readonly ok: true; readonly user: string }
  | { readonly ok: false; readonly reason: AuthFailure };

export interface BasicAuthOptions {
  /** How long a checked credential is remembered. @default 60s */
  cacheTtlMs?: number;
  /** Credentials remembered at most (oldest dropped first). @default 1024 */
  cacheSize?: number;
  /** bcrypt comparisons running at once. @default 2 */
  maxConcurrent?: number;
  /** Requests waiting for a comparison; more are refused as busy. @default 64 */
  maxWaiting?: number;
  /** Longest Authorization header looked at; a longer one is malformed. @default 1024 */
  maxHeaderBytes?: number;
  now?: () => number;
}

export interface BasicAuth {
  check(users: ReadonlyMap<string, string>, header: string | string[] | undefined): Promise<AuthResult>;
  /** Forgets every cached credential (on reload). */
  clear(): void;
  readonly cached: number;
}

/** `Basic base64(user:password)` → [user, password], or undefined when malformed. */
export function parseBasic(header: string): [string, string] | undefined {
  const m = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

export function createBasicAuth(opts: BasicAuthOptions = {}): BasicAuth {
  const ttl = opts.cacheTtlMs ?? 60_000;
  const size = opts.cacheSize ?? 1024;
  const maxConcurrent = opts.maxConcurrent ?? 2;
  const maxWaiting = opts.maxWaiting ?? 64;
  const maxHeader = opts.maxHeaderBytes ?? 1024;
  const now = opts.now ?? Date.now;
  // Successes and failures are kept apart, so a flood of wrong guesses cannot evict the right credentials.
  const good = new Map<string, number>();
  const bad = new Map<string, number>();
  // An unknown user is checked against a hash of the same cost as the configured ones (same time).
  const dummies = new Map<number, string>();
  const dummyFor = (users: ReadonlyMap<string, string>): string => {
    const first = users.values().next().value;
    const cost = first ? getRounds(first) : 10;
    let d = dummies.get(cost);
    if (!d) {
      d = hashSync(randomBytes(16).toString('hex'), cost);
      dummies.set(cost, d);
    }
    return d;
  };
  let running = 0;
  const waiting: (() => void)[] = [];

  const slot = async (): Promise<boolean> => {
    if (running < maxConcurrent) {
      running++;
      return true;
    }
    if (waiting.length >= maxWaiting) return false;
    await new Promise<void>((r) => waiting.push(r));
    return true;
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };

  return {
    get cached() {
      return good.size + bad.size;
    },
    clear: () => {
      good.clear();
      bad.clear();
    },
    async check(users, header) {
      if (header === undefined || header === '') return { ok: false, reason: 'missing' };
      if (typeof header !== 'string' || header.length > maxHeader) return { ok: false, reason: 'malformed' };
      const creds = parseBasic(header);
      if (!creds) return { ok: false, reason: 'malformed' };
      const [user, password] = creds;
      const known = users.get(user);
      const hash = known ?? dummyFor(users);
      const key = createHash('sha256')
        .update(user)
        .update('\0')
        .update(hash)
        .update('\0')
        .update(password)
        .digest('base64');
      const t = now();
      let ok: boolean;
      if ((good.get(key) ?? 0) > t) ok = true;
      else if ((bad.get(key) ?? 0) > t) ok = false;
      else {
        if (!(await slot())) return { ok: false, reason: 'busy' };
        try {
          ok = await compare(password, hash);
        } finally {
          release();
        }
        const cache = ok ? good : bad;
        cache.delete(key);
        cache.set(key, now() + ttl);
        if (cache.size > size) cache.delete(cache.keys().next().value!);
      }
      if (!known) return { ok: false, reason: 'unknown_user' };
      return ok ? { ok: true, user } : { ok: false, reason: 'wrong_password' };
    },
  };
}
