import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../lib/logger.ts';

/** What a replica hears from the others. */
export interface StoreEvents {
  onAssign(server: string, room: string, atMs: number): void;
  onDrain(server: string, drained: boolean): void;
}

/**
 * Ledger, room affinity and drains shared by dispatcher replicas. The decision itself stays in memory;
 * only the first placement of a room (or a spill) waits for one atomic claim, so that two replicas
 * cannot put one room on two servers.
 */
export interface SharedStore {
  readonly shared: boolean;
  /** Claims slot `slot` of `room` for `server`; resolves with the server that holds the slot. */
  claim(room: string, slot: number, server: string): Promise<string>;
  /** Tells the other replicas about a join (fire and forget). */
  publishAssign(server: string, room: string, slot: number, atMs: number): void;
  setDrained(server: string, drained: boolean): Promise<void>;
  drained(): Promise<string[]>;
  subscribe(ev: StoreEvents): Promise<void>;
  close(): Promise<void>;
}

/** A single replica: nothing to share. */
export const memoryStore: SharedStore = {
  shared: false,
  claim: async (_room, _slot, server) => server,
  publishAssign() {},
  async setDrained() {},
  drained: async () => [],
  async subscribe() {},
  async close() {},
};

type Event =
  | { t: 'a'; s: string; r: string; at: number; from: string }
  | { t: 'd'; s: string; d: boolean; from: string };

/** Redis-backed store: SET NX claims per room slot, a pub/sub channel for joins and drains, a set of drains. */
export function createRedisStore(opts: {
  url: string;
  prefix: string;
  roomTtlMs: number;
  logger: Logger;
  /** Claims slower than this fall back to the local decision. @default 250ms */
  timeoutMs?: number;
}): SharedStore {
  const { prefix, logger } = opts;
  const me = randomUUID();
  const common = {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: opts.timeoutMs ?? 250,
    lazyConnect: true,
  };
  const cmd = new Redis(opts.url, common);
  // The subscriber queues its SUBSCRIBE until Redis answers, however long that takes (no retry limit), and
  // ioredis subscribes again after every reconnect: a dispatcher starts and serves while Redis is down.
  const sub = new Redis(opts.url, {
    ...common,
    enableOfflineQueue: true,
    commandTimeout: undefined,
    maxRetriesPerRequest: null,
  });
  const channel = `${prefix}events`;
  const drainKey = `${prefix}drained`;
  const roomKey = (room: string, slot: number) => `${prefix}room:${slot}:${room}`;
  let warned = 0;
  const onError = (what: string) => (err: unknown) => {
    if (Date.now() - warned > 10_000) {
      warned = Date.now();
      logger.warn({ err: (err as Error).message }, `redis ${what} failed; deciding locally`);
    }
  };
  cmd.on('error', onError('connection'));
  sub.on('error', onError('subscriber connection'));
  const ready = cmd.connect().catch(onError('connect'));

  return {
    shared: true,
    async claim(room, slot, server) {
      await ready;
      try {
        const prev = (await cmd.call(
          'SET',
          roomKey(room, slot),
          server,
          'PX',
          String(opts.roomTtlMs),
          'NX',
          'GET',
        )) as string | null;
        return prev ?? server;
      } catch (err) {
        onError('claim')(err);
        return server;
      }
    },
    publishAssign(server, room, slot, atMs) {
      const ev: Event = { t: 'a', s: server, r: room, at: atMs, from: me };
      cmd
        .multi()
        .pexpire(roomKey(room, slot), opts.roomTtlMs)
        .publish(channel, JSON.stringify(ev))
        .exec()
        .catch(onError('publish'));
    },
    async setDrained(server, drained) {
      await ready;
      if (drained) await cmd.sadd(drainKey, server);
      else await cmd.srem(drainKey, server);
      const ev: Event = { t: 'd', s: server, d: drained, from: me };
      await cmd.publish(channel, JSON.stringify(ev));
    },
    async drained() {
      await ready;
      return cmd.smembers(drainKey);
    },
    async subscribe(h) {
      sub.on('message', (_ch: string, msg: string) => {
        let ev: Event;
        try {
          ev = JSON.parse(msg) as Event;
        } catch {
          return;
        }
        if (ev.from === me) return;
        if (ev.t === 'a') h.onAssign(ev.s, ev.r, ev.at);
        else if (ev.t === 'd') h.onDrain(ev.s, ev.d);
      });
      sub.connect().catch(onError('subscriber connect'));
      const subscribed = sub.subscribe(channel).then(
        () => true,
        (err: unknown) => {
          onError('subscribe')(err);
          return false;
        },
      );
      // Wait a little so that a replica normally hears its peers before it answers; never block start-up.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([subscribed, new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
    },
    async close() {
      sub.disconnect();
      await cmd.quit().catch(() => cmd.disconnect());
    },
  };
}
