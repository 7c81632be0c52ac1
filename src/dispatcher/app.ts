import { timingSafeEqual } from 'node:crypto';
import { type App, createApp, json, type Reply, type Req, type Route } from '../lib/http.ts';
import type { Logger } from '../lib/logger.ts';
import type { AllocateRequest } from './chooser.ts';
import { forbidden, invalidRequest, NO_SERVER_STATUS, unauthorized } from './errors.ts';
import type { DispatchService } from './service.ts';

export interface AppDeps {
  service: DispatchService;
  logger: Logger;
  /** Bearer token for drain/undrain; empty disables them. */
  apiToken: string;
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

/** The dispatcher's HTTP API as a socket-free app: parses, calls the dispatch service, replies. */
export function createDispatcherApp(deps: AppDeps): App {
  const { service, logger } = deps;
  const token = Buffer.from(deps.apiToken);

  const allocate = async (req: Req): Promise<Reply> => {
    const ans = await service.allocate(parseAllocate(req.body));
    return {
      status: ans.ok ? 200 : NO_SERVER_STATUS,
      headers: ans.ok ? JSON_HEADERS : NO_SERVER_HEADERS,
      body: service.answerJson(ans),
    };
  };

  const servers = (req: Req): Reply => json(200, service.servers(req.query.get('region') || undefined));

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
      await service.drain(id, drained);
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
    return json(200, service.legacy(region || undefined, format === 'extended' ? 'extended' : 'original'));
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

function withAction(q: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams(q);
  if (!out.has('Action')) out.set('Action', 'GetRtcServer');
  return out;
}
