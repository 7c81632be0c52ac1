import { timingSafeEqual } from 'node:crypto';
import { type App, createApp, json, type Reply, type Req, type Route } from '../lib/http.ts';
import type { Logger } from '../lib/logger.ts';
import type { AllocateRequest, Answer, Chooser } from './chooser.ts';
import { forbidden, invalidRequest, NO_SERVER_STATUS, unauthorized, unknownServer } from './errors.ts';
import type { DispatcherMetrics } from './metrics.ts';
import type { SharedStore } from './store.ts';

export interface AppDeps {
  chooser: Chooser;
  store: SharedStore;
  metrics: DispatcherMetrics;
  logger: Logger;
  /** Bearer token for drain/undrain; empty disables them. */
  apiToken: string;
  clock?: () => number;
}

const MAX_ROOM = 256;
const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json; charset=utf-8',
});
const NO_SERVER_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json; charset=utf-8',
  'retry-after': '1',
});
/** A path segment whose %-escapes always decode (ASCII): anything else is a 404, not a decoding error. */
const ID = '(?:[^/%]|%[0-7][0-9A-Fa-f])+';
const MAX_LABEL = 128;
// Names may be anything printable; control characters would end up in logs and explanations.
const CONTROL = /[\u0000-\u001f\u007f]/;

function field(
  obj: Record<string, unknown>,
  name: string,
  max: number,
  required: boolean,
): string | undefined {
  const v = obj[name];
  if (v === undefined || v === null) {
    if (required) throw invalidRequest(`"${name}" is required`);
    return undefined;
  }
  if (typeof v !== 'string')
    throw invalidRequest(`"${name}" must be a string, got ${Array.isArray(v) ? 'array' : typeof v}`);
  if (required && v.length === 0) throw invalidRequest(`"${name}" must not be empty`);
  if (v.length > max) throw invalidRequest(`"${name}" is longer than ${max} characters`);
  if (CONTROL.test(v)) throw invalidRequest(`"${name}" contains control characters`);
  return v;
}

function jsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw invalidRequest('the body must be a JSON object, e.g. {"room":"r1"}');
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw invalidRequest(`the body is not valid JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw invalidRequest('the body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Validates an allocate body: `{room, region?, client?}`. */
export function parseAllocate(body: Buffer): AllocateRequest {
  const o = jsonObject(body);
  const room = field(o, 'room', MAX_ROOM, true)!;
  const region = field(o, 'region', MAX_LABEL, false);
  const client = field(o, 'client', MAX_ROOM, false);
  return { room, region: region || undefined, client };
}

/** Legacy parameters come from the query string, a JSON body or a form body. */
function legacyParams(req: Req): Record<string, unknown> {
  const out: Record<string, unknown> = Object.fromEntries(req.query);
  if (req.body.length > 0) {
    const ct = String(req.headers['content-type'] ?? '');
    if (ct.includes('json') || req.body[0] === 0x7b) Object.assign(out, jsonObject(req.body));
    else Object.assign(out, Object.fromEntries(new URLSearchParams(req.body.toString('utf8'))));
  }
  return out;
}

/** The dispatcher's HTTP API as a socket-free app. */
export function createDispatcherApp(deps: AppDeps): App {
  const { chooser, store, metrics, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const token = Buffer.from(deps.apiToken);

  // Rooms whose first placement (or spill) is being claimed in Redis: later joins of the room wait for
  // the claim instead of following an unconfirmed local placement.
  const claims = new Map<string, Promise<void>>();

  const allocate = async (req: Req): Promise<Reply> => {
    const r = parseAllocate(req.body);
    for (let w = claims.get(r.room); w; w = claims.get(r.room)) await w;
    const now = clock();
    let t0 = performance.now();
    let ans: Answer = chooser.allocate(r, now);
    let spent = performance.now() - t0;
    if (store.shared && ans.ok && ans.newSlot >= 0) {
      let release = () => {};
      claims.set(
        r.room,
        new Promise<void>((ok) => {
          release = ok;
        }),
      );
      try {
        for (let tries = 0; tries < 4 && ans.ok && ans.newSlot >= 0; tries++) {
          const mine = ans.server!.id;
          const owner = await store.claim(r.room, ans.newSlot, mine);
          if (owner === mine) break;
          metrics.claimConflict();
          chooser.yieldSlot(r.room, mine, owner, now);
          t0 = performance.now();
          ans = chooser.allocate(r, now);
          spent += performance.now() - t0;
        }
      } finally {
        claims.delete(r.room);
        release();
      }
    }
    metrics.decision(ans, spent / 1000);
    if (ans.ok && store.shared) {
      const slot = chooser.affinity.get(r.room, now)?.servers.indexOf(ans.server!.id) ?? 0;
      store.publishAssign(ans.server!.id, r.room, slot, now);
    }
    if (!ans.ok) logger.info({ room: r.room, region: r.region, message: ans.message }, 'no server');
    return {
      status: ans.ok ? 200 : NO_SERVER_STATUS,
      headers: ans.ok ? JSON_HEADERS : NO_SERVER_HEADERS,
      body: chooser.answerJson(ans),
    };
  };

  const servers = (req: Req): Reply => {
    const now = clock();
    const region = req.query.get('region');
    const rows = chooser.rows(now).filter((s) => !region || s.region === region);
    return json(200, {
      snapshotTime: chooser.current.takenAtMs ? new Date(chooser.current.takenAtMs).toISOString() : null,
      dataAgeMs: chooser.current.takenAtMs ? now - chooser.current.takenAtMs : null,
      blind: chooser.blind,
      blindForMs: chooser.blindForMs(now),
      ledgerEntries: chooser.ledger.size,
      rooms: chooser.affinity.size,
      servers: rows,
    });
  };

  const authorize = (req: Req) => {
    if (token.length === 0)
      throw forbidden('drain and undrain are disabled: start the dispatcher with --api.token-file');
    const h = req.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Bearer '))
      throw unauthorized('an "Authorization: Bearer <token>" header is required');
    const given = Buffer.from(h.slice(7).trim());
    if (given.length !== token.length || !timingSafeEqual(given, token))
      throw unauthorized('wrong bearer token');
  };

  const drain =
    (drained: boolean) =>
    async (req: Req): Promise<Reply> => {
      authorize(req);
      const id = req.params[0] ?? '';
      if (!chooser.current.byId.has(id)) throw unknownServer(id);
      chooser.setDrained(id, drained, clock());
      await store.setDrained(id, drained).catch((err: unknown) => {
        logger.warn({ err: (err as Error).message, server: id }, 'sharing the drain through redis failed');
      });
      logger.info({ server: id, drained }, drained ? 'server drained' : 'server undrained');
      return json(200, {
        server: id,
        drained,
        message: drained
          ? `${id} takes no new room; its rooms keep their participants`
          : `${id} takes new rooms again`,
      });
    };

  const legacy = (req: Req): Reply => {
    const p = legacyParams(req);
    const action = p.Action;
    if (action !== 'GetRtcServer')
      return json(400, {
        RetCode: 160,
        Action: `${typeof action === 'string' ? action : 'Unknown'}Response`,
        Message: `unsupported Action ${JSON.stringify(action ?? null)}; expected "GetRtcServer"`,
      });
    const region = p.Region;
    if (region !== undefined && typeof region !== 'string')
      return json(400, { RetCode: 230, Action: 'GetRtcServerResponse', Message: 'Region must be a string' });
    const format = p.Format;
    if (format !== undefined && format !== '' && format !== 'original' && format !== 'extended')
      return json(400, {
        RetCode: 230,
        Action: 'GetRtcServerResponse',
        Message: `Format must be "original" (the default) or "extended", got ${JSON.stringify(format)}`,
      });
    const now = clock();
    const list = chooser.admissible(region || undefined);
    // The original contract, field for field: Eip carries the port, Port is a string, listed servers run.
    const original = list.map((s) => ({
      Hostname: s.host,
      Eip: hostPort(s.eip, s.port),
      Port: String(s.port),
      State: 'running',
    }));
    const body: Record<string, unknown> = {
      RetCode: 0,
      Action: 'GetRtcServerResponse',
      Message: 'GetRtcServer ok',
      TotalCount: list.length,
      DataSet: original,
    };
    if (format === 'extended') {
      // A superset of the original: the same fields, plus what the dispatcher knows of each server.
      const rows = new Map(chooser.rows(now).map((r) => [r.id, r]));
      body.DataSet = list.map((s, i) => {
        const r = rows.get(s.id);
        return {
          ...original[i],
          Id: s.id,
          Region: s.region,
          Zone: s.zone,
          ServerState: s.state,
          Score: r?.score ?? null,
          Load: r?.load ?? null,
          Participants: s.participants,
          Pending: r?.pending ?? 0,
          Capacity: s.capacity,
        };
      });
      body.Blind = chooser.blind;
      body.BlindForMs = chooser.blindForMs(now);
      body.DataAgeMs = chooser.current.takenAtMs ? now - chooser.current.takenAtMs : null;
    }
    return json(200, body);
  };

  const routes: Route[] = [
    { method: 'POST', path: '/api/v1/allocate', handler: allocate, maxBodyBytes: 16 << 10, name: 'allocate' },
    { method: 'GET', path: '/api/v1/servers', handler: servers, name: 'servers' },
    {
      method: 'POST',
      path: new RegExp(`^/api/v1/servers/(${ID})/drain$`),
      handler: drain(true),
      maxBodyBytes: 16 << 10,
      name: 'drain',
    },
    {
      method: 'POST',
      path: new RegExp(`^/api/v1/servers/(${ID})/undrain$`),
      handler: drain(false),
      maxBodyBytes: 16 << 10,
      name: 'undrain',
    },
    { method: 'GET', path: '/', handler: legacy, name: 'legacy' },
    { method: 'POST', path: '/', handler: legacy, maxBodyBytes: 16 << 10, name: 'legacy' },
    {
      method: 'GET',
      path: '/GetRtcServer',
      handler: (r) => legacy({ ...r, query: withAction(r.query) }),
      name: 'legacy',
    },
    {
      method: 'POST',
      path: '/GetRtcServer',
      handler: (r) => legacy({ ...r, query: withAction(r.query) }),
      maxBodyBytes: 16 << 10,
      name: 'legacy',
    },
  ];
  return createApp(routes, logger);
}

/** `host:port`, with IPv6 addresses in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function withAction(q: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams(q);
  if (!out.has('Action')) out.set('Action', 'GetRtcServer');
  return out;
}
