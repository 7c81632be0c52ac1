import type { ServerView, Snapshot } from './snapshot.ts';

/** A healthy server view with every field set; override what a test needs. */
export function server(id: string, over: Partial<ServerView> = {}): ServerView {
  return {
    id,
    host: `h-${id}`,
    eip: `198.51.100.${id.length}`,
    port: 7000,
    region: 'eu',
    zone: 'eu-1a',
    version: '1.0',
    instance: `h-${id}:9464`,
    present: true,
    targetUp: true,
    rtcUp: true,
    state: 'serving',
    capacity: 100,
    participants: 0,
    rooms: 0,
    cpu: undefined,
    memory: undefined,
    egressBps: undefined,
    nicBps: undefined,
    loss: undefined,
    joinFailureRatio: undefined,
    sampleTimeMs: 0,
    statsUpdatedMs: undefined,
    joinAttempts: undefined,
    lastSeenMs: 0,
    ...over,
  };
}

export function snapshotOf(servers: readonly ServerView[], takenAtMs: number): Snapshot {
  return { servers, byId: new Map(servers.map((s) => [s.id, s])), takenAtMs };
}
