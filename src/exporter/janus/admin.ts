/**
 * A small client for the Janus 1.x admin API (HTTP transport, `admin_base_path`, with `admin_secret`):
 * the requests the Janus source polls. Every call has a timeout; any transport error, non-2xx status,
 * or `janus: "error"` answer rejects with a JanusAdminError.
 */

import { JanusAdminError } from '../errors.ts';

export { JanusAdminError };

/** `rtcp.main` of one medium in handle_info (figures in ms and packets). */
export interface JanusRtcp {
  readonly rtt?: number;
  readonly lost?: number;
  readonly 'lost-by-remote'?: number;
  readonly 'jitter-local'?: number;
  readonly 'jitter-remote'?: number;
  readonly 'in-link-quality'?: number;
  readonly 'out-link-quality'?: number;
}

export interface JanusDirectionStats {
  readonly packets?: number;
  readonly bytes?: number;
  readonly nacks?: number;
}

/** One medium (m-line) of a handle's PeerConnection (`webrtc.media[mid]`). */
export interface JanusMedium {
  readonly type?: string;
  readonly mid?: string;
  readonly direction?: { readonly send?: boolean; readonly recv?: boolean };
  readonly rtcp?: { readonly main?: JanusRtcp };
  readonly stats?: { readonly in?: JanusDirectionStats; readonly out?: JanusDirectionStats };
}

/** The parts of `handle_info.info` the source reads. */
export interface JanusHandleInfo {
  readonly session_id?: number;
  readonly handle_id?: number;
  readonly plugin?: string;
  readonly plugin_specific?: {
    readonly type?: string;
    readonly room?: number | string;
    readonly id?: number | string;
    readonly hangingup?: number;
    readonly destroyed?: number;
  };
  readonly flags?: { readonly ready?: boolean; readonly negotiated?: boolean; readonly cleaning?: boolean };
  readonly webrtc?: { readonly media?: Readonly<Record<string, JanusMedium>> };
}

export interface VideoRoomInfo {
  readonly room: number | string;
  readonly num_participants?: number;
  readonly max_publishers?: number;
}

export interface JanusServerInfo {
  readonly version_string?: string;
  readonly 'server-name'?: string;
  readonly 'accepting-new-sessions'?: boolean;
}

export interface JanusAdmin {
  info(): Promise<JanusServerInfo>;
  listSessions(): Promise<number[]>;
  listHandles(session: number): Promise<number[]>;
  handleInfo(session: number, handle: number): Promise<JanusHandleInfo>;
  /** VideoRoom `list` through `message_plugin`. */
  videoRoomList(): Promise<VideoRoomInfo[]>;
  /** VideoRoom `listparticipants` through `message_plugin`. */
  videoRoomParticipants(room: number | string): Promise<{ id: number | string; publisher?: boolean }[]>;
}

export interface JanusAdminOptions {
  /** Base URL of the admin API, e.g. http://127.0.0.1:7088/admin. */
  url: string;
  secret: string;
  /** Per-request timeout. @default 5000 */
  timeoutMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

type Answer = Record<string, unknown> & { janus?: string; error?: { code?: number; reason?: string } };

export function createJanusAdmin(opts: JanusAdminOptions): JanusAdmin {
  const base = opts.url.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 5000;
  let tx = 0;

  async function call(path: string, body: Record<string, unknown>): Promise<Answer> {
    const transaction = `rtcmon-${++tx}`;
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, transaction, admin_secret: opts.secret }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new JanusAdminError(
        `janus admin ${String(body.janus)}: ${(err as Error).message ?? String(err)}`,
        0,
        { cause: err },
      );
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) throw new JanusAdminError(`janus admin ${String(body.janus)}: HTTP ${res.status}`, 0);
    let answer: Answer;
    try {
      answer = JSON.parse(text) as Answer;
    } catch {
      throw new JanusAdminError(`janus admin ${String(body.janus)}: answer is not JSON`, 0);
    }
    if (answer.janus === 'error' || answer.error)
      throw new JanusAdminError(
        `janus admin ${String(body.janus)}: ${answer.error?.reason ?? 'error'}`,
        answer.error?.code ?? 0,
      );
    return answer;
  }

  const ids = (v: unknown): number[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'number') : []);

  const plugin = async (request: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const a = await call('', { janus: 'message_plugin', plugin: 'janus.plugin.videoroom', request });
    const r = (a.response ?? {}) as Record<string, unknown>;
    if (r.videoroom === 'event' && r.error)
      throw new JanusAdminError(
        `videoroom ${String(request.request)}: ${String(r.error)}`,
        Number(r.error_code),
      );
    return r;
  };

  return {
    async info() {
      return (await call('', { janus: 'info' })) as JanusServerInfo;
    },
    async listSessions() {
      return ids((await call('', { janus: 'list_sessions' })).sessions);
    },
    async listHandles(session) {
      return ids((await call(`/${session}`, { janus: 'list_handles' })).handles);
    },
    async handleInfo(session, handle) {
      return ((await call(`/${session}/${handle}`, { janus: 'handle_info' })).info ?? {}) as JanusHandleInfo;
    },
    async videoRoomList() {
      const r = await plugin({ request: 'list' });
      return Array.isArray(r.list) ? (r.list as VideoRoomInfo[]) : [];
    },
    async videoRoomParticipants(room) {
      const r = await plugin({ request: 'listparticipants', room });
      return Array.isArray(r.participants) ? (r.participants as { id: number | string }[]) : [];
    },
  };
}
