import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, options, usage } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import type { StackContext, StackPart, StartedPart } from './part.ts';
import { adapterPart } from './parts/adapter.ts';
import { consolePart } from './parts/console.ts';
import { dispatcherPart } from './parts/dispatcher.ts';
import { exporterPart } from './parts/exporter.ts';
import { nodeExporterPart } from './parts/node-exporter.ts';
import { freePort } from './servers/process.ts';
import { type ScrapeJob, startPrometheus } from './servers/prometheus.ts';

const spec = {
  runDir: options.string(
    'run.dir',
    '',
    'Run directory for configs, data and logs (default .run/stack-<time>).',
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
const PARTS: readonly StackPart[] = [
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
  const logDir = resolve(runDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const taken = new Set<number>();
  const ctx: StackContext = {
    runDir,
    logDir,
    logger,
    scrapeInterval: cfg.scrapeInterval,
    async port(preferred) {
      const { createServer } = await import('node:net');
      const free = await new Promise<boolean>((ok) => {
        const s = createServer().once('error', () => ok(false));
        s.listen(preferred, '127.0.0.1', () => s.close(() => ok(true)));
      });
      const port = free && !taken.has(preferred) ? preferred : await freePort();
      taken.add(port);
      return port;
    },
  };

  const started: { name: string; part: StartedPart }[] = [];
  const stopAll = async () => {
    for (const { name, part } of started.reverse()) {
      // Prometheus may take a while here: it flushes its remote-write queue to the adapter first.
      process.stdout.write(`  stopping ${name}…\n`);
      await part.stop().catch((err: unknown) => logger.error({ err, part: name }, 'stop failed'));
    }
  };
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

  try {
    const runPhase = async (phase: StackPart['phase']) => {
      for (const p of PARTS.filter((x) => x.phase === phase)) {
        logger.info({ part: p.name }, 'starting');
        started.push({ name: p.name, part: await p.start(ctx) });
      }
    };
    await runPhase('storage');
    await runPhase('sources');
    const promPort = await ctx.port(cfg.prometheusPort);
    const jobs: ScrapeJob[] = [
      { job: 'prometheus', targets: [`127.0.0.1:${promPort}`] },
      ...started.flatMap((s) => s.part.scrapeJobs ?? []),
    ];
    const prom = await startPrometheus({
      dir: resolve(runDir, 'prometheus'),
      port: promPort,
      logDir,
      scrapeInterval: cfg.scrapeInterval,
      jobs,
      remoteWrite: started.flatMap((s) => s.part.remoteWrite ?? []),
      remoteRead: started.flatMap((s) => s.part.remoteRead ?? []),
    });
    started.push({
      name: 'prometheus',
      part: { endpoints: { prometheus: prom.url }, stop: () => prom.stop() },
    });
    ctx.prometheusUrl = prom.url;
    await runPhase('consumers');
  } catch (err) {
    logger.error({ err }, 'start-up failed; stopping what was started');
    await stopAll();
    throw err;
  }

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
