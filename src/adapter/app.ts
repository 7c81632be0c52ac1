import { type App, createApp, type Route } from '../lib/http.ts';
import type { Logger } from '../lib/logger.ts';
import type { AdapterConfig } from './config.ts';
import { createReadHandler, type ReadDeps } from './read.ts';
import { createWriteHandler, type WriteDeps } from './write.ts';

/** Everything the adapter's handlers are built from; main.ts creates it, tests pass their own. */
export interface AdapterDeps {
  readonly config: AdapterConfig;
  readonly logger: Logger;
  /** The write path's collaborators (batcher, memory budget, series cache, metrics). */
  readonly write: WriteDeps;
  /** The read path's collaborators (ClickHouse, limits, metrics). */
  readonly read: ReadDeps;
}

/** The adapter's routes: a plain list, one line per endpoint. */
export function createAdapterApp(deps: AdapterDeps): App {
  const { config } = deps;
  const routes: Route[] = [
    {
      method: 'POST',
      path: '/write',
      handler: createWriteHandler(deps.write),
      maxBodyBytes: config.writeMaxBodyBytes,
      name: '/write',
    },
    { method: 'POST', path: '/read', handler: createReadHandler(deps.read), name: '/read' },
  ];
  return createApp(routes, deps.logger);
}
