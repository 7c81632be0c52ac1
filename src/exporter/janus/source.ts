/**
 * The Janus source: polls one Janus 1.x through its admin API (sessions, handles, per-handle WebRTC
 * stats, VideoRoom rooms) and receives its sample event handler's posts (ICE, DTLS, webrtcup, hangup,
 * media stats, VideoRoom joins); both feed one SDK recorder whose snapshot the exporter renders with
 * `server` = the configured id. When the admin API does not answer, the snapshot is `up: false`: the
 * exporter then shows `rtc_up 0` and nothing else for this server.
 */
import { timingSafeEqual } from 'node:crypto';
import { Counter, Histogram, type Registry } from 'prom-client';
import { json, type Route } from '../../lib/http.ts';
import { type Logger, silentLogger } from '../../lib/logger.ts';
import type { ServerInfo } from '../../sdk/index.ts';
import { janusEventErrors } from '../errors.ts';
import type { Source } from '../source.ts';
import { createJanusAdmin, type JanusAdmin, type JanusHandleInfo } from './admin.ts';
import { parseEvents } from './events.ts';
import { createJanusState, type JanusState } from './state.ts';

export interface JanusSourceOptions {
  /** `server` label of every series. */
  server: string;
  /** Admin API base URL, e.g. http://127.0.0.1:7088/admin. */
  adminUrl: string;
  adminSecret: string;
  /** @default 5000 */
  pollIntervalMs?: number;
  /** Admin request timeout. @default 3000 */
  timeoutMs?: number;
  /** Path of the event handler receiver on the exporter's port; '' disables it. @default '/janus/events' */
  eventsPath?: string;
  /**
   * Basic-auth credentials the event handler must send (its `backend_user`/`backend_pwd`); empty: none.
   */
  eventsUser?: string;
  eventsPassword?: string;
  /** Handle_info requests in flight at once. @default 4 */
  concurrency?: number;
  capacity?: number;
  info?: Partial<ServerInfo>;
  logger?: Logger;
  /** Self-metrics (polls, events) go here. */
  registry?: Registry;
  /** Injected admin client (tests). */
  admin?: JanusAdmin;
  now?: () => number;
}

export interface JanusSource extends Source {
  /** Polls once now (tests; the timer does this every poll interval). */
  pollNow(): Promise<boolean>;
  readonly state: JanusState;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createJanusSource(opts: JanusSourceOptions): JanusSource {
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? Date.now;
  const pollIntervalMs = opts.pollIntervalMs ?? 5000;
  const admin =
    opts.admin ??
    createJanusAdmin({ url: opts.adminUrl, secret: opts.adminSecret, timeoutMs: opts.timeoutMs ?? 3000 });
  const state = createJanusState({
    server: opts.server,
    ...(opts.capacity !== undefined ? { capacity: opts.capacity } : {}),
    ...(opts.info ? { info: opts.info } : {}),
    now,
  });
  const eventsPath = opts.eventsPath ?? '/janus/events';
  const registers = opts.registry ? [opts.registry] : [];
  const polls = new Counter({
    name: 'rtcmon_janus_polls_total',
    help: 'Janus admin API polls by result (ok, error).',
    labelNames: ['result'],
    registers,
  });
  const pollSeconds = new Histogram({
    name: 'rtcmon_janus_poll_duration_seconds',
    help: 'Time of one Janus admin API poll (all sessions, handles and rooms).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const eventsCounter = new Counter({
    name: 'rtcmon_janus_events_total',
    help: 'Janus event handler events received, by result (used, ignored: transport/JSEP/other, invalid).',
    labelNames: ['result'],
    registers,
  });

  let up = false;
  let lastOkMs = Number.NEGATIVE_INFINITY;
  let polled = false;
  let version = '';
  let inFlight: Promise<boolean> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastError = '';

  async function pollOnce(): Promise<boolean> {
    const end = pollSeconds.startTimer();
    try {
      // Every poll: the version may change across a restart, and an operator draining Janus with the
      // admin API's accept_new_sessions=false shows as rtc_server_state="draining".
      const info = await admin.info();
      if (info.version_string && info.version_string !== version) {
        version = info.version_string;
        state.setVersion(version);
      }
      state.setAccepting(info['accepting-new-sessions'] !== false);
      const sessions = await admin.listSessions();
      // Sessions and handles come and go between the calls: a vanished one is skipped, not an outage.
      const perSession = await mapLimit(sessions, opts.concurrency ?? 4, (s) =>
        admin.listHandles(s).then(
          (hs) => hs.map((h) => [s, h] as const),
          () => [],
        ),
      );
      const pairs = perSession.flat();
      const infos = (
        await mapLimit(pairs, opts.concurrency ?? 4, ([s, h]) =>
          admin.handleInfo(s, h).then(
            (i): JanusHandleInfo | undefined => ({ session_id: s, handle_id: h, ...i }),
            () => undefined,
          ),
        )
      ).filter((i): i is JanusHandleInfo => i !== undefined);
      const rooms = await admin.videoRoomList().catch(() => []);
      state.applyPoll(infos, rooms);
      if (!up || lastError)
        log.info({ server: opts.server, sessions: sessions.length }, 'janus admin API answers');
      up = true;
      lastError = '';
      lastOkMs = now();
      polls.inc({ result: 'ok' });
      return true;
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      if (msg !== lastError) log.warn({ server: opts.server, err: msg }, 'janus admin API poll failed');
      lastError = msg;
      up = false;
      polls.inc({ result: 'error' });
      return false;
    } finally {
      polled = true;
      end();
    }
  }

  const pollNow = (): Promise<boolean> => {
    inFlight ??= pollOnce().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const expectedAuth = opts.eventsUser
    ? `Basic ${Buffer.from(`${opts.eventsUser}:${opts.eventsPassword ?? ''}`).toString('base64')}`
    : '';
  const routes: Route[] = eventsPath
    ? [
        {
          method: 'POST',
          path: eventsPath,
          name: eventsPath,
          maxBodyBytes: 16 << 20,
          handler: (req) => {
            if (expectedAuth && !safeEqual(req.headers.authorization ?? '', expectedAuth))
              throw janusEventErrors.unauthorized();
            let body: unknown;
            try {
              body = JSON.parse(req.body.toString('utf8'));
            } catch {
              throw janusEventErrors.badJson();
            }
            if (typeof body !== 'object' || body === null) throw janusEventErrors.badEvents();
            const parsed = parseEvents(body);
            state.applyEvents(parsed.events);
            eventsCounter.inc({ result: 'used' }, parsed.events.length);
            eventsCounter.inc({ result: 'ignored' }, parsed.ignored);
            eventsCounter.inc({ result: 'invalid' }, parsed.invalid);
            return json(200, { status: 'success', used: parsed.events.length });
          },
        },
      ]
    : [];

  return {
    name: 'janus',
    state,
    routes,
    pollNow,
    async start() {
      await pollNow();
      timer = setInterval(() => {
        pollNow().catch(() => {});
      }, pollIntervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await inFlight;
    },
    ready: () => polled,
    collect() {
      // A poller that stalled (no success for three intervals) no longer speaks for Janus.
      const fresh = up && now() - lastOkMs <= 3 * pollIntervalMs + 1000;
      return [state.snapshot(fresh)];
    },
  };
}
