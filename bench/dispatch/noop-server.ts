/**
 * Reference for bench/dispatch/http.ts: the shared HTTP layer (src/lib/http.ts, same registry and
 * request metrics as every role) with one trivial POST route that parses the JSON body and answers a
 * small JSON object. What allocate costs beyond it is the dispatcher's own work.
 * `--pad=N` adds an N-character string to the answer (to weigh the cost of answer size alone).
 * Run: node --import tsx bench/dispatch/noop-server.ts --port=N [--pad=N]
 */
import { createApp, createRegistry, json, serve } from '../../src/lib/http.ts';
import { createLogger } from '../../src/lib/logger.ts';

const port = Number(process.argv.find((a) => a.startsWith('--port='))?.slice(7) ?? 0);
const pad = 'x'.repeat(Number(process.argv.find((a) => a.startsWith('--pad='))?.slice(6) ?? 0));
const logger = createLogger({ level: 'warn', role: 'bench-noop' });
const app = createApp(
  [
    {
      method: 'POST',
      path: '/noop',
      name: 'noop',
      maxBodyBytes: 16 << 10,
      handler: (req) => {
        const o = JSON.parse(req.body.toString('utf8')) as { room?: unknown };
        return json(200, {
          ok: true,
          room: typeof o.room === 'string' ? o.room : null,
          ...(pad ? { pad } : {}),
        });
      },
    },
  ],
  logger,
);
const served = await serve({ app, listen: { host: '127.0.0.1', port }, logger, registry: createRegistry() });
process.on('SIGTERM', () => void served.close().then(() => process.exit(0)));
process.on('SIGINT', () => void served.close().then(() => process.exit(0)));
