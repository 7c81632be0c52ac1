/**
 * A simulated RTC server built on the SDK, for demos, tests and benches (contract 3). It holds rooms
 * and participants, generates plausible RTP/RTCP figures for them every tick, and serves on one port:
 * - GET /metrics (text or OpenMetrics), GET /-/healthy
 * - POST /demo/join {"room":"r1","n"?:1} → 200 {"ok":true,…} or 409 {"ok":false,"error":"full"|…}
 * - POST /demo/leave {"room":"r1","n"?:1} → 200
 * - POST /demo/state {"state":"draining"} → 200
 * With `churn`, its load also drifts on its own (a slow wave per server, phase from its id), so a
 * fleet's metrics move over time.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { ServerState } from './catalogue.ts';
import { CONTENT_TYPES, negotiateFormat, renderExposition } from './exposition.ts';
import { createRtcMetrics, type RtcMetrics } from './index.ts';

export interface SimServerOptions {
  id: string;
  /** Participants it accepts; join() beyond it fails with `room_full`. */
  capacity: number;
  region?: string;
  zone?: string;
  /** Public address in rtc_server_info. @default '127.0.0.1' */
  eip?: string;
  /** Port to listen on (127.0.0.1); 0 = a free one. Also rtc_server_info's port. @default 0 */
  port?: number;
  /** rtc_server_info's host. @default os.hostname() */
  host?: string;
  /** @default '1.0.0-sim' */
  version?: string;
  /** Let the load drift on its own: true, or the period of the load wave in seconds. @default false */
  churn?: boolean | number;
  /** Media/churn tick. @default 1000 */
  tickMs?: number;
  /** Deterministic randomness (tests). @default Math.random */
  random?: () => number;
}

export interface SimServer {
  readonly id: string;
  /** Base URL; metrics at url + '/metrics'. */
  readonly url: string;
  /** 127.0.0.1:port */
  readonly address: string;
  readonly metrics: RtcMetrics;
  /** Adds n participants (default 1) to room; false (nothing added) when full or not accepting. */
  join(room: string, n?: number): boolean;
  leave(room: string, n?: number): void;
  participants(): number;
  rooms(): number;
  state(): ServerState;
  setState(s: ServerState): void;
  /** Runs one media/churn tick now (tests). */
  tick(): void;
  stop(): Promise<void>;
}

export type SimFleetOptions = Omit<SimServerOptions, 'id' | 'port'> & {
  /** Id prefix: `${prefix}-${i}`. @default 'sim' */
  prefix?: string;
  /** Regions/zones handed out round-robin. */
  regions?: readonly string[];
  zones?: readonly string[];
};

const MAX_BODY = 4096;

function readJson(msg: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    msg.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        msg.destroy();
      } else chunks.push(c);
    });
    msg.on('end', () => {
      try {
        const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        if (v === null || typeof v !== 'object' || Array.isArray(v))
          throw new Error('expected a JSON object');
        resolve(v as Record<string, unknown>);
      } catch (err) {
        reject(err);
      }
    });
    msg.on('error', reject);
  });
}

function phaseOf(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  // Avalanche (murmur3 fmix32) so that ids differing in one character get unrelated phases.
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return ((h >>> 0) / 2 ** 32) * 2 * Math.PI;
}

/** Starts one simulated RTC server listening on 127.0.0.1. */
export async function startSimServer(opts: SimServerOptions): Promise<SimServer> {
  const random = opts.random ?? Math.random;
  const tickMs = opts.tickMs ?? 1000;
  const capacity = opts.capacity;
  const rooms = new Map<string, number[]>(); // room → join times (ms), oldest first
  let total = 0;
  let state: ServerState = 'serving';
  const m = createRtcMetrics({ server: opts.id, capacity });
  let demoRoomSeq = 0;

  const join = (room: string, n = 1): boolean => {
    n = Math.max(1, Math.floor(n));
    const existing = rooms.get(room);
    const reason =
      state === 'shutting_down'
        ? 'shutting_down'
        : state === 'draining' && !existing
          ? 'draining'
          : total + n > capacity
            ? 'room_full'
            : undefined;
    if (reason) {
      for (let i = 0; i < n; i++) m.joinFailed(reason);
      return false;
    }
    const list = existing ?? [];
    if (!existing) rooms.set(room, list);
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      list.push(now);
      m.participantJoined(room);
      m.joinSucceeded(0.15 + random() * 0.6 + (total / Math.max(1, capacity)) * 0.8);
      m.trackAdded('in', 'audio');
      m.trackAdded('in', 'video');
    }
    total += n;
    return true;
  };

  const leave = (room: string, n = 1): void => {
    const list = rooms.get(room);
    if (!list) return;
    const now = Date.now();
    for (let i = 0; i < n && list.length > 0; i++) {
      const joined = list.shift()!;
      m.participantLeft(room, (now - joined) / 1000);
      m.trackRemoved('in', 'audio');
      m.trackRemoved('in', 'video');
      total--;
    }
    if (list.length === 0) rooms.delete(room);
  };

  const period = typeof opts.churn === 'number' ? opts.churn : 120;
  const phase = phaseOf(opts.id);
  const started = Date.now();
  const tick = (): void => {
    const secs = tickMs / 1000;
    const load = total / Math.max(1, capacity);
    if (opts.churn) {
      const t = (Date.now() - started) / 1000;
      const target = Math.round(
        capacity * (0.15 + 0.55 * (0.5 + 0.5 * Math.sin((2 * Math.PI * t) / period + phase))),
      );
      const step = Math.max(1, Math.round(capacity * 0.05));
      if (total < target && state === 'serving') {
        const k = Math.min(step, target - total);
        for (let i = 0; i < k; i++) {
          // Fill recent demo rooms up to 4–8 participants, then open a new one.
          const name = `demo-${demoRoomSeq}`;
          if ((rooms.get(name)?.length ?? 0) >= 4 + (demoRoomSeq % 5)) demoRoomSeq++;
          join(`demo-${demoRoomSeq}`);
        }
      } else if (total > target) {
        const k = Math.min(step, total - target);
        for (let i = 0; i < k; i++) {
          const first = rooms.keys().next();
          if (first.done) break;
          leave(first.value);
        }
      }
      if (random() < 0.02 * secs * (1 + 4 * load)) m.joinFailed(random() < 0.5 ? 'ice_failed' : 'timeout');
      if (random() < 0.01 * secs) m.iceRestart();
    }
    // Media: each participant publishes audio (50 pkt/s × 120 B) and video (~1 Mbit/s), receives
    // everyone else's. Quality worsens as the load grows.
    let subs = 0;
    for (const list of rooms.values()) subs += list.length * (list.length - 1);
    m.setTracks('out', 'audio', subs);
    m.setTracks('out', 'video', subs);
    if (total === 0) return;
    const aPk = 50 * secs;
    const vPk = 95 * secs;
    m.rtp('in', 'audio', total * aPk * 120, total * aPk);
    m.rtp('in', 'video', total * vPk * 1150, total * vPk);
    m.rtp('out', 'audio', subs * aPk * 120, subs * aPk);
    m.rtp('out', 'video', subs * vPk * 1150, subs * vPk);
    const reports = Math.min(total, 200);
    for (let i = 0; i < reports; i++) {
      const lossRatio = Math.max(0, (random() - 0.7) * 0.02 + load * load * 0.03 * random());
      const rttSeconds = 0.015 + random() * 0.05 + load * 0.08 * random();
      const jitterSeconds = 0.001 + random() * 0.006 + load * 0.01 * random();
      const lostA = Math.round(aPk * lossRatio);
      const lostV = Math.round(vPk * lossRatio);
      m.rtcp({ kind: 'audio', direction: 'in', rttSeconds, jitterSeconds, lossRatio, packetsLost: lostA });
      m.rtcp({
        kind: 'video',
        direction: 'in',
        rttSeconds,
        jitterSeconds: jitterSeconds * 1.5,
        lossRatio,
        packetsLost: lostV,
        nacks: lostV,
        plis: random() < 0.05 ? 1 : 0,
      });
    }
  };
  const timer = setInterval(tick, tickMs);
  timer.unref();

  const reply = (res: import('node:http').ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if ((req.method === 'GET' || req.method === 'HEAD') && path === '/metrics') {
      const format = negotiateFormat(req.headers.accept);
      res
        .writeHead(200, { 'content-type': CONTENT_TYPES[format] })
        .end(renderExposition([m.snapshot()], format));
      return;
    }
    if (req.method === 'GET' && (path === '/-/healthy' || path === '/-/ready')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (
      req.method === 'POST' &&
      (path === '/demo/join' || path === '/demo/leave' || path === '/demo/state')
    ) {
      readJson(req).then(
        (body) => {
          if (path === '/demo/state') {
            const s = body.state;
            if (s !== 'serving' && s !== 'draining' && s !== 'shutting_down')
              return reply(res, 400, {
                ok: false,
                error: 'state must be serving, draining or shutting_down',
              });
            state = s;
            m.setState(s);
            return reply(res, 200, { ok: true, state });
          }
          const room = body.room;
          const n = body.n === undefined ? 1 : body.n;
          if (typeof room !== 'string' || room === '' || room.length > 256)
            return reply(res, 400, { ok: false, error: 'room must be a non-empty string' });
          if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10_000)
            return reply(res, 400, { ok: false, error: 'n must be an integer in [1, 10000]' });
          if (path === '/demo/leave') {
            leave(room, n);
            return reply(res, 200, { ok: true, participants: total });
          }
          const ok = join(room, n);
          return reply(res, ok ? 200 : 409, {
            ok,
            participants: total,
            ...(ok ? {} : { error: state === 'serving' ? 'full' : state }),
          });
        },
        (err: unknown) => reply(res, 400, { ok: false, error: (err as Error).message }),
      );
      return;
    }
    reply(res, 404, { ok: false, error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  m.setInfo({
    version: opts.version ?? '1.0.0-sim',
    eip: opts.eip ?? '127.0.0.1',
    port: String(port),
    region: opts.region ?? '',
    zone: opts.zone ?? '',
    host: opts.host ?? hostname(),
  });

  return {
    id: opts.id,
    url: `http://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    metrics: m,
    join,
    leave,
    participants: () => total,
    rooms: () => rooms.size,
    state: () => state,
    setState(s) {
      state = s;
      m.setState(s);
    },
    tick,
    stop: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Starts n simulated servers (`sim-0` … `sim-{n-1}`) on free ports. */
export async function startSimFleet(n: number, opts: SimFleetOptions): Promise<SimServer[]> {
  const { prefix = 'sim', regions, zones, ...rest } = opts;
  const out: SimServer[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const region = regions?.length ? regions[i % regions.length] : rest.region;
      const zone = zones?.length ? zones[i % zones.length] : rest.zone;
      out.push(
        await startSimServer({
          ...rest,
          id: `${prefix}-${i}`,
          port: 0,
          ...(region !== undefined ? { region } : {}),
          ...(zone !== undefined ? { zone } : {}),
        }),
      );
    }
  } catch (err) {
    await Promise.all(out.map((s) => s.stop()));
    throw err;
  }
  return out;
}
