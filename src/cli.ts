import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { versionText } from './lib/config.ts';

/**
 * `rtcmon <role> [flags]`: one binary, one role per subcommand. Each role lives in `src/<role>/` and
 * exports `main(argv)` from its `main.ts`, the only place that opens a port.
 */
const ROLES: Record<string, string> = {
  exporter: 'RTC server state as Prometheus metrics (:9464)',
  adapter: 'Prometheus remote storage on ClickHouse (:9201)',
  dispatcher: 'picks the RTC server for each new client (:8080)',
  console: 'web UI over Prometheus and the dispatcher (:3000)',
  stack: 'starts the whole system on this machine',
};

const here = dirname(fileURLToPath(import.meta.url));
/** `.ts` when run from the sources (tsx), `.js` when compiled to dist/. */
const ext = extname(fileURLToPath(import.meta.url));
const available = Object.keys(ROLES).filter((r) => existsSync(join(here, r, `main${ext}`)));

function help(): string {
  const rows = available.map((r) => `  ${r.padEnd(11)} ${ROLES[r]}`);
  return `usage: rtcmon <role> [flags]   (rtcmon <role> --help for its flags)\n\nroles:\n${rows.join('\n')}\n`;
}

const [role, ...rest] = process.argv.slice(2);
if (!role || role === '--help' || role === '-h' || role === 'help') {
  process.stdout.write(help());
  process.exit(role ? 0 : 2);
}
if (role !== '--version' && !available.includes(role)) {
  process.stderr.write(`rtcmon: unknown role ${JSON.stringify(role)}\n\n${help()}`);
  process.exit(2);
}
if (role === '--version' || rest.includes('--version')) {
  process.stdout.write(versionText());
  process.exit(0);
}
const mod = (await import(`./${role}/main${ext}`)) as { main(argv: string[]): Promise<void> };
try {
  await mod.main(rest);
} catch (err) {
  const e = err as Error;
  if (e.name === 'ConfigChecked') {
    // --check-config: every value parsed and the role's own checks passed; nothing was started.
    process.stdout.write(`rtcmon ${role}: ${e.message}\n`);
    process.exit(0);
  }
  // Config errors name the key; print them plainly, without a stack.
  process.stderr.write(`rtcmon ${role}: ${e.name === 'ConfigError' ? e.message : (e.stack ?? String(e))}\n`);
  process.exit(1);
}
