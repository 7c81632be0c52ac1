import type { Registry } from 'prom-client';
import { type App, createApp, type Route } from '../lib/http.ts';
import type { Logger } from '../lib/logger.ts';
import type { ClickHouseClient } from './clickhouse.ts';
import type { AdapterConfig } from './config.ts';
import { readRoute } from './read.ts';
import { createWriteHandler, type WriteDeps } from './write.ts';

/** Everything the adapter's handlers are built from; main.ts creates it, tests pass their own. */
export interface AdapterDeps {
  readonly config: AdapterConfig;
  /** ClickHouse over HTTP (`query`, `queryBytes`, `queryStream`, `insert`), bound to the database. */
  readonly ch: ClickHouseClient;
  readonly logger: Logger;
  /** The adapter's own /metrics registry (handlers add their series to it). */
  readonly registry: Registry;
  /** The write path's collaborators (batcher, memory budget, series cache, metrics). */
  readonly write: WriteDeps;
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
    readRoute(deps),
  ];
  return createApp(routes, deps.logger);
}
