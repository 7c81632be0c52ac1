import { resolve } from 'node:path';
import { loadConfig, options, usage } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import type { StackPart } from './part.ts';
import { adapterPart } from './parts/adapter.ts';
import { clusterAdapterPart } from './parts/cluster.ts';
import { consolePart } from './parts/console.ts';
import { dispatcherPart } from './parts/dispatcher.ts';
import { exporterPart } from './parts/exporter.ts';
import { nodeExporterPart } from './parts/node-exporter.ts';
import { createStack } from './start.ts';

const spec = {
  runDir: options.string(
    'run.dir',
    '',
    'Run directory for configs, data and logs (default .run/stack-<time>).',
  ),
  cluster: options.bool(
    'cluster',
    false,
    'Store into a ClickHouse cluster (3 shards × 2 replicas, ZooKeeper × 3) instead of one node.',
  ),
  scrapeInterval: options.string('scrape-interval', '5s', 'Prometheus scrape interval.'),
  prometheusPort: options.int(
    'prometheus.port',
    9090,
    'Preferred Prometheus port (a free one is used if taken).',
    0,
    65535,
  ),
};

/** Every part, in start order within its phase. */
export const PARTS: readonly StackPart[] = [
  adapterPart,
  nodeExporterPart,
  exporterPart,
  dispatcherPart,
  consolePart,
];

/** `rtcmon stack`: starts the whole system on 127.0.0.1 and stops everything it started on Ctrl-C. */
export async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    process.stdout.write(usage('stack', spec));
    return;
  }
  const cfg = loadConfig(spec, argv);
  const logger = createLogger({ level: cfg.logLevel, role: 'stack' });
  const runDir = resolve(cfg.runDir || `.run/stack-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const stack = createStack({
    runDir,
    logger,
    scrapeInterval: cfg.scrapeInterval,
    prometheusPort: cfg.prometheusPort,
    parts: cfg.cluster ? PARTS.map((p) => (p === adapterPart ? clusterAdapterPart : p)) : PARTS,
  });
  const { started, logDir } = stack;
  // Prometheus may take a while to stop: it flushes its remote-write queue to the adapter first.
  const stopAll = () => stack.stop((name) => process.stdout.write(`  stopping ${name}…\n`));
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping…\n');
    stopAll().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  await stack.start();

  const rows = started.flatMap((s) => Object.entries(s.part.endpoints));
  const width = Math.max(...rows.map(([k]) => k.length));
  const hints = started.flatMap((s) => s.part.hints ?? []);
  process.stdout.write(
    [
      '',
      'rtcmon stack is up:',
      ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
      '',
      `  run dir   ${runDir} (logs in ${logDir})`,
      ...(hints.length ? ['', 'try:', ...hints.map((h) => `  ${h}`)] : []),
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  setInterval(() => {}, 1 << 30);
  await new Promise<never>(() => {});
}
