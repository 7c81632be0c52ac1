import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { dirname } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type BasicAuth, createBasicAuth } from './basic-auth.ts';
import { ConfigError } from './errors.ts';
import type { Logger } from './logger.ts';
import {
  accessFor,
  checkPolicy,
  parseRoutePolicy,
  type RoutePolicy,
  readWebConfig,
  secureContextOptions,
  type TlsServerConfig,
  type WebConfig,
} from './web-config.ts';

/**
 * The running side of `--web.config.file`: builds the HTTP or HTTPS server, decides per request whether
 * it may go on (basic auth, route policy, rate limit), adds the configured headers, and reloads the file
 * on SIGHUP or when it or a certificate changes. A reload that fails keeps the config in force.
 */

/** What `serve()` needs from a role's config. */
export interface WebFlags {
  readonly webConfigFile: string;
  readonly webRoutePolicy: readonly string[];
}

/** A refusal, answered before the body is read. */
export interface Refusal {
  status: 401 | 403 | 429 | 503;
  reason: string;
  headers: Record<string, string>;
  message: string;
}

export interface WebSecurity {
  readonly tls: boolean;
  createServer(listener: RequestListener): Server;
  /** undefined = go on; otherwise answer with the refusal. */
  admit(msg: IncomingMessage, path: string, handler: string): Promise<Refusal | undefined>;
  /** Headers from `http_server_config.headers`, for every answer. */
  headers(): Readonly<Record<string, string>>;
  /** Re-reads the file; returns false (and keeps the old config) when it is invalid. */
  reload(): boolean;
  close(): void;
}

const REALM = 'Basic realm="rtcmon", charset="UTF-8"';

/** Reads the file and the policy; an invalid one throws a ConfigError naming the field (start-up). */
export function createWebSecurity(opts: {
  flags: WebFlags;
  logger: Logger;
  registry: Registry;
  auth?: BasicAuth;
  /** Reload when the files change. @default true */
  watch?: boolean;
}): WebSecurity | undefined {
  const { flags, logger, registry } = opts;
  const policy: RoutePolicy = parseRoutePolicy(flags.webRoutePolicy);
  if (!flags.webConfigFile) {
    if (policy.entries.length)
      throw new ConfigError('web.route-policy', 'needs --web.config.file with basic_auth_users');
    return undefined;
  }
  const file = flags.webConfigFile;
  let cfg = readWebConfig(file);
  checkPolicy(policy, cfg);
  const auth = opts.auth ?? createBasicAuth();
  const log = logger.child({ module: 'web-config' });

  const failures = new Counter({
    name: 'rtcmon_http_auth_failures_total',
    help: 'Requests refused by --web.config.file, by handler and reason.',
    labelNames: ['handler', 'reason'],
    registers: [registry],
  });
  const handshakeFailures = new Counter({
    name: 'rtcmon_tls_handshake_failures_total',
    help: 'TLS connections refused during or right after the handshake, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const reloadOk = new Gauge({
    name: 'rtcmon_web_config_last_reload_successful',
    help: 'Whether the last reading of --web.config.file succeeded.',
    registers: [registry],
  });
  const reloadTime = new Gauge({
    name: 'rtcmon_web_config_last_reload_success_timestamp_seconds',
    help: 'When --web.config.file was last read successfully.',
    registers: [registry],
  });
  reloadOk.set(1);
  reloadTime.set(Date.now() / 1000);

  // Token bucket of `rate_limit` (burst requests, one more per interval).
  let tokens = cfg.rateLimit?.burst ?? 0;
  let refilled = Date.now();
  const allow = (): boolean => {
    const rl = cfg.rateLimit;
    if (!rl) return true;
    const t = Date.now();
    tokens = Math.min(rl.burst, tokens + (t - refilled) / rl.intervalMs);
    refilled = t;
    if (tokens < 1) return false;
    tokens--;
    return true;
  };

  let server: HttpsServer | undefined;
  const applyTls = (t: TlsServerConfig) => {
    if (!server) return;
    server.setSecureContext(secureContextOptions(t));
    // Read per connection by Node's TLS server: new connections follow, open ones keep theirs.
    const s = server as unknown as { requestCert: boolean; rejectUnauthorized: boolean };
    s.requestCert = t.clientAuth !== 'NoClientCert';
    s.rejectUnauthorized = t.clientAuth === 'RequireAndVerifyClientCert';
  };

  /** Client-certificate rules Node's handshake does not enforce itself (the toolkit's Go ones). */
  const afterHandshake = (socket: TLSSocket) => {
    const t = cfg.tls;
    if (!t) return;
    const cert = socket.getPeerCertificate();
    const has = cert && Object.keys(cert).length > 0;
    let reason: string | undefined;
    if (t.clientAuth === 'RequireAnyClientCert' && !has) reason = 'no_client_certificate';
    else if (t.clientAuth === 'VerifyClientCertIfGiven' && has && !socket.authorized)
      reason = 'bad_client_certificate';
    else if (t.clientAllowedSans && has) {
      const sans = (cert.subjectaltname ?? '')
        .split(', ')
        .map((s) => s.slice(s.indexOf(':') + 1))
        .filter(Boolean);
      if (!sans.some((s) => t.clientAllowedSans!.includes(s))) reason = 'client_san_not_allowed';
    }
    if (reason) {
      handshakeFailures.inc({ reason });
      socket.destroy();
    }
  };

  const inputsDigest = (c: WebConfig): string => {
    const h = createHash('sha256');
    for (const f of [file, ...(c.tls?.files ?? [])]) {
      try {
        h.update(readFileSync(f));
      } catch {
        h.update(`missing ${f}`);
      }
    }
    return h.digest('hex');
  };
  let digest = inputsDigest(cfg);

  const reload = (): boolean => {
    // Remembered even when refused, so one bad save is reported once, not on every later file event.
    digest = inputsDigest(cfg);
    try {
      const next = readWebConfig(file);
      checkPolicy(policy, next);
      if (Boolean(next.tls) !== Boolean(cfg.tls))
        throw new Error(
          `web.config.file: tls_server_config: turning TLS ${next.tls ? 'on' : 'off'} needs a restart`,
        );
      if (next.tls) applyTls(next.tls);
      cfg = next;
      digest = inputsDigest(next);
      auth.clear();
      tokens = Math.min(tokens, next.rateLimit?.burst ?? 0);
      reloadOk.set(1);
      reloadTime.set(Date.now() / 1000);
      log.info({ file, tls: Boolean(next.tls), users: next.users.size }, 'web config reloaded');
      rewatch();
      return true;
    } catch (err) {
      reloadOk.set(0);
      log.error(
        { file, error: (err as Error).message },
        'web config refused; the previous one stays in force',
      );
      return false;
    }
  };

  // Editors and Kubernetes replace files by rename: watch the directories, compare contents, debounce.
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  const onChange = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (inputsDigest(cfg) !== digest) reload();
    }, 200);
    timer.unref();
  };
  function rewatch() {
    if (opts.watch === false) return;
    const dirs = new Set([file, ...(cfg.tls?.files ?? [])].map((f) => dirname(f)));
    for (const [d, w] of watchers)
      if (!dirs.has(d)) {
        w.close();
        watchers.delete(d);
      }
    for (const d of dirs) {
      if (watchers.has(d)) continue;
      try {
        const w = watch(d, { persistent: false }, onChange);
        w.on('error', () => {});
        watchers.set(d, w);
      } catch (err) {
        log.warn({ dir: d, error: (err as Error).message }, 'cannot watch; reload with SIGHUP');
      }
    }
  }
  rewatch();
  const onHup = () => {
    log.info({ file }, 'SIGHUP: reloading the web config');
    reload();
  };
  process.on('SIGHUP', onHup);

  const refuse = (handler: string, r: Refusal): Refusal => {
    failures.inc({ handler, reason: r.reason });
    return r;
  };

  return {
    tls: Boolean(cfg.tls),
    createServer(listener) {
      if (!cfg.tls) return createHttpServer(listener);
      const t = cfg.tls;
      server = createHttpsServer(
        {
          ...secureContextOptions(t),
          requestCert: t.clientAuth !== 'NoClientCert',
          rejectUnauthorized: t.clientAuth === 'RequireAndVerifyClientCert',
          ALPNProtocols: ['http/1.1'],
        },
        listener,
      );
      server.on('secureConnection', afterHandshake);
      server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
        handshakeFailures.inc({ reason: tlsReason(err) });
        log.debug({ error: err.message }, 'TLS handshake failed');
      });
      return server;
    },
    headers: () => cfg.headers,
    reload,
    async admit(msg, path, handler) {
      if (!allow())
        return refuse(handler, {
          status: 429,
          reason: 'rate_limited',
          headers: { 'retry-after': String(Math.ceil((cfg.rateLimit?.intervalMs ?? 1000) / 1000)) },
          message: 'too many requests (rate_limit in the web config)',
        });
      if (cfg.users.size === 0) return undefined;
      const access = accessFor(policy, path);
      if (access.kind === 'open') return undefined;
      const r = await auth.check(cfg.users, msg.headers.authorization);
      if (!r.ok) {
        if (r.reason === 'busy')
          return refuse(handler, {
            status: 503,
            reason: 'busy',
            headers: { 'retry-after': '1' },
            message: 'too many password checks waiting; retry',
          });
        return refuse(handler, {
          status: 401,
          reason: r.reason,
          headers: { 'www-authenticate': REALM },
          message: 'authentication required',
        });
      }
      if (access.users && !access.users.has(r.user))
        return refuse(handler, {
          status: 403,
          reason: 'not_allowed',
          headers: {},
          message: `user ${JSON.stringify(r.user)} may not call ${path} (--web.route-policy)`,
        });
      return undefined;
    },
    close() {
      process.off('SIGHUP', onHup);
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

/** A bounded label for a handshake error. */
function tlsReason(err: NodeJS.ErrnoException): string {
  const s = `${err.code ?? ''} ${err.message}`;
  if (/version|protocol/i.test(s)) return 'protocol_version';
  if (/expired/i.test(s)) return 'certificate_expired';
  if (/peer did not return a certificate|PEER_DID_NOT_RETURN/i.test(s)) return 'no_client_certificate';
  if (/certificate|verify|unknown ca/i.test(s)) return 'bad_certificate';
  if (/cipher|no shared/i.test(s)) return 'no_shared_cipher';
  if (/ECONNRESET|socket hang up|timeout/i.test(s)) return 'connection_closed';
  return 'other';
}
