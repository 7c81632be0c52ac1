import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { type ClickHouseConnectionEvents, createClickHouseClient } from './clickhouse.ts';

/**
 * The client's connection handling against a real HTTP server on loopback (whose misbehaviour is chosen per
 * request); the same against a real ClickHouse is test/integration/adapter-keepalive.test.ts.
 */
async function withServer(
  onRequest: (nth: number, req: IncomingMessage, res: ServerResponse) => void,
  body: (
    url: string,
    counts: Record<keyof ClickHouseConnectionEvents | 'serverConnections', number>,
  ) => Promise<void>,
) {
  const perSocket = new WeakMap<Socket, number>();
  const counts = { connected: 0, staleDropped: 0, retried: 0, serverConnections: 0 };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const nth = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, nth);
      onRequest(nth, req, res);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => counts.serverConnections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, counts);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const events = (counts: Record<string, number>) => ({
  connected: () => counts.connected!++,
  staleDropped: () => counts.staleDropped!++,
  retried: () => counts.retried!++,
});

describe('ClickHouse client connections', () => {
  it('a request that fails on a reused socket before any answer byte is sent once more on a fresh connection', async () => {
    // The server drops every connection at its second request without answering (as ClickHouse does once
    // its keep_alive_timeout closed the socket).
    await withServer(
      (nth, req, res) => (nth >= 2 ? req.socket.destroy() : res.end()),
      async (url, counts) => {
        const ch = createClickHouseClient({ url, database: 'd', events: events(counts) });
        await ch.insert('t', 'RowBinary', Buffer.alloc(24));
        await ch.insert('t', 'RowBinary', Buffer.alloc(24));
        ch.close();
        assert.deepEqual(counts, { connected: 2, staleDropped: 0, retried: 1, serverConnections: 2 });
      },
    );
  });

  it('a failure on a fresh connection, or after the answer began, is not retried', async () => {
    await withServer(
      (_nth, req) => req.socket.destroy(),
      async (url, counts) => {
        const ch = createClickHouseClient({ url, database: 'd', events: events(counts) });
        await assert.rejects(ch.insert('t', 'RowBinary', Buffer.alloc(24)), { code: 'ECONNRESET' });
        ch.close();
        assert.equal(counts.retried, 0);
        assert.equal(counts.serverConnections, 1);
      },
    );
    await withServer(
      (nth, req, res) => {
        if (nth === 1) {
          res.end();
          return;
        }
        res.writeHead(200, { 'content-length': 100 });
        res.write('partial', () => req.socket.destroy());
      },
      async (url, counts) => {
        const ch = createClickHouseClient({ url, database: 'd', events: events(counts) });
        await ch.insert('t', 'RowBinary', Buffer.alloc(24));
        await assert.rejects(ch.query('SELECT 1'));
        ch.close();
        assert.equal(counts.retried, 0);
        assert.equal(counts.serverConnections, 1);
      },
    );
  });

  it('an idle socket older than the TTL by the wall clock is dropped before reuse, even if its timer has not run', async () => {
    await withServer(
      (_nth, _req, res) => res.end(),
      async (url, counts) => {
        let clock = 1_000_000;
        const ch = createClickHouseClient({
          url,
          database: 'd',
          idleSocketTtlMs: 2_000,
          now: () => clock,
          events: events(counts),
        });
        await ch.insert('t', 'RowBinary', Buffer.alloc(24));
        clock += 1_500;
        await ch.insert('t', 'RowBinary', Buffer.alloc(24));
        assert.deepEqual(counts, { connected: 1, staleDropped: 0, retried: 0, serverConnections: 1 });
        clock += 2_500;
        await ch.insert('t', 'RowBinary', Buffer.alloc(24));
        ch.close();
        assert.deepEqual(counts, { connected: 2, staleDropped: 1, retried: 0, serverConnections: 2 });
      },
    );
  });
});
