import { writeFileSync } from 'node:fs';
import { join as pathJoin } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Small clients for the dispatcher integration tests. */
/** Writes the drain token where `--api.token-file` reads it; returns the file. */
export function tokenFile(dir: string, token = 'it-token'): string {
  const file = pathJoin(dir, 'api.token');
  writeFileSync(file, token);
  return file;
}

export interface AllocateAnswer {
  ok: boolean;
  server: { id: string; eip: string; port: number; host: string; reasons: string[] } | null;
  message: string;
  reasons: string[];
  candidates: { id: string; score: number }[];
  excluded: { id: string; reason: string; detail: string }[];
  blind: boolean;
  blindForMs: number | null;
  dataAgeMs: number;
  roomServers: string[];
}

export async function allocate(url: string, room: string): Promise<{ status: number; body: AllocateAnswer }> {
  const r = await fetch(`${url}/api/v1/allocate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ room }),
  });
  return { status: r.status, body: (await r.json()) as AllocateAnswer };
}

/** What a client does with the answer: joins the chosen (simulated) server at its public address. */
export async function join(a: AllocateAnswer, room: string): Promise<boolean> {
  if (!a.server) return false;
  const r = await fetch(`http://${a.server.eip}:${a.server.port}/demo/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ room }),
  });
  await r.arrayBuffer();
  return r.ok;
}

export interface ServersAnswer {
  blind: boolean;
  ledgerEntries: number;
  servers: {
    id: string;
    participants: number;
    pending: number;
    drained: boolean;
    excluded: { reason: string } | null;
  }[];
}

export async function servers(url: string): Promise<ServersAnswer> {
  const r = await fetch(`${url}/api/v1/servers`);
  return (await r.json()) as ServersAnswer;
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  stepMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}
