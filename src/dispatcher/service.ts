import type { Logger } from '../lib/logger.ts';
import type { AllocateRequest, Chooser } from './chooser.ts';
import { unknownServer } from './errors.ts';
import type { DispatcherMetrics } from './metrics.ts';
import type { SharedStore } from './store.ts';
import { type Answer, type LegacyFormat, legacyBody, type ServerRow } from './views.ts';

/** The fleet listing of GET /api/v1/servers. */
export interface ServersListing {
  readonly snapshotTime: string | null;
  readonly dataAgeMs: number | null;
  readonly blind: boolean;
  readonly blindForMs: number | null;
  readonly ledgerEntries: number;
  readonly rooms: number;
  readonly servers: readonly ServerRow[];
}

/**
 * The dispatch service: the decision core (Chooser) plus replication between replicas through the shared
 * store. It owns the claim protocol (a room's first placement or spill waits for one atomic claim; a
 * replica that loses follows the winner, up to 4 tries), the publication of every join, drains (local,
 * shared, synced at each refresh) and applying the other replicas' events. The HTTP layer only parses,
 * calls it and replies.
 */
export interface DispatchService {
  allocate(req: AllocateRequest): Promise<Answer>;
  /** The answer's JSON, byte-equal to JSON.stringify(answer). */
  answerJson(a: Answer): string;
  servers(region?: string): ServersListing;
  /** Drains or undrains a known server here and for the other replicas; throws unknownServer. */
  drain(id: string, drained: boolean): Promise<void>;
  legacy(region: string | undefined, format: LegacyFormat): Record<string, unknown>;
  /** Subscribes to the other replicas' events and reads the shared drains. */
  start(): Promise<void>;
  /** Aligns local drains with the shared ones (after each refresh). */
  syncDrains(): Promise<void>;
}

/** How many times a replica that lost a room's claim chooses again. */
const CLAIM_TRIES = 4;

export function createDispatchService(deps: {
  chooser: Chooser;
  store: SharedStore;
  metrics: DispatcherMetrics;
  logger: Logger;
  clock?: () => number;
}): DispatchService {
  const { chooser, store, metrics, logger } = deps;
  const clock = deps.clock ?? Date.now;
  // Rooms whose first placement (or spill) is being claimed in the store: later joins of the room wait
  // for the claim instead of following an unconfirmed local placement.
  const claims = new Map<string, Promise<void>>();

  const allocate = async (r: AllocateRequest): Promise<Answer> => {
    for (let w = claims.get(r.room); w; w = claims.get(r.room)) await w;
    const now = clock();
    let t0 = performance.now();
    let ans = chooser.allocate(r, now);
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
        for (let tries = 0; tries < CLAIM_TRIES && ans.ok && ans.newSlot >= 0; tries++) {
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
    return ans;
  };

  const syncDrains = async () => {
    if (!store.shared) return;
    try {
      const shared = new Set(await store.drained());
      for (const id of shared) chooser.setDrained(id, true, clock());
      for (const id of chooser.drainedServers()) if (!shared.has(id)) chooser.setDrained(id, false, clock());
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'reading drains from redis failed');
    }
  };

  return {
    allocate,
    answerJson: (a) => chooser.views.answerJson(a),
    servers(region) {
      const now = clock();
      const taken = chooser.current.takenAtMs;
      return {
        snapshotTime: taken ? new Date(taken).toISOString() : null,
        dataAgeMs: taken ? now - taken : null,
        blind: chooser.blind,
        blindForMs: chooser.blindForMs(now),
        ledgerEntries: chooser.ledger.size,
        rooms: chooser.affinity.size,
        servers: chooser.rows(now).filter((s) => !region || s.region === region),
      };
    },
    async drain(id, drained) {
      if (!chooser.current.byId.has(id)) throw unknownServer(id);
      chooser.setDrained(id, drained, clock());
      await store.setDrained(id, drained).catch((err: unknown) => {
        logger.warn({ err: (err as Error).message, server: id }, 'sharing the drain through redis failed');
      });
      logger.info({ server: id, drained }, drained ? 'server drained' : 'server undrained');
    },
    legacy(region, format) {
      const now = clock();
      const taken = chooser.current.takenAtMs;
      return legacyBody(chooser.admissibleFigures(region), format, {
        blind: chooser.blind,
        blindForMs: chooser.blindForMs(now),
        dataAgeMs: taken ? now - taken : null,
      });
    },
    async start() {
      if (!store.shared) return;
      await store.subscribe({
        onAssign: (server, room, at) => chooser.record(server, room, at),
        onDrain: (server, drained) => chooser.setDrained(server, drained, clock()),
      });
      await syncDrains();
    },
    syncDrains,
  };
}
